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
    layers = ("marts", "features")
    loose = [n for n, node in models.items() if node["schema"] in layers and not node["config"]["contract"]["enforced"]]
    assert not loose


def test_marts_and_features_are_granted_to_analysts_and_nothing_else_is(models):
    for name, node in models.items():
        granted = node["config"].get("grants", {}).get("select", [])
        assert ("analyst" in granted) == (node["schema"] in ("marts", "features")), name


def test_exposures_cover_both_models(dbt_manifest):
    exposures = json.loads(dbt_manifest.read_text())["exposures"].values()
    ml = {e["name"] for e in exposures if e["type"] == "ml"}
    assert {"purchase_propensity_model", "credit_risk_model"} <= ml


def test_staging_is_one_view_per_source_table(models):
    from ecomflow.sources.contract import TABLES

    staged = {name.removeprefix("stg_ecom__") for name, node in models.items() if node["schema"] == "staging"}
    assert staged == {t.name for t in TABLES}
    assert all(models[f"stg_ecom__{t.name}"]["config"]["materialized"] == "view" for t in TABLES)
