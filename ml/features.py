"""Read feature and training tables from the warehouse in bulk (COPY → Arrow) and shape them for XGBoost."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from ecomflow.warehouse import bind, connect, read_arrow
from ml.models import ModelSpec


def read_table(table: str, where: str = "", params: dict | None = None) -> pa.Table:
    """Rows of a warehouse table (or an empty table if it does not exist yet), in bulk through ADBC."""
    with connect() as conn:
        exists = conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()[0]
        if not exists:
            return pa.table({})
        query = bind(conn, f"select * from {table} {where}", params)
    return read_arrow(query)


def missing_sources(spec: ModelSpec) -> list[str]:
    """The model's raw source tables that hold no row (or do not exist): without them it cannot learn."""
    missing = []
    with connect() as conn:
        for table in spec.sources:
            exists = conn.execute("select to_regclass(%s) is not null", (f"raw.{table}",)).fetchone()[0]
            if not exists or not conn.execute(f'select exists (select from raw."{table}")').fetchone()[0]:
                missing.append(table)
    return missing


def read_training_set(spec: ModelSpec) -> pa.Table:
    """The model's training table: features, entity, as-of date and label (closed label windows only)."""
    return read_table(spec.training_table, f"order by {spec.as_of_column}, {spec.entity_key}")


def read_features_as_of(spec: ModelSpec, as_of: dt.date) -> pa.Table:
    """Feature rows of the latest as-of date on or before ``as_of`` (month starts for monthly features).

    In no particular order: sorting a million rows costs the server a fifth of the read, and nothing computed
    from them depends on their order (see :func:`ml.scoring.deciles`).
    """
    return read_table(
        spec.feature_table,
        f"where {spec.as_of_column} = (select max({spec.as_of_column}) from {spec.feature_table} "
        f"where {spec.as_of_column} <= %(as_of)s)",
        {"as_of": as_of},
    )


def feature_names(data: pa.Table, spec: ModelSpec) -> list[str]:
    """Every column that is not the entity, the as-of date or the label."""
    excluded = {spec.entity_key, spec.as_of_column, spec.label}
    return [name for name in data.column_names if name not in excluded]
