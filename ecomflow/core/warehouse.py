"""Warehouse access: connections, Arrow in and out through COPY and ADBC, advisory locks.

COPY is the fast path both ways (``docs/benchmarks.md``): Arrow's C++ CSV writer and reader, or Arrow and NumPy
kernels building the binary format (:mod:`ecomflow.core.binary_copy`), do the formatting, PostgreSQL's COPY does
the rest, and no Python loop touches a row. Day partitions and their atomic swaps are in
:mod:`ecomflow.core.partitions`.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg import sql

from ecomflow.core import binary_copy
from ecomflow.core.settings import get_settings

COPY_CHUNK_ROWS = 200_000
LOAD_BATCH_ROWS = 32_768  # rows per binary COPY block: small, so encoding and parsing overlap

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


def table_exists(conn: psycopg.Connection, name: str) -> bool:
    """Whether the relation ``name`` (``schema.table``, as a query would name it) exists."""
    return conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0]


def column_types(conn: psycopg.Connection, table: str) -> list[tuple[str, tuple[str, bool]]]:
    """``(name, (SQL type, NOT NULL))`` of each column of ``table``, in order."""
    rows = conn.execute(
        "select attname, format_type(atttypid, atttypmod), attnotnull from pg_attribute "
        "where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum",
        (table,),
    ).fetchall()
    return [(name, (type_, not_null)) for name, type_, not_null in rows]


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


def conninfo(conn: psycopg.Connection) -> str:
    """Libpq connection string of the database ``conn`` is connected to, password included."""
    return psycopg.conninfo.make_conninfo(conn.info.dsn, password=conn.info.password or None)


def copy_in_binary(conn: psycopg.Connection, table: str, data: pa.Table, types: list[str] | None = None) -> int:
    """Append ``data`` to ``table`` (columns by name) with a binary COPY, inside the caller's transaction.

    ``types`` are the PostgreSQL types of ``data``'s columns (looked up when not given). Arrow encodes the
    next block in a thread while the current one is sent, so encoding overlaps PostgreSQL's parsing. Columns
    of a type :mod:`ecomflow.core.binary_copy` does not cover go through :func:`copy_in` (CSV) instead.
    """
    if data.num_rows == 0:
        return 0
    if types is None:
        found = dict(column_types(conn, table))
        types = [found[name][0] for name in data.column_names]
    if not all(binary_copy.supports(t) for t in types):
        return copy_in(conn, table, data)
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in data.column_names)
    statement = sql.SQL("copy {} ({}) from stdin (format binary)").format(qualified(table), columns)
    blocks = data.to_batches(max_chunksize=LOAD_BATCH_ROWS)
    with conn.cursor().copy(statement) as copy:
        copy.write(binary_copy.SIGNATURE)
        if len(blocks) == 1:  # nothing to overlap: no thread
            copy.write(binary_copy.encode(blocks[0], types))
        else:
            with ThreadPoolExecutor(1) as encoder:
                ahead = encoder.submit(binary_copy.encode, blocks[0], types)
                for following in [*blocks[1:], None]:
                    encoded = ahead.result()
                    if following is not None:
                        ahead = encoder.submit(binary_copy.encode, following, types)
                    copy.write(encoded)
        copy.write(binary_copy.TRAILER)
    return data.num_rows


def bind(conn: psycopg.Connection, query: str, params: dict | tuple | None = None) -> str:
    """``query`` with ``params`` bound client-side (psycopg's quoting), ready for another driver."""
    return psycopg.ClientCursor(conn).mogrify(query, params) if params else query


def read_arrow(query: str, url: str | None = None) -> pa.Table:
    """Run a bound ``query`` and return the result as Arrow through ADBC's PostgreSQL driver.

    ADBC reads PostgreSQL's binary COPY output in C++ straight into Arrow, several times faster than the text
    COPY of :func:`copy_out`, whose libpq loop hands Python one row at a time (``docs/benchmarks.md``): the bulk
    read path for feature and training tables.
    """
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(url or get_settings().warehouse) as conn, conn.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetch_arrow_table()


READ_AHEAD_BATCHES = 2  # record batches read_arrow_batches keeps ready for its caller

_END = object()


def read_arrow_batches(query: str, url: str | None = None) -> Iterator[pa.RecordBatch]:
    """The result of a bound ``query`` batch by batch through ADBC (as :func:`read_arrow`), read ahead in a thread.

    While the caller works on one batch (scores it), the thread receives and decodes the next ones, so ADBC's
    decoding overlaps the caller's work instead of preceding it. At
    most ``READ_AHEAD_BATCHES`` wait in memory; leaving the loop early stops the reading.
    """
    import adbc_driver_postgresql.dbapi as adbc

    ready: queue.Queue = queue.Queue(READ_AHEAD_BATCHES)
    stop = threading.Event()

    def hand_over(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            with adbc.connect(url or get_settings().warehouse) as conn, conn.cursor() as cursor:
                cursor.execute(query)
                for batch in cursor.fetch_record_batch():
                    if not hand_over(batch):
                        return
            hand_over(_END)
        except BaseException as error:  # noqa: BLE001 - raised again in the caller's thread
            hand_over(error)

    reader = threading.Thread(target=read, name="read_arrow_batches", daemon=True)
    reader.start()
    try:
        while (item := ready.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


def copy_out(conn: psycopg.Connection, query: str, params: dict | tuple | None = None) -> pa.Table:
    """Run ``query`` and return its result as an Arrow table, through ``COPY ... TO STDOUT``."""
    cursor = conn.cursor()
    bound = sql.SQL(bind(conn, query, params))
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
