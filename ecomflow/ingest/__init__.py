"""Landing → ``raw``: read files, check them against the contract, quarantine bad rows, COPY the rest."""

from ecomflow.ingest.load import IngestError, LoadReport, RangeError, ingest_day, ingest_range, load_day
from ecomflow.ingest.schema import ensure_raw_schema

__all__ = ["IngestError", "LoadReport", "RangeError", "ensure_raw_schema", "ingest_day", "ingest_range", "load_day"]
