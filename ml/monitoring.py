"""Watch the published scores: drift (PSI) against the training window and realised performance.

For each day a monitoring run covers (the data days of the scores it was triggered by), as of the day after:

- **Drift** — the population stability index (PSI) of the published score and of the model's top features (by
  the version's total-gain importance) between the version's training window (the train rows of its training
  table between the ``train_as_of_from``/``train_as_of_to`` params logged on its MLflow run) and the features
  the day's scores were computed from. Bins are quantiles of the reference; missing values are a bin of their
  own; categorical features are binned by category.
- **Realised performance** — once the outcome window of past scores has closed with the day, ROC AUC and
  calibration (ECE, mean score against the observed rate) of those scores against what happened: the label of
  the model's training table for the same entity and ``as_of_date`` = the scores' ``feature_as_of_date``, the
  very definition the model learned (so the population is the training table's: sellers with an active loan
  and not yet in default, for credit).

Results replace their (model, as-of date, kind) in ``monitoring.model_monitoring`` in one transaction and are
logged as metrics of the version's MLflow run and logged model (step = the as-of date in days since the
epoch). A PSI above ``drift_psi_threshold`` then raises :class:`DriftDetected`, naming model, day, feature and
PSI; the results are recorded first. Monitoring runs in its own DAG: drift never blocks publishing.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ecomflow.core.dates import as_of_date, as_of_dates
from ecomflow.core.settings import get_settings
from ecomflow.core.warehouse import advisory_lock, connect, copy_in, copy_out
from ml.evaluation import expected_calibration_error, ranking_metrics
from ml.spec import ModelSpec

log = logging.getLogger(__name__)

TABLE = "monitoring.model_monitoring"
SCORE = "score"
"""The ``feature`` value of the rows about the score itself (its PSI, the realised performance)."""
TOP_FEATURES = 5
QUANTILE_BINS = 10
PSI_FLOOR = 1e-4
"""Bin shares are floored at this before the logarithm: an empty bin on one side adds a large, finite term."""
MISSING = "<missing>"
REFERENCE_MAX_ROWS = 250_000
"""Training rows read for the reference at most (a deterministic sample beyond): PSI needs shares, not all rows."""
DRIFT = ("psi", "reference_rows", "current_rows")
PERFORMANCE = ("roc_auc", "ece", "mean_score", "observed_rate", "labelled_rows")
METRIC_PREFIX = "monitoring"

DDL = f"""
    create schema if not exists monitoring;
    create table if not exists {TABLE} (
        model text not null,
        version text not null,
        as_of_date date not null,
        metric text not null,
        feature text not null,
        value double precision not null,
        computed_at timestamptz not null,
        primary key (model, as_of_date, metric, feature)
    )"""


class NothingToMonitor(Exception):
    """The model has no published scores to monitor for the run's days (no champion yet, or a skipped day)."""


class DriftDetected(Exception):
    """A population stability index exceeded the threshold."""


@dataclass(frozen=True)
class Result:
    """One monitoring value."""

    model: str
    version: str
    as_of_date: dt.date
    metric: str
    feature: str
    value: float


@dataclass(frozen=True)
class MonitoredVersion:
    """A registered model version with what monitoring needs from MLflow."""

    name: str
    version: str
    run_id: str
    model_id: str | None
    model: object  # ml.packaging.TrainedModel
    train_as_of_from: dt.date
    train_as_of_to: dt.date
    top_features: list[str]


# --- population stability ---------------------------------------------------------------------------------


def quantile_edges(reference: np.ndarray, bins: int = QUANTILE_BINS) -> np.ndarray:
    """Inner cut points of ``bins`` equal-frequency bins of the reference (NaN ignored, ties merged)."""
    values = reference[~np.isnan(reference)]
    if values.size == 0:
        return np.empty(0)
    return np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))


