"""``partitions.replace_partition`` as the loader uses it (constant lineage columns, the caller's transaction,
several loading sessions) and the partitioned ``raw`` layout, against a real PostgreSQL.

The swap itself (other days untouched, key, bound, failures, readers, serialisation) is covered for both
loading modes here and, without constants, in ``tests/core/test_replace_partition.py``.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql

from ecomflow.core import partitions as wh
from ecomflow.core.partitions import replace_partition
from ecomflow.core.warehouse import connect
from ecomflow.ingest import ensure_raw_schema, ingest_day, load_day

DAY = dt.date(2025, 5, 1)
OTHER_DAY = dt.date(2025, 5, 2)
PARENT = "scratch.measures"


@pytest.fixture
def parent(warehouse):
    warehouse.execute("create schema if not exists scratch")
    warehouse.execute(f"drop table if exists {PARENT}")
    warehouse.execute(
        f"create table {PARENT} (id bigint not null, label text, day date not null, batch text not null, "
        "loaded_at timestamptz not null, primary key (day, id)) partition by list (day)"
    )
    warehouse.commit()
    return PARENT


@pytest.fixture(params=["one session", "several sessions"])
def mode(request, monkeypatch) -> str:
    """Each test runs both ways of loading: in the caller's transaction, or over several sessions at once."""
    if request.param == "several sessions":
        monkeypatch.setattr(wh, "PARALLEL_MIN_ROWS", 1)
    return request.param


def _rows(conn, parent: str = PARENT) -> list[tuple]:
    return conn.execute(f"select day, id, label, batch from {parent} order by day, id").fetchall()


def _load(conn, day, ids, batch, before_attach=None):
    data = pa.table({"id": pa.array(ids, pa.int64()), "label": [f"l{i}" for i in ids]})
    constants = {"batch": batch, "loaded_at": sql.SQL("now()")}
    with conn.transaction():
        return replace_partition(PARENT, day, data, before_attach, conn=conn, constants=constants)


def _tables(conn) -> list[str]:
    """Every table of schema scratch named like the parent's partitions (attached or not)."""
    return [
        r[0]
        for r in conn.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'scratch' and c.relname like 'measures\\_%' and c.relkind = 'r' order by 1"
        )
    ]


def test_constants_are_stored_once_and_read_on_every_row(warehouse, parent, mode):
    assert _load(warehouse, DAY, [1, 2, 3], "a") == 3
    _load(warehouse, OTHER_DAY, [4], "b")
    _load(warehouse, DAY, [5, 6], "c")

    assert _rows(warehouse) == [(DAY, 5, "l5", "c"), (DAY, 6, "l6", "c"), (OTHER_DAY, 4, "l4", "b")]
    assert _tables(warehouse) == ["measures_p20250501", "measures_p20250502"]
    assert warehouse.execute(f"select count(distinct loaded_at) from {PARENT} where day = %s", (DAY,)).fetchone() == (
        1,
    )
    # batch and loaded_at live in the catalog (attmissingval), not in the rows: their default, added after the load
    missing = warehouse.execute(
        "select attname from pg_attribute where attrelid = 'scratch.measures_p20250501'::regclass "
        "and atthasmissing order by 1"
    ).fetchall()
    assert missing == [("batch",), ("loaded_at",)]


def test_a_failed_swap_in_the_callers_open_transaction_leaves_the_day_and_no_fresh_table(warehouse, parent, mode):
    _load(warehouse, DAY, [1], "old")
    warehouse.execute(f"select count(*) from {PARENT}")  # the caller's own transaction is open: a savepoint

    def fail():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        _load(warehouse, DAY, [2, 3], "new", before_attach=fail)
    warehouse.rollback()

    assert _rows(warehouse) == [(DAY, 1, "l1", "old")]
    assert _tables(warehouse) == ["measures_p20250501"]


