"""The models on the pipeline's real warehouse: baselines, determinism, constraints, leakage, gate, tuning.

Fits here run the real trainer on the real training tables; the gate and tuning tests use their own
registered model names, so they never touch the champions the pipeline test checks.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ml.dataset import PreparedData, prepare
from ml.features import read_training_set
from ml.fitting import fit
from ml.models.credit_risk import SPEC as CREDIT
from ml.models.propensity import SPEC as PROPENSITY
from ml.training import evaluate

RFM_FEATURES = ["days_since_last_order", "orders_30d", "orders_90d", "revenue_30d", "revenue_90d"]
DEMOGRAPHICS = ["signup_channel", "region", "age_band", "days_since_signup"]


@pytest.fixture(scope="module")
def credit(pipeline) -> PreparedData:
    return prepare(CREDIT, read_training_set(CREDIT))


@pytest.fixture(scope="module")
def propensity(pipeline) -> PreparedData:
    return prepare(PROPENSITY, read_training_set(PROPENSITY))


def _weekly(prepared: PreparedData, features: list[str] | None = None) -> PreparedData:
    """Every seventh as-of date (and optionally fewer features): the same windows, a seventh of the fitting."""
    data = prepared.data
    days = prepared.as_of.astype("int64")
    data = data.filter(days % 7 == 0)
    if features is not None:
        data = data.select([PROPENSITY.entity_key, PROPENSITY.as_of_column, *features, PROPENSITY.label])
    return prepare(PROPENSITY, data)


def test_propensity_beats_its_baselines_and_both_models_log_them(pipeline, mlflow_server):
    """XGBoost beats logistic regression and RFM on propensity's test window (tens of thousands of rows).

    Both models log their baselines and the lift over them. Credit's test window at the test scale (600
    customers) holds a few dozen defaults, too few for its comparison to be more than noise; on the demo
    data (1,000 customers) it beats its baseline (figures in the issue's closing note).
    """
    from mlflow import MlflowClient

    client = MlflowClient()
    for spec in (PROPENSITY, CREDIT):
        version = client.get_model_version_by_alias(spec.name, "champion")
        metrics = client.get_run(version.run_id).data.metrics
        model = metrics["test_roc_auc"]
        baselines = {k: v for k, v in metrics.items() if k.startswith("baseline_") and k.endswith("_test_roc_auc")}
        assert "baseline_logreg_test_roc_auc" in baselines
        assert metrics["lift_vs_logreg_test_roc_auc"] == pytest.approx(
            model - baselines["baseline_logreg_test_roc_auc"]
        )
        if spec is PROPENSITY:
            assert set(baselines) == {"baseline_logreg_test_roc_auc", "baseline_rfm_test_roc_auc"}
            for name, value in baselines.items():
                assert model > value, f"{spec.name}: XGBoost test ROC AUC {model:.4f} does not beat {name} {value:.4f}"
        else:
            assert model > 0.6, f"credit_risk test ROC AUC {model:.4f}"


def test_training_twice_gives_the_same_model_and_metrics(credit):
    first, second = fit(CREDIT, credit), fit(CREDIT, credit)
    assert bytes(first.model.booster.save_raw("ubj")) == bytes(second.model.booster.save_raw("ubj"))
    assert evaluate(first.model, credit)[0] == evaluate(second.model, credit)[0]


def test_more_days_past_due_never_lowers_credit_risk(credit):
    model = fit(CREDIT, credit).model
    for feature in CREDIT.monotone:
        grid = np.unique(np.nanquantile(credit.frame[feature].astype(float), np.linspace(0, 1, 12)))
        scores = []
        for value in [*grid, grid[-1] * 3 + 100]:
            frame = credit.frame.copy()
            frame[feature] = np.float32(value)
            scores.append(model.predict(frame))
        steps = np.diff(np.vstack(scores), axis=0)
        assert (steps >= -1e-9).all(), f"raising {feature} lowered some seller's risk by {-steps.min():.2e}"


def test_shuffled_labels_leave_nothing_to_learn(propensity):
    rng = np.random.default_rng(7)
    shuffled = propensity.labels.copy()
    for day in np.unique(propensity.as_of):  # shuffle within each as-of date: same base rate per day
        rows = np.flatnonzero(propensity.as_of == day)
        shuffled[rows] = rng.permutation(shuffled[rows])
    metrics, _ = evaluate(
        fit(PROPENSITY, dataclasses.replace(propensity, labels=shuffled)).model,
        dataclasses.replace(propensity, labels=shuffled),
    )
    assert metrics["test_roc_auc"] == pytest.approx(0.5, abs=0.03)
    real, _ = evaluate(fit(PROPENSITY, _weekly(propensity)).model, _weekly(propensity))
    assert real["test_roc_auc"] > 0.75  # the same fitting on the real labels does learn


def _register_and_gate(spec, fit_on: PreparedData, gate_on: PreparedData):
    """Fit on ``fit_on``, log and register the model, and run the gate on ``gate_on``'s test window."""
    import mlflow

    from ml.registry import promotion_gate
    from ml.tracking import log_model

    fitted = fit(spec, fit_on)
    mlflow.set_experiment(spec.experiment)
    with mlflow.start_run() as run:
        version = log_model(spec, fitted.model, gate_on)
        decision = promotion_gate(spec, fitted.model, gate_on, version, run.info.run_id)
    return version, decision


def test_the_gate_keeps_a_worse_challenger_and_promotes_a_better_one(propensity, mlflow_server):
    import datetime as dt

    from mlflow import MlflowClient

    from ml.registry import alias_history, champion_on, champion_version

    spec = dataclasses.replace(PROPENSITY, name="gate_test_propensity")
    client = MlflowClient()
    if client.search_registered_models(f"name = '{spec.name}'"):
        client.delete_registered_model(spec.name)  # a rerun against a kept server starts over
    weekly = _weekly(propensity)
    v1, first = _register_and_gate(spec, _weekly(propensity, RFM_FEATURES), weekly)
    assert first.promoted and first.why == "first model"
    after_v1 = dt.datetime.now(dt.UTC)

    v2, worse = _register_and_gate(spec, _weekly(propensity, DEMOGRAPHICS), weekly)
    assert not worse.promoted, worse.why
    assert worse.challenger["roc_auc"] < worse.champion["roc_auc"]
    assert champion_version(spec.name) == v1
    assert client.get_model_version_by_alias(spec.name, "challenger").version == v2

    v3, better = _register_and_gate(spec, weekly, weekly)
    assert better.promoted, better.why
    assert better.challenger["roc_auc"] >= better.champion["roc_auc"] + spec.promotion_margin
    assert champion_version(spec.name) == v3
    tags = client.get_model_version(spec.name, v3).tags
    assert tags["alias.champion.from_version"] == v1 and "beats champion" in tags["alias.champion.why"]
    assert champion_on(spec.name, after_v1) == v1
    assert champion_on(spec.name, dt.datetime.now(dt.UTC)) == v3
    moves = [(m["alias"], m["version"]) for m in alias_history(spec.name)]
    assert moves == [("challenger", v1), ("champion", v1), ("challenger", v2), ("challenger", v3), ("champion", v3)]


def test_a_training_run_logs_what_the_ml_team_compares(pipeline, mlflow_server):
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    version = client.get_model_version_by_alias(PROPENSITY.name, "champion")
    run = client.get_run(version.run_id)
    for part in ("validation", "test"):
        for metric in ("roc_auc", "pr_auc", "log_loss", "brier", "ks", "gini", "lift_top_decile", "ece"):
            assert f"{part}_{metric}" in run.data.metrics, f"{part}_{metric} not logged"
        assert f"{part}_capture_top_decile" in run.data.metrics
    plots = {artifact.path for artifact in client.list_artifacts(run.info.run_id, "plots")}
    expected = {
        f"plots/{kind}_{part}.png" for kind in ("roc", "pr", "calibration", "lift") for part in ("validation", "test")
    }
    assert expected | {"plots/feature_importance.png", "plots/shap_summary.png"} <= plots
    contexts = {
        tag.value for dataset in run.inputs.dataset_inputs for tag in dataset.tags if tag.key == "mlflow.data.context"
    }
    assert contexts == {"train", "validation", "test"}
    assert run.data.tags["airflow.dag_id"] == "train" and run.data.tags["git_commit"]
    assert run.data.params["test_as_of_to"] > run.data.params["train_as_of_to"]
    info = mlflow.models.get_model_info(f"models:/{PROPENSITY.name}/{version.version}")
    assert info.signature.inputs.input_names() == list(
        mlflow.pyfunc.load_model(info.model_uri).metadata.get_input_schema().input_names()
    )
    assert "days_since_last_order" in info.signature.inputs.input_names()


def test_tuning_runs_trials_as_nested_runs_and_trains_with_the_best(pipeline, mlflow_server):
    from mlflow import MlflowClient

    from ml.training import train_model

    spec = dataclasses.replace(CREDIT, name="tuning_test_credit_risk")
    client = MlflowClient()
    if client.search_registered_models(f"name = '{spec.name}'"):
        client.delete_registered_model(spec.name)  # a rerun against a kept server starts over
    result = train_model(spec, tune_trials=3)
    parent = client.get_run(result.run_id)
    trials = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'"
    )
    assert len(trials) == 3
    best = max(trials, key=lambda trial: trial.data.metrics["validation_roc_auc"])
    assert parent.data.params["tuning.max_depth"] == best.data.params["max_depth"]
    assert parent.data.params["max_depth"] == best.data.params["max_depth"]
    assert parent.data.metrics["tuning_best_validation_roc_auc"] == pytest.approx(
        best.data.metrics["validation_roc_auc"]
    )
    assert result.version == "1" and result.promoted
