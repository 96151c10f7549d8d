"""Batch scoring with the champion, reason codes from XGBoost's native contributions, atomic publishing."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ecomflow.warehouse import advisory_lock, connect, copy_in
from ml.features import model_frame, read_features_as_of
from ml.models import ModelSpec
from ml.registry import CHAMPION

log = logging.getLogger(__name__)

REASON_CODES = 3
RISK_GRADES = np.array(["A", "B", "C", "D", "E"])
RISK_GRADE_EDGES = np.array([0.02, 0.05, 0.10, 0.20])


class NoChampion(Exception):
    """There is no ``@champion`` model to score with yet."""


@dataclass(frozen=True)
class ScoreResult:
    """What one publish wrote."""

    model_name: str
    version: str
    run_id: str
    as_of: dt.date
    rows: int


def scores_ddl(spec: ModelSpec) -> str:
    """``create table if not exists`` for the model's scores table."""
    reasons = ", ".join(
        f"reason_{i} text, reason_{i}_contribution double precision" for i in range(1, REASON_CODES + 1)
    )
    return f"""
        create schema if not exists scores;
        create table if not exists {spec.scores_table} (
            {spec.entity_key} text not null,
            as_of_date date not null,
            feature_as_of_date date not null,
            score double precision not null,
            score_band text not null,
            {reasons},
            model_name text not null,
            model_version text not null,
            run_id text not null,
            scored_at timestamptz not null,
            primary key (as_of_date, {spec.entity_key})
        )"""


def load_champion(spec: ModelSpec):  # noqa: ANN201 - (booster, version, run_id)
    """The native XGBoost booster at ``models:/<name>@champion`` with its version and run id."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    try:
        version = client.get_model_version_by_alias(spec.name, CHAMPION)
    except MlflowException as error:
        raise NoChampion(f"{spec.name}: no @{CHAMPION} in the registry yet; run the train DAG first") from error
    booster = mlflow.xgboost.load_model(f"models:/{spec.name}@{CHAMPION}")
    return booster, version.version, version.run_id


def reason_codes(booster, frame, features: list[str]) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """Top features pushing each score up: names and contributions from exact TreeSHAP (``pred_contribs``)."""
    import xgboost as xgb

    contributions = booster.predict(xgb.DMatrix(frame, enable_categorical=True), pred_contribs=True)[:, :-1]
    top = np.argsort(-contributions, axis=1)[:, :REASON_CODES]
    names = np.asarray(features, dtype=object)[top]
    values = np.take_along_axis(contributions, top, axis=1)
    return np.where(values > 0, names, None), values


def score_band(spec: ModelSpec, scores: np.ndarray) -> np.ndarray:
    """Propensity decile (1 = most likely) or credit risk grade (A = safest)."""
    if spec.entity_key == "seller_id":
        return RISK_GRADES[np.searchsorted(RISK_GRADE_EDGES, scores, side="right")]
    order = np.argsort(-scores, kind="stable")
    deciles = np.empty(len(scores), dtype=np.int64)
    deciles[order] = np.arange(len(scores)) * 10 // max(len(scores), 1) + 1
    return deciles.astype(str)


def score(spec: ModelSpec, as_of: dt.date) -> tuple[pa.Table, str, str]:
    """Score every entity of the latest feature snapshot on or before ``as_of`` with the champion."""
    booster, version, run_id = load_champion(spec)
    features = booster.feature_names
    data = read_features_as_of(spec, as_of)
    missing = [name for name in features if name not in data.column_names]
    if missing:
        raise ValueError(f"{spec.feature_table} lacks feature column(s) the champion needs: {', '.join(missing)}")
    if data.num_rows == 0:
        return pa.table({}), version, run_id
    frame = model_frame(data, features, spec)
    scores = booster.inplace_predict(frame)
    names, values = reason_codes(booster, frame, features)
    columns: dict[str, pa.Array] = {
        spec.entity_key: data.column(spec.entity_key),
        "as_of_date": pa.repeat(pa.scalar(as_of), data.num_rows),
        "feature_as_of_date": data.column(spec.as_of_column),
        "score": pa.array(scores.astype(np.float64)),
        "score_band": pa.array(score_band(spec, scores)),
    }
    for i in range(REASON_CODES):
        columns[f"reason_{i + 1}"] = pa.array(names[:, i], pa.string())
        columns[f"reason_{i + 1}_contribution"] = pa.array(values[:, i].astype(np.float64))
    columns |= {
        "model_name": pa.repeat(pa.scalar(spec.name), data.num_rows),
        "model_version": pa.repeat(pa.scalar(str(version)), data.num_rows),
        "run_id": pa.repeat(pa.scalar(run_id), data.num_rows),
        "scored_at": pa.repeat(pa.scalar(dt.datetime.now(dt.UTC), pa.timestamp("us", tz="UTC")), data.num_rows),
    }
    return pa.table(columns), version, run_id


def publish(spec: ModelSpec, as_of: dt.date, scores: pa.Table) -> int:
    """Replace the scores of ``as_of`` in one transaction under an advisory lock; readers never see a mix."""
    with connect() as conn:
        conn.execute(scores_ddl(spec))
        conn.commit()
        with conn.transaction(), advisory_lock(conn, f"scores:{spec.scores_table}:{as_of}"):
            conn.execute(f"delete from {spec.scores_table} where as_of_date = %s", (as_of,))
            return copy_in(conn, spec.scores_table, scores)


def score_and_publish(spec: ModelSpec, as_of: dt.date) -> ScoreResult:
    """Score with the champion as of ``as_of`` and publish the day atomically."""
    scores, version, run_id = score(spec, as_of)
    rows = publish(spec, as_of, scores) if scores.num_rows else 0
    log.info("%s v%s: published %d scores as of %s into %s", spec.name, version, rows, as_of, spec.scores_table)
    return ScoreResult(spec.name, str(version), run_id, as_of, rows)
