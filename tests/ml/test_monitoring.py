"""Population stability, the label windows and the drift check of ``ml.monitoring``, on known distributions."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pytest

from ecomflow.core.dates import add_months
from ml.models import get_spec
from ml.monitoring import (
    PSI_FLOOR,
    DriftDetected,
    Result,
    as_of_step,
    category_counts,
    check_drift,
    metric_key,
    numeric_counts,
    outcome_known_from,
    population,
    population_stability,
    psi_from_counts,
    quantile_edges,
)


def _psi(expected: list[float], actual: list[float]) -> float:
    """The textbook formula, written out: Σ (a − e) · ln(a / e) over the bins' shares."""
    return sum((a - e) * math.log(a / e) for e, a in zip(expected, actual, strict=True))


def test_identical_distributions_are_stable():
    values = np.random.default_rng(0).normal(size=5_000)
    assert population_stability(values, values, categorical=False) == 0.0
    assert population_stability(values, values.copy()[::-1], categorical=False) == 0.0


def test_quantile_bins_of_the_reference_hold_a_tenth_each():
    reference = np.arange(1_000, dtype=float)
    edges = quantile_edges(reference)
    assert len(edges) == 9
    assert numeric_counts(reference, edges).tolist() == [100] * 10 + [0]  # the last bin: missing values


def test_psi_of_a_known_shift_between_bins():
    reference = np.arange(1_000, dtype=float)  # deciles 0-99, 100-199, ...
    # 200 rows in the first decile, 0 in the second, 100 in each of the other eight.
    current = np.concatenate([np.linspace(0, 99, 200), np.linspace(200, 999, 800)])
    shares = [0.2, 0.0, *[0.1] * 8]
    expected = _psi([0.1] * 10, [max(s, PSI_FLOOR) for s in shares])
    assert population_stability(reference, current, categorical=False) == pytest.approx(expected)
    assert expected == pytest.approx(0.1 * math.log(2) + (PSI_FLOOR - 0.1) * math.log(PSI_FLOOR / 0.1))


def test_psi_of_a_normal_mean_shift_is_close_to_its_divergence():
    """For N(0, 1) against N(μ, 1) the PSI tends to the symmetric KL divergence μ²; ten bins see a bit less."""
    rng = np.random.default_rng(1)
    reference, current = rng.normal(0, 1, 200_000), rng.normal(0.5, 1, 200_000)
    psi = population_stability(reference, current, categorical=False)
    assert 0.2 < psi < 0.25


def test_missing_values_are_a_bin_of_their_own():
    reference = np.concatenate([np.arange(900, dtype=float), [np.nan] * 100])  # 10 % missing
    current = np.concatenate([np.arange(900, dtype=float)[::2], [np.nan] * 550])  # 55 % missing, same spread
    edges = quantile_edges(reference)
    assert numeric_counts(reference, edges)[-1] == 100
    assert numeric_counts(current, edges)[-1] == 550
    ref_shares = numeric_counts(reference, edges) / 1_000
    cur_shares = numeric_counts(current, edges) / 1_000
    assert population_stability(reference, current, categorical=False) == pytest.approx(
        _psi(list(ref_shares), list(cur_shares))
    )


def test_tied_reference_values_share_a_bin():
    reference = np.array([0.0] * 700 + list(range(1, 301)), dtype=float)  # 70 % zeros
    edges = quantile_edges(reference)
    counts = numeric_counts(reference, edges)
    assert counts[np.searchsorted(edges, 0.0, side="right")] == 700
    assert counts.sum() == 1_000


def test_categories_are_binned_by_value_with_missing_and_unseen_categories():
    reference = pa.array(["a"] * 50 + ["b"] * 40 + [None] * 10)
    current = pa.array(["a"] * 25 + ["b"] * 40 + [None] * 10 + ["c"] * 25)  # c never seen in training
    expected_counts, actual_counts = category_counts(reference.to_pylist(), current.to_pylist())
    assert expected_counts.tolist() == [10, 50, 40, 0]  # <missing>, a, b, c
    assert actual_counts.tolist() == [10, 25, 40, 25]
    psi = population_stability(reference, current, categorical=True)
    assert psi == pytest.approx(_psi([0.1, 0.5, 0.4, PSI_FLOOR], [0.1, 0.25, 0.4, 0.25]))


def test_psi_of_an_empty_side_is_undefined():
    assert math.isnan(psi_from_counts(np.array([5, 5]), np.array([0, 0])))


def test_label_windows_close_on_the_last_day_of_the_training_tables_windows():
    propensity, credit = get_spec("purchase_propensity"), get_spec("credit_risk")
    # train_customer_purchase: an order in [D, D + 14) is known once day D + 13 is loaded.
    assert outcome_known_from(propensity, dt.date(2026, 12, 1)) == dt.date(2026, 12, 14)
    # train_seller_default: a default in [M, M + 6 months) is known once the day before M + 6 months is loaded.
    assert outcome_known_from(credit, dt.date(2026, 7, 1)) == dt.date(2026, 12, 31)
    assert add_months(dt.date(2026, 8, 31), 6) == dt.date(2027, 2, 28)


def test_windows_and_population_belong_to_the_spec_not_to_its_name():
    renamed = dataclasses.replace(get_spec("credit_risk"), name="credit_risk_challenger_b")
    assert outcome_known_from(renamed, dt.date(2026, 7, 1)) == dt.date(2026, 12, 31)
    assert population(renamed).startswith("n_active_loans > 0")
    assert population(get_spec("purchase_propensity")) == "true"
    without_window = dataclasses.replace(renamed, label_known_from=None)
    with pytest.raises(KeyError, match="credit_risk_challenger_b.*no label_known_from"):
        outcome_known_from(without_window, dt.date(2026, 7, 1))


def test_metrics_are_keyed_by_kind_and_stepped_by_the_as_of_date():
    psi = Result("credit_risk", "3", dt.date(1970, 1, 11), "psi", "gmv_3m", 0.1)
    auc = Result("credit_risk", "3", dt.date(1970, 1, 11), "roc_auc", "score", 0.8)
    assert metric_key(psi) == "monitoring/psi/gmv_3m"
    assert metric_key(auc) == "monitoring/realised/roc_auc"
    assert (
        metric_key(Result("credit_risk", "3", psi.as_of_date, "current_rows", "score", 80)) == "monitoring/current_rows"
    )
    assert as_of_step(psi.as_of_date) == 10


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