def test_readers_wait_for_the_swap_and_never_see_the_day_missing(warehouse, parent, mode):
    _load(warehouse, DAY, [1, 2], "old")
    seen: list = []

    def look():
        with connect() as reader:
            reader.execute("set lock_timeout = '200ms'")
            try:
                seen.append(_rows(reader))
            except psycopg.errors.LockNotAvailable:
                seen.append("waits")

    _load(warehouse, DAY, [3], "new", before_attach=look)

    assert seen == ["waits"]
    with connect() as reader:
        assert _rows(reader) == [(DAY, 3, "l3", "new")]


def _waiting_for_advisory_locks(conn) -> int:
    conn.rollback()
    return conn.execute("select count(*) from pg_locks where locktype = 'advisory' and not granted").fetchone()[0]


def _two_loads(first, second, wait_until) -> tuple[list[BaseException], bool]:
    """Run ``first(hold)`` until it holds inside its swap, then ``second``; let ``first`` go once ``second`` waits
    for the day's advisory lock (or after a timeout). Returns the errors and whether ``second`` waited.
    """
    inside, release, errors = threading.Event(), threading.Event(), []

    def hold():
        inside.set()
        release.wait(60)

    def run(load, *args):
        try:
            load(*args)
        except BaseException as error:  # noqa: BLE001 - reported by the caller
            errors.append(error)

    one = threading.Thread(target=run, args=(first, hold))
    one.start()
    assert inside.wait(60)
    two = threading.Thread(target=run, args=(second,))
    two.start()
    with connect() as observer:
        waited = wait_until(lambda: _waiting_for_advisory_locks(observer) == 1)
    release.set()
    one.join(60)
    two.join(120)
    return errors, waited


def test_concurrent_loads_of_one_day_serialise(warehouse, parent, mode, wait_until):
    # The day's first load: without the lock, the second load's fresh table could not take the partition's name.
    def load(ids, batch, hook=None):
        with connect() as conn:
            _load(conn, DAY, ids, batch, hook)

    errors, waited = _two_loads(
        lambda hook: load(list(range(1000, 1500)), "b1", hook), lambda: load(list(range(2000, 2500)), "b2"), wait_until
    )

    assert waited, "the second load did not wait for the first one's advisory lock"
    assert not errors, errors
    rows = _rows(warehouse)
    assert len(rows) == 500 and {r[3] for r in rows} == {"b2"}  # the later load wins, whole
    assert _tables(warehouse) == ["measures_p20250501"]


def test_concurrent_loads_of_one_day_through_the_loader_serialise(warehouse, tmp_path, mode, wait_until):
    ensure_raw_schema(warehouse)
    warehouse.execute("truncate raw.orders, raw.quarantine")
    warehouse.commit()
    path = tmp_path / "orders" / f"dt={DAY}" / "part-0.csv"
    path.parent.mkdir(parents=True)
    header = "order_id,customer_id,channel,ordered_at,promo_code,shipping_fee"
    rows = [f"o1,c1,web,{DAY} 10:00:00,,1", f"o2,c2,web,{DAY} 11:00:00,,1", f"o3,c3,mail,{DAY} 12:00:00,,1"]
    path.write_text("\n".join([header, *rows]) + "\n")

    def load(hook=None):
        with connect() as conn:
            load_day(conn, tmp_path, DAY, ["orders"], before_swap=hook)

    errors, waited = _two_loads(load, load, wait_until)

    assert waited, "the second load did not wait for the first one's advisory lock"
    assert not errors, errors
    assert warehouse.execute("select count(*) from raw.orders").fetchone()[0] == 2
    # Each load replaces the day's quarantine records: serialised, the day keeps one set.
    assert warehouse.execute("select count(*) from raw.quarantine").fetchone()[0] == 1


def test_a_fresh_table_left_by_a_crashed_parallel_load_is_dropped_by_either_path(warehouse, parent, mode):
    warehouse.execute("create table scratch.measures_p20250501_0123abcd (id bigint)")
    warehouse.commit()
    _load(warehouse, DAY, list(range(10)), "a")
    assert _tables(warehouse) == ["measures_p20250501"]
    assert len(_rows(warehouse)) == 10


