"""The day-grained incremental facts (``macros/incremental_days.sql``), run by real dbt on real PostgreSQL.

A small warehouse database of its own (simulated days, loaded by the platform's ingestion): a first build, then
daily runs with the vars the ``warehouse`` DAG passes (``day_from``/``day_to``: the landing days of the run).
Each property is checked on every incremental fact: daily runs give what ``--full-refresh`` gives; rerunning a
past day gives the same rows and rewrites only the rows of its days (the others keep their row version,
``xmin``); a late-arriving order, a correction of an old order and a return of an old line land on the day
they arrive, with one row per key; reloading that day without them puts the old rows back.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from ecomflow.core.settings import DBT_PROJECT_DIR

DATABASE = "dbt_incremental_facts"
FIRST = dt.date(2025, 3, 1)
DAYS = [FIRST + dt.timedelta(days=i) for i in range(13)]
BULK, DAILY, LATE = DAYS[:10], DAYS[10:12], DAYS[12]  # the first build, two daily runs, the day late rows land
KEYS = {
    "fct_orders": ["order_id"],
    "fct_order_items": ["order_id", "line_number"],
    "fct_sessions": ["session_id"],
    "fct_events": ["event_id"],
    "fct_inventory_daily": ["snapshot_date", "product_id"],
    "fct_reviews": ["review_id"],
    "fct_shipments": ["shipment_id"],
    "fct_repayments": ["repayment_id"],
}
LATE_FILE = "late-arrivals.parquet"
OK = ("success", "pass")


@pytest.fixture(scope="module")
def small_warehouse(fresh_database, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """Every simulated table of the first ten days in raw, in a database of its own; yields its URL and landing."""
    from ecomflow.ingest import ensure_raw_schema
    from ecomflow.sources.simulator import SimulatorConfig, write_days

    landing = tmp_path_factory.mktemp("landing")
    write_days(SimulatorConfig(seed=5, n_customers=200, start_date=FIRST), DAYS[0], DAYS[-1], landing)
    url = fresh_database(DATABASE)
    with psycopg.connect(url) as conn:
        ensure_raw_schema(conn)
    for day in BULK:
        _ingest(url, landing, day)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ECOMFLOW_WAREHOUSE_DBNAME", DATABASE)  # profiles.yml reads the database from here
        yield url, landing


def _ingest(url: str, landing: Path, day: dt.date, allow_empty: bool = False) -> None:
    from ecomflow.ingest import ingest_day
    from ecomflow.ingest.load import available_tables

    with psycopg.connect(url) as conn:
        for table in available_tables(landing):
            ingest_day(conn, landing, table, day, allow_empty=allow_empty)


@pytest.fixture(scope="module")
def build(small_warehouse, tmp_path_factory):
    """``dbt build`` of the staging views and the incremental facts, with their unit and data tests.

    ``build(first, last)`` passes the day vars the DAG passes for those landing days; ``build()`` none.
    Data tests that read other marts (relationships, recency) are left out: only the facts are built here.
    """
    from dbt.cli.main import dbtRunner

    target = tmp_path_factory.mktemp("target")

    def invoke(first: dt.date | None = None, last: dt.date | None = None, full_refresh: bool = False) -> None:
        args = ["build", "--select", "staging", *KEYS, "--indirect-selection", "cautious", "--quiet"]
        if first:
            args += ["--vars", json.dumps({"day_from": str(first), "day_to": str(last or first)})]
        if full_refresh:
            args.append("--full-refresh")
        paths = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
        result = dbtRunner().invoke([*args, *paths, "--target-path", str(target)])
        failed = [f"{r.node.name}: {r.status} {r.message}" for r in (result.result or []) if r.status not in OK]
        assert result.success, result.exception or failed

    return invoke


@pytest.fixture(scope="module")
def warehouse_conn(small_warehouse) -> Iterator[psycopg.Connection]:
    with psycopg.connect(small_warehouse[0], autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def daily(small_warehouse, build) -> list[dt.date]:
    """The first build (every day of the bulk load), then one incremental run per new day, as the DAG runs them."""
    url, landing = small_warehouse
    build()
    for day in DAILY:
        _ingest(url, landing, day)
        build(day, day)
    return DAILY


def _checksums(conn, fingerprint) -> dict[str, tuple[int, str]]:
    return {name: fingerprint(conn, f"marts.{name}") for name in KEYS}


def _versions(conn) -> dict[str, dict[tuple, tuple[str, dt.date]]]:
    """Per fact, each key's row version (``xmin``: the transaction that wrote it) and changed_date."""
    versions = {}
    for name, key in KEYS.items():
        rows = conn.execute(f"select {', '.join(key)}, xmin::text, changed_date from marts.{name}").fetchall()
        versions[name] = {tuple(row[:-2]): (row[-2], row[-1]) for row in rows}
    return versions


