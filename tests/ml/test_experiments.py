"""How a model shows up in MLflow: its experiment's kind and description, run names, registry descriptions."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace

import pytest

from ml.experiments import (
    EXPERIMENT_KIND_TAG,
    MODEL_TRAINING,
    ensure_experiment,
    model_description,
    run_name,
    trigger,
    version_description,
)
from ml.models import get_spec

TODAY = dt.date(2026, 12, 4)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"airflow.run_id": "scheduled__2026-11-30T00:00:00+00:00"}, "scheduled"),
        ({"airflow.run_id": "manual__2026-12-01T10:00:00+00:00"}, "manual"),
        ({"airflow.run_id": "backfill__2026-11-01T00:00:00+00:00"}, "backfill"),
        ({}, "cli"),
    ],
)
def test_the_trigger_is_the_kind_of_airflow_run(tags, expected):
    assert trigger(tags) == expected


def test_a_scheduled_run_is_named_after_the_last_day_of_its_data_interval():
    tags = {
        "airflow.run_id": "scheduled__2026-11-23T00:00:00+00:00",
        "airflow.data_interval": "2026-11-23T00:00:00+00:00/2026-11-30T00:00:00+00:00",
    }
    assert run_name(get_spec("purchase_propensity"), tags, TODAY) == "train purchase_propensity 2026-11-29 (scheduled)"
    assert run_name(get_spec("credit_risk"), {}, TODAY) == "train credit_risk 2026-12-04 (cli)"


def test_descriptions_say_what_is_predicted_from_what_and_the_verdict():
    spec = get_spec("purchase_propensity")
    text = model_description(spec, ["orders_90d", "days_since_last_order"])
    assert spec.description in text and "orders_90d, days_since_last_order" in text and spec.scores_table in text
    assert version_description("bgnbd", "baseline_promoted", "XGBoost lost.") == (
        "Candidate: bgnbd. Gate: baseline_promoted. XGBoost lost."
    )


def test_the_experiment_is_marked_as_model_training_and_described(mlflow_server):
    from mlflow import MlflowClient

    spec = replace(get_spec("purchase_propensity"), name=f"experiment_check_{uuid.uuid4().hex[:6]}")
    first = ensure_experiment(spec)
    assert ensure_experiment(spec) == first  # found again, not created twice
    tags = MlflowClient().get_experiment(first).tags
    assert tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING
    assert tags["mlflow.note.content"] == spec.description
