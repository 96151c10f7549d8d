"""The model registry ``ml.models``: lookup by name, a throwaway registration, and an import light enough for DAGs."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from ml.models import MODEL_NAMES, all_specs, get_spec, registered
from ml.models.credit_risk import SPEC as CREDIT
from ml.models.propensity import SPEC as PROPENSITY


def test_the_platforms_models_in_the_order_the_dags_list_them():
    assert MODEL_NAMES == ("purchase_propensity", "credit_risk")
    assert all_specs() == [PROPENSITY, CREDIT]
    assert get_spec("credit_risk") is CREDIT


def test_an_unknown_name_is_refused_listing_the_known_ones():
    with pytest.raises(KeyError, match="unknown model 'churn'; known: purchase_propensity, credit_risk"):
        get_spec("churn")


def test_a_throwaway_spec_is_found_by_name_only_inside_its_block():
    copy = dataclasses.replace(PROPENSITY, name="propensity_copy")
    with registered(copy):
        assert get_spec("propensity_copy") is copy
        assert all_specs() == [PROPENSITY, CREDIT, copy]
        with pytest.raises(ValueError, match="registered already"):
            with registered(copy):
                pass
    with pytest.raises(KeyError):
        get_spec("propensity_copy")
    assert MODEL_NAMES == ("purchase_propensity", "credit_risk")


def test_importing_the_registry_loads_no_heavy_library():
    """The DAG files import it while Airflow parses them: numpy, pandas, XGBoost and MLflow wait for a task."""
    heavy = ["numpy", "pandas", "pyarrow", "xgboost", "mlflow", "sklearn"]
    code = f"import sys, ml.models; print([m for m in {heavy!r} if m in sys.modules])"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
