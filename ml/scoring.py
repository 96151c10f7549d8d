"""Batch scoring with the champion, reason codes from XGBoost's native contributions, atomic publishing.

A day's feature rows are scored batch by batch as they are read (the next batches are read meanwhile), and
reasons are computed in batches of ``score_batch_rows``: pandas frames exist for one batch at a time. The
rows are validated against the model's MLflow signature before anything is written, and the scores are
published by swapping the day's partition in one transaction under an advisory lock, so readers see the
previous scores of that day or the new ones, never a mix.

Reason codes cost far more than scores (exact TreeSHAP most of all), so the spec's bands say which rows get
exact reasons (``ModelSpec.bands``: every seller for credit, the propensity deciles the audiences act on);
the others get approximate (Saabas) ones or none (``reason_codes_rest``). Each row records which it got in
``reason_method``. The band column, its type and its rule come from the spec too: the scorer is generic.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import numpy as np
import pyarrow as pa

from ecomflow.core.partitions import move_into_day_partitions, replace_partition
from ecomflow.core.settings import get_settings
from ecomflow.core.warehouse import advisory_lock, connect
from ml.features import feature_batches, latest_feature_date
from ml.packaging import TrainedModel, load_registered
from ml.registry import CHAMPION
from ml.spec import ModelSpec

log = logging.getLogger(__name__)

REASON_CODES = 3
REASON_METHODS = ("exact", "approximate", "none")
"""How a row's reasons are computed, as ``reason_method`` stores it."""
EXACT, APPROXIMATE, NO_REASONS = range(len(REASON_METHODS))
SCORES_DDL = files("ml").joinpath("scores_table.sql").read_text()
"""The scores table of a model (``scores_table.sql``), formatted by :func:`scores_ddl`."""


class NoChampion(Exception):
    """There is no ``@champion`` model to score with yet."""


class SignatureMismatch(ValueError):
    """The feature rows do not match the champion's input signature."""


@dataclass(frozen=True)
class Champion:
    """The champion model with what identifies it and its MLflow input schema."""

    model: TrainedModel
    version: str
    run_id: str
    input_schema: Any


@dataclass(frozen=True)
class ScoreResult:
    """What one publish wrote."""

    model_name: str
    version: str
    run_id: str
    as_of: dt.date
    rows: int


def scores_ddl(spec: ModelSpec) -> str:
    """``create table if not exists`` for the model's scores table: LIST-partitioned by as-of date.

    One partition per as-of date (``<table>_pYYYYMMDD``), so publishing a day swaps one partition in
    (:func:`ecomflow.core.partitions.replace_partition`) and past days stay as history untouched.
    """
    band = f"{spec.bands.column} {spec.bands.sql_type} not null"
    reasons = ", ".join(
        f"reason_{i} text, reason_{i}_contribution double precision" for i in range(1, REASON_CODES + 1)
    )
    return SCORES_DDL.format(table=spec.scores_table, entity_key=spec.entity_key, band=band, reasons=reasons)


def ensure_scores_table(spec: ModelSpec) -> None:
    """Create the scores table, or move the rows of an unpartitioned one (before 0.4) into day partitions."""
    with connect() as conn, conn.transaction(), advisory_lock(conn, f"ddl:{spec.scores_table}"):
        kind = conn.execute("select relkind from pg_class where oid = to_regclass(%s)", (spec.scores_table,)).fetchone()
        if kind is not None and kind[0] == "r":
            rows = move_into_day_partitions(conn, spec.scores_table, scores_ddl(spec))
            log.info("%s: moved its %d rows into one partition per as-of date", spec.scores_table, rows)
        else:
            conn.execute(scores_ddl(spec))


def load_champion(spec: ModelSpec) -> Champion:
    """The model at ``models:/<name>@champion`` (resolved to its version once, so all batches use the same)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        version = mlflow.MlflowClient().get_model_version_by_alias(spec.name, CHAMPION)
    except MlflowException as error:
        raise NoChampion(f"{spec.name}: no @{CHAMPION} in the registry yet; run the train DAG first") from error
    model, pyfunc = load_registered(f"models:/{spec.name}/{version.version}")
    return Champion(model, version.version, version.run_id, pyfunc.metadata.get_input_schema())


def _compatible(arrow_type: pa.DataType, mlflow_type: str) -> bool:
    if mlflow_type in ("double", "float", "long", "integer"):
        return pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type)
    if mlflow_type == "string":
        return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)
    return False


def validate_input(data: pa.Table | pa.RecordBatch, input_schema: Any, context: str) -> None:
    """Fail, naming each column, if ``data`` lacks a signature column or holds it in an incompatible type."""
    problems = []
    for column in input_schema.inputs:
        expected = column.type.name
        if column.name not in data.column_names:
            problems.append(f"missing column {column.name!r} (expected {expected})")
        elif not _compatible(data.schema.field(column.name).type, expected):
            problems.append(f"column {column.name!r} is {data.schema.field(column.name).type}, expected {expected}")
    if problems:
        raise SignatureMismatch(f"{context} does not match the model's input signature: {'; '.join(problems)}")


def _in_batches(data: pa.Table, rows: np.ndarray, apply: Callable[[pa.Table], np.ndarray]) -> np.ndarray:
    """``apply`` over the given ``rows`` of ``data`` in batches of ``score_batch_rows``, concatenated."""
    size = get_settings().score_batch_rows
    parts = [apply(data.take(pa.array(rows[i : i + size]))) for i in range(0, len(rows), size)]
    return np.concatenate(parts) if parts else np.empty(0)


def reason_methods(spec: ModelSpec, bands: np.ndarray) -> np.ndarray:
    """How each row's reasons are computed, as an index into ``REASON_METHODS``.

    Exact where the spec's bands say so (every row if they say nothing), ``settings.reason_codes_rest`` elsewhere.
    """
    if spec.bands.exact is None:
        return np.full(len(bands), EXACT, np.int8)
    rest = REASON_METHODS.index(get_settings().reason_codes_rest)
    return np.where(spec.bands.exact(bands), EXACT, rest).astype(np.int8)


def reason_codes(model: TrainedModel, data: pa.Table, methods: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Top features pushing each score up: their index in ``model.features`` (-1: none) and log-odds contribution.

    ``methods`` (indexes into ``REASON_METHODS``) says how each row's reasons are computed, or that it has none.
    """
    top_features = np.full((data.num_rows, REASON_CODES), -1, np.int32)
    values = np.full((data.num_rows, REASON_CODES), np.nan)
    for method in (EXACT, APPROXIMATE):
        rows = np.flatnonzero(methods == method)
        if not len(rows):
            continue
        contributions = _in_batches(
            data, rows, lambda batch, m=method: model.contributions(model.frame(batch), approximate=m == APPROXIMATE)
        ).reshape(len(rows), len(model.features))
        top = np.argsort(-contributions, axis=1, kind="stable")[:, :REASON_CODES]
        top_values = np.take_along_axis(contributions, top, axis=1)
        top_features[rows] = np.where(top_values > 0, top, -1)
        values[rows] = np.where(top_values > 0, top_values, np.nan)
    return top_features, values


