"""Read feature and training tables from the warehouse in bulk (COPY → Arrow) and shape them for XGBoost."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pyarrow as pa

from ecomflow.core.warehouse import bind, connect, read_arrow, read_arrow_batches, table_exists
from ml.spec import ModelSpec

NUMBER_TYPES = frozenset({"smallint", "integer", "bigint", "real", "double precision"})


def _select(table: str, where: str = "", params: dict | None = None) -> str | None:
    """The bound query reading ``table`` (None when it does not exist yet)."""
    with connect() as conn:
        if not table_exists(conn, table):
            return None
        return bind(conn, f"select * from {table} {where}", params)


def read_table(table: str, where: str = "", params: dict | None = None) -> pa.Table:
    """Rows of a warehouse table (or an empty table if it does not exist yet), in bulk through ADBC."""
    query = _select(table, where, params)
    return pa.table({}) if query is None else read_arrow(query)


def missing_sources(spec: ModelSpec) -> list[str]:
    """The model's raw source tables that hold no row (or do not exist): without them it cannot learn."""
    missing = []
    with connect() as conn:
        for table in spec.sources:
            if (
                not table_exists(conn, f"raw.{table}")
                or not conn.execute(f'select exists (select from raw."{table}")').fetchone()[0]
            ):
                missing.append(table)
    return missing


def read_training_set(spec: ModelSpec) -> pa.Table:
    """The model's training table: features, entity, as-of date and label (closed label windows only)."""
    return read_table(spec.training_table, f"order by {spec.as_of_column}, {spec.entity_key}")


def read_features_as_of(spec: ModelSpec, as_of: dt.date) -> pa.Table:
    """Feature rows of the latest as-of date on or before ``as_of`` (month starts for monthly features).

    In no particular order: sorting costs the server a sizeable share of the read (docs/benchmarks.md), and
    nothing computed from them depends on their order (see :func:`ml.models.propensity.deciles`).
    """
    feature_date = latest_feature_date(spec, as_of)
    if feature_date is None:
        return pa.table({})
    return read_table(spec.feature_table, f"where {spec.as_of_column} = %(date)s", {"date": feature_date})


def latest_feature_date(spec: ModelSpec, as_of: dt.date) -> dt.date | None:
    """The latest as-of date of the feature table on or before ``as_of`` (None when there is none)."""
    with connect() as conn:
        if not table_exists(conn, spec.feature_table):
            return None
        return conn.execute(
            f"select max({spec.as_of_column}) from {spec.feature_table} where {spec.as_of_column} <= %s", (as_of,)
        ).fetchone()[0]


def feature_batches(spec: ModelSpec, feature_date: dt.date) -> Iterator[pa.RecordBatch]:
    """The feature rows of one as-of date for scoring: batch by batch, read ahead, numbers as float32.

    The as-of column is left out: it holds ``feature_date`` in every row, and every field sent costs the server
    and the decoder. XGBoost predicts in float32 (every number becomes one before the model sees it), so
    PostgreSQL converts the numeric columns as it sends them, and sends a null as NaN (what XGBoost reads as
    missing, as it reads a null): the model gets the same input, and ADBC decodes the numbers faster (figures
    in docs/benchmarks.md). Other columns come as they are, so a column of the wrong type is still told by the
    signature check.
    """
    with connect() as conn:
        columns = conn.execute(
            "select attname, format_type(atttypid, atttypmod) from pg_attribute "
            "where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped order by attnum",
            (spec.feature_table,),
        ).fetchall()
        select = ", ".join(_as_sent(name, type_, spec) for name, type_ in columns if name != spec.as_of_column)
        query = bind(conn, f"select {select} from {spec.feature_table} where {spec.as_of_column} = %s", (feature_date,))
    yield from read_arrow_batches(query)


def _as_sent(column: str, postgres_type: str, spec: ModelSpec) -> str:
    """``column`` as :func:`feature_batches` selects it: a number as float32 with NaN for null, else as it is."""
    quoted = f'"{column}"'
    if column == spec.entity_key or not _is_number(postgres_type):
        return quoted
    return f"coalesce({quoted}::real, 'NaN') as {quoted}"


def _is_number(postgres_type: str) -> bool:
    return postgres_type in NUMBER_TYPES or postgres_type.startswith("numeric")


def feature_names(data: pa.Table, spec: ModelSpec) -> list[str]:
    """Every column that is not the entity, the as-of date or the label."""
    excluded = {spec.entity_key, spec.as_of_column, spec.label}
    return [name for name in data.column_names if name not in excluded]
