"""Render the raw-data contract as the reference page ``docs/data-contract.md``."""

from __future__ import annotations

from pathlib import Path

from ecomflow.core.settings import PROJECT_ROOT
from ecomflow.sources.contract import TABLES, Column, Table

CONTRACT_PAGE = PROJECT_ROOT / "docs" / "data-contract.md"

INTRO = """# Raw-data contract

Generated from `ecomflow/sources/contract.py` by `python -m ecomflow.sources.docs`; a test keeps it in sync.

## Files

Files go to `<landing>/<table>/dt=YYYY-MM-DD/` as Parquet (`*.parquet`) or UTF-8 CSV with a header row (`*.csv`,
`*.csv.gz`; a byte-order mark, quoted fields and newlines inside quotes are fine). A partition holds the rows that
became **known** on that day (a shipment on delivery, a repayment when booked): point-in-time features use this
date. Timestamps are ISO 8601; without a zone they are UTC; digits past the microsecond (a Parquet timestamp in
nanoseconds) are dropped, as PostgreSQL keeps microseconds. Dates are `YYYY-MM-DD`. Booleans are `true`/`false`
(also `t`/`f`, `1`/`0`, `yes`/`no`). Parquet files are best written with page checksums
(`write_page_checksum=True`, as the simulator does): the loader verifies them, so a corrupted page fails its file
instead of loading wrong values.

Nothing in the landing area is skipped silently. A folder that is no contract table is reported (a misspelling
with the closest table name), so is a day folder that is not a real `dt=YYYY-MM-DD` date (`dt=2025-1-1`,
`dt=2025-02-30`). A file in a day folder whose name does not end in `.parquet`, `.csv` or `.csv.gz` (lower case:
`part-0.CSV` is not read) fails its day. Names starting with `_` or `.` (`_SUCCESS`, `.DS_Store`) are passed over.
A landing directory that does not exist, `--from` after `--to`, or a range with no file at all is an error.

## Rows

Rows that break the contract go to `raw.quarantine` with the file, row number (1 = the first row after the
header), field, reason and the value exactly as written (a NUL spelled `\\0`, bytes that are not UTF-8 as
`\\x` and hexadecimal); the file's other rows load. Reasons: `wrong_type`, `malformed_date`,
`malformed_timestamp`, `null_key`, `null_required`, `unknown_value`, `negative_value`, `below_minimum`,
`above_maximum`, `not_finite` (NaN, infinity), `too_long` (text longer than its column's limit, 1,000 characters
unless the table says otherwise), `invalid_text` (a NUL character, bytes that are not UTF-8), `duplicate_key`.
A file that cannot be read (not UTF-8, a row with the wrong number of fields, a repeated header column, a
corrupted Parquet page, a column of a type no contract type reads from) or that lacks a required column fails,
naming the file and the line or column. Unknown extra columns are reported and ignored; missing optional
(nullable) columns load as null. You may supply only some tables: what depends on a missing one is skipped with a
message.

## Days

A day is loaded all or nothing across its tables. Every file of every table of the day is read and checked
first; any failure above fails the whole day, naming each file, and `raw` keeps the day as it was for every table.
An input with no row to load (a header-only CSV, a 0-row Parquet file, a file whose every row is quarantined) for
a day that holds rows fails the day too, unless `ecomflow ingest --allow-empty` (or the table's rule below) asks
for the day to be emptied; either way the output says so. A range goes on past a failed day and exits non-zero at
the end, listing each failed day and why.

Then, in one transaction, under an advisory lock on each (table, day): the day's quarantine records are replaced
and each table's partition of the day (`raw.<table>` has one per day, `<table>_pYYYYMMDD`) is swapped for a fresh
table holding the new rows, built aside, all tables at once. Every row carries its lineage: `_partition_date`,
`_source_file`, `_batch_id` and `_loaded_at`. A load that crashes leaves no change; a fresh table it left behind
(the several-session path for large days commits it before the swap) is dropped by the next load of that day.

What a reader of `raw` sees while a day is swapped:

- The swap drops the old partitions and attaches the new ones, which needs an exclusive lock on each table: it
  waits for queries and transactions that have read the table to end. It waits at most half a second at a time,
  and steps aside between attempts so that queries queued behind it run; after a dozen attempts the load fails
  naming the sessions in its way, nothing changed. While an attempt waits, new queries of the table wait too.
- **READ COMMITTED**: a statement sees every table of the day old, or (once the swap commits) every table new,
  never a day's orders without their lines and never the day missing. A statement that starts during the swap
  waits for it and then reads the new day. A transaction that has read a table keeps its lock on it until it
  ends, so the swap waits for it (or gives up, as above): within one statement nothing changes under it.
- **REPEATABLE READ** (and SERIALIZABLE): a transaction that has read a table before the swap holds its lock, so
  the swap waits until it ends, and it sees the old day throughout. A transaction whose snapshot was taken before
  the swap committed but that reads a table for the first time after it sees **that day empty** in that table: the
  new partition's rows were written after its snapshot, and the old partition is gone. Other days are unaffected.
  To read a consistent set of days across a load, read each table you need at the start of the transaction
  (`select 1 from raw.orders limit 0` is enough to take the lock), or use READ COMMITTED.
"""


def _rule(column: Column) -> str:
    rules = []
    if column.allowed:
        rules.append("one of " + ", ".join(f"`{v}`" for v in column.allowed))
    if column.min_value is not None and column.max_value is not None:
        rules.append(f"{column.min_value:g} to {column.max_value:g}")
    elif column.min_value is not None:
        rules.append(f">= {column.min_value:g}")
    elif column.max_value is not None:
        rules.append(f"<= {column.max_value:g}")
    if column.type == "float64":
        rules.append("finite")
    if column.max_length is not None:
        rules.append(f"at most {column.max_length:,} characters")
    return "; ".join(rules)


def render_table(table: Table) -> str:
    """Markdown section of one table."""
    lines = [
        f"### `{table.name}`",
        "",
        table.description,
        "",
        f"Key: {', '.join(f'`{k}`' for k in table.key)}."
        + (f" Depends on: {', '.join(f'`{d}`' for d in table.depends_on)}." if table.depends_on else "")
        + (" An empty input may empty a day without `--allow-empty`." if table.allow_empty else ""),
        "",
        "| column | type | required | rule | description |",
        "|---|---|---|---|---|",
    ]
    for c in table.columns:
        lines.append(f"| `{c.name}` | {c.type} | {'no' if c.nullable else 'yes'} | {_rule(c)} | {c.description} |")
    return "\n".join(lines)


def render() -> str:
    """The whole reference page."""
    return INTRO + "\n## Tables\n\n" + "\n\n".join(render_table(t) for t in TABLES) + "\n"


def write(path: Path = CONTRACT_PAGE) -> Path:
    """Write the page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render())
    return path


if __name__ == "__main__":
    print(write())
