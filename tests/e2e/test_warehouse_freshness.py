"""The warehouse DAG's freshness gate: the sources' YAML thresholds, checked in SQL before the build."""

from __future__ import annotations

import json

import psycopg
import pytest


@pytest.fixture
def raw_loaded(fresh_database):
    """A database whose ``raw.orders`` and ``raw.order_items`` were last loaded the given hours ago."""

    def load(orders_hours: float | None, order_items_hours: float) -> psycopg.Connection:
        conn = psycopg.connect(fresh_database("ecomflow_freshness"), autocommit=True)
        conn.execute("create schema raw")
        for table, hours in (("orders", orders_hours), ("order_items", order_items_hours)):
            conn.execute(f"create table raw.{table} (_loaded_at timestamptz)")
            if hours is not None:
                conn.execute(f"insert into raw.{table} values (now() - make_interval(secs => %s))", (hours * 3600,))
        return conn

    return load


def _manifest(dbt_manifest) -> dict:
    return json.loads(dbt_manifest.read_text())


def test_fresh_sources_pass_and_a_day_old_one_warns(raw_loaded, dbt_manifest):
    from ecomflow.transform import check_source_freshness

    with raw_loaded(orders_hours=0.1, order_items_hours=30) as conn:
        assert check_source_freshness(conn, _manifest(dbt_manifest)) == {
            "raw.orders": "pass",
            "raw.order_items": "warn",
        }


@pytest.mark.parametrize("orders_hours", [80, None], ids=["three-days-old", "never-loaded"])
def test_a_source_past_error_after_stops_the_build(raw_loaded, dbt_manifest, orders_hours):
    from ecomflow.transform import StaleSource, check_source_freshness

    with raw_loaded(orders_hours=orders_hours, order_items_hours=0.1) as conn:
        with pytest.raises(StaleSource, match=r"raw\.orders"):
            check_source_freshness(conn, _manifest(dbt_manifest))


def test_the_warehouse_dag_checks_freshness_before_dbt():
    from ecomflow.demo.pipeline import load_dags

    dag = load_dags()["warehouse"]
    producer = next(t for t in dag.tasks if t.task_id.endswith("dbt_producer_watcher"))
    assert "freshness" in producer.get_flat_relative_ids(upstream=True)
