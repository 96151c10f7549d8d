"""Source data: the raw-data contract and the marketplace simulator."""
