"""Classification metrics logged for every model on validation and test."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score


def classification_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """ROC AUC, PR AUC, log loss and Brier score (AUCs are NaN when only one class is present)."""
    both_classes = len(np.unique(labels)) == 2
    clipped = np.clip(scores, 1e-7, 1 - 1e-7)
    return {
        "roc_auc": float(roc_auc_score(labels, scores)) if both_classes else float("nan"),
        "pr_auc": float(average_precision_score(labels, scores)) if both_classes else float("nan"),
        "log_loss": float(log_loss(labels, clipped, labels=[0, 1])),
        "brier": float(brier_score_loss(labels, scores)),
        "positive_rate": float(np.mean(labels)),
        "rows": float(len(labels)),
    }
