"""A loading process killed (SIGKILL) at each step of the swap, on both loading paths, then a normal load.

The loader runs in a real subprocess (``killable_loader.py``) that stops dead at the step and is killed there:
the day's stored rows must be exactly the previous load's for every table, and the next load — on the other path
— must load the new files and leave no fresh table behind.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecomflow.core import partitions as wh
from ecomflow.ingest import ensure_raw_schema, load_day

DAY = dt.date(2025, 8, 1)
TABLES = ["orders", "order_items"]
LOADER = Path(__file__).with_name("killable_loader.py")
APP = "ecomflow-killed-loader"
STEPS = ["stage", "drop", "rename", "attach", "commit"]
HEADERS = {
    "orders": "order_id,customer_id,channel,ordered_at,promo_code,shipping_fee",
    "order_items": "order_id,line_number,product_id,seller_id,quantity,unit_price,discount",
}


def _write(landing: Path, version: int) -> None:
    """Version ``version`` of the day: orders and their lines (a version has ``version + 2`` orders)."""
    orders = [f"o{i},c{i},web,{DAY} 10:00:00,v{version},1" for i in range(version + 2)]
    lines = [f"o{i},{n},p{n},s1,1,{version}.5,0" for i in range(version + 2) for n in (1, 2)]
    for table, rows in (("orders", orders), ("order_items", lines)):
        directory = landing / table / f"dt={DAY}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "part-0.csv").write_text("\n".join([HEADERS[table], *rows]) + "\n")


def _stored(conn, fingerprint) -> dict[str, tuple]:
    return {t: fingerprint(conn, f"raw.{t}", "where _partition_date = %s", (DAY,)) for t in TABLES}


def _fresh_tables(conn) -> list[str]:
    """Tables named like a fresh table of the day's partitions (``<partition>_<8 hex>``), attached or not."""
    rows = conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'raw' and c.relkind = 'r' and c.relname ~ %s order by 1",
        (f"_p{DAY:%Y%m%d}_[0-9a-f]{{8}}$",),
    ).fetchall()
    return [name for (name,) in rows]


def _use_path(monkeypatch, path: str) -> None:
    monkeypatch.setattr(wh, "PARALLEL_MIN_ROWS", 1 if path == "several" else 10**9)


def _kill_at(landing: Path, step: str, path: str, marker: Path, conn) -> None:
    """Run the loader in a subprocess until it reaches ``step``, SIGKILL it, wait for its sessions to end."""
    command = [sys.executable, str(LOADER), str(landing), str(DAY), ",".join(TABLES), step, str(marker), path]
    loader = subprocess.Popen(command, env={**os.environ, "PGAPPNAME": APP}, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not marker.exists():
        if loader.poll() is not None:
            pytest.fail(f"the loader ended before {step}: {loader.stderr.read()}")
        if time.monotonic() > deadline:
            loader.kill()
            pytest.fail(f"the loader never reached {step}")
        time.sleep(0.05)
    os.kill(loader.pid, signal.SIGKILL)
    loader.wait()
    loader.stderr.close()
    while conn.execute("select count(*) from pg_stat_activity where application_name = %s", (APP,)).fetchone()[0]:
        conn.rollback()
        if time.monotonic() > deadline:
            pytest.fail("the killed loader's sessions never ended")
        time.sleep(0.05)
    conn.rollback()


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("path", ["one", "several"])
def test_a_load_killed_at_any_step_of_the_swap_loses_nothing_and_the_next_load_leaves_nothing(
    warehouse, tmp_path, monkeypatch, fingerprint, path, step
):
    ensure_raw_schema(warehouse)
    warehouse.execute("truncate raw.orders, raw.order_items, raw.quarantine")
    warehouse.commit()
    landing = tmp_path / "landing"
    _write(landing, 1)
    _use_path(monkeypatch, path)
    load_day(warehouse, landing, DAY, TABLES)
    before = _stored(warehouse, fingerprint)
    warehouse.commit()  # a reader's open transaction would make the swap wait
    _write(landing, 2)

    _kill_at(landing, step, path, tmp_path / "reached", warehouse)

    assert _stored(warehouse, fingerprint) == before  # every table of the day as the last load left it
    leftovers = _fresh_tables(warehouse)
    # The several-session path commits each fresh table before the swap (order_items' first): the kill leaves
    # them behind.
    expected = 0 if path == "one" else 1 if step == "stage" else 2
    assert len(leftovers) == expected, leftovers
    warehouse.commit()

    _use_path(monkeypatch, "one" if path == "several" else "several")  # the other path cleans up too
    reports = load_day(warehouse, landing, DAY, TABLES)

    assert [r.rows_loaded for r in reports] == [4, 8]
    assert warehouse.execute("select distinct promo_code from raw.orders").fetchall() == [("v2",)]
    assert _fresh_tables(warehouse) == []
