"""The scores tables: one partition per as-of date, and the move of an unpartitioned table into that layout."""

from __future__ import annotations

import dataclasses
import datetime as dt

from ml.models.propensity import SPEC
from ml.scoring import ensure_scores_table, scores_ddl

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
