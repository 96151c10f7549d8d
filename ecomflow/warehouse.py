"""Warehouse access: connections, Arrow in and out through COPY, transactions and advisory locks.

COPY is the fast path both ways (see ``shared/PERFORMANCE.md``): Arrow's C++ CSV writer and reader do the
formatting, PostgreSQL's COPY does the rest, and no Python loop touches a row.
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg import sql

from ecomflow.settings import get_settings

COPY_CHUNK_ROWS = 200_000

# PostgreSQL type OIDs → Arrow types for reading query results.
_ARROW_BY_OID: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int64(),
    23: pa.int64(),
    700: pa.float64(),
    701: pa.float64(),
    1700: pa.float64(),
    25: pa.string(),
    1043: pa.string(),
    1042: pa.string(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
}


def connect(url: str | None = None, autocommit: bool = False) -> psycopg.Connection:
    """Open a connection to the warehouse (or ``url``), in UTC."""
    conn = psycopg.connect(url or get_settings().warehouse, autocommit=autocommit)
    conn.execute("set timezone = 'UTC'")
    if not autocommit:
        conn.commit()
    return conn


def qualified(name: str) -> sql.Composed:
    """Quote ``schema.table`` safely."""
    return sql.Identifier(*name.split("."))


@contextmanager
def advisory_lock(conn: psycopg.Connection, key: str) -> Iterator[None]:
    """Hold a transaction-scoped advisory lock on ``key`` (released at commit or rollback)."""
    conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))
    yield


def copy_in(conn: psycopg.Connection, table: str, data: pa.Table) -> int:
    """Append ``data`` to ``table`` (columns by name) with COPY, inside the caller's transaction."""
    if data.num_rows == 0:
        return 0
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in data.column_names)
    statement = sql.SQL("copy {} ({}) from stdin (format csv)").format(qualified(table), columns)
    options = pa_csv.WriteOptions(include_header=False, batch_size=COPY_CHUNK_ROWS)
    with conn.cursor().copy(statement) as copy:
        for batch in data.to_batches(max_chunksize=COPY_CHUNK_ROWS):
            buffer = io.BytesIO()
            pa_csv.write_csv(batch, buffer, options)
            copy.write(buffer.getbuffer())
    return data.num_rows


def partition_name(parent: str, value: dt.date) -> str:
    """``schema.table_pYYYYMMDD``: the partition of ``parent`` holding ``value``."""
    return f"{parent}_p{value:%Y%m%d}"


def replace_partition(
    parent: str,
    value: dt.date,
    data: pa.Table,
    before_attach: Callable[[], None] | None = None,
    url: str | None = None,
) -> int:
    """Replace the partition of ``value`` in the LIST-partitioned ``parent`` with ``data``, atomically.

    The rows go into a fresh table through ADBC's binary COPY with no index to maintain (an index kept up
    row by row made the load ~3x slower); the key is then built in one sorted pass, and a CHECK matching the
    partition bound lets ATTACH skip its validation scan. Then the old partition is dropped and the new one
    attached. All of it is one transaction under an advisory lock on (parent, value): concurrent replacements
    of one value serialise, a failure anywhere leaves the previous rows, and a reader sees the old partition or
    the new one (it waits the instant of the swap), never a mix and never neither. ``before_attach`` runs
    between the drop and the attach (tests inject a failure there). Returns the number of rows.
    """
    import adbc_driver_postgresql.dbapi as adbc

    schema, table = parent.split(".")
    final = partition_name(parent, value).split(".")[1]
    loading = f"{final}_{uuid.uuid4().hex[:8]}"
    literal = sql.Literal(value).as_string(None)
    target, loaded = qualified(parent).as_string(None), sql.Identifier(schema, loading).as_string(None)
    with adbc.connect(url or get_settings().warehouse) as conn, conn.cursor() as cursor:
        cursor.execute("select pg_advisory_xact_lock(hashtextextended($1, 0))", (f"partition:{parent}:{value}",))
        key = _primary_key(cursor, parent)
        partition_column = _partition_column(cursor, parent)
        cursor.execute(f"create table {loaded} (like {target} including defaults including constraints)")
        if data.num_rows:
            cursor.adbc_ingest(loading, data, mode="append", db_schema_name=schema)
        keys = ", ".join(sql.Identifier(name).as_string(None) for name in key)
        cursor.execute(
            f"alter table {loaded} add primary key ({keys}), "
            f"add check ({sql.Identifier(partition_column).as_string(None)} = {literal})"
        )
        cursor.execute(f"drop table if exists {sql.Identifier(schema, final).as_string(None)}")
        if before_attach is not None:
            before_attach()
        cursor.execute(f"alter table {loaded} rename to {sql.Identifier(final).as_string(None)}")
        cursor.execute(
            f"alter table {target} attach partition {sql.Identifier(schema, final).as_string(None)} "
            f"for values in ({literal})"
        )
        conn.commit()
    return data.num_rows


def _primary_key(cursor, table: str) -> list[str]:  # noqa: ANN001 - an ADBC cursor
    cursor.execute(
        "select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid "
        "and a.attnum = any(i.indkey) where i.indrelid = $1::regclass and i.indisprimary "
        "order by array_position(i.indkey::int2[], a.attnum)",
        (table,),
    )
    return [name for (name,) in cursor.fetchall()]


def _partition_column(cursor, table: str) -> str:  # noqa: ANN001 - an ADBC cursor
    cursor.execute(
        "select a.attname from pg_partitioned_table p join pg_attribute a "
        "on a.attrelid = p.partrelid and a.attnum = p.partattrs[0] where p.partrelid = $1::regclass",
        (table,),
    )
    row = cursor.fetchone()
    if row is None:
        raise ValueError(f"{table} is not a partitioned table")
    return row[0]


def bind(conn: psycopg.Connection, query: str, params: dict | tuple | None = None) -> str:
    """``query`` with ``params`` bound client-side (psycopg's quoting), ready for another driver."""
    return psycopg.ClientCursor(conn).mogrify(query, params) if params else query


def read_arrow(query: str, url: str | None = None) -> pa.Table:
    """Run a bound ``query`` and return the result as Arrow through ADBC's PostgreSQL driver.

    ADBC reads PostgreSQL's binary COPY output in C++ straight into Arrow (about 1.6M rows/s here, 3x the
    text COPY of :func:`copy_out`, whose libpq loop hands Python one row at a time): the bulk read path for
    feature and training tables.
    """
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(url or get_settings().warehouse) as conn, conn.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetch_arrow_table()


def copy_out(conn: psycopg.Connection, query: str, params: dict | tuple | None = None) -> pa.Table:
    """Run ``query`` and return its result as an Arrow table, through ``COPY ... TO STDOUT``."""
    cursor = conn.cursor()
    bound = sql.SQL(psycopg.ClientCursor(conn).mogrify(query, params) if params else query)
    cursor.execute(sql.SQL("select * from ({}) as q limit 0").format(bound))
    fields = [(column.name, _ARROW_BY_OID.get(column.type_code, pa.string())) for column in cursor.description]
    buffer = io.BytesIO()
    with cursor.copy(sql.SQL("copy ({}) to stdout (format csv, header false)").format(bound)) as copy:
        for block in copy:
            buffer.write(block)
    schema = pa.schema(fields)
    if buffer.tell() == 0:
        return schema.empty_table()
    buffer.seek(0)
    return pa_csv.read_csv(
        buffer,
        read_options=pa_csv.ReadOptions(column_names=[name for name, _ in fields]),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict(fields),
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t"],  # PostgreSQL's text form of booleans
            false_values=["f"],
        ),
    ).cast(schema)