def numeric_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Rows per bin ``[edge_i-1, edge_i)`` (open at both ends), then the missing values as the last bin."""
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    counts = np.bincount(np.searchsorted(edges, values[~missing], side="right"), minlength=len(edges) + 1)
    return np.append(counts, missing.sum())


def category_counts(reference: Iterable, current: Iterable) -> tuple[np.ndarray, np.ndarray]:
    """Rows per category (missing as a category of its own) on both sides, over the union of categories."""
    ref = [MISSING if v is None else str(v) for v in reference]
    cur = [MISSING if v is None else str(v) for v in current]
    categories = sorted(set(ref) | set(cur))
    index = {c: i for i, c in enumerate(categories)}
    counts = [np.bincount([index[v] for v in side], minlength=len(categories)) for side in (ref, cur)]
    return counts[0], counts[1]


def psi_from_counts(expected: np.ndarray, actual: np.ndarray) -> float:
    """Σ (actual share − expected share) · ln(actual share / expected share), shares floored at ``PSI_FLOOR``."""
    if expected.sum() == 0 or actual.sum() == 0:
        return float("nan")
    e = np.maximum(expected / expected.sum(), PSI_FLOOR)
    a = np.maximum(actual / actual.sum(), PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def population_stability(reference: pa.Array | np.ndarray, current: pa.Array | np.ndarray, categorical: bool) -> float:
    """PSI of ``current`` against ``reference``: quantile bins of the reference, or one bin per category."""
    if categorical:
        as_list = [
            v.to_pylist() if isinstance(v, pa.Array | pa.ChunkedArray) else list(v) for v in (reference, current)
        ]
        return psi_from_counts(*category_counts(*as_list))
    ref, cur = (_floats(v) for v in (reference, current))
    edges = quantile_edges(ref)
    return psi_from_counts(numeric_counts(ref, edges), numeric_counts(cur, edges))


def _floats(values: pa.Array | pa.ChunkedArray | np.ndarray) -> np.ndarray:
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
    return np.asarray(values, dtype=np.float64)


# --- what is monitored ------------------------------------------------------------------------------------


def load_version(spec: ModelSpec, version: str) -> MonitoredVersion:
    """The registered ``version`` of ``spec``: its model, training window (run params) and top features."""
    from mlflow import MlflowClient

    from ml.packaging import load_registered

    client = MlflowClient()
    model_version = client.get_model_version(spec.name, version)
    run = client.get_run(model_version.run_id)
    params = run.data.params
    missing = [p for p in ("train_as_of_from", "train_as_of_to") if p not in params]
    if missing:
        raise ValueError(
            f"{spec.name} v{version}: run {model_version.run_id} has no param(s) {', '.join(missing)}; "
            "monitoring needs the training window the trainer logs"
        )
    model, _ = load_registered(f"models:/{spec.name}/{version}")
    importance = model.booster.get_score(importance_type="total_gain")
    top = sorted(importance, key=lambda name: (-importance[name], name))[:TOP_FEATURES]
    return MonitoredVersion(
        name=spec.name,
        version=str(version),
        run_id=model_version.run_id,
        model_id=_logged_model_id(model_version, run),
        model=model,
        train_as_of_from=dt.date.fromisoformat(params["train_as_of_from"][:10]),
        train_as_of_to=dt.date.fromisoformat(params["train_as_of_to"][:10]),
        top_features=top,
    )


def _logged_model_id(model_version, run) -> str | None:  # noqa: ANN001 - MLflow's ModelVersion and Run
    """The MLflow 3 logged model behind a registered version (the REST client may leave ``model_id`` empty)."""
    if getattr(model_version, "model_id", None):
        return model_version.model_id
    outputs = [output.model_id for output in (run.outputs.model_outputs if run.outputs else [])]
    source = str(model_version.source).removeprefix("models:/")
    if source in outputs:
        return source
    return outputs[0] if len(outputs) == 1 else None


def reference_rows(spec: ModelSpec, monitored: MonitoredVersion) -> pa.Table:
    """The version's training rows (train window of its training table), sampled to ``REFERENCE_MAX_ROWS``."""
    window = {"first": monitored.train_as_of_from, "last": monitored.train_as_of_to}
    where = f"where {spec.as_of_column} between %(first)s and %(last)s"
    with connect() as conn:
        rows = conn.execute(f"select count(*) from {spec.training_table} {where}", window).fetchone()[0]
        if rows == 0:
            raise ValueError(
                f"{spec.name} v{monitored.version}: {spec.training_table} has no rows in its training window "
                f"{monitored.train_as_of_from}..{monitored.train_as_of_to}"
            )
        every = math.ceil(rows / REFERENCE_MAX_ROWS)
        if every > 1:  # the same rows on every run: a hash of entity and date, not a random sample
            where += f" and abs(hashtext({spec.entity_key} || {spec.as_of_column}::text)::bigint) %% {every} = 0"
        return copy_out(conn, f"select * from {spec.training_table} {where}", window)


