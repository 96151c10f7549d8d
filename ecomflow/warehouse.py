"""Warehouse access: connections, Arrow in and out through COPY, transactions and advisory locks.

COPY is the fast path both ways (see ``shared/PERFORMANCE.md``): Arrow's C++ CSV writer and reader do the
formatting, PostgreSQL's COPY does the rest, and no Python loop touches a row.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
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
