"""The promotion rule of ``ml.registry`` on numbers small enough to check by hand."""

from __future__ import annotations

import dataclasses

import pytest

from ml.models.credit_risk import SPEC as CREDIT
from ml.registry import decide

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