def _equals_full_refresh(conn, build, fingerprint) -> None:
    incremental = _checksums(conn, fingerprint)
    build(full_refresh=True)
    assert _checksums(conn, fingerprint) == incremental


def test_daily_runs_give_what_a_full_refresh_gives(daily, warehouse_conn, build, fingerprint):
    for name in KEYS:
        days = {r[0] for r in warehouse_conn.execute(f"select distinct changed_date from marts.{name}")}
        assert days & set(daily), f"{name}: no row changed on the daily runs' days"
        assert min(days) <= BULK[-1], f"{name}: the first build holds no row"
    _equals_full_refresh(warehouse_conn, build, fingerprint)


def test_rerunning_a_past_day_gives_the_same_rows_and_rewrites_only_its_days(daily, warehouse_conn, build, fingerprint):
    before, versions = _checksums(warehouse_conn, fingerprint), _versions(warehouse_conn)

    build(daily[0], daily[0])  # the first daily run again, alone: the later day stays as it was

    assert _checksums(warehouse_conn, fingerprint) == before
    after = _versions(warehouse_conn)
    for name in KEYS:
        assert after[name].keys() == versions[name].keys()
        rewritten = {key for key, (xmin, _) in after[name].items() if xmin != versions[name][key][0]}
        on_the_day = {key for key, (_, changed) in versions[name].items() if changed == daily[0]}
        assert rewritten == on_the_day, name

    build(daily[0], daily[-1])  # from that day through the last loaded one, as the DAG reruns it
    assert _checksums(warehouse_conn, fingerprint) == before


def _late_rows(landing: Path) -> dict[str, pa.Table]:
    """Files landing on the LATE day besides its simulated ones: an order placed on the second day (with its
    line), a correction of an order of the third day (another shipping fee) and a return of a line of the
    second day."""

    def day_file(table: str, day: dt.date) -> pa.Table:
        return pq.read_table(next((landing / table / f"dt={day}").glob("*.parquet")))

    def replaced(rows: pa.Table, column: str, values: pa.Array) -> pa.Table:
        i = rows.schema.get_field_index(column)
        return rows.set_column(i, rows.schema.field(i), values.cast(rows.schema.field(i).type))

    orders, items = day_file("orders", DAYS[1]), day_file("order_items", DAYS[1])
    late_order = replaced(orders.slice(0, 1), "order_id", pa.array(["o-late-1"]))
    late_line = items.filter(pc.equal(items["order_id"], orders["order_id"][0])).slice(0, 1)
    late_line = replaced(late_line, "order_id", pa.array(["o-late-1"]))
    corrected = day_file("orders", DAYS[2]).slice(0, 1)
    corrected = replaced(corrected, "shipping_fee", pc.add(corrected["shipping_fee"], 1.0).combine_chunks())
    returned = items.filter(pc.equal(items["order_id"], orders["order_id"][1])).slice(0, 1)
    returns_schema = day_file("returns", LATE).schema
    a_return = pa.table(
        {
            "return_id": ["r-late-1"],
            "order_id": returned["order_id"],
            "line_number": returned["line_number"],
            "reason": ["changed_mind"],
            "refund_amount": pc.multiply(returned["unit_price"], pc.cast(returned["quantity"], pa.float64())),
            "returned_at": pa.array([dt.datetime.combine(LATE, dt.time(12), dt.UTC)]),
        }
    ).cast(returns_schema)
    return {
        "orders": pa.concat_tables([late_order, corrected]),
        "order_items": late_line,
        "returns": a_return,
    }


