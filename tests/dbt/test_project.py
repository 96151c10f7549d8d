"""The dbt project's promises to analysts, checked on its parsed manifest (no database needed)."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def models(dbt_manifest) -> dict[str, dict]:
    manifest = json.loads(dbt_manifest.read_text())
    return {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}


def test_every_model_and_documented_column_is_described(models):
    undocumented = [name for name, node in models.items() if not node["description"].strip() or not node["columns"]]
    assert not undocumented
    blank = [
        f"{name}.{col}" for name, node in models.items() for col, c in node["columns"].items() if not c["description"]
    ]
    assert not blank


def test_marts_and_features_enforce_contracts(models):
    layers = ("marts", "features", "activation")
    loose = [n for n, node in models.items() if node["schema"] in layers and not node["config"]["contract"]["enforced"]]
    assert not loose


def test_marts_and_features_are_granted_to_analysts_and_nothing_else_is(models):
    for name, node in models.items():
        granted = node["config"].get("grants", {}).get("select", [])
        assert ("analyst" in granted) == (node["schema"] in ("marts", "features", "activation")), name


def test_exposures_cover_both_models(dbt_manifest):
    exposures = json.loads(dbt_manifest.read_text())["exposures"].values()
    ml = {e["name"] for e in exposures if e["type"] == "ml"}
    assert {"purchase_propensity_model", "credit_risk_model"} <= ml


STAGED_BESIDE_TABLES = {"loaded_range", "customer_versions", "seller_versions"}
"""Staging views that are not one source table's latest rows: the loaded days, every version for the histories."""


def test_staging_is_one_view_per_source_table(models):
    from ecomflow.sources.contract import TABLES

    staged = {name.removeprefix("stg_ecom__") for name, node in models.items() if node["schema"] == "staging"}
    assert staged == {t.name for t in TABLES} | STAGED_BESIDE_TABLES
    assert all(models[f"stg_ecom__{name}"]["config"]["materialized"] == "view" for name in staged)


def _tests_on(manifest: dict, test_name: str) -> set[str]:
    """Models carrying a generic test ``test_name`` (one of ours or dbt's)."""
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test" and n.get("attached_node")]
    return {n["attached_node"].split(".")[-1] for n in tests if (n.get("test_metadata") or {}).get("name") == test_name}


def test_daily_facts_have_recency_tests(dbt_manifest):
    manifest = json.loads(dbt_manifest.read_text())
    daily = {"fct_orders", "fct_order_items", "fct_sessions", "fct_events", "fct_inventory_daily"}
    assert daily <= _tests_on(manifest, "recency")


def test_marts_and_features_use_our_range_and_expression_tests(dbt_manifest):
    manifest = json.loads(dbt_manifest.read_text())
    assert {"fct_order_items", "fct_loans", "customer_360", "feat_customer_daily"} <= _tests_on(
        manifest, "accepted_range"
    )
    assert {"fct_orders", "fct_loans", "feat_customer_daily"} <= _tests_on(manifest, "expression_is_true")


def test_backbone_sources_have_freshness_thresholds(dbt_manifest):
    sources = json.loads(dbt_manifest.read_text())["sources"].values()
    fresh = {
        s["name"]: s["freshness"]
        for s in sources
        if s["loaded_at_field"] == "_loaded_at" and (s.get("freshness") or {}).get("error_after", {}).get("count")
    }
    assert set(fresh) == {"orders", "order_items"}
    assert all(f["warn_after"]["count"] and f["error_after"]["count"] for f in fresh.values())
