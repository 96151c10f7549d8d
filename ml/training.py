"""The training job: read, split, fit (optionally tuned), compare with baselines, log, register and gate.

``train_model`` reads the spec's training table in bulk, splits it by as-of date (:mod:`ml.dataset`), fits
XGBoost (:mod:`ml.fitting`, tuned with Optuna by :mod:`ml.tuning` if asked), fits the baselines on the same
split, logs everything to the model's experiment (:mod:`ml.tracking`), registers the model as
``@challenger`` and runs the promotion gate (:mod:`ml.registry`).
"""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
from dataclasses import dataclass
from typing import Any

import numpy as np

from ecomflow.core.settings import PROJECT_ROOT
from ml.baselines import logistic_regression_scores
from ml.dataset import PARTS, NotEnoughData, PreparedData, prepare
from ml.evaluation import RANKING_METRICS, classification_metrics, ranking_metrics
from ml.experiments import describe, ensure_experiment, run_name
from ml.features import missing_sources, read_training_set
from ml.fitting import Fitted, fit
from ml.packaging import TrainedModel
from ml.registry import promotion_gate
from ml.spec import ModelSpec
from ml.tracking import log_dataset, log_figures, log_model
from ml.tuning import tune

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced."""

    model_name: str
    run_id: str
    version: str
    metrics: dict[str, float]
    promoted: bool
    why: str


def evaluate(model: TrainedModel, prepared: PreparedData) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Metrics on validation and test (``<part>_<metric>``) and the scores of every row."""
    scores = model.predict(prepared.frame)
    metrics = {}
    for part in PARTS:
        mask = prepared.split.mask(part)
        metrics |= {f"{part}_{k}": v for k, v in classification_metrics(prepared.labels[mask], scores[mask]).items()}
    return metrics, {"xgboost": scores}


def baseline_scores(spec: ModelSpec, prepared: PreparedData) -> dict[str, np.ndarray]:
    """Scores of every row from each baseline, fitted on the same train rows."""
    scores = {
        "logreg": logistic_regression_scores(prepared.frame, prepared.labels, prepared.split.train, spec.categorical)
    }
    if spec.rule_baseline is not None:
        name, rule = spec.rule_baseline
        scores[name] = np.asarray(rule(prepared.frame), dtype=np.float64)
    return scores


def baseline_metrics(spec: ModelSpec, prepared: PreparedData, scores: dict[str, np.ndarray]) -> dict[str, float]:
    """``baseline_<name>_<part>_<metric>`` for each baseline; a rule score gets ranking metrics only."""
    metrics = {}
    for name, values in scores.items():
        for part in PARTS:
            mask = prepared.split.mask(part)
            if name == "logreg":
                part_metrics = classification_metrics(prepared.labels[mask], values[mask])
            else:
                part_metrics = ranking_metrics(prepared.labels[mask], values[mask])
            metrics |= {f"baseline_{name}_{part}_{k}": v for k, v in part_metrics.items() if k != "rows"}
    return metrics


def lift_over_baselines(spec: ModelSpec, metrics: dict[str, float], baselines: list[str]) -> dict[str, float]:
    """How far the model's test primary metric is above each baseline's (positive = model is better)."""
    metric = spec.primary_metric
    assert metric in RANKING_METRICS, f"primary metric {metric} must be a ranking metric"
    return {
        f"lift_vs_{name}_test_{metric}": metrics[f"test_{metric}"] - metrics[f"baseline_{name}_test_{metric}"]
        for name in baselines
    }


def git_commit() -> str:
    """The commit of the code that trained (``unknown`` outside a git checkout)."""
    result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def train_model(
    spec: ModelSpec,
    tags: dict[str, str] | None = None,
    tune_trials: int = 0,
    overrides: dict[str, Any] | None = None,
) -> TrainResult:
    """Train, evaluate and log ``spec``'s model to MLflow, register it and run the promotion gate.

    Args:
        spec: the model.
        tags: extra run tags (the Airflow DAG, run id and data interval).
        tune_trials: Optuna trials to run first, as nested runs; the best parameters train the model.
        overrides: XGBoost parameters that replace the spec's (ignored when tuning).

    Raises:
        NotEnoughData: the training table cannot support a model yet (callers skip with this message).
    """
    import mlflow

    missing = missing_sources(spec)
    if missing:
        raise NotEnoughData(
            f"{spec.name} not trained: source(s) {', '.join(missing)} have no rows in raw; load them "
            f"(ecomflow ingest, contract in docs/data-contract.md) to train it"
        )
    prepared = prepare(spec, read_training_set(spec))
    run_tags = {"model": spec.name, "git_commit": git_commit(), **(tags or {})}
    name = run_name(spec, run_tags, dt.datetime.now(dt.UTC).date())
    mlflow.set_experiment(experiment_id=ensure_experiment(spec))  # nested tuning runs go there too
    with mlflow.start_run(run_name=name, tags=run_tags) as run:
        if tune_trials:
            overrides = tune(spec, prepared, tune_trials)
        fitted = fit(spec, prepared, overrides)
        metrics, scores = evaluate(fitted.model, prepared)
        baselines = baseline_scores(spec, prepared)
        metrics |= baseline_metrics(spec, prepared, baselines)
        metrics |= lift_over_baselines(spec, metrics, list(baselines))
        metrics |= {"best_iteration": float(fitted.best_iteration), "train_rows": float(prepared.split.train.sum())}
        mlflow.log_params(_loggable_params(fitted, prepared))
        mlflow.log_metrics(metrics)
        log_dataset(spec, prepared)
        log_figures(spec, fitted.model, prepared, scores | baselines)
        version = log_model(spec, fitted.model, prepared)
        decision = promotion_gate(spec, fitted.model, prepared, version, run.info.run_id)
        verdict = "promoted to champion" if decision.promoted else "not promoted"
        describe(spec, version, prepared.features, "xgboost", verdict, decision.why)
    log.info(
        "%s: run %s, version %s, test %s %.4f (logreg %.4f), %s",
        spec.name,
        run.info.run_id,
        version,
        spec.primary_metric,
        metrics[f"test_{spec.primary_metric}"],
        metrics[f"baseline_logreg_test_{spec.primary_metric}"],
        decision.why,
    )
    return TrainResult(spec.name, run.info.run_id, version, metrics, decision.promoted, decision.why)


def _loggable_params(fitted: Fitted, prepared: PreparedData) -> dict[str, str]:
    params = {key: str(value) for key, value in fitted.params.items()}
    params |= {"n_features": str(len(prepared.features)), "best_iteration": str(fitted.best_iteration)}
    for part in ("train", *PARTS):
        first, last = prepared.as_of_range(part)
        params |= {f"{part}_as_of_from": first, f"{part}_as_of_to": last}
    return params