class _Versions:
    """Registered versions and their reference rows, loaded once per monitoring run."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self._loaded: dict[str, tuple[MonitoredVersion, pa.Table | None]] = {}

    def get(self, version: str) -> MonitoredVersion:
        if version not in self._loaded:
            self._loaded[version] = (load_version(self.spec, version), None)
        return self._loaded[version][0]

    def reference(self, version: str) -> pa.Table:
        monitored, rows = self.get(version), self._loaded[version][1]
        if rows is None:
            rows = reference_rows(self.spec, monitored)
            self._loaded[version] = (monitored, rows)
        return rows


def _scores_exist(spec: ModelSpec) -> bool:
    with connect() as conn:
        return conn.execute("select to_regclass(%s) is not null", (spec.scores_table,)).fetchone()[0]


def published_scores(spec: ModelSpec, as_of: dt.date) -> pa.Table:
    """Entity, feature as-of date, score and model version of the scores published as of ``as_of``."""
    with connect() as conn:
        return copy_out(
            conn,
            f"select {spec.entity_key}, feature_as_of_date, score, model_version from {spec.scores_table} "
            f"where as_of_date = %(as_of)s",
            {"as_of": as_of},
        )


def _one(values: pa.ChunkedArray, what: str, spec: ModelSpec, as_of: dt.date) -> object:
    distinct = values.unique().to_pylist()
    if len(distinct) != 1:
        raise ValueError(f"{spec.scores_table} as of {as_of} holds {len(distinct)} {what}s ({distinct}); expected one")
    return distinct[0]


# --- drift ------------------------------------------------------------------------------------------------


def population(spec: ModelSpec) -> str:
    """SQL predicate on feature rows selecting the population the model is trained on (``true``: everyone).

    Credit risk scores every seller but learns from sellers with an active loan who are not in default yet
    (``ModelSpec.population``): drift is measured on that population, so sellers without a loan do not read
    as drift.
    """
    return spec.population()


def drift(spec: ModelSpec, as_of: dt.date, versions: _Versions | None = None) -> list[Result]:
    """PSI of the published score and of the version's top features as of ``as_of`` (empty: no scores).

    The current side is the feature rows the day's scores were computed from, in the model's population
    (:func:`population`), and those rows' published scores; the reference is the version's training rows.
    """
    from ml.features import read_table

    versions = versions or _Versions(spec)
    scores = published_scores(spec, as_of)
    if scores.num_rows == 0:
        return []
    version = str(_one(scores.column("model_version"), "model version", spec, as_of))
    feature_as_of = _one(scores.column("feature_as_of_date"), "feature as-of date", spec, as_of)
    monitored = versions.get(version)
    reference = versions.reference(version)
    current = read_table(
        spec.feature_table,
        f"where {spec.as_of_column} = %(day)s and ({population(spec)})",
        {"day": feature_as_of},
    )
    scores = scores.filter(pc.is_in(scores[spec.entity_key], current[spec.entity_key]))
    model = monitored.model
    psi = {SCORE: population_stability(model.predict(model.frame(reference)), scores["score"], False)}
    for feature in monitored.top_features:
        psi[feature] = population_stability(reference[feature], current[feature], feature in spec.categorical)
    counts = {"reference_rows": reference.num_rows, "current_rows": scores.num_rows}
    return [Result(spec.name, version, as_of, "psi", name, value) for name, value in psi.items()] + [
        Result(spec.name, version, as_of, metric, SCORE, float(value)) for metric, value in counts.items()
    ]


# --- realised performance ---------------------------------------------------------------------------------


def outcome_known_from(spec: ModelSpec, feature_as_of: dt.date) -> dt.date:
    """The first data day on which the label of rows as of ``feature_as_of`` is known (its window's last day)."""
    if spec.label_known_from is None:
        raise KeyError(f"model {spec.name!r} has no label_known_from in its ModelSpec: its outcomes cannot be judged")
    return spec.label_known_from(feature_as_of)


def closed_as_of_dates(spec: ModelSpec, day: dt.date) -> list[dt.date]:
    """As-of dates of published scores whose outcome window closed with data day ``day`` (not before)."""
    horizon = day - dt.timedelta(days=400)  # longer than any label window
    with connect() as conn:
        pairs = conn.execute(
            f"select distinct as_of_date, feature_as_of_date from {spec.scores_table} "
            "where feature_as_of_date between %s and %s order by 1",
            (horizon, day),
        ).fetchall()
    return [as_of for as_of, feature_as_of in pairs if outcome_known_from(spec, feature_as_of) == day]


def realised_performance(spec: ModelSpec, as_of: dt.date) -> list[Result]:
    """ROC AUC, ECE, mean score and observed rate of the scores as of ``as_of`` against the realised labels.

    Only rows the training table labels count (closed windows, the model's population); a metric that cannot
    be computed (AUC with a single class) is left out.
    """
    with connect() as conn:
        rows = copy_out(
            conn,
            f"select scores.model_version, scores.score, training.{spec.label} as label "
            f"from {spec.scores_table} as scores "
            f"inner join {spec.training_table} as training "
            f"on training.{spec.entity_key} = scores.{spec.entity_key} "
            f"and training.{spec.as_of_column} = scores.feature_as_of_date "
            f"where scores.as_of_date = %(as_of)s order by scores.{spec.entity_key}",  # ties bin the same every run
            {"as_of": as_of},
        )
    if rows.num_rows == 0:
        return []
    version = str(_one(rows.column("model_version"), "model version", spec, as_of))
    scores = rows.column("score").to_numpy().astype(np.float64)
    labels = rows.column("label").to_numpy().astype(np.float64)
    values = {
        "roc_auc": ranking_metrics(labels, scores)["roc_auc"],
        "ece": expected_calibration_error(labels, scores),
        "mean_score": float(scores.mean()),
        "observed_rate": float(labels.mean()),
        "labelled_rows": float(len(labels)),
    }
    return [Result(spec.name, version, as_of, m, SCORE, v) for m, v in values.items() if not math.isnan(v)]


# --- recording --------------------------------------------------------------------------------------------


def write(results: list[Result], computed_at: dt.datetime | None = None) -> int:
    """Replace each (model, as-of date, kind: drift or performance) in one transaction under an advisory lock."""
    if not results:
        return 0
    computed_at = computed_at or dt.datetime.now(dt.UTC)
    groups: dict[tuple[str, dt.date, tuple[str, ...]], list[Result]] = {}
    for result in results:
        kind = DRIFT if result.metric in DRIFT else PERFORMANCE
        groups.setdefault((result.model, result.as_of_date, kind), []).append(result)
    with connect() as conn:
        conn.execute(DDL)
        conn.commit()
        with conn.transaction(), ExitStack() as stack:
            for model in sorted({model for model, _, _ in groups}):
                stack.enter_context(advisory_lock(conn, f"{TABLE}:{model}"))
            for model, as_of, kind in groups:
                conn.execute(
                    f"delete from {TABLE} where model = %s and as_of_date = %s and metric = any(%s)",
                    (model, as_of, list(kind)),
                )
            copy_in(conn, TABLE, _as_table(results, computed_at))
    return len(results)


def _as_table(results: list[Result], computed_at: dt.datetime) -> pa.Table:
    return pa.table(
        {
            "model": [r.model for r in results],
            "version": [r.version for r in results],
            "as_of_date": pa.array([r.as_of_date for r in results], pa.date32()),
            "metric": [r.metric for r in results],
            "feature": [r.feature for r in results],
            "value": pa.array([r.value for r in results], pa.float64()),
            "computed_at": pa.array([computed_at] * len(results), pa.timestamp("us", tz="UTC")),
        }
    )


def metric_key(result: Result) -> str:
    """MLflow metric name: ``monitoring/psi/<feature>``, ``monitoring/<rows>`` or ``monitoring/realised/<metric>``."""
    if result.metric == "psi":
        return f"{METRIC_PREFIX}/psi/{result.feature}"
    if result.metric in DRIFT:
        return f"{METRIC_PREFIX}/{result.metric}"
    return f"{METRIC_PREFIX}/realised/{result.metric}"


def as_of_step(as_of: dt.date) -> int:
    """MLflow step of an as-of date: days since 1970-01-01."""
    return (as_of - dt.date(1970, 1, 1)).days


def log_to_mlflow(results: list[Result], versions: _Versions) -> None:
    """Log ``results`` as metrics of each version's run and logged model (step and timestamp = the as-of date).

    The timestamp is the as-of date's midnight, not the wall clock, so a rerun with the same values adds no
    duplicate points.
    """
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient()
    for version in sorted({r.version for r in results}):
        monitored = versions.get(version)
        metrics = [
            Metric(
                key=metric_key(r),
                value=r.value,
                timestamp=as_of_step(r.as_of_date) * 86_400_000,
                step=as_of_step(r.as_of_date),
                model_id=monitored.model_id,
                run_id=monitored.run_id,
            )
            for r in results
            if r.version == version
        ]
        for i in range(0, len(metrics), 1000):  # MLflow's log_batch limit
            client.log_batch(monitored.run_id, metrics=metrics[i : i + 1000])


# --- a monitoring run -------------------------------------------------------------------------------------


def breaches(results: Iterable[Result], threshold: float) -> list[Result]:
    """The PSI results above ``threshold``."""
    return [r for r in results if r.metric == "psi" and r.value > threshold]


def check_drift(results: Iterable[Result], threshold: float | None = None, expected: Iterable[str] = ()) -> None:
    """Raise :class:`DriftDetected` naming model, version, day, feature and PSI of every value over the threshold.

    Features in ``expected`` (a spec's ``expected_drift``) never raise; their PSI over the threshold is logged.
    """
    threshold = get_settings().drift_psi_threshold if threshold is None else threshold
    expected = set(expected)
    found = []
    for r in breaches(results, threshold):
        if r.feature not in expected:
            found.append(r)
        else:
            log.info(
                "%s as of %s: %s PSI %.3f > %s, expected (it drifts by design)",
                r.model,
                r.as_of_date,
                r.feature,
                r.value,
                threshold,
            )
    if found:
        lines = [
            f"{r.model} v{r.version} as of {r.as_of_date}: {r.feature} PSI {r.value:.3f} > {threshold}" for r in found
        ]
        raise DriftDetected(
            f"drift above ECOMFLOW_DRIFT_PSI_THRESHOLD={threshold} in {len(found)} distribution(s) against the "
            "training window:\n" + "\n".join(lines)
        )


def monitor(spec: ModelSpec, days: Iterable[dt.date], threshold: float | None = None) -> list[Result]:
    """Monitor the scores of each data day's as-of date (the day after) and those whose outcome closed with it.

    Records every result (table and MLflow) before failing on drift.

    Raises:
        NothingToMonitor: no scores as of any of the days and none whose outcome closed (callers skip).
        DriftDetected: a PSI above ``threshold`` (default ``settings.drift_psi_threshold``).
    """
    if not _scores_exist(spec):
        raise NothingToMonitor(f"{spec.name}: {spec.scores_table} does not exist yet (no champion has scored)")
    versions = _Versions(spec)
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
    log_to_mlflow(results, versions)
    for r in results:
        log.info("%s v%s as of %s: %s %s = %.4f", r.model, r.version, r.as_of_date, r.metric, r.feature, r.value)
    check_drift(results, threshold, spec.expected_drift)
    return results
