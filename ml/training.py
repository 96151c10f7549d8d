"""One generic trainer: time-based split, XGBoost (hist, QuantileDMatrix, early stopping), MLflow logging."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ml.evaluation import classification_metrics
from ml.features import feature_names, missing_sources, model_frame, read_training_set, signature_frame
from ml.models import ModelSpec

log = logging.getLogger(__name__)

BASE_PARAMS: dict[str, object] = {
    "objective": "binary:logistic",
    "eval_metric": ["logloss", "auc"],
    "tree_method": "hist",
    "max_cat_to_onehot": 8,
    "nthread": 2,
    "seed": 0,
}
NUM_BOOST_ROUND = 400
EARLY_STOPPING_ROUNDS = 30


class NotEnoughData(Exception):
    """The training set cannot support a model (empty, one class, or too few as-of dates)."""


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced."""

    model_name: str
    run_id: str
    version: str
    metrics: dict[str, float]
    promoted: bool


@dataclass(frozen=True)
class TimeSplit:
    """Boolean masks over the training rows; validation and test lie strictly later than train."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray


def time_split(as_of: np.ndarray, spec: ModelSpec) -> TimeSplit:
    """Split rows by as-of date: train < validation < test, ``spec.split_gap_days`` apart.

    The gap is the label window, so no training label overlaps the validation period and so on. Whole
    as-of dates go to one side, so an entity's snapshot of one date never straddles two sets.
    """
    dates = np.unique(as_of)
    n_test = max(1, round(len(dates) * spec.test_fraction))
    n_val = max(1, round(len(dates) * spec.validation_fraction))
    test_start = dates[-n_test]
    gap = np.timedelta64(spec.split_gap_days, "D")
    val_dates = dates[dates < test_start - gap][-n_val:]
    if len(val_dates) == 0:
        raise NotEnoughData(f"{spec.name}: {len(dates)} as-of date(s) cannot hold train, validation and test")
    train_end = val_dates[0] - gap
    split = TimeSplit(as_of < train_end, np.isin(as_of, val_dates), as_of >= test_start)
    if not split.train.any():
        raise NotEnoughData(f"{spec.name}: no training rows before {train_end} once the gaps are kept")
    return split


def _check_trainable(data: pa.Table, spec: ModelSpec) -> None:
    if data.num_rows == 0:
        raise NotEnoughData(f"{spec.name}: {spec.training_table} has no rows with a closed label window")
    positives = pc.sum(data.column(spec.label)).as_py() or 0
    if positives == 0 or positives == data.num_rows:
        raise NotEnoughData(f"{spec.name}: {spec.training_table} holds a single class ({positives} positives)")


def fit(spec: ModelSpec, data: pa.Table):  # noqa: ANN201 - returns (booster, frames, split, features)
    """Fit the spec's XGBoost model on ``data``; returns the booster, the frames, the split and the features."""
    import xgboost as xgb

    _check_trainable(data, spec)
    features = feature_names(data, spec)
    frame = model_frame(data, features, spec)
    labels = data.column(spec.label).to_numpy().astype(np.float32)
    split = time_split(data.column(spec.as_of_column).to_numpy(zero_copy_only=False).astype("datetime64[D]"), spec)
    train = xgb.QuantileDMatrix(frame[split.train], labels[split.train], enable_categorical=True)
    validation = xgb.DMatrix(frame[split.validation], labels[split.validation], enable_categorical=True)
    params = {**BASE_PARAMS, **spec.params}
    if spec.monotone:
        params["monotone_constraints"] = {
            name: direction for name, direction in spec.monotone.items() if name in features
        }
    booster = xgb.train(
        params,
        train,
        num_boost_round=NUM_BOOST_ROUND,
        evals=[(validation, "validation")],
        early_stopping_rounds=EARLY_STOPPING_ROUNDS,
        verbose_eval=False,
    )
    return booster, frame, labels, split, features, params


def train_model(spec: ModelSpec, tags: dict[str, str] | None = None) -> TrainResult:
    """Train, evaluate and log ``spec``'s model to MLflow, register it and run the promotion gate.

    Raises:
        NotEnoughData: the training table cannot support a model yet (callers skip with this message).
    """
    import mlflow
    from mlflow.models import infer_signature

    from ml.registry import promote_if_better

    missing = missing_sources(spec)
    if missing:
        raise NotEnoughData(
            f"{spec.name} not trained: source(s) {', '.join(missing)} have no rows in raw; load them "
            f"(ecomflow ingest, contract in docs/data-contract.md) to train it"
        )
    data = read_training_set(spec)
    booster, frame, labels, split, features, params = fit(spec, data)
    best = booster.best_iteration + 1
    metrics: dict[str, float] = {}
    for part, mask in (("validation", split.validation), ("test", split.test)):
        scores = booster.inplace_predict(frame[mask], iteration_range=(0, best))
        metrics.update({f"{part}_{k}": v for k, v in classification_metrics(labels[mask], scores).items()})
    metrics["best_iteration"] = float(best)
    metrics["train_rows"] = float(split.train.sum())

    mlflow.set_experiment(spec.experiment)
    as_of = data.column(spec.as_of_column)
    with mlflow.start_run(tags={"model": spec.name, **(tags or {})}) as run:
        mlflow.log_params({k: str(v) for k, v in params.items()} | {"features": len(features), "best_iteration": best})
        mlflow.log_params({"as_of_min": str(pc.min(as_of).as_py()), "as_of_max": str(pc.max(as_of).as_py())})
        mlflow.log_metrics(metrics)
        example = signature_frame(frame.head(5))
        signature = infer_signature(example, booster.inplace_predict(frame.head(5), iteration_range=(0, best)))
        booster_to_log = booster[:best]
        info = mlflow.xgboost.log_model(
            booster_to_log,
            name="model",
            signature=signature,
            input_example=example,
            registered_model_name=spec.name,
            model_format="ubj",
        )
        version = str(info.registered_model_version)
        promoted = promote_if_better(spec, version, run.info.run_id, metrics)
    log.info(
        "%s: run %s, version %s, test ROC AUC %.3f, promoted=%s",
        spec.name,
        run.info.run_id,
        version,
        metrics["test_roc_auc"],
        promoted,
    )
    return TrainResult(spec.name, run.info.run_id, version, metrics, promoted)
