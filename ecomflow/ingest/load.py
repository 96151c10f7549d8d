"""Load one (table, day) of landing files into ``raw`` in one transaction; rerunning replaces that day only."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from psycopg import sql

from ecomflow.core.warehouse import connect, copy_in, lock_partition, replace_partition
from ecomflow.ingest.schema import ensure_raw_schema
from ecomflow.ingest.validate import check_table, duplicate_key_mask
from ecomflow.sources.contract import TABLES, Table

log = logging.getLogger(__name__)

FILE_PATTERNS = ("*.parquet", "*.csv", "*.csv.gz")
EARLY_DUPLICATES_MIN_ROWS = 100_000  # from this size, duplicate keys are looked for in a thread (thread start ~1 ms)


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


@dataclass
class PreparedDay:
    """The checked rows of one (table, day), ready to load, and the records of the rows that are not."""

    good: pa.Table
    """Typed contract columns of the good rows, plus ``_source_file`` when the day has several files."""
    quarantine: pa.Table
    """One row per (file, row, field, reason), in ``raw.quarantine``'s columns."""


def prepare_day(table: Table, files: list[Path], report: LoadReport) -> PreparedDay:
    """Read and check every file of a (table, day): the good rows and the quarantine records.

    All vectorised: a clean file is never copied (no filter, no per-row lineage), and row numbers are only
    materialised for the rows that are quarantined.
    """
    parts: list[pa.Table] = []
    kept_rows: list[np.ndarray | None] = []  # 1-based row numbers of each file's good rows; None: every row
    quarantine_parts: list[pa.Table] = []
    early_duplicates: Future | None = None
    with ThreadPoolExecutor(1) as pool:
        for path in files:
            data = read_file(path, table)
            _check_columns(path, data, table, report)
            if len(files) == 1 and data.num_rows >= EARLY_DUPLICATES_MIN_ROWS and _typed_as_contract(data, table):
                # Arrow releases the GIL: look for duplicate keys while the row checks run. Valid as long as no
                # row is dropped by them (a duplicate is judged among the good rows only), checked below.
                early_duplicates = pool.submit(duplicate_key_mask, data.select(list(table.key)), table.key)
            rows = pa.array(np.arange(1, data.num_rows + 1, dtype=np.int64))
            typed, bad, rejections = check_table(
                data.select([n for n in table.column_names if n in data.column_names]), table, rows
            )
            quarantine_parts.append(rejections.to_table(str(path)))
            if pc.any(bad).as_py():
                keep = pc.invert(bad)
                typed = typed.filter(keep)
                kept_rows.append(np.flatnonzero(keep.to_numpy(zero_copy_only=False)) + 1)
            else:
                kept_rows.append(None)
            parts.append(typed)
        good = pa.concat_tables(parts)
        if len(files) > 1:
            file_index = np.repeat(np.arange(len(files), dtype=np.int32), [p.num_rows for p in parts])
            sources = pa.DictionaryArray.from_arrays(pa.array(file_index), pa.array([str(p) for p in files]))
            good = good.append_column("_source_file", sources)
        if early_duplicates is not None and kept_rows[0] is None:
            duplicates = early_duplicates.result()
        else:
            duplicates = duplicate_key_mask(good, table.key)
    if pc.any(duplicates).as_py():
        quarantine_parts.append(_duplicate_records(good, duplicates, table, files, parts, kept_rows))
        good = good.filter(pc.invert(duplicates))
    return PreparedDay(good, pa.concat_tables(quarantine_parts))


def _typed_as_contract(data: pa.Table, table: Table) -> bool:
    """Whether the key columns of a file already have the contract's types (a typed Parquet file)."""
    return all(n in data.column_names and data.schema.field(n).type == table.column(n).arrow_type for n in table.key)


def _duplicate_records(
    good: pa.Table,
    duplicates: pa.Array,
    table: Table,
    files: list[Path],
    parts: list[pa.Table],
    kept_rows: list[np.ndarray | None],
) -> pa.Table:
    """Quarantine records for the rows whose key an earlier row (of any file of the day) already had."""
    positions = np.flatnonzero(duplicates.to_numpy(zero_copy_only=False))
    starts = np.cumsum([0, *(p.num_rows for p in parts)])
    file_of = np.searchsorted(starts, positions, side="right") - 1
    row_numbers = np.empty(len(positions), dtype=np.int64)
    for i, kept in enumerate(kept_rows):
        mine = file_of == i
        offsets = positions[mine] - starts[i]
        row_numbers[mine] = offsets + 1 if kept is None else kept[offsets]
    dup_rows = good.take(pa.array(positions))
    key_text = pc.binary_join_element_wise(*[pc.cast(dup_rows.column(k), pa.string()) for k in table.key], "|")
    n = len(positions)
    return pa.table(
        {
            "source_file": pa.array([str(files[i]) for i in file_of], pa.string()),
            "row_number": pa.array(row_numbers),
            "field": pa.array([",".join(table.key)] * n, pa.string()),
            "reason": pa.array(["duplicate_key: key already loaded from an earlier row"] * n, pa.string()),
            "raw_value": key_text,
        }
    )


def ingest_day(
    conn: psycopg.Connection, landing: Path, table_name: str, day: dt.date, batch_id: str | None = None
) -> LoadReport:
    """Replace ``raw.<table>``'s rows of ``day`` with the landing files of that day, quarantining bad rows.

    Files are read and checked before anything is written, so an unreadable file leaves ``raw`` untouched.
    Then, in one transaction on ``conn`` under an advisory lock on (table, day): the day's quarantine records
    are replaced and the day's partition of ``raw.<table>`` is swapped for one holding the good rows
    (:func:`ecomflow.core.warehouse.replace_partition`: binary COPY, lineage stored once per partition as column
    defaults). Readers see the old day or the new one, never a mix; a rerun of the same files gives the same
    rows.
    """
    table = next(t for t in TABLES if t.name == table_name)
    report = LoadReport(table=table_name, day=day, batch_id=batch_id or uuid.uuid4().hex)
    files = landing_files(landing, table_name, day)
    if not files:
        return report
    report.files = [str(p) for p in files]
    prepared = prepare_day(table, files, report)
    quarantine = _with_constant(
        prepared.quarantine,
        {"table_name": pa.scalar(table_name), "partition_date": pa.scalar(day), "batch_id": pa.scalar(report.batch_id)},
    )
    lineage: dict[str, object] = {"_batch_id": report.batch_id, "_loaded_at": sql.SQL("now()")}
    if len(files) == 1:
        lineage["_source_file"] = report.files[0]
    parent = f"raw.{table_name}"
    with conn.transaction():
        lock_partition(conn, parent, day)
        conn.execute("delete from raw.quarantine where table_name = %s and partition_date = %s", (table_name, day))
        report.rows_quarantined = copy_in(conn, "raw.quarantine", quarantine)
        report.rows_loaded = replace_partition(parent, day, prepared.good, conn=conn, constants=lineage)
    for warning in report.warnings:
        log.warning("%s %s: %s", table_name, day, warning)
    if report.rows_quarantined:
        log.warning("%s %s: %d row(s) quarantined, see raw.quarantine", table_name, day, report.rows_quarantined)
    return report


def _with_constant(data: pa.Table, values: dict[str, pa.Scalar]) -> pa.Table:
    for name, value in values.items():
        data = data.append_column(name, pa.repeat(value, data.num_rows))
    return data


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
