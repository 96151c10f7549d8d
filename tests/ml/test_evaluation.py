"""Metrics of ``ml.evaluation`` on numbers small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest

from ml.evaluation import classification_metrics, expected_calibration_error, ks_statistic, lift_and_capture


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
