"""``python -m bench``: run every benchmark."""

from bench import ingest

if __name__ == "__main__":
    ingest.main()
