"""``ecomflow demo``: the whole platform end to end on the embedded runtime, and its closing summary."""
