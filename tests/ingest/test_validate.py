import datetime as dt

import pyarrow as pa

from ecomflow.ingest.validate import duplicate_key_mask


def test_duplicates_on_a_composite_key_of_any_types_across_chunks():
    when = pa.timestamp("us", tz="UTC")
    t1, t2 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC), dt.datetime(2025, 1, 2, tzinfo=dt.UTC)
    data = pa.table(
        {
            "customer_id": pa.chunked_array([pa.array(["c1", "c2", "c1"]), pa.array(["c1", "c2"])]),
            "updated_at": pa.chunked_array([pa.array([t1, t1, t2], when), pa.array([t1, t1], when)]),
            "line": pa.chunked_array([pa.array([1, 1, 1]), pa.array([1, 2])]),
        }
    )
    assert duplicate_key_mask(data, ("customer_id", "updated_at", "line")).to_pylist() == [
        False,
        False,
        False,
        True,
        False,
    ]


def test_first_occurrence_wins_on_a_single_key():
    data = pa.table({"order_id": ["a", "b", "a", "a"]})
    assert duplicate_key_mask(data, ("order_id",)).to_pylist() == [False, False, True, True]


def test_null_keys_are_one_key():
    data = pa.table({"order_id": ["a", None, "a", None]})
    assert duplicate_key_mask(data, ("order_id",)).to_pylist() == [False, False, True, True]


def test_composite_keys_in_key_order_and_out_of_it():
    in_order = pa.table({"order_id": ["a", "a", "a", "b", "b"], "line": [1, 2, 2, 1, 2]})
    assert duplicate_key_mask(in_order, ("order_id", "line")).to_pylist() == [False, False, True, False, False]
    shuffled = pa.table({"order_id": ["b", "a", "b", "a", "a"], "line": [2, 1, 1, 1, 2]})
    assert duplicate_key_mask(shuffled, ("order_id", "line")).to_pylist() == [False, False, False, True, False]
