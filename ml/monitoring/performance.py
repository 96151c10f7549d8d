"""Realised performance: how published scores did against the outcomes that followed, and when those are known.

Pure arithmetic on arrays and dates; the rows come from :mod:`ml.monitoring.observed`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from ml.evaluation import expected_calibration_error, ranking_metrics
from ml.spec import ModelSpec

PERFORMANCE = ("roc_auc", "ece", "mean_score", "observed_rate", "labelled_rows")
"""The realised-performance metrics, as ``monitoring.model_monitoring`` names them."""


def outcome_known_from(spec: ModelSpec, feature_as_of: dt.date) -> dt.date:
    """The first data day on which the label of rows as of ``feature_as_of`` is known (its window's last day)."""
    if spec.label_known_from is None:
        raise KeyError(f"model {spec.name!r} has no label_known_from in its ModelSpec: its outcomes cannot be judged")
    return spec.label_known_from(feature_as_of)


def realised_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """ROC AUC, ECE, mean score, observed rate and row count of ``scores`` against 0/1 ``labels``.

    A metric that cannot be computed (AUC with a single class) is NaN.
    """
    return {
        "roc_auc": ranking_metrics(labels, scores)["roc_auc"],
        "ece": expected_calibration_error(labels, scores),
        "mean_score": float(scores.mean()),
        "observed_rate": float(labels.mean()),
        "labelled_rows": float(len(labels)),
    }
