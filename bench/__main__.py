"""``python -m bench``: run every benchmark; each prints its ratios on its last line."""

from bench import ingest, scoring, simulate, warehouse

if __name__ == "__main__":
    simulate.main()
    ingest.main()
    scoring.main()
    warehouse.main()
