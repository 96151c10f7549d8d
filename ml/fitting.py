"""Fitting XGBoost on a prepared training set: parameters, early stopping on validation, prior correction."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ml.dataset import PreparedData
from ml.packaging import TrainedModel
from ml.spec import ModelSpec

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


@dataclass(frozen=True)
class Fitted:
    """A fitted model with the parameters it was trained with."""

    model: TrainedModel
    params: dict[str, Any]
    best_iteration: int


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
