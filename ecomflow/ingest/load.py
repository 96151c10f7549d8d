"""Load a day of landing files into ``raw``: every table of the day checked first, then swapped in together.

A day is all-or-nothing across its tables: a file that cannot be read, a required column that is missing, an
empty file for a day that holds rows, or any entry of the day the loader cannot read fails the whole day before
anything is written, and the day's partitions of every table are replaced in one transaction. Rerunning
replaces those days only.
"""

from __future__ import annotations

import datetime as dt
import gzip
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

from ecomflow.core.partitions import PartitionLoad, SwapTimeout, lock_partition, replace_partitions
from ecomflow.core.warehouse import connect, copy_in
from ecomflow.ingest.landing import LandingScan, available_tables, day_files, landing_files, scan
from ecomflow.ingest.schema import ensure_raw_schema
from ecomflow.ingest.validate import ColumnTypeError, check_table, duplicate_key_mask
from ecomflow.sources.contract import TABLES_BY_NAME, Table, get_table

__all__ = [
    "IngestError",
    "LoadReport",
    "RangeError",
    "available_tables",
    "ingest_day",
    "ingest_range",
    "landing_files",
    "load_day",
]

log = logging.getLogger(__name__)

EARLY_DUPLICATES_MIN_ROWS = 100_000  # from this size duplicate keys are looked for in a thread
CSV_BLOCK_BYTES = 1 << 20  # Arrow's CSV block; a file whose rows do not fit is read again in one block


class IngestError(Exception):
    """Input cannot be loaded; the message names the file (and row and field where known) and what was expected."""


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


def read_file(path: Path, table: Table) -> pa.Table:
    """Read a CSV or Parquet file; CSV columns are read as text so the contract check sees what was written.

    Parquet pages written with checksums are verified. Whatever the file holds, the only error that leaves here
    is an :class:`IngestError` naming it.
    """
    try:
        if path.name.endswith(".parquet"):
            data = pq.read_table(path, page_checksum_verification=True)
        else:
            data = _read_csv(path, table)
    except IngestError:
        raise
    except Exception as error:  # any library's error: Arrow, Thrift, zstd, gzip, the OS
        raise IngestError(f"{path}: cannot read as {_kind(path)} for table {table.name!r}: {error}") from error
    repeated = sorted({n for n in data.column_names if data.column_names.count(n) > 1})
    if repeated:
        raise IngestError(f"{path}: column(s) {', '.join(repeated)} appear more than once in the header")
    return data


def _kind(path: Path) -> str:
    return "Parquet" if path.name.endswith(".parquet") else "CSV"


def _read_csv(path: Path, table: Table, block_size: int = CSV_BLOCK_BYTES, threads: bool = True) -> pa.Table:
    """Arrow's CSV reader, with its refusals turned into errors naming the line."""
    invalid: list[str] = []

    def on_invalid_row(row: pa_csv.InvalidRow) -> str:
        where = f"line {row.number}" if row.number is not None else f"row {row.text[:80]!r}"
        invalid.append(f"{where}: expected {row.expected_columns} field(s), found {row.actual_columns}")
        return "error"

    try:
        return pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=block_size, use_threads=threads),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid_row),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in table.column_names},
                strings_can_be_null=True,
                null_values=[""],  # only an empty field is null: "NA", "NULL" or "nan" are text as written
            ),
        )
    except pa.ArrowInvalid as error:
        if "straddles" in str(error) and block_size == CSV_BLOCK_BYTES:  # a row longer than a block
            expanded = path.stat().st_size * (50 if path.name.endswith(".gz") else 1) + 1
            return _read_csv(path, table, min(max(expanded, 2 * block_size), 2**31 - 1), threads)
        if invalid and threads:
            return _read_csv(path, table, block_size, threads=False)  # on one thread Arrow counts the lines
        if invalid:
            raise IngestError(f"{path}: {invalid[0]}") from error
        if "UTF8" in str(error):
            raise IngestError(f"{path}: {_first_bad_utf8(path)}: not valid UTF-8 (files are UTF-8)") from error
        raise


