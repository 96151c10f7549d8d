"""Swapping one day's partition atomically (``ecomflow.core.warehouse.replace_partition``) on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import psycopg
import pyarrow as pa
import pytest

from ecomflow.core.warehouse import connect, partition_name, replace_partition

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


def test_two_replacements_of_one_day_serialise(parent):
    first_inside, errors = threading.Event(), []

    def hold() -> None:
        first_inside.set()
        threading.Event().wait(1.0)

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
    one.join(timeout=60)
    two.join(timeout=60)
    assert not errors, errors
    assert [tag for *_, tag in _day(parent, DAY)] == ["second"] * 60


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
