"""Swapping one day's partition atomically (``ecomflow.core.partitions.replace_partition``) on a real PostgreSQL.

Every test runs on both loading paths: in one session, and over several sessions with a fresh table committed
before the swap (``PARALLEL_MIN_ROWS`` lowered so that a few rows take it).
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import psycopg
import pyarrow as pa
import pytest

from ecomflow.core import partitions as wh
from ecomflow.core.partitions import SwapTimeout, partition_name, replace_partition
from ecomflow.core.warehouse import connect

PARENT = "swap.daily_scores"
DAY, OTHER_DAY = dt.date(2026, 6, 1), dt.date(2026, 6, 2)


class InjectedFailure(RuntimeError):
    pass


def _rows(day: dt.date, n: int, tag: str) -> pa.Table:
    return pa.table(
        {
            "entity_id": pa.array([f"e{i:05d}" for i in range(n)]),
            "as_of_date": pa.array([day] * n, pa.date32()),
            "score": pa.array([i / max(n, 1) for i in range(n)], pa.float64()),
            "tag": pa.array([tag] * n),
        }
    )


def _day(conn: psycopg.Connection, day: dt.date) -> list[tuple]:
    return conn.execute(
        f"select entity_id, score, tag from {PARENT} where as_of_date = %s order by 1", (day,)
    ).fetchall()


@pytest.fixture(autouse=True, params=["one session", "several sessions"])
def path(request, monkeypatch) -> str:
    """Both ways of loading: 250,000 rows per session select the several-session path; here 1 does."""
    if request.param == "several sessions":
        monkeypatch.setattr(wh, "PARALLEL_MIN_ROWS", 1)
    return request.param


@pytest.fixture
def parent(warehouse):
    warehouse.execute("drop schema if exists swap cascade")
    warehouse.execute("create schema swap")
    warehouse.execute(
        f"create table {PARENT} (entity_id text not null, as_of_date date not null, score double precision not null,"
        " tag text not null, primary key (as_of_date, entity_id)) partition by list (as_of_date)"
    )
    warehouse.commit()
    replace_partition(PARENT, OTHER_DAY, _rows(OTHER_DAY, 50, "other"))
    return warehouse


def test_a_day_is_replaced_and_other_days_are_not_touched(parent):
    assert replace_partition(PARENT, DAY, _rows(DAY, 300, "first")) == 300
    other_before = parent.execute(f"select xmin::text, ctid::text from {partition_name(PARENT, OTHER_DAY)}").fetchall()
    assert replace_partition(PARENT, DAY, _rows(DAY, 200, "second")) == 200
    assert [tag for *_, tag in _day(parent, DAY)] == ["second"] * 200
    assert parent.execute(f"select xmin::text, ctid::text from {partition_name(PARENT, OTHER_DAY)}").fetchall() == (
        other_before
    )
    partitions = parent.execute(
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
        "where i.inhparent = %s::regclass order by 1",
        (PARENT,),
    ).fetchall()
    assert partitions == [("daily_scores_p20260601",), ("daily_scores_p20260602",)]  # no leftover load table


def test_the_new_partition_has_the_key_and_refuses_duplicates(parent):
    rows = _rows(DAY, 10, "x")
    with pytest.raises(Exception, match="duplicate key|unique"):
        replace_partition(PARENT, DAY, pa.concat_tables([rows, rows.slice(0, 1)]))
    assert _day(parent, DAY) == []


def test_rows_of_another_day_are_refused_and_nothing_changes(parent):
    replace_partition(PARENT, DAY, _rows(DAY, 10, "kept"))
    with pytest.raises(Exception, match="check constraint"):
        replace_partition(PARENT, DAY, _rows(OTHER_DAY, 10, "wrong day"))
    assert [tag for *_, tag in _day(parent, DAY)] == ["kept"] * 10


def test_a_failure_between_drop_and_attach_keeps_the_previous_rows_and_readers_never_see_the_gap(parent):
    replace_partition(PARENT, DAY, _rows(DAY, 100, "previous"))

    def fail() -> None:
        # The old partition is dropped inside the swap's transaction: another session cannot see the day
        # missing, it has to wait for the swap (here: it gives up after its lock timeout).
        with connect() as reader:
            reader.execute("set lock_timeout = '300ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                reader.execute(f"select count(*) from {PARENT} where as_of_date = %s", (DAY,))
        raise InjectedFailure("between drop and attach")

    with pytest.raises(InjectedFailure):
        replace_partition(PARENT, DAY, _rows(DAY, 80, "new"), before_attach=fail)
    assert [tag for *_, tag in _day(parent, DAY)] == ["previous"] * 100


def test_a_reader_during_the_swap_waits_and_sees_the_new_day_in_full(parent):
    replace_partition(PARENT, DAY, _rows(DAY, 100, "previous"))
    seen: list[list[tuple]] = []

    def read() -> None:
        with connect() as reader:
            seen.append(
                reader.execute(
                    f"select tag, count(*) from {PARENT} where as_of_date = %s group by 1", (DAY,)
                ).fetchall()
            )

    reader = threading.Thread(target=read)

    def start_reader() -> None:
        reader.start()
        reader.join(timeout=0.5)
        assert reader.is_alive(), "a reader got through in the middle of the swap"

    replace_partition(PARENT, DAY, _rows(DAY, 70, "new"), before_attach=start_reader)
    reader.join(timeout=30)
    assert seen == [[("new", 70)]]


def _waiting(observer: psycopg.Connection, locktype: str) -> int:
    """Sessions waiting for a lock of ``locktype`` (``advisory``, ``relation``)."""
    observer.rollback()
    query = "select count(*) from pg_locks where locktype = %s and not granted"
    return observer.execute(query, (locktype,)).fetchone()[0]


def test_two_replacements_of_one_day_serialise(parent, wait_until):
    first_inside, release, errors = threading.Event(), threading.Event(), []

    def hold() -> None:
        first_inside.set()
        release.wait(60)

    def run(rows: pa.Table, hook=None) -> None:
        try:
            replace_partition(PARENT, DAY, rows, before_attach=hook)
        except Exception as error:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(error)

    one = threading.Thread(target=run, args=(_rows(DAY, 40, "first"), hold))
    one.start()
    assert first_inside.wait(timeout=30)
    two = threading.Thread(target=run, args=(_rows(DAY, 60, "second"),))
    two.start()
    with connect() as observer:
        waited = wait_until(lambda: _waiting(observer, "advisory") == 1)
    release.set()
    one.join(timeout=60)
    two.join(timeout=120)
    assert waited, "the second replacement did not wait for the first one's advisory lock"
    assert not errors, errors
    assert [tag for *_, tag in _day(parent, DAY)] == ["second"] * 60


def test_a_swap_waiting_behind_a_long_reader_lets_new_queries_through(parent, monkeypatch, wait_until):
    monkeypatch.setattr(wh, "SWAP_LOCK_TIMEOUT_MS", 200)
    monkeypatch.setattr(wh, "SWAP_ATTEMPTS", 1000)
    replace_partition(PARENT, DAY, _rows(DAY, 10, "old"))
    done: list[int] = []
    with connect() as long_reader, connect() as observer, connect() as reader:
        long_reader.execute(f"select count(*) from {PARENT}")  # its transaction stays open, holding its lock
        swap = threading.Thread(target=lambda: done.append(replace_partition(PARENT, DAY, _rows(DAY, 20, "new"))))
        swap.start()
        assert wait_until(lambda: _waiting(observer, "relation") == 1), "the swap never waited for the reader"
        reader.execute("set statement_timeout = '5s'")  # without the swap's lock timeout it would queue for good
        for _ in range(3):
            started = time.monotonic()
            assert reader.execute(f"select count(*) from {PARENT} where as_of_date = %s", (OTHER_DAY,)).fetchone() == (
                50,
            )
            reader.rollback()
            assert time.monotonic() - started < 3
        assert not done  # still waiting for the long reader, who sees the old day throughout
        assert [tag for *_, tag in _day(long_reader, DAY)] == ["old"] * 10
        long_reader.rollback()
        swap.join(timeout=60)
    assert done == [20]
    assert [tag for *_, tag in _day(parent, DAY)] == ["new"] * 20


def test_a_swap_that_never_gets_its_lock_gives_up_naming_the_blocker_and_changes_nothing(parent, monkeypatch):
    monkeypatch.setattr(wh, "SWAP_LOCK_TIMEOUT_MS", 50)
    monkeypatch.setattr(wh, "SWAP_ATTEMPTS", 3)
    replace_partition(PARENT, DAY, _rows(DAY, 10, "old"))
    with connect() as long_reader:
        long_reader.execute(f"select count(*) from {PARENT}")
        pid = long_reader.info.backend_pid
        with pytest.raises(SwapTimeout, match=rf"3 attempts of 50 ms.*pid {pid} \(idle in transaction"):
            replace_partition(PARENT, DAY, _rows(DAY, 20, "new"))
    assert [tag for *_, tag in _day(parent, DAY)] == ["old"] * 10
    leftovers = parent.execute(
        "select relname from pg_class where relname like 'daily\\_scores\\_p20260601\\_%' and relkind = 'r'"
    ).fetchall()
    assert leftovers == []


def test_what_a_repeatable_read_reader_sees_across_a_swap(parent, wait_until):
    """As docs/data-contract.md states: the old day if it read the table before; the day empty if it did not."""
    replace_partition(PARENT, DAY, _rows(DAY, 10, "old"))
    with connect() as early, connect() as late:
        for reader in (early, late):
            reader.execute("set transaction isolation level repeatable read")
        assert [tag for *_, tag in _day(early, DAY)] == ["old"] * 10  # holds its lock: the swap waits for it
        late.execute("select 1")  # a snapshot, but no read of the table
        swapped = threading.Thread(target=replace_partition, args=(PARENT, DAY, _rows(DAY, 20, "new")))
        swapped.start()
        with connect() as observer:
            assert wait_until(lambda: _waiting(observer, "relation") == 1)
        assert [tag for *_, tag in _day(early, DAY)] == ["old"] * 10
        early.rollback()
        swapped.join(timeout=60)
        assert _day(late, DAY) == []  # the new rows came after its snapshot, the old partition is gone
        assert len(_day(late, OTHER_DAY)) == 50  # other days as they were
    assert len(_day(parent, DAY)) == 20


def test_an_empty_day_replaces_the_previous_rows(parent):
    replace_partition(PARENT, DAY, _rows(DAY, 10, "previous"))
    assert replace_partition(PARENT, DAY, _rows(DAY, 0, "none")) == 0
    assert _day(parent, DAY) == []


def test_a_table_that_is_not_partitioned_is_refused_by_name(parent):
    parent.execute("create table swap.plain (as_of_date date primary key)")
    parent.commit()
    with pytest.raises(ValueError, match="swap.plain is not a partitioned table"):
        replace_partition("swap.plain", DAY, pa.table({"as_of_date": pa.array([DAY], pa.date32())}))


def _stored_once(conn: psycopg.Connection, day: dt.date) -> list[str]:
    """Columns of the day's partition whose value lives in the catalog (attmissingval), not in its rows."""
    rows = conn.execute(
        "select attname from pg_attribute where attrelid = %s::regclass and atthasmissing order by 1",
        (partition_name(PARENT, day),),
    ).fetchall()
    return [name for (name,) in rows]


