"""Reading a query result batch by batch, a thread reading ahead (``ecomflow.core.warehouse.read_arrow_batches``)."""

from __future__ import annotations

import threading
import time

import pyarrow as pa
import pytest

from ecomflow.core.warehouse import read_arrow, read_arrow_batches

QUERY = "select i, repeat('x', 100) || i as label, i / 3.0::float8 as ratio from generate_series(1, 300000) as i"


def _readers() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "read_arrow_batches"]


def test_the_batches_hold_the_whole_result_in_order(warehouse):
    batches = list(read_arrow_batches(QUERY))

    assert len(batches) > 1  # several batches, so the reading ahead was exercised
    assert pa.Table.from_batches(batches).equals(read_arrow(QUERY))
    assert not _readers()


def test_an_error_of_the_query_is_raised_in_the_callers_thread(warehouse):
    with pytest.raises(Exception, match="no_such_table"):
        list(read_arrow_batches("select * from no_such_table"))
    assert not _readers()


def test_leaving_the_loop_early_stops_the_reader(warehouse):
    started = time.monotonic()
    for batch in read_arrow_batches(QUERY):
        assert batch.num_rows > 0
        break
    deadline = time.monotonic() + 10
    while _readers() and time.monotonic() < deadline:
        time.sleep(0.05)

    assert not _readers()
    assert time.monotonic() - started < 10


def test_an_error_of_the_caller_stops_the_reader(warehouse):
    with pytest.raises(RuntimeError, match="scoring failed"):
        for _ in read_arrow_batches(QUERY):
            raise RuntimeError("scoring failed")
    assert not _readers()
