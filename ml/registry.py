"""Champion/challenger aliases in the MLflow registry, with every alias move recorded on the version."""

from __future__ import annotations

import datetime as dt
import math

from ml.models import ModelSpec

CHAMPION = "champion"
CHALLENGER = "challenger"


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


def record_alias_move(model_name: str, alias: str, version: str, previous: str | None, run_id: str, why: str) -> None:
    """Move ``alias`` to ``version`` and tag the version with when, from which version, by which run and why.

    MLflow keeps no history of aliases; these tags let the history of ``@champion`` be read back.
    """
    client = _client()
    client.set_registered_model_alias(model_name, alias, version)
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    for key, value in {"at": at, "from_version": previous or "none", "by_run": run_id, "why": why}.items():
        client.set_model_version_tag(model_name, version, f"alias.{alias}.{key}", value)


def promote_if_better(spec: ModelSpec, version: str, run_id: str, metrics: dict[str, float]) -> bool:
    """Make ``version`` the challenger; make it champion if there is none or it beats the champion.

    The thin gate compares the primary metric each run logged on its own test window, with the spec's margin.
    """
    record_alias_move(spec.name, CHALLENGER, version, None, run_id, "newly trained")
    current = champion_version(spec.name)
    challenger_score = metrics[f"test_{spec.primary_metric}"]
    if current is None:
        record_alias_move(spec.name, CHAMPION, version, None, run_id, "first model")
        return True
    champion_run = _client().get_model_version(spec.name, current).run_id
    champion_score = _client().get_run(champion_run).data.metrics.get(f"test_{spec.primary_metric}", float("nan"))
    if math.isnan(champion_score) or challenger_score >= champion_score + spec.promotion_margin:
        why = f"test {spec.primary_metric} {challenger_score:.4f} vs champion v{current} {champion_score:.4f}"
        record_alias_move(spec.name, CHAMPION, version, current, run_id, why)
        return True
    return False
