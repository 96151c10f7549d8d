"""The figures every training run logs: ROC, PR, calibration, lift, feature importance and a SHAP summary.

Each function returns a matplotlib figure so the trainer can hand it to ``mlflow.log_figure``; baselines are
drawn beside the model where they exist, so the lift of XGBoost is visible at a glance.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")  # headless: Airflow workers and CI have no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402

from ml.evaluation import calibration_table  # noqa: E402

Curves = Mapping[str, np.ndarray]
"""Scores per name (the model first, then its baselines) on the same rows."""


def _figure(title: str) -> tuple[Figure, plt.Axes]:
    figure, axes = plt.subplots(figsize=(6, 5), dpi=100)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    return figure, axes


def roc_figure(labels: np.ndarray, curves: Curves, title: str) -> Figure:
    """ROC curves of the model and its baselines."""
    figure, axes = _figure(title)
    for name, scores in curves.items():
        fpr, tpr, _ = roc_curve(labels, scores)
        axes.plot(fpr, tpr, label=name)
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
    axes.set(xlabel="false positive rate", ylabel="true positive rate")
    axes.legend(loc="lower right")
    return figure


def pr_figure(labels: np.ndarray, curves: Curves, title: str) -> Figure:
    """Precision–recall curves, with the base rate a random ranking would reach."""
    figure, axes = _figure(title)
    for name, scores in curves.items():
        precision, recall, _ = precision_recall_curve(labels, scores)
        axes.plot(recall, precision, label=name)
    axes.axhline(labels.mean(), linestyle=":", color="grey", label="base rate")
    axes.set(xlabel="recall", ylabel="precision")
    axes.legend(loc="upper right")
    return figure


def calibration_figure(labels: np.ndarray, scores: np.ndarray, title: str) -> Figure:
    """Observed rate against mean score per equal-frequency bin; the diagonal is perfect calibration."""
    figure, axes = _figure(title)
    table = calibration_table(labels, scores)
    top = max(table["mean_score"].max(), table["observed_rate"].max()) * 1.05
    axes.plot([0, top], [0, top], linestyle=":", color="grey", label="perfectly calibrated")
    axes.plot(table["mean_score"], table["observed_rate"], marker="o", label="model")
    axes.set(xlabel="mean predicted probability", ylabel="observed rate")
    axes.legend(loc="upper left")
    return figure


def lift_figure(labels: np.ndarray, curves: Curves, title: str) -> Figure:
    """Lift per score decile (1 = highest scores): how many times the base rate each decile converts."""
    figure, axes = _figure(title)
    width = 0.8 / len(curves)
    deciles = np.arange(1, 11)
    for i, (name, scores) in enumerate(curves.items()):
        order = np.argsort(-scores, kind="stable")
        rates = np.array([labels[group].mean() for group in np.array_split(order, 10)])
        axes.bar(deciles + (i - (len(curves) - 1) / 2) * width, rates / labels.mean(), width, label=name)
    axes.axhline(1, linestyle=":", color="grey")
    axes.set(xlabel="score decile (1 = highest)", ylabel="lift", xticks=deciles)
    axes.legend(loc="upper right")
    return figure


def importance_figure(importance: Mapping[str, float], title: str, top: int = 20) -> Figure:
    """Horizontal bars of the largest feature importances (XGBoost total gain)."""
    figure, axes = _figure(title)
    items = sorted(importance.items(), key=lambda item: item[1])[-top:]
    axes.barh([name for name, _ in items], [value for _, value in items])
    axes.set(xlabel="total gain")
    figure.tight_layout()
    return figure


def shap_summary_figure(
    contributions: np.ndarray, values: np.ndarray, features: list[str], title: str, top: int = 15
) -> Figure:
    """A SHAP summary ("beeswarm"): per feature, each row's contribution, coloured by the feature's value rank.

    ``contributions`` are XGBoost's native TreeSHAP values (``pred_contribs``, bias column removed) and
    ``values`` the feature values of the same rows as float (categories as codes; NaN is drawn grey).
    """
    figure, axes = plt.subplots(figsize=(7, 0.35 * top + 1.5), dpi=100)
    axes.set_title(title)
    order = np.argsort(np.abs(contributions).mean(axis=0))[-top:]
    rng = np.random.default_rng(0)
    for row, index in enumerate(order):
        column = values[:, index]
        finite = np.isfinite(column)
        colour = np.full(len(column), 0.5)
        if finite.any():
            ranks = column[finite].argsort().argsort()
            colour[finite] = ranks / max(len(ranks) - 1, 1)
        jitter = rng.uniform(-0.3, 0.3, len(column))
        axes.scatter(
            contributions[:, index], row + jitter, c=np.where(finite, colour, np.nan), cmap="coolwarm", s=4, alpha=0.6
        )
    axes.set_yticks(range(len(order)), [features[i] for i in order])
    axes.axvline(0, color="grey", linewidth=0.8)
    axes.set(xlabel="SHAP value (contribution to log-odds); colour: feature value, low → high")
    figure.tight_layout()
    return figure