def _take(values: pa.Array, codes: np.ndarray) -> pa.Array:
    """``values[code]`` for each code, null where the code is -1: Arrow's take, no Python object per row.

    Also how a day's constants are repeated (all codes 0): ``pa.repeat`` builds a string column one row at a
    time.
    """
    return values.take(pa.array(np.ascontiguousarray(codes), mask=codes < 0))


def score(spec: ModelSpec, as_of: dt.date, champion: Champion | None = None) -> tuple[pa.Table, Champion]:
    """Score every entity of the latest feature snapshot on or before ``as_of`` with the champion."""
    champion = champion or load_champion(spec)
    model = champion.model
    feature_date = latest_feature_date(spec, as_of)
    if feature_date is None:
        return pa.table({}), champion
    batches, predictions = [], []
    for batch in feature_batches(spec, feature_date):  # the next batches are read while one is predicted
        if not batches:
            validate_input(batch, champion.input_schema, f"{spec.feature_table} as of {feature_date}")
        batches.append(batch)
        predictions.append(model.predict(model.frame(batch)))
    data = pa.Table.from_batches(batches) if batches else pa.table({})
    if data.num_rows == 0:
        return pa.table({}), champion
    scores = np.concatenate(predictions)
    bands = spec.bands.rule(scores)
    methods = reason_methods(spec, bands)
    top_features, values = reason_codes(model, data, methods)
    every_row = np.zeros(data.num_rows, np.int8)
    features = pa.array(model.features, pa.string())
    columns: dict[str, pa.Array] = {
        spec.entity_key: data.column(spec.entity_key),
        "as_of_date": _take(pa.array([as_of], pa.date32()), every_row),
        "feature_as_of_date": _take(pa.array([feature_date], pa.date32()), every_row),
        "score": pa.array(scores.astype(np.float64)),
        spec.bands.column: pa.array(bands),
    }
    for i in range(REASON_CODES):
        columns[f"reason_{i + 1}"] = _take(features, top_features[:, i])
        columns[f"reason_{i + 1}_contribution"] = pa.array(
            np.ascontiguousarray(values[:, i]), pa.float64(), from_pandas=True
        )
    scored_at = pa.array([dt.datetime.now(dt.UTC)], pa.timestamp("us", tz="UTC"))
    columns |= {
        "reason_method": _take(pa.array(REASON_METHODS, pa.string()), methods),
        "model_name": _take(pa.array([spec.name], pa.string()), every_row),
        "model_version": _take(pa.array([str(champion.version)], pa.string()), every_row),
        "run_id": _take(pa.array([champion.run_id], pa.string()), every_row),
        "scored_at": _take(scored_at, every_row),
    }
    return pa.table(columns), champion


def publish(spec: ModelSpec, as_of: dt.date, scores: pa.Table, before_attach: Callable[[], None] | None = None) -> int:
    """Replace the scores of ``as_of`` atomically: its partition is swapped for one holding ``scores``.

    See :func:`ecomflow.core.partitions.replace_partition`: one transaction under an advisory lock, so a reader sees
    the previous scores of the day or the new ones, never a mix; ``before_attach`` runs between dropping the
    previous partition and attaching the new one (tests inject a failure there).
    """
    ensure_scores_table(spec)
    return replace_partition(spec.scores_table, as_of, scores, before_attach=before_attach)


def score_and_publish(spec: ModelSpec, as_of: dt.date) -> ScoreResult:
    """Score with the champion as of ``as_of`` and publish the day atomically."""
    scores, champion = score(spec, as_of)
    rows = publish(spec, as_of, scores)
    log.info(
        "%s v%s: published %d scores as of %s into %s", spec.name, champion.version, rows, as_of, spec.scores_table
    )
    return ScoreResult(spec.name, str(champion.version), champion.run_id, as_of, rows)
