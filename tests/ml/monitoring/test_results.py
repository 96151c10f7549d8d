"""The drift check of ``ml.monitoring.results``: which PSI values fail a run, and what the failure says."""

from __future__ import annotations

import datetime as dt

import pytest

from ml.models import get_spec
from ml.monitoring.results import DriftDetected, Result, check_drift


def test_drift_above_the_threshold_fails_naming_model_day_feature_and_psi():
    day = dt.date(2027, 1, 2)
    results = [
        Result("purchase_propensity", "4", day, "psi", "score", 0.05),
        Result("purchase_propensity", "4", day, "psi", "days_since_signup", 0.412),
        Result("purchase_propensity", "4", day, "roc_auc", "score", 0.9),  # not a PSI: never a breach
    ]
    with pytest.raises(DriftDetected) as raised:
        check_drift(results, threshold=0.25)
    message = str(raised.value)
    assert "purchase_propensity v4 as of 2027-01-02: days_since_signup PSI 0.412 > 0.25" in message
    assert "score PSI" not in message
    check_drift(results, threshold=0.5)  # nothing above: passes


def test_drift_a_spec_expects_is_recorded_but_does_not_fail():
    day = dt.date(2027, 1, 2)
    tenure = Result("purchase_propensity", "4", day, "psi", "days_since_signup", 0.9)
    check_drift([tenure], threshold=0.25, expected=get_spec("purchase_propensity").expected_drift)
    with pytest.raises(DriftDetected) as raised:
        check_drift(
            [tenure, Result("purchase_propensity", "4", day, "psi", "orders_30d", 0.3)], 0.25, ["days_since_signup"]
        )
    assert "orders_30d PSI 0.300" in str(raised.value)
    assert "days_since_signup" not in str(raised.value)
    assert get_spec("credit_risk").expected_drift == ("months_on_platform",)


def test_the_default_threshold_is_the_setting(monkeypatch):
    from ecomflow.core.settings import get_settings

    monkeypatch.setenv("ECOMFLOW_DRIFT_PSI_THRESHOLD", "0.04")
    get_settings.cache_clear()
    try:
        with pytest.raises(DriftDetected, match="ECOMFLOW_DRIFT_PSI_THRESHOLD=0.04"):
            check_drift([Result("credit_risk", "1", dt.date(2027, 1, 2), "psi", "score", 0.05)])
    finally:
        monkeypatch.delenv("ECOMFLOW_DRIFT_PSI_THRESHOLD")
        get_settings.cache_clear()
