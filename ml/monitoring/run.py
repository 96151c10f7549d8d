"""A monitoring run: drift and realised performance of a model's published scores over a run's days.

See :mod:`ml.monitoring` for what is measured; this module puts the pieces together, records every result
(table and MLflow) and only then fails on drift.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ecomflow.core.dates import as_of_date, as_of_dates
from ml.monitoring.drift import population_stability
from ml.monitoring.observed import (
    labelled_scores,
    population_features,
    published_scores,
    scored_dates,
    scores_exist,
)
from ml.monitoring.performance import outcome_known_from, realised_metrics
from ml.monitoring.results import SCORE, Result, check_drift
from ml.monitoring.store import log_to_mlflow, write
from ml.monitoring.versions import Versions
from ml.spec import ModelSpec

log = logging.getLogger(__name__)


class NothingToMonitor(Exception):
    """The model has no published scores to monitor for the run's days (no champion yet, or a skipped day)."""


def _one(values: pa.ChunkedArray, what: str, spec: ModelSpec, as_of: dt.date) -> object:
    distinct = values.unique().to_pylist()
    if len(distinct) != 1:
        raise ValueError(f"{spec.scores_table} as of {as_of} holds {len(distinct)} {what}s ({distinct}); expected one")
    return distinct[0]


def drift(spec: ModelSpec, as_of: dt.date, versions: Versions | None = None) -> list[Result]:
    """PSI of the published score and of the version's top features as of ``as_of`` (empty: no scores).

    The current side is the feature rows the day's scores were computed from, in the model's population, and
    those rows' published scores; the reference is the version's training rows.
    """
    versions = versions or Versions(spec)
    scores = published_scores(spec, as_of)
    if scores.num_rows == 0:
        return []
    version = str(_one(scores.column("model_version"), "model version", spec, as_of))
    feature_as_of = _one(scores.column("feature_as_of_date"), "feature as-of date", spec, as_of)
    monitored = versions.get(version)
    reference = versions.reference(version)
    current = population_features(spec, feature_as_of)
    scores = scores.filter(pc.is_in(scores[spec.entity_key], current[spec.entity_key]))
    model = monitored.model
    psi = {SCORE: population_stability(model.predict(model.frame(reference)), scores["score"], False)}
    for feature in monitored.top_features:
        psi[feature] = population_stability(reference[feature], current[feature], feature in spec.categorical)
    counts = {"reference_rows": reference.num_rows, "current_rows": scores.num_rows}
    return [Result(spec.name, version, as_of, "psi", name, value) for name, value in psi.items()] + [
        Result(spec.name, version, as_of, metric, SCORE, float(value)) for metric, value in counts.items()
    ]


def closed_as_of_dates(spec: ModelSpec, day: dt.date) -> list[dt.date]:
    """As-of dates of published scores whose outcome window closed with data day ``day`` (not before)."""
    return [as_of for as_of, feature_as_of in scored_dates(spec, day) if outcome_known_from(spec, feature_as_of) == day]


def realised_performance(spec: ModelSpec, as_of: dt.date) -> list[Result]:
    """ROC AUC, ECE, mean score and observed rate of the scores as of ``as_of`` against the realised labels.

    Only rows the training table labels count (closed windows, the model's population); a metric that cannot
    be computed (AUC with a single class) is left out.
    """
    rows = labelled_scores(spec, as_of)
    if rows.num_rows == 0:
        return []
    version = str(_one(rows.column("model_version"), "model version", spec, as_of))
    scores = rows.column("score").to_numpy().astype(np.float64)
    labels = rows.column("label").to_numpy().astype(np.float64)
    values = realised_metrics(labels, scores)
    return [Result(spec.name, version, as_of, m, SCORE, v) for m, v in values.items() if not math.isnan(v)]


def monitor(spec: ModelSpec, days: Iterable[dt.date], threshold: float | None = None) -> list[Result]:
    """Monitor the scores of each data day's as-of date (the day after) and those whose outcome closed with it.

    Records every result (table and MLflow) before failing on drift.

    Raises:
        NothingToMonitor: no scores as of any of the days and none whose outcome closed (callers skip).
        DriftDetected: a PSI above ``threshold`` (default ``settings.drift_psi_threshold``).
    """
    if not scores_exist(spec):
        raise NothingToMonitor(f"{spec.name}: {spec.scores_table} does not exist yet (no champion has scored)")
    versions = Versions(spec)
    results: list[Result] = []
    for day in sorted(days):
        as_of = as_of_date(day)
        day_results = drift(spec, as_of, versions)
        if not day_results:
            log.info("%s: no scores published as of %s, no drift to compute", spec.name, as_of)
        for closed in closed_as_of_dates(spec, day):
            day_results += realised_performance(spec, closed)
        results += day_results
    for r in results:
        if math.isnan(r.value):
            log.warning(
                "%s as of %s: %s of %s cannot be computed (no rows on one side)",
                r.model,
                r.as_of_date,
                r.metric,
                r.feature,
            )
    results = [r for r in results if not math.isnan(r.value)]
    if not results:
        raise NothingToMonitor(
            f"{spec.name}: no scores as of {', '.join(str(d) for d in as_of_dates(days))} "
            "and none whose outcome window closed on those days"
        )
    write(results)
    log_to_mlflow(results, {version: versions.get(version) for version in {r.version for r in results}})
    for r in results:
        log.info("%s v%s as of %s: %s %s = %.4f", r.model, r.version, r.as_of_date, r.metric, r.feature, r.value)
    check_drift(results, threshold, spec.expected_drift)
    return results
