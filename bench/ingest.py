"""Ingestion throughput: our loader (contract validation included) vs ``pandas.to_sql`` vs ``psql \\copy``.

All three load the same rows of ``order_items`` into a benchmark database of their own on the warehouse
server, in one run; the last line prints the ratios. Targets (issue 3): >= 20x ``to_sql`` and >= 0.5x
``\\copy``. Ours and ``\\copy`` count the fastest of ``BENCH_TRIALS`` runs, each into an emptied table;
``to_sql`` (its default method, SQLAlchemy's default driver) runs once: it takes long enough to be steady.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

ROWS = int(os.environ.get("BENCH_ROWS", 1_000_000))
TO_SQL_ROWS = int(os.environ.get("BENCH_TO_SQL_ROWS", ROWS))
TRIALS = int(os.environ.get("BENCH_TRIALS", 3))
DAY = dt.date(2025, 6, 1)


def order_items(n: int) -> pa.Table:
    """``n`` valid order lines in the contract's schema."""
    from ecomflow.sources.contract import get_table

    rng = np.random.default_rng(0)
    orders = np.arange(n) // 3
    return pa.table(
        {
            "order_id": pa.array(np.char.add("o", orders.astype(str))),
            "line_number": pa.array(np.arange(n) % 3 + 1),
            "product_id": pa.array(np.char.add("p", rng.integers(0, 50_000, n).astype(str))),
            "seller_id": pa.array(np.char.add("s", rng.integers(0, 5_000, n).astype(str))),
            "quantity": pa.array(rng.integers(1, 5, n)),
            "unit_price": pa.array(np.round(rng.gamma(2, 20, n), 2)),
            "discount": pa.array(np.round(rng.uniform(0, 3, n), 2)),
        },
        schema=get_table("order_items").arrow_schema,
    )


def _best_seconds(action, before=None, trials: int = TRIALS) -> float:  # noqa: ANN001
    """Fastest of ``trials`` runs of ``action`` (``before`` resets state, untimed): one-off hiccups do not count."""
    times = []
    for _ in range(trials):
        if before:
            before()
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def _bench_database(settings) -> str:  # noqa: ANN001
    """A database of its own on the warehouse server, so a benchmark never touches the warehouse's data."""
    from ecomflow.core.warehouse import connect

    with connect(autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = 'ecomflow_bench'").fetchone():
            conn.execute("create database ecomflow_bench")
    return settings.warehouse.rsplit("/", 1)[0] + "/ecomflow_bench"


def main() -> None:
    """Run the three loads and print rows/s and ratios."""
    import sqlalchemy

    from ecomflow.core.settings import get_settings
    from ecomflow.core.warehouse import connect
    from ecomflow.ingest import ensure_raw_schema, ingest_day
    from ecomflow.local import runtime
    from ecomflow.local.postgres import POSTGRES_BIN_PATH

    settings = get_settings()
    runtime.apply_env(settings)
    if settings.embedded_postgres:
        runtime.postgres(settings).start()
    url = _bench_database(settings)
    data = order_items(ROWS)
    with tempfile.TemporaryDirectory() as tmp, connect(url) as conn:
        landing = Path(tmp)
        part = landing / "order_items" / f"dt={DAY}"
        part.mkdir(parents=True)
        pq.write_table(data, part / "part-0.parquet")
        csv_path = landing / "order_items.csv"
        pa_csv.write_csv(data, csv_path, pa_csv.WriteOptions(include_header=False))
        ensure_raw_schema(conn)
        conn.execute("drop schema if exists bench cascade")
        conn.execute("create schema bench")
        columns = ", ".join(data.column_names)
        conn.execute(f"create table bench.copy_target as select {columns} from raw.order_items with no data")
        conn.commit()

        def truncate(table: str):  # noqa: ANN202
            return lambda: (conn.execute(f"truncate {table}"), conn.commit())

        ours = _best_seconds(lambda: ingest_day(conn, landing, "order_items", DAY), truncate("raw.order_items"))
        psql = str(POSTGRES_BIN_PATH / "psql")
        copy_cmd = f"\\copy bench.copy_target ({columns.replace(' ', '')}) from '{csv_path}' with (format csv)"
        ceiling = _best_seconds(
            lambda: subprocess.run([psql, url, "-qc", copy_cmd], check=True), truncate("bench.copy_target")
        )
        engine = sqlalchemy.create_engine(url)  # SQLAlchemy's default PostgreSQL driver, as users write it
        sample = data.slice(0, TO_SQL_ROWS).to_pandas()
        naive = _best_seconds(
            lambda: sample.to_sql("to_sql_target", engine, schema="bench", index=False, if_exists="replace"), trials=1
        )
        engine.dispose()

    ours_rps, ceiling_rps, naive_rps = ROWS / ours, ROWS / ceiling, TO_SQL_ROWS / naive
    print(
        f"rows={ROWS:,}  ecomflow ingest {ours_rps:,.0f} rows/s  psql \\copy {ceiling_rps:,.0f} rows/s  "
        f"pandas.to_sql {naive_rps:,.0f} rows/s (on {TO_SQL_ROWS:,} rows)",
        file=sys.stderr,
    )
    print(
        f"ingest: {ours_rps / naive_rps:.1f}x to_sql (target >= 20x), {ours_rps / ceiling_rps:.2f}x psql \\copy "
        f"(target >= 0.5x)"
    )


if __name__ == "__main__":
    main()
