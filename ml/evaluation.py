"""Classification metrics logged for every model (and its baselines) on validation and test.

Ranking metrics (ROC/PR AUC, KS, Gini, lift and capture at the top decile) judge who is targeted first;
probability metrics (log loss, Brier, expected calibration error) judge whether a score of 0.2 means 20 %,
which the credit offers and the audience sizes rely on.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score, roc_curve

RANKING_METRICS = ("roc_auc", "pr_auc", "gini", "ks", "lift_top_decile", "capture_top_decile")
PROBABILITY_METRICS = ("log_loss", "brier", "ece")
CALIBRATION_BINS = 10


def _both_classes(labels: np.ndarray) -> bool:
    return len(np.unique(labels)) == 2


def top_decile_mask(scores: np.ndarray) -> np.ndarray:
    """The 10 % highest scores (ties broken by position, so the decile holds exactly ceil(n/10) rows)."""
    n_top = max(1, int(np.ceil(len(scores) / 10)))
    mask = np.zeros(len(scores), dtype=bool)
    mask[np.argsort(-scores, kind="stable")[:n_top]] = True
    return mask


def lift_and_capture(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """Positive rate in the top decile over the overall rate, and the share of all positives it holds."""
    positives = labels.sum()
    if positives == 0:
        return float("nan"), float("nan")
    top = top_decile_mask(scores)
    return float(labels[top].mean() / labels.mean()), float(labels[top].sum() / positives)


def ks_statistic(labels: np.ndarray, scores: np.ndarray) -> float:
    """Kolmogorov–Smirnov: the largest gap between the score distributions of positives and negatives."""
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(np.max(tpr - fpr))


def calibration_table(labels: np.ndarray, scores: np.ndarray, bins: int = CALIBRATION_BINS) -> dict[str, np.ndarray]:
    """Mean score, observed rate and row count per equal-frequency score bin (quantile bins keep each full)."""
    order = np.argsort(scores, kind="stable")
    groups = np.array_split(order, min(bins, len(scores)))
    return {
        "mean_score": np.array([scores[g].mean() for g in groups]),
        "observed_rate": np.array([labels[g].mean() for g in groups]),
        "rows": np.array([len(g) for g in groups]),
    }


def expected_calibration_error(labels: np.ndarray, scores: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Row-weighted mean gap between the mean score and the observed rate over equal-frequency bins."""
    table = calibration_table(labels, scores, bins)
    gaps = np.abs(table["mean_score"] - table["observed_rate"])
    return float(np.average(gaps, weights=table["rows"]))


def ranking_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Metrics that depend only on the order of the scores (NaN when one class is missing)."""
    if not _both_classes(labels):
        return dict.fromkeys(RANKING_METRICS, float("nan"))
    auc = float(roc_auc_score(labels, scores))
    lift, capture = lift_and_capture(labels, scores)
    return {
        "roc_auc": auc,
        "pr_auc": float(average_precision_score(labels, scores)),
        "gini": 2 * auc - 1,
        "ks": ks_statistic(labels, scores),
        "lift_top_decile": lift,
        "capture_top_decile": capture,
    }


def classification_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Ranking and probability metrics of ``scores`` (probabilities) against 0/1 ``labels``."""
    labels = np.asarray(labels, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    clipped = np.clip(scores, 1e-7, 1 - 1e-7)
    return {
        **ranking_metrics(labels, scores),
        "log_loss": float(log_loss(labels, clipped, labels=[0, 1])),
        "brier": float(brier_score_loss(labels, scores)),
        "ece": expected_calibration_error(labels, scores),
        "positive_rate": float(np.mean(labels)) if len(labels) else float("nan"),
        "rows": float(len(labels)),
    }
