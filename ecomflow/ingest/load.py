"""Load one (table, day) of landing files into ``raw`` in one transaction; rerunning replaces that day only."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ecomflow.ingest.schema import ensure_raw_schema
from ecomflow.ingest.validate import check_table, duplicate_key_mask
from ecomflow.sources.contract import TABLES, Table
from ecomflow.warehouse import advisory_lock, connect, copy_in

log = logging.getLogger(__name__)

FILE_PATTERNS = ("*.parquet", "*.csv", "*.csv.gz")


class IngestError(Exception):
    """A file cannot be loaded at all; the message names the file and what was expected."""


@dataclass
class LoadReport:
    """What loading one (table, day) did."""

    table: str
    day: dt.date
    files: list[str] = field(default_factory=list)
    rows_loaded: int = 0
    rows_quarantined: int = 0
    warnings: list[str] = field(default_factory=list)
    batch_id: str = ""

    @property
    def skipped(self) -> bool:
        """No file for this table and day."""
        return not self.files


def partition_dir(landing: Path, table: str, day: dt.date) -> Path:
    """``<landing>/<table>/dt=YYYY-MM-DD``."""
    return landing / table / f"dt={day.isoformat()}"


def landing_files(landing: Path, table: str, day: dt.date) -> list[Path]:
    """Files of one partition, in a stable order."""
    directory = partition_dir(landing, table, day)
    return sorted({p for pattern in FILE_PATTERNS for p in directory.glob(pattern)})


def read_file(path: Path, table: Table) -> pa.Table:
    """Read a CSV or Parquet file; CSV columns are read as text so the contract check sees what was written."""
    try:
        if path.name.endswith(".parquet"):
            return pq.read_table(path)
        return pa_csv.read_csv(
            path,
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in table.column_names}, strings_can_be_null=True
            ),
        )
    except (pa.ArrowException, OSError, ValueError) as error:
        raise IngestError(
            f"{path}: cannot read as {path.suffix.lstrip('.')} for table {table.name!r}: {error}"
        ) from error


def _check_columns(path: Path, data: pa.Table, table: Table, report: LoadReport) -> None:
    present = set(data.column_names)
    missing_required = [c.name for c in table.columns if c.name not in present and not c.nullable]
    if missing_required:
        raise IngestError(
            f"{path}: missing required column(s) {', '.join(missing_required)} for table {table.name!r}; "
            f"expected columns: {', '.join(table.column_names)}"
        )
    missing_optional = [c.name for c in table.columns if c.name not in present]
    if missing_optional:
        report.warnings.append(f"{path.name}: optional column(s) {', '.join(missing_optional)} absent, loaded as null")
    extra = sorted(present - set(table.column_names))
    if extra:
        report.warnings.append(f"{path.name}: unknown column(s) {', '.join(extra)} ignored")


def prepare_day(table: Table, files: Iterable[Path], report: LoadReport) -> tuple[pa.Table, pa.Table]:
    """Read and check every file of a (table, day): returns the good rows and the quarantine records."""
    good_parts: list[pa.Table] = []
    quarantine_parts: list[pa.Table] = []
    for path in files:
        data = read_file(path, table)
        _check_columns(path, data, table, report)
        rows = pa.array(np.arange(1, data.num_rows + 1, dtype=np.int64))
        typed, bad, rejections = check_table(
            data.select([n for n in table.column_names if n in data.column_names]), table, rows
        )
        quarantine_parts.append(rejections.to_table(str(path)))
        keep = pc.invert(bad)
        typed = typed.append_column("_source_file", pa.repeat(pa.scalar(str(path)), typed.num_rows))
        good_parts.append(typed.append_column("__row", rows).filter(keep))
    good = pa.concat_tables(good_parts) if good_parts else None
    quarantine = pa.concat_tables(quarantine_parts)
    duplicates = duplicate_key_mask(good, table.key)
    if pc.any(duplicates).as_py():
        dup_rows = good.filter(duplicates)
        key_text = pc.binary_join_element_wise(*[pc.cast(dup_rows.column(k), pa.string()) for k in table.key], "|")
        quarantine = pa.concat_tables(
            [
                quarantine,
                pa.table(
                    {
                        "source_file": dup_rows.column("_source_file"),
                        "row_number": dup_rows.column("__row"),
                        "field": pa.array([",".join(table.key)] * dup_rows.num_rows, pa.string()),
                        "reason": pa.array(
                            ["duplicate_key: key already loaded from an earlier row"] * dup_rows.num_rows
                        ),
                        "raw_value": key_text,
                    }
                ),
            ]
        )
        good = good.filter(pc.invert(duplicates))
    return good.drop_columns(["__row"]), quarantine


def ingest_day(
    conn: psycopg.Connection, landing: Path, table_name: str, day: dt.date, batch_id: str | None = None
) -> LoadReport:
    """Replace ``raw.<table>``'s rows of ``day`` with the landing files of that day, quarantining bad rows.

    Files are read and checked before the transaction opens, so an unreadable file leaves ``raw`` untouched.
    Inside one transaction, under an advisory lock on (table, day): delete the day, COPY the good rows,
    record the quarantined ones. A rerun of the same files gives the same rows.
    """
    table = next(t for t in TABLES if t.name == table_name)
    report = LoadReport(table=table_name, day=day, batch_id=batch_id or uuid.uuid4().hex)
    files = landing_files(landing, table_name, day)
    if not files:
        return report
    report.files = [str(p) for p in files]
    good, quarantine = prepare_day(table, files, report)
    quarantine = _with_constant(
        quarantine,
        {"table_name": pa.scalar(table_name), "partition_date": pa.scalar(day), "batch_id": pa.scalar(report.batch_id)},
    )
    with conn.transaction(), advisory_lock(conn, f"raw:{table_name}:{day}"):
        _set_local(conn, {"ecomflow.partition_date": day.isoformat(), "ecomflow.batch_id": report.batch_id})
        conn.execute(f'delete from raw."{table_name}" where _partition_date = %s', (day,))
        conn.execute("delete from raw.quarantine where table_name = %s and partition_date = %s", (table_name, day))
        for path in report.files:
            _set_local(conn, {"ecomflow.source_file": path})
            rows = good if len(report.files) == 1 else good.filter(pc.equal(good.column("_source_file"), path))
            report.rows_loaded += copy_in(conn, f"raw.{table_name}", rows.drop_columns(["_source_file"]))
        report.rows_quarantined = copy_in(conn, "raw.quarantine", quarantine)
    for warning in report.warnings:
        log.warning("%s %s: %s", table_name, day, warning)
    if report.rows_quarantined:
        log.warning("%s %s: %d row(s) quarantined, see raw.quarantine", table_name, day, quarantine.num_rows)
    return report


def _with_constant(data: pa.Table, values: dict[str, pa.Scalar]) -> pa.Table:
    for name, value in values.items():
        data = data.append_column(name, pa.repeat(value, data.num_rows))
    return data


def _set_local(conn: psycopg.Connection, values: dict[str, str]) -> None:
    """Set settings for the rest of the transaction; the raw tables' lineage columns default to them."""
    for name, value in values.items():
        conn.execute("select set_config(%s, %s, true)", (name, value))


def available_tables(landing: Path) -> list[str]:
    """Contract tables that have a folder in ``landing`` (a user may have only some sources)."""
    return [t.name for t in TABLES if (landing / t.name).is_dir()]


def ingest_range(
    landing: Path,
    start: dt.date,
    end: dt.date,
    tables: Iterable[str] | None = None,
    on_day: Callable[[dt.date, list[LoadReport]], None] | None = None,
) -> list[LoadReport]:
    """Load every day in ``[start, end]`` for each table present in ``landing``."""
    names = list(tables) if tables is not None else available_tables(landing)
    reports: list[LoadReport] = []
    with connect() as conn:
        ensure_raw_schema(conn)
        day = start
        while day <= end:
            day_reports = [ingest_day(conn, landing, name, day) for name in names]
            reports.extend(day_reports)
            if on_day:
                on_day(day, day_reports)
            day += dt.timedelta(days=1)
    return reports
