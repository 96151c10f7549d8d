"""One generic trainer: time-based split, XGBoost (hist, QuantileDMatrix, early stopping), MLflow logging.

``train_model`` reads the spec's training table in bulk, splits it by as-of date, fits XGBoost (optionally
tuned with Optuna), fits the baselines on the same split, logs everything to the model's experiment, registers
the model as ``@challenger`` and runs the promotion gate. The pieces are plain functions over
:class:`PreparedData`, so tests can fit on real warehouse rows without MLflow.
"""

from __future__ import annotations

import logging
import math
import subprocess
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ecomflow.core.settings import PROJECT_ROOT
from ml.baselines import logistic_regression_scores
from ml.evaluation import RANKING_METRICS, classification_metrics, ranking_metrics
from ml.features import feature_names, missing_sources, read_training_set
from ml.models import ModelSpec
from ml.packaging import TrainedModel

log = logging.getLogger(__name__)

BASE_PARAMS: dict[str, Any] = {
    "objective": "binary:logistic",
    # Early stopping watches the last metric: log loss is steadier than AUC on a small validation set.
    "eval_metric": ["auc", "logloss"],
    "tree_method": "hist",
    "max_cat_to_onehot": 8,
    "nthread": 2,
    "seed": 0,
}
NUM_BOOST_ROUND = 1000
EARLY_STOPPING_ROUNDS = 30
PARTS = ("validation", "test")


class NotEnoughData(Exception):
    """The training set cannot support a model (empty, one class, or too few as-of dates)."""


@dataclass(frozen=True)
class TimeSplit:
    """Boolean masks over the training rows; validation and test lie strictly later than train."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    def mask(self, part: str) -> np.ndarray:
        """The mask of ``part`` (train, validation or test)."""
        return getattr(self, part)


@dataclass(frozen=True)
class PreparedData:
    """A training table shaped for fitting: model frame, labels, as-of dates and the split."""

    data: pa.Table
    features: list[str]
    frame: pd.DataFrame
    labels: np.ndarray
    as_of: np.ndarray
    split: TimeSplit

    def as_of_range(self, part: str) -> tuple[str, str]:
        """First and last as-of date of ``part``."""
        dates = self.as_of[self.split.mask(part)]
        return str(dates.min()), str(dates.max())


@dataclass(frozen=True)
class Fitted:
    """A fitted model with the parameters it was trained with."""

    model: TrainedModel
    params: dict[str, Any]
    best_iteration: int


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced."""

    model_name: str
    run_id: str
    version: str
    metrics: dict[str, float]
    promoted: bool
    why: str


def time_split(as_of: np.ndarray, spec: ModelSpec, entities: np.ndarray | None = None) -> TimeSplit:
    """Split rows by as-of date: train < validation < test, ``spec.split_gap_days`` apart.

    The gap is the label window, so no training label's outcome falls into the validation period, and no
    validation label's into the test period; an entity's rows on two sides are at least a label window apart,
    so they share no outcome. With ``spec.validation_by == "entity"`` (for monthly tables too short to hold
    two gaps) validation is a fixed share of entities held out of the training period instead: it only
    stops the boosting early, and the test window stays strictly later and a label window away.
    """
    dates = np.unique(as_of)
    n_test = max(1, round(len(dates) * spec.test_fraction))
    test_start = dates[-n_test]
    gap = np.timedelta64(spec.split_gap_days, "D")
    if spec.validation_by == "entity":
        if entities is None:
            raise ValueError("an entity validation split needs the entity ids")
        before_gap = as_of < test_start - gap
        held_out = entity_buckets(entities) < spec.validation_fraction
        split = TimeSplit(before_gap & ~held_out, before_gap & held_out, as_of >= test_start)
    else:
        n_val = max(1, round(len(dates) * spec.validation_fraction))
        val_dates = dates[dates < test_start - gap][-n_val:]
        if len(val_dates) == 0:
            raise NotEnoughData(_too_short(spec, dates))
        split = TimeSplit(as_of < val_dates[0] - gap, np.isin(as_of, val_dates), as_of >= test_start)
    if not split.train.any() or not split.validation.any():
        raise NotEnoughData(_too_short(spec, dates))
    return split


def entity_buckets(entities: np.ndarray) -> np.ndarray:
    """A stable number in [0, 1) per entity id, the same in every run and on every machine."""
    return (pd.util.hash_array(np.asarray(entities, dtype=object)) % 10_000) / 10_000


