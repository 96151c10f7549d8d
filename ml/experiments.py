"""How the ML team finds a model in MLflow: its experiment, run names, and what the registry says about it.

One experiment per model, marked as a model-training experiment (``mlflow.experimentKind``), so the MLflow UI
opens it on its training runs rather than on the GenAI views; runs named after what they are
(``train purchase_propensity 2026-11-30 (scheduled)``); the registered model and each version described in
words: what it predicts, its label window, its features and, for a version, the gate's verdict.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from ml.spec import ModelSpec

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING = "custom_model_development"  # the kind the MLflow UI opens on its runs (not traces or prompts)
DESCRIPTION_TAG = "mlflow.note.content"  # what the MLflow UI shows as an experiment's or run's description
# The MLflow UI keeps one workspace for all experiments, GenAI unless the link says otherwise (or the user switched).
MODEL_TRAINING_VIEW = "workflowType=machine_learning"
TRIGGERS = {"scheduled__": "scheduled", "manual__": "manual", "backfill__": "backfill", "asset_triggered__": "asset"}


def ensure_experiment(spec: ModelSpec) -> str:
    """The model's experiment id, created if missing, marked as model training and described."""
    from mlflow import MlflowClient

    client = MlflowClient()
    experiment = client.get_experiment_by_name(spec.experiment)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(spec.experiment)
    client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING)
    client.set_experiment_tag(experiment_id, DESCRIPTION_TAG, spec.description)
    return experiment_id


def experiment_url(ui: str, experiment_id: str | None = None) -> str:
    """The MLflow UI's page of an experiment's training runs (of the experiment list without an id)."""
    page = f"experiments/{experiment_id}" if experiment_id else "experiments"
    return f"{ui.rstrip('/')}/#/{page}?{MODEL_TRAINING_VIEW}"


def trigger(tags: Mapping[str, str]) -> str:
    """What started a run: the Airflow run id's kind (scheduled, manual, backfill, asset), else ``cli``."""
    run_id = tags.get("airflow.run_id", "")
    if not run_id:
        return "cli"
    return next((kind for prefix, kind in TRIGGERS.items() if run_id.startswith(prefix)), "run")


def run_date(tags: Mapping[str, str], today: dt.date) -> dt.date:
    """The day a run is about: the end of its Airflow data interval (its last day), else ``today``."""
    interval = tags.get("airflow.data_interval", "")
    if "/" not in interval:
        return today
    return dt.datetime.fromisoformat(interval.split("/", 1)[1]).date() - dt.timedelta(days=1)


def run_name(spec: ModelSpec, tags: Mapping[str, str], today: dt.date) -> str:
    """``train <model> <day> (<trigger>)``: what the run is, in the MLflow UI's run list."""
    return f"train {spec.name} {run_date(tags, today)} ({trigger(tags)})"


def model_description(spec: ModelSpec, features: Sequence[str]) -> str:
    """The registered model's description: what it predicts, for whom, from what."""
    return (
        f"{spec.description}\n\nOne row per `{spec.entity_key}` as of a date, from `{spec.feature_table}` "
        f"(trained on `{spec.training_table}`); the label is known {spec.split_gap_days} days after the as-of "
        f"date. Features ({len(features)}): {', '.join(features)}. Scores are published to `{spec.scores_table}` "
        f"with the `{spec.bands.column}` band."
    )


def version_description(candidate: str, verdict: str, reason: str) -> str:
    """A version's description: which candidate it is and what the gate said of it."""
    return f"Candidate: {candidate}. Gate: {verdict or 'not judged'}. {reason}".strip()


def describe(spec: ModelSpec, version: str, features: Sequence[str], candidate: str, verdict: str, why: str) -> None:
    """Write the registered model's and this version's descriptions to the registry."""
    from mlflow import MlflowClient

    client = MlflowClient()
    client.update_registered_model(spec.name, description=model_description(spec, features))
    client.update_model_version(spec.name, version, description=version_description(candidate, verdict, why))