def test_late_rows_and_corrections_land_on_their_day_with_one_row_per_key(
    daily, small_warehouse, warehouse_conn, build, fingerprint
):
    url, landing = small_warehouse
    late = _late_rows(landing)
    for table, rows in late.items():
        pq.write_table(rows, landing / table / f"dt={LATE}" / LATE_FILE)
    corrected_id, old_fee = late["orders"]["order_id"][1].as_py(), late["orders"]["shipping_fee"][1].as_py() - 1
    returned = (late["returns"]["order_id"][0].as_py(), late["returns"]["line_number"][0].as_py())
    versions = _versions(warehouse_conn)
    _ingest(url, landing, LATE)

    build(LATE)

    order = "select order_date, shipping_fee, known_date, changed_date from marts.fct_orders where order_id = %s"
    assert warehouse_conn.execute(order, ("o-late-1",)).fetchall() == [
        (DAYS[1], late["orders"]["shipping_fee"][0].as_py(), LATE, LATE)
    ]
    assert warehouse_conn.execute(order, (corrected_id,)).fetchall() == [(DAYS[2], old_fee + 1, LATE, LATE)]
    line = warehouse_conn.execute(
        "select is_returned, known_date, changed_date from marts.fct_order_items "
        "where order_id = %s and line_number = %s",
        returned,
    ).fetchall()
    assert line == [(True, DAYS[1], LATE)]
    after = _versions(warehouse_conn)
    for name in KEYS:
        kept = {k for k, (xmin, changed) in after[name].items() if changed < LATE}
        assert {k for k in kept if versions[name].get(k, (None,))[0] != after[name][k][0]} == set(), name
    _equals_full_refresh(warehouse_conn, build, fingerprint)


def test_reloading_a_day_without_its_late_rows_puts_the_old_rows_back(
    daily, small_warehouse, warehouse_conn, build, fingerprint
):
    url, landing = small_warehouse
    if not (landing / "orders" / f"dt={LATE}" / LATE_FILE).exists():
        pytest.skip("needs the late rows of the test before")
    corrected_id = pq.read_table(landing / "orders" / f"dt={LATE}" / LATE_FILE)["order_id"][1].as_py()
    for table in ("orders", "order_items", "returns"):
        (landing / table / f"dt={LATE}" / LATE_FILE).unlink()
    # The day's files again, without the late ones: raw loses those rows (a table left with no row is emptied
    # on purpose, which the loader only does when asked).
    _ingest(url, landing, LATE, allow_empty=True)

    build(LATE)

    order = "select known_date, changed_date from marts.fct_orders where order_id = %s"
    assert warehouse_conn.execute(order, ("o-late-1",)).fetchall() == []
    assert warehouse_conn.execute(order, (corrected_id,)).fetchall() == [(DAYS[2], DAYS[2])]
    _equals_full_refresh(warehouse_conn, build, fingerprint)


def test_a_run_without_vars_rebuilds_every_day(daily, warehouse_conn, build, fingerprint):
    before, versions = _checksums(warehouse_conn, fingerprint), _versions(warehouse_conn)
    build()
    assert _checksums(warehouse_conn, fingerprint) == before
    after = _versions(warehouse_conn)
    for name in KEYS:
        assert all(after[name][k][0] != xmin for k, (xmin, _) in versions[name].items()), name


def test_a_key_cannot_hold_two_rows(daily, warehouse_conn):
    """A unique index on each fact's key: a second version of a key fails the build instead of landing."""
    unique_keys = (
        "select array_agg(a.attname::text order by a.attname) from pg_index as i "
        "inner join pg_attribute as a on a.attrelid = i.indrelid and a.attnum = any(i.indkey) "
        "where i.indrelid = %s::regclass and i.indisunique group by i.indexrelid"
    )
    for name, key in KEYS.items():
        assert [sorted(key)] == [r[0] for r in warehouse_conn.execute(unique_keys, (f"marts.{name}",))], name