def test_columns_with_one_value_in_every_row_are_stored_once_and_read_on_every_row(parent):
    parent.execute(f"alter table {PARENT} add column note text")
    parent.commit()
    rows = _rows(DAY, 100, "same tag").append_column("note", pa.nulls(100, pa.string()))

    assert replace_partition(PARENT, DAY, rows) == 100

    assert _stored_once(parent, DAY) == ["tag"]  # a column added without default (note) is null in no row at all
    assert parent.execute(
        f"select count(*), count(*) filter (where tag = 'same tag' and note is null and as_of_date = %s) "
        f"from {PARENT} where as_of_date = %s",
        (DAY, DAY),
    ).fetchone() == (100, 100)
    parent.commit()  # the reads' locks would block the next swap
    # A column that varies only at the end is still loaded row by row.
    tags = pa.array(["a"] * 99 + ["b"])
    assert replace_partition(PARENT, DAY, rows.set_column(3, "tag", tags)) == 100
    assert _stored_once(parent, DAY) == []
    assert [tag for *_, tag in _day(parent, DAY)][-2:] == ["a", "b"]


def test_a_not_null_column_holding_only_nulls_is_refused_naming_it(parent):
    replace_partition(PARENT, DAY, _rows(DAY, 10, "kept"))
    rows = _rows(DAY, 10, "x").set_column(3, "tag", pa.nulls(10, pa.string()))
    with pytest.raises(psycopg.errors.NotNullViolation, match='column "tag"'):
        replace_partition(PARENT, DAY, rows)
    assert [tag for *_, tag in _day(parent, DAY)] == ["kept"] * 10