def test_the_key_holds_on_every_partition(warehouse, parent, mode):
    _load(warehouse, DAY, [1, 2], "a")
    indexes = warehouse.execute(
        "select indexdef from pg_indexes where schemaname = 'scratch' and tablename = 'measures_p20250501'"
    ).fetchall()
    assert len(indexes) == 1 and "UNIQUE" in indexes[0][0] and "(day, id)" in indexes[0][0]
    with pytest.raises(psycopg.errors.UniqueViolation):
        _load(warehouse, DAY, [3, 3], "b")
    warehouse.rollback()
    assert [r[1] for r in _rows(warehouse)] == [1, 2]


OLD_LAYOUT = """
create table raw.sellers (
    seller_id text not null, seller_name text not null, size_band text not null, category text not null,
    region text not null, founded_year bigint not null, onboarded_at timestamptz not null,
    _partition_date date not null default current_setting('ecomflow.partition_date')::date,
    _source_file text not null default current_setting('ecomflow.source_file'),
    _batch_id text not null default current_setting('ecomflow.batch_id'),
    _loaded_at timestamptz not null default now()
);
create index sellers_partition_date on raw.sellers using brin (_partition_date);
insert into raw.sellers values
    ('s1', 'One', 'micro', 'toys', 'north', 2001, '2025-01-01', '2025-01-01', 'f1', 'b1', now()),
    ('s2', 'Two', 'small', 'toys', 'south', 2002, '2025-01-02', '2025-01-02', 'f2', 'b2', now());
create view public.sellers_view as select seller_id, _partition_date from raw.sellers;
"""


@pytest.fixture
def old_database(postgres):
    """A database of its own holding ``raw.sellers`` as an older version created it, with a view on it."""
    with connect(autocommit=True) as admin:
        admin.execute("drop database if exists old_layout")
        admin.execute("create database old_layout")
    url = postgres.rsplit("/", 1)[0] + "/old_layout"
    with psycopg.connect(url) as conn:
        conn.execute("create schema raw")
        conn.execute(OLD_LAYOUT)
        conn.commit()
        yield conn
    with connect(autocommit=True) as admin:
        admin.execute("drop database old_layout with (force)")


def test_an_unpartitioned_raw_table_is_migrated_with_its_rows_and_views(old_database, tmp_path: Path):
    conn = old_database
    ensure_raw_schema(conn)

    kind = conn.execute("select relkind from pg_class where oid = 'raw.sellers'::regclass").fetchone()[0]
    assert kind == "p"
    partitions = conn.execute(
        "select inhrelid::regclass::text from pg_inherits where inhparent = 'raw.sellers'::regclass order by 1"
    ).fetchall()
    assert partitions == [("raw.sellers_p20250101",), ("raw.sellers_p20250102",)]
    assert conn.execute("select seller_id, _source_file from raw.sellers order by 1").fetchall() == [
        ("s1", "f1"),
        ("s2", "f2"),
    ]
    assert conn.execute("select * from public.sellers_view order by 1").fetchall() == [
        ("s1", dt.date(2025, 1, 1)),
        ("s2", dt.date(2025, 1, 2)),
    ]
    ensure_raw_schema(conn)  # idempotent

    day = dt.date(2025, 1, 2)
    path = tmp_path / "sellers" / f"dt={day}" / "part.csv"
    path.parent.mkdir(parents=True)
    header = "seller_id,seller_name,size_band,category,region,founded_year,onboarded_at"
    path.write_text(f"{header}\ns3,Three,medium,food,east,2010,2025-01-02 08:00:00\n")
    ingest_day(conn, tmp_path, "sellers", day)
    assert conn.execute("select * from public.sellers_view order by 1").fetchall() == [
        ("s1", dt.date(2025, 1, 1)),
        ("s3", day),
    ]