def _first_bad_utf8(path: Path) -> str:
    """``line N`` of the first bytes of ``path`` that are not UTF-8 (a gzip file is read decompressed)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as file:
        for number, line in enumerate(file, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as error:
                return f"line {number}, byte {error.start + 1}"
    return "somewhere"


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
            try:
                typed, bad, rejections = check_table(
                    data.select([n for n in table.column_names if n in data.column_names]), table, rows
                )
            except ColumnTypeError as error:
                raise IngestError(f"{path}: {error}") from error
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


class RangeError(IngestError):
    """Days of a range that could not be loaded (the others were): one message per day."""

    def __init__(self, failures: list[tuple[dt.date, str]]) -> None:
        """Keep the failures, one ``(day, message)`` each."""
        self.failures = failures
        days = ", ".join(str(day) for day, _ in failures)
        super().__init__(f"{len(failures)} day(s) not loaded ({days}):\n" + "\n".join(m for _, m in failures))


def load_day(
    conn: psycopg.Connection,
    landing: Path,
    day: dt.date,
    tables: Iterable[str] | None = None,
    *,
    allow_empty: bool = False,
    batch_id: str | None = None,
    before_swap: Callable[[], None] | None = None,
) -> list[LoadReport]:
    """Replace ``raw``'s rows of ``day`` for every table with files that day, all or nothing.

    Every file of every table is read and checked first; any problem (an unreadable file or entry, a missing
    required column) fails the day naming each file, before anything is written. Then, in one transaction
    under the advisory locks of every (table, day): an empty input for a day that holds rows is refused unless
    ``allow_empty`` (or the table's contract rule) allows it, the day's quarantine records are replaced and
    the day's partitions are swapped in together (:func:`ecomflow.core.partitions.replace_partitions`). A reader sees
    the old day or the new one across all its tables, never a day's orders without their lines.

    Args:
        conn: the warehouse connection (no transaction open: the day commits here).
        landing: the landing directory.
        day: the day.
        tables: the tables to load (default: every contract table).
        allow_empty: let an input without rows empty a day that holds rows.
        batch_id: the load's batch id (default: a fresh one).
        before_swap: called between dropping the old partitions and attaching the new ones (tests).

    Raises:
        IngestError: the day was not loaded and ``raw`` is as it was; the message lists every problem.
    """
    batch = batch_id or uuid.uuid4().hex
    reports, prepared, problems = [], {}, []
    for name in tables if tables is not None else TABLES_BY_NAME:
        report = LoadReport(table=name, day=day, batch_id=batch)
        files, unreadable = day_files(landing, name, day)
        problems += unreadable
        report.files = [str(p) for p in files]
        reports.append(report)
        if files:
            try:
                prepared[name] = prepare_day(get_table(name), files, report)
            except IngestError as error:
                problems.append(str(error))
    if problems:
        raise IngestError(_day_failed(day, problems))
    if prepared:
        try:
            _write_day(conn, day, [r for r in reports if r.files], prepared, allow_empty, before_swap)
        except (psycopg.Error, SwapTimeout) as error:
            notes = "".join(f"; {note}" for note in getattr(error, "__notes__", []))
            raise IngestError(
                _day_failed(day, [f"PostgreSQL refused the load: {str(error).strip()}{notes}"])
            ) from error
    for report in reports:
        for warning in report.warnings:
            log.warning("%s %s: %s", report.table, day, warning)
        if report.rows_quarantined:
            log.warning("%s %s: %d row(s) quarantined, see raw.quarantine", report.table, day, report.rows_quarantined)
    return reports


def _day_failed(day: dt.date, problems: list[str]) -> str:
    return f"day {day} not loaded (raw unchanged for every table of the day):\n" + "\n".join(f"  {p}" for p in problems)


def _write_day(
    conn: psycopg.Connection,
    day: dt.date,
    reports: list[LoadReport],
    prepared: dict[str, PreparedDay],
    allow_empty: bool,
    before_swap: Callable[[], None] | None,
) -> None:
    """One transaction: the locks, the empty-input rule, the quarantine records, the swap of every table."""
    loads = []
    with conn.transaction():
        for report in sorted(reports, key=lambda r: r.table):
            lock_partition(conn, f"raw.{report.table}", day)
        _check_empty_inputs(conn, day, reports, prepared, allow_empty)
        for report in reports:
            quarantine = _with_constant(
                prepared[report.table].quarantine,
                {
                    "table_name": pa.scalar(report.table),
                    "partition_date": pa.scalar(day),
                    "batch_id": pa.scalar(report.batch_id),
                },
            )
            conn.execute(
                "delete from raw.quarantine where table_name = %s and partition_date = %s", (report.table, day)
            )
            report.rows_quarantined = copy_in(conn, "raw.quarantine", quarantine)
            lineage: dict[str, object] = {"_batch_id": report.batch_id, "_loaded_at": sql.SQL("now()")}
            if len(report.files) == 1:
                lineage["_source_file"] = report.files[0]
            loads.append(PartitionLoad(f"raw.{report.table}", day, prepared[report.table].good, lineage))
        counts = replace_partitions(conn, loads, before_attach=before_swap)
    for report, count in zip(reports, counts, strict=True):
        report.rows_loaded = count


def _check_empty_inputs(
    conn: psycopg.Connection,
    day: dt.date,
    reports: list[LoadReport],
    prepared: dict[str, PreparedDay],
    allow_empty: bool,
) -> None:
    """Refuse an input without rows for a day that holds rows, unless allowed; say what happens either way."""
    refused = []
    for report in reports:
        good = prepared[report.table].good.num_rows
        if good:
            continue
        quarantined = prepared[report.table].quarantine.num_rows
        what = f"{', '.join(report.files)}: no row to load" + (
            f" (every row quarantined, {quarantined} record(s))" if quarantined else ""
        )
        stored = conn.execute(
            sql.SQL("select count(*) from {} where _partition_date = %s").format(sql.Identifier("raw", report.table)),
            (day,),
        ).fetchone()[0]
        if not stored:
            report.warnings.append(f"{what}; the day holds no row either")
        elif allow_empty or get_table(report.table).allow_empty:
            report.warnings.append(f"{what}: the day's {stored:,} stored row(s) are removed, as allowed")
        else:
            refused.append(
                f"{what}, and raw.{report.table} holds {stored:,} row(s) for the day: kept "
                "(an empty input empties a day only with --allow-empty)"
            )
    if refused:
        raise IngestError(_day_failed(day, refused))


def ingest_day(
    conn: psycopg.Connection,
    landing: Path,
    table_name: str,
    day: dt.date,
    batch_id: str | None = None,
    *,
    allow_empty: bool = False,
) -> LoadReport:
    """Replace ``raw.<table>``'s rows of ``day`` with the landing files of that day (:func:`load_day`, one table).

    Files are read and checked before anything is written, so an unreadable file leaves ``raw`` untouched;
    bad rows are quarantined. To load the tables of a day together, use :func:`load_day`.
    """
    return load_day(conn, landing, day, [table_name], allow_empty=allow_empty, batch_id=batch_id)[0]


def _with_constant(data: pa.Table, values: dict[str, pa.Scalar]) -> pa.Table:
    for name, value in values.items():
        data = data.append_column(name, pa.repeat(value, data.num_rows))
    return data


def check_range(landing: Path, start: dt.date, end: dt.date, tables: list[str] | None = None) -> LandingScan:
    """What ``landing`` holds for ``[start, end]``; an impossible range or an area with no file in it is an error.

    The scan's warnings name every folder and file outside the layout, and the days of the range without files.
    """
    if start > end:
        raise IngestError(f"--from {start} is after --to {end}: the range holds no day")
    if not landing.is_dir():
        raise IngestError(f"{landing}: landing directory not found")
    found = scan(landing, start, end, tables)
    if not found.days:
        raise IngestError(
            f"{landing}: no landing file for any table from {start} to {end} "
            "(expected <table>/dt=YYYY-MM-DD/*.parquet|*.csv|*.csv.gz)"
            + ("; see the warnings above" if found.warnings else "")
        )
    missing = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    missing = [day for day in missing if day not in found.days]
    if missing:
        shown = ", ".join(str(day) for day in missing[:10]) + (", ..." if len(missing) > 10 else "")
        found.warnings.append(f"{landing}: no landing file for {len(missing)} day(s) of the range: {shown}")
    return found


def ingest_range(
    landing: Path,
    start: dt.date,
    end: dt.date,
    tables: Iterable[str] | None = None,
    on_day: Callable[[dt.date, list[LoadReport]], None] | None = None,
    *,
    allow_empty: bool = False,
    on_warning: Callable[[str], None] | None = None,
) -> list[LoadReport]:
    """Load every day in ``[start, end]``, each all or nothing (:func:`load_day`), going on past a failed day.

    Args:
        landing: the landing directory.
        start: first day.
        end: last day.
        tables: the tables to load (default: those with a folder in ``landing``).
        on_day: called after each day with its reports (none for a day that failed).
        allow_empty: let an input without rows empty a day that holds rows.
        on_warning: where the landing area's warnings go (default: the log).

    Raises:
        IngestError: the range is empty or finds no file at all (nothing loaded).
        RangeError: after every day was tried, when some failed: each one with its problems.
    """
    found = check_range(landing, start, end, list(tables) if tables is not None else None)
    names = list(tables) if tables is not None else available_tables(landing)
    for warning in found.warnings:
        (on_warning or log.warning)(warning)
    reports: list[LoadReport] = []
    failures: list[tuple[dt.date, str]] = []
    with connect() as conn:
        ensure_raw_schema(conn)
        for offset in range((end - start).days + 1):
            day = start + dt.timedelta(days=offset)
            try:
                day_reports = load_day(conn, landing, day, names, allow_empty=allow_empty)
            except IngestError as error:
                failures.append((day, str(error)))
                day_reports = []
            reports.extend(day_reports)
            if on_day:
                on_day(day, day_reports)
    if failures:
        raise RangeError(failures)
    return reports
