"""The demo's closing summary: rows per layer."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from ecomflow.core.partitions import replace_partition
from ecomflow.demo.summary import layer_counts

PARENT = "scores.summary_probe"


def test_a_partitioned_table_counts_once_with_the_rows_of_all_its_days(warehouse):
    warehouse.execute("create schema if not exists scores")
    warehouse.execute(f"drop table if exists {PARENT}")
    warehouse.execute(
        f"create table {PARENT} (entity_id text not null, as_of_date date not null) partition by list (as_of_date)"
    )
    warehouse.commit()
    for day, n in ((dt.date(2026, 6, 1), 3), (dt.date(2026, 6, 2), 4)):
        replace_partition(PARENT, day, pa.table({"entity_id": [f"e{i}" for i in range(n)]}))
    try:
        probes = [(schema, name, rows) for schema, name, rows in layer_counts() if name.startswith("summary_probe")]
        assert probes == [("scores", "summary_probe", 7)]
    finally:
        warehouse.execute(f"drop table {PARENT}")
        warehouse.commit()


def test_the_summary_fits_an_80_column_terminal_without_cutting_a_name():
    from rich.console import Console

    from ecomflow.demo.summary import LAYERS, ModelLine, summary_tables
    from ml.models import MODEL_NAMES

    totals = [(schema, 99, 123_456_789) for schema in LAYERS]
    lines = [ModelLine(name, "v12 xgboost", "0.812", "logreg 0.799", "7/7") for name in MODEL_NAMES]
    console = Console(width=80, record=True, color_system=None)
    for table in summary_tables(totals, lines):
        console.print(table)
    text = console.export_text()
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    for name in [*MODEL_NAMES, *LAYERS, "123,456,789", "logreg 0.799"]:
        assert name in text
