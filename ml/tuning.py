"""Hyperparameter tuning with Optuna: each trial a nested MLflow run under the training run.

Trials are scored on the validation window only (the test window stays untouched for the final model and
the promotion gate). The sampler is seeded, so ``--tune N`` twice on the same data picks the same parameters.
"""

from __future__ import annotations

import logging
from typing import Any

from ml.dataset import PreparedData
from ml.evaluation import classification_metrics
from ml.fitting import fit
from ml.spec import ModelSpec

log = logging.getLogger(__name__)

SEED = 0


def suggest_params(trial) -> dict[str, Any]:  # noqa: ANN001 - optuna.Trial
    """The search space: tree shape, learning rate, sampling and regularisation."""
    return {
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        "eta": trial.suggest_float("eta", 0.02, 0.3, log=True),
        "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 50.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
        "lambda": trial.suggest_float("lambda", 1e-3, 10.0, log=True),
        "alpha": trial.suggest_float("alpha", 1e-3, 10.0, log=True),
    }


def tune(spec: ModelSpec, prepared: PreparedData, n_trials: int) -> dict[str, Any]:
    """Run ``n_trials`` Optuna trials as nested runs of the active MLflow run; return the best parameters.

    The parent run gets the best trial's number, value and parameters (``tuning.*``).
    """
    import mlflow
    import optuna

    metric = spec.primary_metric
    mask = prepared.split.validation

    def objective(trial: optuna.Trial) -> float:
        params = suggest_params(trial)
        with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True, tags={"model": spec.name}):
            fitted = fit(spec, prepared, params)
            scores = fitted.model.predict(prepared.frame[mask])
            metrics = classification_metrics(prepared.labels[mask], scores)
            mlflow.log_params(params | {"best_iteration": fitted.best_iteration})
            mlflow.log_metrics({f"validation_{k}": v for k, v in metrics.items()})
        return metrics[metric]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=SEED))
    study.optimize(objective, n_trials=n_trials)
    best = study.best_trial
    mlflow.log_params({f"tuning.{k}": v for k, v in best.params.items()} | {"tuning.trials": n_trials})
    mlflow.log_metrics({"tuning_best_trial": best.number, f"tuning_best_validation_{metric}": best.value})
    log.info("%s: best of %d trials is #%d, validation %s %.4f", spec.name, n_trials, best.number, metric, best.value)
    return best.params
