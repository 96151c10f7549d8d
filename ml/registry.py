"""Champion/challenger aliases in the MLflow registry, a promotion gate, and every alias move recorded.

MLflow keeps only where an alias points now. Each move here also tags the version it moves to with when, from
which version, by which run and why (``alias.<alias>.*``) and appends the move to the registered model's
``alias_history`` tag, so which version was champion on any date can be read back (:func:`champion_on`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass

import numpy as np

from ml.dataset import PreparedData
from ml.evaluation import classification_metrics
from ml.packaging import TrainedModel, load_registered
from ml.spec import ModelSpec

CHAMPION = "champion"
CHALLENGER = "challenger"
HISTORY_TAG = "alias_history"


@dataclass(frozen=True)
class GateDecision:
    """The promotion gate's verdict and the scores it compared on the same test rows."""

    promoted: bool
    why: str
    champion_version: str | None
    challenger: dict[str, float]
    champion: dict[str, float]


def _client():  # noqa: ANN202
    from mlflow import MlflowClient

    return MlflowClient()


def champion_version(model_name: str) -> str | None:
    """Version currently aliased ``@champion``, if any."""
    from mlflow.exceptions import MlflowException

    try:
        return _client().get_model_version_by_alias(model_name, CHAMPION).version
    except MlflowException:
        return None


def alias_history(model_name: str) -> list[dict[str, str]]:
    """Every recorded alias move of ``model_name``, oldest first."""
    tags = _client().get_registered_model(model_name).tags
    return json.loads(tags.get(HISTORY_TAG, "[]"))


def champion_on(model_name: str, when: dt.datetime) -> str | None:
    """The version that was ``@champion`` at ``when`` (UTC), read back from the recorded moves."""
    version = None
    for move in alias_history(model_name):
        if move["alias"] == CHAMPION and dt.datetime.fromisoformat(move["at"]) <= when:
            version = move["version"]
    return version


def record_alias_move(model_name: str, alias: str, version: str, run_id: str, why: str) -> None:
    """Move ``alias`` to ``version``; tag the version and append the move to the model's history."""
    client = _client()
    previous = None
    if alias == CHAMPION:
        previous = champion_version(model_name)
    client.set_registered_model_alias(model_name, alias, version)
    at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    move = {"alias": alias, "version": version, "from_version": previous or "none", "at": at, "by_run": run_id}
    for key, value in (move | {"why": why}).items():
        if key not in ("alias", "version"):
            client.set_model_version_tag(model_name, version, f"alias.{alias}.{key}", value)
    history = alias_history(model_name) + [move | {"why": why}]
    client.set_registered_model_tag(model_name, HISTORY_TAG, json.dumps(history))


def _gate_scores(model: TrainedModel, prepared: PreparedData) -> dict[str, float]:
    mask = prepared.split.test
    scores = model.predict(model.frame(prepared.data.filter(mask)))
    return classification_metrics(prepared.labels[mask], scores)


def decide(spec: ModelSpec, challenger: dict[str, float], champion: dict[str, float]) -> tuple[bool, str]:
    """Promote only if the primary metric improves by the margin and calibration (ECE) does not get worse."""
    metric = spec.primary_metric
    new, old = challenger[metric], champion[metric]
    if math.isnan(old):
        return True, f"champion's {metric} is undefined on the test window"
    if new < old + spec.promotion_margin:
        return False, f"test {metric} {new:.4f} does not beat champion {old:.4f} by the margin {spec.promotion_margin}"
    if challenger["ece"] > champion["ece"] + spec.calibration_tolerance:
        return False, (
            f"test {metric} {new:.4f} beats champion {old:.4f}, but calibration error {challenger['ece']:.4f} is "
            f"worse than the champion's {champion['ece']:.4f} (tolerance {spec.calibration_tolerance})"
        )
    return True, f"test {metric} {new:.4f} beats champion {old:.4f} by at least {spec.promotion_margin}"


def evaluate_gate(spec: ModelSpec, challenger: TrainedModel, prepared: PreparedData) -> GateDecision:
    """Score the challenger and the current champion on the same, latest test window and decide."""
    current = champion_version(spec.name)
    challenger_scores = _gate_scores(challenger, prepared)
    if current is None:
        return GateDecision(True, "first model", None, challenger_scores, {})
    champion, _ = load_registered(f"models:/{spec.name}@{CHAMPION}")
    try:
        champion_scores = _gate_scores(champion, prepared)
    except ValueError as error:  # the champion needs features the table no longer has
        why = f"champion v{current} cannot score the current features: {error}"
        return GateDecision(True, why, current, challenger_scores, {})
    promoted, why = decide(spec, challenger_scores, champion_scores)
    return GateDecision(promoted, why, current, challenger_scores, champion_scores)


def promotion_gate(
    spec: ModelSpec, challenger: TrainedModel, prepared: PreparedData, version: str, run_id: str
) -> GateDecision:
    """Alias the new ``version`` ``@challenger``, run the gate, move ``@champion`` if it passes; log the decision."""
    import mlflow

    record_alias_move(spec.name, CHALLENGER, version, run_id, "newly trained")
    decision = evaluate_gate(spec, challenger, prepared)
    compared = (spec.primary_metric, "ece")
    gate_metrics = {f"gate_challenger_{k}": v for k, v in decision.challenger.items() if k in compared}
    gate_metrics |= {f"gate_champion_{k}": v for k, v in decision.champion.items() if k in compared}
    mlflow.log_metrics({k: v for k, v in gate_metrics.items() if not (isinstance(v, float) and np.isnan(v))})
    mlflow.set_tags(
        {
            "gate.decision": "promoted" if decision.promoted else "kept champion",
            "gate.why": decision.why,
            "gate.champion_version": decision.champion_version or "none",
        }
    )
    if decision.promoted:
        record_alias_move(spec.name, CHAMPION, version, run_id, decision.why)
    return decision
