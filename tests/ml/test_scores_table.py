"""The scores tables: one partition per as-of date, and the move of an unpartitioned table into that layout."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from ml.models.propensity import SPEC
from ml.scoring import deciles, ensure_scores_table, scores_ddl

LEGACY = dataclasses.replace(SPEC, scores_table="legacy.customer_scores")


def test_an_unpartitioned_scores_table_is_moved_into_one_partition_per_day(warehouse):
    warehouse.execute("drop schema if exists legacy cascade")
    warehouse.execute("create schema legacy")
    unpartitioned = scores_ddl(LEGACY).replace("create schema if not exists scores;", "")
    warehouse.execute(unpartitioned.replace(") partition by list (as_of_date)", ")"))
    days = [dt.date(2026, 6, 1), dt.date(2026, 6, 2)]
    for day in days:
        warehouse.execute(
            "insert into legacy.customer_scores (customer_id, as_of_date, feature_as_of_date, score, decile,"
            " reason_method, model_name, model_version, run_id, scored_at)"
            " select 'c' || i, %s, %s, i / 10.0, i, 'none', 'm', '1', 'r', now() from generate_series(1, 10) i",
            (day, day),
        )
    warehouse.commit()

    ensure_scores_table(LEGACY)
    ensure_scores_table(LEGACY)  # idempotent

    partitions = warehouse.execute(
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
        "where i.inhparent = 'legacy.customer_scores'::regclass order by 1"
    ).fetchall()
    assert partitions == [("customer_scores_p20260601",), ("customer_scores_p20260602",)]
    counts = warehouse.execute(
        "select as_of_date, count(*) from legacy.customer_scores group by 1 order by 1"
    ).fetchall()
    assert counts == [(days[0], 10), (days[1], 10)]
    assert warehouse.execute("select to_regclass('legacy.customer_scores_unpartitioned')").fetchone()[0] is None


def test_equal_scores_share_a_decile_whatever_the_order_of_the_rows():
    scores = np.array([0.9, 0.1, 0.9, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6])
    assert deciles(scores).tolist() == [1, 10, 1, 6, 8, 4, 9, 3, 7, 5]
    order = np.random.default_rng(0).permutation(len(scores))
    assert deciles(scores[order]).tolist() == deciles(scores)[order].tolist()
    big = np.random.default_rng(1).random(10_000)
    assert np.bincount(deciles(big))[1:].tolist() == [1_000] * 10


def test_a_decile_is_ten_times_the_number_of_higher_scores_over_the_row_count():
    rng = np.random.default_rng(2)
    for n in [1, 2, 3, 7, 9, 10, 11, 19, 101, 997]:
        for scores in (rng.random(n), rng.integers(0, 4, n) / 4, np.full(n, 0.3)):
            higher = (scores[None, :] > scores[:, None]).sum(axis=1)
            assert deciles(scores).tolist() == (higher * 10 // n + 1).tolist(), (n, scores)
    assert deciles(np.empty(0)).tolist() == []
