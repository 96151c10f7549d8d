"""Metrics and the promotion rule on numbers small enough to check by hand."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ml.evaluation import classification_metrics, expected_calibration_error, ks_statistic, lift_and_capture
from ml.models.credit_risk import SPEC as CREDIT
from ml.registry import decide


def test_lift_and_capture_of_the_top_decile():
    labels = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0] * 2, dtype=float)  # 2 positives in 20 rows
    scores = np.linspace(1, 0, 20)  # rows 0 and 1 are the top decile; row 0 is positive
    lift, capture = lift_and_capture(labels, scores)
    assert lift == pytest.approx((1 / 2) / (2 / 20))  # half the top decile converts vs a 10 % base rate
    assert capture == pytest.approx(1 / 2)


def test_ks_is_one_for_a_perfect_ranking_and_zero_for_a_constant_score():
    labels = np.array([0, 0, 1, 1], dtype=float)
    assert ks_statistic(labels, np.array([0.1, 0.2, 0.8, 0.9])) == pytest.approx(1.0)
    assert ks_statistic(labels, np.full(4, 0.5)) == pytest.approx(0.0)


def test_calibration_error_separates_calibrated_from_overconfident_scores():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 0.4, 200_000)
    labels = (rng.random(truth.size) < truth).astype(float)
    assert expected_calibration_error(labels, truth) < 0.005
    assert expected_calibration_error(labels, np.clip(truth * 2, 0, 1)) > 0.15


def test_metrics_of_a_random_score_are_chance():
    rng = np.random.default_rng(1)
    labels = (rng.random(100_000) < 0.1).astype(float)
    metrics = classification_metrics(labels, rng.random(labels.size))
    assert metrics["roc_auc"] == pytest.approx(0.5, abs=0.01)
    assert metrics["gini"] == pytest.approx(0.0, abs=0.02)
    assert metrics["lift_top_decile"] == pytest.approx(1.0, abs=0.1)
    assert metrics["rows"] == labels.size


def test_a_single_class_has_no_ranking_metrics():
    metrics = classification_metrics(np.zeros(10), np.linspace(0, 1, 10))
    assert np.isnan(metrics["roc_auc"]) and np.isnan(metrics["lift_top_decile"])
    assert metrics["brier"] >= 0


SPEC = dataclasses.replace(CREDIT, promotion_margin=0.01, calibration_tolerance=0.005)


@pytest.mark.parametrize(
    ("challenger", "champion", "promoted", "reason"),
    [
        ({"roc_auc": 0.80, "ece": 0.02}, {"roc_auc": 0.78, "ece": 0.02}, True, "beats champion"),
        ({"roc_auc": 0.785, "ece": 0.02}, {"roc_auc": 0.78, "ece": 0.02}, False, "by the margin"),
        ({"roc_auc": 0.70, "ece": 0.01}, {"roc_auc": 0.78, "ece": 0.02}, False, "does not beat"),
        ({"roc_auc": 0.85, "ece": 0.05}, {"roc_auc": 0.78, "ece": 0.02}, False, "calibration error"),
        ({"roc_auc": 0.85, "ece": 0.024}, {"roc_auc": 0.78, "ece": 0.02}, True, "beats champion"),
        ({"roc_auc": 0.60, "ece": 0.02}, {"roc_auc": float("nan"), "ece": 0.02}, True, "undefined"),
    ],
)
def test_the_gate_needs_the_margin_and_no_worse_calibration(challenger, champion, promoted, reason):
    decision, why = decide(SPEC, challenger, champion)
    assert decision is promoted
    assert reason in why
