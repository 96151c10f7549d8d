"""The whole platform, end to end: history in bulk, then three consecutive days through the real DAGs."""

from __future__ import annotations

import datetime as dt

import pytest


def _count(conn, query: str, *params) -> int:
    return conn.execute(query, params).fetchone()[0]


def test_every_landed_row_reached_raw_or_quarantine(pipeline, settings, warehouse):
    import pyarrow.parquet as pq

    from ecomflow.ingest.load import available_tables, landing_files

    for day in pipeline:
        for table in available_tables(settings.landing):
            landed = sum(pq.read_metadata(path).num_rows for path in landing_files(settings.landing, table, day))
            loaded = _count(warehouse, f"select count(*) from raw.{table} where _partition_date = %s", day)
            quarantined = _count(
                warehouse,
                "select count(*) from raw.quarantine where table_name = %s and partition_date = %s",
                table,
                day,
            )
            assert landed == loaded + quarantined, (table, day)
        assert _count(warehouse, "select count(*) from raw.orders where _partition_date = %s", day) > 0


def test_marts_hold_the_run_days(pipeline, warehouse):
    last = pipeline[-1]
    assert _count(warehouse, "select count(*) from marts.fct_orders where ordered_at::date = %s", last) > 0
    assert _count(warehouse, "select count(*) from marts.dim_customers") > 0


def test_features_exist_for_each_as_of_date(pipeline, warehouse):
    for day in pipeline:
        as_of = day + dt.timedelta(days=1)
        assert _count(warehouse, "select count(*) from features.feat_customer_daily where as_of_date = %s", as_of) > 0
    assert _count(warehouse, "select count(*) from features.feat_seller_monthly") > 0


@pytest.mark.parametrize("table", ["scores.customer_purchase_propensity", "scores.seller_credit_risk"])
def test_scores_published_for_every_day_with_model_version(pipeline, warehouse, table):
    from ml.models import all_specs

    [spec] = [spec for spec in all_specs() if spec.scores_table == table]
    for day in pipeline:
        as_of = day + dt.timedelta(days=1)
        rows = warehouse.execute(
            f"select count(*), count(distinct model_version), min(model_name), bool_and(score between 0 and 1) "
            f"from {table} where as_of_date = %s",
            (as_of,),
        ).fetchone()
        snapshot = warehouse.execute(
            f"select count(*) from {spec.feature_table} where {spec.as_of_column} = "
            f"(select max(feature_as_of_date) from {table} where as_of_date = %s)",
            (as_of,),
        ).fetchone()[0]
        assert rows[0] == snapshot > 0, f"{table} as of {as_of}: {rows[0]} scores for {snapshot} entities"
        assert rows[1] == 1 and rows[2] and rows[3]


def test_every_active_customer_is_scored(pipeline, warehouse):
    as_of = pipeline[-1] + dt.timedelta(days=1)
    features = _count(warehouse, "select count(*) from features.feat_customer_daily where as_of_date = %s", as_of)
    scores = _count(warehouse, "select count(*) from scores.customer_purchase_propensity where as_of_date = %s", as_of)
    assert scores == features


def test_both_models_registered_with_a_champion(pipeline, mlflow_server):
    from mlflow import MlflowClient

    client = MlflowClient()
    for name in ("purchase_propensity", "credit_risk"):
        champion = client.get_model_version_by_alias(name, "champion")
        assert champion.tags["alias.champion.why"] == "first model"
        run = client.get_run(champion.run_id)
        assert run.data.metrics["test_roc_auc"] > 0.5
        assert run.data.tags["airflow.dag_id"] == "train"
