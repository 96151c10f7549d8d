"""The MLflow UI in a real browser: a model's experiment opens on its training runs, named after what they are.

The experiment is made as training makes it (:func:`ml.experiments.ensure_experiment`: marked as a model-training
experiment), with a run named by :func:`ml.experiments.run_name` that logs a metric per backtest fold. Opening the
experiment must show that run in the runs table (not the GenAI views an unmarked experiment opens on), and its
chart view must show the fold metric.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest
from ui_browser import Shots, browser_page

from ml.experiments import ensure_experiment, experiment_url, run_name
from ml.models import get_spec


@pytest.fixture(scope="module")
def training_run(mlflow_server) -> tuple[str, str]:
    """(experiment id, run name) of one finished training-like run in a model's experiment."""
    from mlflow import MlflowClient

    spec = dataclasses.replace(get_spec("purchase_propensity"), name=f"ui_check_{uuid.uuid4().hex[:6]}")
    experiment_id = ensure_experiment(spec)
    name = run_name(spec, {"airflow.run_id": "scheduled__2026-11-30T00:00:00+00:00"}, dt.date(2026, 12, 1))
    client = MlflowClient()
    run = client.create_run(experiment_id, run_name=name)
    for fold, value in enumerate((0.78, 0.80, 0.79, 0.81)):
        client.log_metric(run.info.run_id, "backtest_xgboost_roc_auc", value, step=fold)
    client.log_metric(run.info.run_id, "test_roc_auc", 0.80)
    client.set_terminated(run.info.run_id)
    return experiment_id, name


def test_an_experiment_opens_on_its_training_runs(chromium, settings, training_run, tmp_path, capsys):
    experiment_id, name = training_run
    shots = Shots(tmp_path)
    try:
        with browser_page(chromium, shots) as page:
            page.goto(experiment_url(settings.mlflow_ui, experiment_id))
            page.get_by_text(name, exact=True).first.wait_for()  # the run, in the runs table
            shots.check(page, "mlflow-experiment")
            assert f"/experiments/{experiment_id}" in page.url, page.url
            assert "traces" not in page.url.lower(), f"the experiment opened on its traces: {page.url}"
    finally:
        with capsys.disabled():
            print(f"\nMLflow screenshots: {', '.join(map(str, shots.paths))}")
    assert not shots.problems, "\n".join(shots.problems)
