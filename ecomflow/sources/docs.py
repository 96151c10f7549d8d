"""Render the raw-data contract as the reference page ``docs/data-contract.md``."""

from __future__ import annotations

from pathlib import Path

from ecomflow.core.settings import PROJECT_ROOT
from ecomflow.sources.contract import TABLES, Column, Table

CONTRACT_PAGE = PROJECT_ROOT / "docs" / "data-contract.md"

INTRO = """# Raw-data contract

Generated from `ecomflow/sources/contract.py` by `python -m ecomflow.sources.docs`; a test keeps it in sync.

Files go to `<landing>/<table>/dt=YYYY-MM-DD/` as Parquet (`*.parquet`) or CSV with a header row (`*.csv`,
`*.csv.gz`). A partition holds the rows that became **known** on that day (a shipment on delivery, a repayment
when booked): point-in-time features use this date. Timestamps are ISO 8601; without a zone they are UTC.
Dates are `YYYY-MM-DD`. Booleans are `true`/`false` (also `t`/`f`, `1`/`0`, `yes`/`no`).

Loading is per (table, day), in one transaction: the day's rows in `raw.<table>` are replaced (each raw table has
one partition per day, `<table>_pYYYYMMDD`, built aside and swapped in, so readers see the old day or the new one).
Every row carries its lineage: `_partition_date`, `_source_file`, `_batch_id` and `_loaded_at`. Rows that break the
contract go to `raw.quarantine` with the file, row number, field, reason and raw value; the file's other rows load.
Reasons: `wrong_type`, `malformed_date`, `malformed_timestamp`, `null_key`, `null_required`, `unknown_value`,
`negative_value`, `below_minimum`, `duplicate_key`. A file that cannot be read, or that lacks a required column,
fails the load and leaves `raw` untouched. Unknown extra columns are reported and ignored; missing optional
(nullable) columns load as null. You may supply only some tables: what depends on a missing one is skipped with a
message.
"""


def _rule(column: Column) -> str:
    rules = []
    if column.allowed:
        rules.append("one of " + ", ".join(f"`{v}`" for v in column.allowed))
    if column.min_value is not None:
        rules.append(f">= {column.min_value:g}")
    return "; ".join(rules)


def render_table(table: Table) -> str:
    """Markdown section of one table."""
    lines = [
        f"## `{table.name}`",
        "",
        table.description,
        "",
        f"Key: {', '.join(f'`{k}`' for k in table.key)}."
        + (f" Depends on: {', '.join(f'`{d}`' for d in table.depends_on)}." if table.depends_on else ""),
        "",
        "| column | type | required | rule | description |",
        "|---|---|---|---|---|",
    ]
    for c in table.columns:
        lines.append(f"| `{c.name}` | {c.type} | {'no' if c.nullable else 'yes'} | {_rule(c)} | {c.description} |")
    return "\n".join(lines)


def render() -> str:
    """The whole reference page."""
    return INTRO + "\n" + "\n\n".join(render_table(t) for t in TABLES) + "\n"


def write(path: Path = CONTRACT_PAGE) -> Path:
    """Write the page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render())
    return path


if __name__ == "__main__":
    print(write())