def _too_short(spec: ModelSpec, dates: np.ndarray) -> str:
    return (
        f"{spec.name}: {len(dates)} as-of date(s) ({dates.min()}..{dates.max()}) cannot hold train, validation "
        f"and test {spec.split_gap_days} days apart; load more history"
    )


def _check_trainable(data: pa.Table, spec: ModelSpec) -> None:
    if data.num_rows == 0:
        raise NotEnoughData(f"{spec.name}: {spec.training_table} has no rows with a closed label window")
    positives = pc.sum(data.column(spec.label)).as_py() or 0
    if positives == 0 or positives == data.num_rows:
        raise NotEnoughData(f"{spec.name}: {spec.training_table} holds a single class ({positives} positives)")


def prepare(spec: ModelSpec, data: pa.Table) -> PreparedData:
    """Shape a training table for fitting and split it by time."""
    _check_trainable(data, spec)
    features = feature_names(data, spec)
    shaper = TrainedModel(booster=None, features=features, categorical=spec.categorical)
    as_of = data.column(spec.as_of_column).to_numpy(zero_copy_only=False).astype("datetime64[D]")
    split = time_split(as_of, spec, data.column(spec.entity_key).to_numpy(zero_copy_only=False))
    labels = data.column(spec.label).to_numpy().astype(np.float32)
    for part in ("train", *PARTS):
        if len(np.unique(labels[split.mask(part)])) < 2:
            raise NotEnoughData(f"{spec.name}: the {part} window holds a single class; load more history")
    return PreparedData(data, features, shaper.frame(data), labels, as_of, split)


def class_weight(labels: np.ndarray) -> float:
    """Negatives per positive: the weight that balances the classes in the loss."""
    positives = float(labels.sum())
    return (len(labels) - positives) / positives


def training_params(spec: ModelSpec, prepared: PreparedData, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """XGBoost parameters: ours, the spec's, any overrides (tuning), monotone constraints and class weight."""
    params = {**BASE_PARAMS, **spec.params, **(overrides or {})}
    monotone = {name: direction for name, direction in spec.monotone.items() if name in prepared.features}
    if monotone:
        params["monotone_constraints"] = monotone
    if spec.balance_classes:
        params["scale_pos_weight"] = class_weight(prepared.labels[prepared.split.train])
    return params


def fit(spec: ModelSpec, prepared: PreparedData, overrides: dict[str, Any] | None = None) -> Fitted:
    """Fit XGBoost on the train rows with early stopping on validation; cut the booster at its best round."""
    import xgboost as xgb

    split, frame, labels = prepared.split, prepared.frame, prepared.labels
    params = training_params(spec, prepared, overrides)
    train = xgb.QuantileDMatrix(frame[split.train], labels[split.train], enable_categorical=True)
    validation = xgb.QuantileDMatrix(
        frame[split.validation], labels[split.validation], ref=train, enable_categorical=True
    )
    booster = xgb.train(
        params,
        train,
        num_boost_round=NUM_BOOST_ROUND,
        evals=[(validation, "validation")],
        early_stopping_rounds=EARLY_STOPPING_ROUNDS,
        verbose_eval=False,
    )
    best = booster.best_iteration + 1
    # Up-weighting positives by w shifts every log-odds by log(w); subtracting it restores probabilities.
    offset = -math.log(params["scale_pos_weight"]) if "scale_pos_weight" in params else 0.0
    model = TrainedModel(booster[:best], prepared.features, spec.categorical, margin_offset=offset)
    return Fitted(model, params, best)


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

    from ml.registry import promotion_gate
    from ml.tracking import log_dataset, log_figures, log_model

    missing = missing_sources(spec)
    if missing:
        raise NotEnoughData(
            f"{spec.name} not trained: source(s) {', '.join(missing)} have no rows in raw; load them "
            f"(ecomflow ingest, contract in docs/data-contract.md) to train it"
        )
    prepared = prepare(spec, read_training_set(spec))
    mlflow.set_experiment(spec.experiment)
    run_tags = {"model": spec.name, "git_commit": git_commit(), **(tags or {})}
    with mlflow.start_run(tags=run_tags) as run:
        if tune_trials:
            from ml.tuning import tune

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
