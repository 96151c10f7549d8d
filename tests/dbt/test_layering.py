"""The dbt project's layers run one way, checked on its parsed manifest (no database needed).

staging (the only layer that reads sources) → intermediate → marts → features, with the activation marts on
top: a mart never feeds an ``int_`` model, a feature model reads marts, intermediates and other features only,
a mart reads no source. Each folder's ``_<folder>__models.yml`` describes exactly the models beside it, with
their unit tests, and ``macros/_macros.yml`` every macro and its arguments.
"""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath

import pytest
import yaml

from ecomflow.core.settings import DBT_PROJECT_DIR

FEATURE_INPUTS = ("intermediate", "marts", "features")
"""The layers a feature model may read."""


@pytest.fixture(scope="module")
def manifest(dbt_manifest) -> dict:
    return json.loads(dbt_manifest.read_text())


@pytest.fixture(scope="module")
def models(manifest) -> dict[str, dict]:
    """Our models by unique id."""
    return {
        uid: n
        for uid, n in manifest["nodes"].items()
        if n["resource_type"] == "model" and n["package_name"] == "ecomflow"
    }


def _layer(node: dict) -> str:
    """The top folder under ``models/`` a model lives in: staging, intermediate, marts, features, activation."""
    return PurePosixPath(node["original_file_path"]).parts[1]


def _parents(node: dict, manifest: dict) -> list[dict]:
    """The nodes and sources a model reads directly."""
    everything = {**manifest["nodes"], **manifest["sources"]}
    return [everything[uid] for uid in node["depends_on"]["nodes"]]


def _is_source(node: dict) -> bool:
    return node["resource_type"] == "source"


def _is_mart(node: dict) -> bool:
    return node["resource_type"] == "model" and (_layer(node) == "marts" or node["name"].startswith(("fct_", "dim_")))


def _edges(models: dict, manifest: dict, child, parent) -> list[str]:
    """``parent -> child`` for every direct dependency where ``child(model)`` and ``parent(node)`` hold."""
    return sorted(
        f"{p['name']} -> {node['name']}"
        for node in models.values()
        if child(node)
        for p in _parents(node, manifest)
        if parent(p)
    )


def test_no_mart_feeds_an_intermediate_model(models, manifest):
    assert not _edges(models, manifest, lambda n: n["name"].startswith("int_"), _is_mart)


def test_features_read_marts_intermediates_and_features_only(models, manifest):
    def below_marts(parent: dict) -> bool:
        return _is_source(parent) or parent["name"].startswith("stg_") or _layer(parent) not in FEATURE_INPUTS

    assert not _edges(models, manifest, lambda n: _layer(n) == "features", below_marts)


def test_marts_read_no_source(models, manifest):
    assert not _edges(models, manifest, _is_mart, _is_source)


def test_only_staging_and_activation_read_sources(models, manifest):
    """Staging reads the raw tables, activation the published scores; every other layer reads models."""
    assert not _edges(models, manifest, lambda n: _layer(n) not in ("staging", "activation"), _is_source)


def _own_yaml(node: dict) -> str:
    """``models/<...>/<folder>/_<folder>__models.yml``: the YAML beside a model (or a unit test's model)."""
    folder = PurePosixPath(node["original_file_path"]).parent
    return str(folder / f"_{folder.name}__models.yml")


def test_every_model_is_described_in_the_yaml_of_its_own_folder(models):
    elsewhere = {n["name"]: n["patch_path"] for n in models.values() if n["patch_path"] != f"ecomflow://{_own_yaml(n)}"}
    assert not elsewhere


def test_no_yaml_describes_a_model_of_another_folder(models):
    """A YAML naming a model that is not beside it (dbt only warns and ignores the entry)."""
    folder_of = {n["name"]: _own_yaml(n) for n in models.values()}
    stray = []
    for path in (DBT_PROJECT_DIR / "models").rglob("*.yml"):
        relative = str(path.relative_to(DBT_PROJECT_DIR))
        described = yaml.safe_load(path.read_text()) or {}
        for entry in described.get("models", []):
            if folder_of.get(entry["name"]) != relative:
                stray.append(f"{relative}: {entry['name']}")
    assert not stray


def test_unit_tests_sit_beside_their_model(manifest, models):
    by_name = {n["name"]: n for n in models.values()}
    misplaced = [
        f"{t['name']} ({t['original_file_path']})"
        for t in manifest["unit_tests"].values()
        if t["original_file_path"] != _own_yaml(by_name[t["model"]])
    ]
    assert manifest["unit_tests"]
    assert not misplaced


def test_every_macro_and_argument_is_documented(manifest):
    macros = [m for m in manifest["macros"].values() if m["package_name"] == "ecomflow"]
    assert macros
    undocumented = [m["name"] for m in macros if m["patch_path"] != "ecomflow://macros/_macros.yml"]
    assert not undocumented
    for macro in macros:
        documented = {a["name"]: a.get("description", "") for a in macro["arguments"]}
        assert macro["description"].strip(), macro["name"]
        assert documented.keys() == set(_signature(macro)), macro["name"]
        assert all(d.strip() for d in documented.values()), macro["name"]


def _signature(macro: dict) -> list[str]:
    """The argument names of a ``{% macro %}`` (or, for ``test_<name>``, ``{% test <name> %}``) block."""
    name, test = re.escape(macro["name"]), re.escape(macro["name"].removeprefix("test_"))
    match = re.search(rf"\{{%-?\s*(?:macro\s+{name}|test\s+{test})\s*\(([^)]*)\)", macro["macro_sql"])
    assert match, f"no signature found for macro {macro['name']}"
    return [arg.split("=")[0].strip() for arg in match.group(1).split(",") if arg.strip()]
