"""What monitoring reads from the warehouse: published scores, the feature rows behind them, realised labels."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from ecomflow.core.warehouse import connect, copy_out, table_exists
from ml.features import read_table
from ml.spec import ModelSpec

LOOKBACK_DAYS = 400
"""How far back closed outcome windows are looked for: longer than any label window."""


def scores_exist(spec: ModelSpec) -> bool:
    """Whether the model's scores table exists (it does once a champion has published)."""
    with connect() as conn:
        return table_exists(conn, spec.scores_table)


def published_scores(spec: ModelSpec, as_of: dt.date) -> pa.Table:
    """Entity, feature as-of date, score and model version of the scores published as of ``as_of``."""
    with connect() as conn:
        return copy_out(
            conn,
            f"select {spec.entity_key}, feature_as_of_date, score, model_version from {spec.scores_table} "
            f"where as_of_date = %(as_of)s",
            {"as_of": as_of},
        )


def population_features(spec: ModelSpec, feature_as_of: dt.date) -> pa.Table:
    """The feature rows as of ``feature_as_of`` in the model's population (``ModelSpec.population``)."""
    return read_table(
        spec.feature_table,
        f"where {spec.as_of_column} = %(day)s and ({spec.population()})",
        {"day": feature_as_of},
    )


def scored_dates(spec: ModelSpec, day: dt.date) -> list[tuple[dt.date, dt.date]]:
    """(as-of date, feature as-of date) of the scores published from features of ``LOOKBACK_DAYS`` up to ``day``."""
    with connect() as conn:
        return conn.execute(
            f"select distinct as_of_date, feature_as_of_date from {spec.scores_table} "
            "where feature_as_of_date between %s and %s order by 1",
            (day - dt.timedelta(days=LOOKBACK_DAYS), day),
        ).fetchall()


def labelled_scores(spec: ModelSpec, as_of: dt.date) -> pa.Table:
    """Model version, score and realised label of the scores as of ``as_of`` that the training table labels.

    Only rows the training table holds count (closed windows, the model's population); ordered by entity, so
    ties bin the same in every run.
    """
    with connect() as conn:
        return copy_out(
            conn,
            f"select scores.model_version, scores.score, training.{spec.label} as label "
            f"from {spec.scores_table} as scores "
            f"inner join {spec.training_table} as training "
            f"on training.{spec.entity_key} = scores.{spec.entity_key} "
            f"and training.{spec.as_of_column} = scores.feature_as_of_date "
            f"where scores.as_of_date = %(as_of)s order by scores.{spec.entity_key}",
            {"as_of": as_of},
        )
