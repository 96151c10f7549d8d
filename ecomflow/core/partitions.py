"""Day partitions: replace one or several days of LIST-partitioned tables atomically, never stalling readers.

:func:`replace_partition` (one day) and :func:`replace_partitions` (several, in one transaction) load a day into
a fresh side table by binary COPY, then swap it in under an advisory lock per (table, day), with a lock timeout
and retries so a long reader never makes new queries queue behind the swap. ``raw.*`` and ``scores.*`` are
written this way; :func:`move_into_day_partitions` turns an older unpartitioned table into day partitions.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from ecomflow.core.warehouse import column_types, connect, conninfo, copy_in_binary, qualified

LOAD_SESSIONS = 2  # connections loading one large partition at once (the machines have 2 cores)

PARALLEL_MIN_ROWS = 250_000  # rows per session from which replace_partition loads over several sessions

SWAP_LOCK_TIMEOUT_MS = 500  # longest a swap makes new queries of a table queue behind it, per attempt

SWAP_ATTEMPTS = 12

SWAP_BACKOFF_SECONDS = 0.05  # pause after the first failed attempt, doubled after each, jittered

SWAP_BACKOFF_MAX_SECONDS = 4.0


def partition_name(parent: str, value: dt.date) -> str:
    """``schema.table_pYYYYMMDD``: the partition of ``parent`` holding ``value``."""
    return f"{parent}_p{value:%Y%m%d}"


def lock_partition(conn: psycopg.Connection, parent: str, value: dt.date) -> None:
    """Take the transaction-scoped advisory lock :func:`replace_partition` serialises loads of one day with."""
    conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"partition:{parent}:{value}",))


@dataclass(frozen=True)
class PartitionLoad:
    """One partition to replace: the rows of ``value`` in the LIST-partitioned ``parent``."""

    parent: str
    value: dt.date
    data: pa.Table
    constants: Mapping[str, Any] | None = None
    """Columns with one value for every row (see :func:`replace_partition`)."""


class SwapTimeout(RuntimeError):
    """Other sessions kept locks on the tables to swap through every attempt; nothing was changed."""


def replace_partition(
    parent: str,
    value: dt.date,
    data: pa.Table,
    before_attach: Callable[[], None] | None = None,
    url: str | None = None,
    *,
    conn: psycopg.Connection | None = None,
    constants: Mapping[str, Any] | None = None,
) -> int:
    """Replace the partition of ``value`` in the LIST-partitioned ``parent`` with ``data``, atomically.

    The rows go by binary COPY (:func:`copy_in_binary`) into a fresh table with no index to maintain and a
    ``CHECK`` matching the partition bound, declared up front so rows are checked as they go in and ATTACH
    skips its validation scan; the parent's key and indexes are then built in one pass each. Then the old
    partition is dropped and the new one attached (``before_attach`` runs between the two: tests inject a
    failure there). All under an advisory lock on (``parent``, ``value``): concurrent replacements of one day
    serialise, a failure anywhere leaves the previous rows, and a reader sees the old partition or the new one,
    never a mix; other days are not touched. The swap never stalls readers for long: see :func:`_swap`.

    ``constants`` are columns with one value for every row (lineage such as a batch id), as Python values or
    non-volatile SQL expressions (``sql.SQL("now()")``, evaluated once). They are added after the load as
    columns with that default: PostgreSQL keeps such a value once in the catalog instead of in every row, so
    they cost nothing per row. A column of ``data`` that holds one value (or only nulls) in every row is
    stored the same way (:func:`uniform_columns`): a day's model version, or reasons that were not computed,
    are neither encoded, sent nor parsed per row. The partition column itself may come with ``data`` or not
    at all.

    With ``conn``, everything runs in its current transaction (a savepoint if one is open) and the caller
    commits: the drop holds an exclusive lock on ``parent`` until then, so keep what follows short. Without,
    a connection to ``url`` (the warehouse by default) does it in a transaction of its own. A large table
    (``LOAD_SESSIONS`` x ``PARALLEL_MIN_ROWS`` rows) is loaded over several connections at once: the fresh
    table is then committed unattached (invisible to readers) before the swap. Returns the number of rows.
    """
    if conn is None:
        with connect(url) as own:  # commits on leaving
            return replace_partition(parent, value, data, before_attach, conn=own, constants=constants)
    return replace_partitions(conn, [PartitionLoad(parent, value, data, constants)], before_attach)[0]


def replace_partitions(
    conn: psycopg.Connection, loads: Sequence[PartitionLoad], before_attach: Callable[[], None] | None = None
) -> list[int]:
    """Replace several partitions (of one or several parents, one or several values) together, atomically.

    As :func:`replace_partition` for each, in ``conn``'s current transaction (a savepoint if one is open): every
    advisory lock is taken first, in one order (two callers never deadlock), every fresh table is built, then
    all are swapped in at once, so a reader sees every partition old or every one new. Fresh tables that a
    crashed earlier load left behind (committed by the several-session path, never attached) are dropped on
    either path. Many days of history may go in one call: each holds its locks until the caller commits.
    Returns the number of rows of each load, in the order given.
    """
    order = sorted(range(len(loads)), key=lambda i: (loads[i].parent, loads[i].value))
    dsn = conninfo(conn)
    aside: list[str] = []  # fresh tables committed by other sessions: dropped again if this fails
    counts = [0] * len(loads)
    try:
        with conn.transaction():
            for i in order:
                lock_partition(conn, loads[i].parent, loads[i].value)
            staged = []
            for i in order:
                load = loads[i]
                plan = _plan(conn, load.parent, load.value, load.data, dict(load.constants or {}))
                _drop_leftovers(conn, plan)
                staging = f"{plan.partition}_{uuid.uuid4().hex[:8]}"  # never a name in use
                try:
                    if min(LOAD_SESSIONS, load.data.num_rows // PARALLEL_MIN_ROWS) < 2:
                        _stage_here(conn, plan, staging)
                    else:
                        aside.append(staging)
                        _stage_aside(dsn, plan, staging)
                except psycopg.Error as error:
                    error.add_note(f"while loading {plan.partition}")
                    raise
                staged.append((plan, staging))
                counts[i] = plan.data.num_rows
            _swap(conn, staged, before_attach)
    except BaseException:
        # The failed transaction (or savepoint) has released its locks on the fresh tables: drop them.
        _drop_tables(dsn, aside)
        raise
    return counts


def _stage_here(conn: psycopg.Connection, plan: _Plan, staging: str) -> None:
    """Build the fresh table in ``conn``'s transaction: it vanishes with it if anything fails."""
    conn.execute(plan.create_staging(staging))
    copy_in_binary(conn, staging, plan.data, plan.types)
    for statement in plan.finish_staging(staging):
        conn.execute(statement)


def _stage_aside(dsn: str, plan: _Plan, staging: str) -> None:
    """Build the fresh table over ``LOAD_SESSIONS`` sessions: committed, unattached (invisible to readers)."""
    with psycopg.connect(dsn) as loader:
        loader.execute(plan.create_staging(staging))
        loader.commit()  # visible to the other loading sessions; to readers only once attached
        _bulk_load(dsn, loader, staging, plan.data, plan.types)
        for statement in plan.finish_staging(staging):
            loader.execute(statement)
        loader.commit()


def _drop_tables(dsn: str, names: list[str]) -> None:
    """Drop ``names`` if they exist; a failure here is left to the next load's clean-up (``_drop_leftovers``)."""
    if not names:
        return
    try:
        with psycopg.connect(dsn, autocommit=True) as cleaner:
            for name in names:
                cleaner.execute(sql.SQL("drop table if exists {}").format(qualified(name)))
    except psycopg.Error:
        pass


def move_into_day_partitions(conn: psycopg.Connection, table: str, create_parent: sql.Composable | str) -> int:
    """Move an unpartitioned ``table`` into the LIST-partitioned table ``create_parent`` creates under its name.

    One partition per value of the partition column the old rows hold (``<table>_pYYYYMMDD``), every row
    copied, the views reading the old table pointed at the new one, the old table dropped. In the caller's
    transaction: a failure leaves the old table as it was. Returns the number of rows moved.
    """
    schema, name = table.split(".")
    conn.execute("set local search_path = ''")  # view definitions below come out fully qualified
    views = conn.execute(
        "select distinct v.oid::regclass::text, pg_get_viewdef(v.oid) from pg_depend d "
        "join pg_rewrite r on r.oid = d.objid join pg_class v on v.oid = r.ev_class "
        "where d.classid = 'pg_rewrite'::regclass and d.refobjid = %s::regclass and v.oid <> d.refobjid "
        "and v.relkind = 'v'",
        (table,),
    ).fetchall()
    old = sql.Identifier(schema, f"{name}__unpartitioned")
    conn.execute(
        sql.SQL("alter table {} rename to {}").format(qualified(table), sql.Identifier(f"{name}__unpartitioned"))
    )
    conn.execute(create_parent if isinstance(create_parent, sql.Composable) else sql.SQL(create_parent))
    column = _partition_column(conn, table)
    for (value,) in conn.execute(sql.SQL("select distinct {} from {}").format(sql.Identifier(column), old)).fetchall():
        conn.execute(
            sql.SQL("create table {} partition of {} for values in ({})").format(
                qualified(partition_name(table, value)), qualified(table), sql.Literal(value)
            )
        )
    columns = sql.SQL(", ").join(sql.Identifier(n) for n, _ in column_types(conn, table))
    rows = conn.execute(
        sql.SQL("insert into {} ({}) select {} from {}").format(qualified(table), columns, columns, old)
    ).rowcount
    for view, definition in views:
        conn.execute(sql.SQL("create or replace view {} as {}").format(sql.SQL(view), sql.SQL(definition)))
    conn.execute(sql.SQL("drop table {}").format(old))
    conn.execute("set local search_path to default")
    return rows


@dataclass
class _Plan:
    """What replacing one day of ``parent`` takes: its columns, the rows to COPY and the constant columns."""

    parent: str
    column: str
    """The partition column."""
    value: dt.date
    columns: list[tuple[str, str, bool]]
    """The parent's columns: name, type, not null."""
    data: pa.Table
    """The rows to COPY, without the constant columns."""
    constants: dict[str, Any]
    """Column → value (Python value or SQL expression) for every row."""
    indexes: list[tuple[str, str | None]] = field(default_factory=list)
    """The parent's indexes: ``pg_get_indexdef`` and, for one behind a constraint, ``pg_get_constraintdef``."""

    @property
    def partition(self) -> str:
        """``schema.name`` of the day's partition."""
        return partition_name(self.parent, self.value)

    @property
    def types(self) -> list[str]:
        """PostgreSQL types of ``data``'s columns."""
        types = {name: type_ for name, type_, _ in self.columns}
        return [types[name] for name in self.data.column_names]

    def _definition(self, name: str, type_: str, not_null: bool) -> sql.Composable:
        spec = sql.SQL("{} {}{}").format(sql.Identifier(name), sql.SQL(type_), sql.SQL(" not null" if not_null else ""))
        if name not in self.constants:
            return spec
        value = self.constants[name]
        return sql.SQL("{} default {}").format(spec, value if isinstance(value, sql.Composable) else sql.Literal(value))

    def create_staging(self, staging: str) -> sql.Composed:
        """``create table``: the loaded columns, the partition column and the bound's CHECK."""
        bound = sql.SQL("check ({} = {})").format(sql.Identifier(self.column), sql.Literal(self.value))
        columns = [self._definition(*c) for c in self.columns if c[0] in self.data.column_names or c[0] == self.column]
        return sql.SQL("create table {} ({})").format(qualified(staging), sql.SQL(", ").join([*columns, bound]))

    def finish_staging(self, staging: str) -> list[sql.Composed]:
        """The other constant columns, added with their value as default, and the parent's key and indexes."""
        added = [
            sql.SQL("add column {}").format(self._definition(*c))
            for c in self.columns
            if c[0] in self.constants and c[0] != self.column
        ]
        statements = []
        if added:
            statements.append(sql.SQL("alter table {} {}").format(qualified(staging), sql.SQL(", ").join(added)))
        # Built here, in one pass over the loaded table (an index kept up row by row slows the load),
        # the parent's indexes are only attached by the swap. One behind a primary key or unique constraint only
        # matches one behind a constraint.
        for index, constraint in self.indexes:
            match = re.fullmatch(r"CREATE (UNIQUE )?INDEX \S+ ON ONLY \S+ (USING .*)", index)
            if constraint:
                statements.append(sql.SQL("alter table {} add {}").format(qualified(staging), sql.SQL(constraint)))
            elif match:
                statements.append(
                    sql.SQL("create {}index on {} {}").format(
                        sql.SQL(match.group(1) or ""), qualified(staging), sql.SQL(match.group(2))
                    )
                )
        return statements


def _partition_column(conn: psycopg.Connection, table: str) -> str | None:
    """The column ``table`` is partitioned by (None when it is not partitioned)."""
    found = conn.execute(
        "select a.attname from pg_partitioned_table p join pg_attribute a "
        "on a.attrelid = p.partrelid and a.attnum = p.partattrs[0] where p.partrelid = %s::regclass",
        (table,),
    ).fetchone()
    return None if found is None else found[0]


def _plan(conn: psycopg.Connection, parent: str, value: dt.date, data: pa.Table, constants: dict[str, Any]) -> _Plan:
    column = _partition_column(conn, parent)
    if column is None:
        raise ValueError(f"{parent} is not a partitioned table")
    columns = [(name, type_, not_null) for name, (type_, not_null) in column_types(conn, parent)]
    names = [name for name, _, _ in columns]
    nullable = {name for name, _, not_null in columns if not not_null}
    for name, single in uniform_columns(data.drop_columns([n for n in constants if n in data.column_names])).items():
        # Left to COPY, a null in a NOT NULL column or another day's rows fail there, naming the column or CHECK.
        if (single is not None or name in nullable) and (name != column or single == value):
            constants[name] = single
    if column not in constants and column not in data.column_names:
        constants[column] = value
    data = data.drop_columns([name for name in constants if name in data.column_names])
    unknown = sorted((set(data.column_names) | set(constants)) - set(names))
    missing = [name for name in names if name not in constants and name not in data.column_names]
    if unknown or missing:
        raise ValueError(f"{parent}: unknown column(s) {unknown}, no value for column(s) {missing}")
    indexes = conn.execute(
        "select pg_get_indexdef(i.indexrelid), pg_get_constraintdef(c.oid) from pg_index i "
        "left join pg_constraint c on c.conindid = i.indexrelid and c.conrelid = i.indrelid "
        "where i.indrelid = %s::regclass",
        (parent,),
    ).fetchall()
    return _Plan(parent, column, value, columns, data, constants, indexes)


def uniform_columns(data: pa.Table) -> dict[str, Any]:
    """Column → its one value, for the columns of ``data`` holding the same value (or only nulls) in every row.

    Nothing when ``data`` has fewer than two rows or every column is uniform: then there is nothing to save,
    and COPY needs a column to carry the rows. Columns that vary are mostly told apart by their first rows,
    so the check costs about one pass over the uniform columns.
    """
    if data.num_rows < 2:
        return {}
    found = {}
    for name in data.column_names:
        values = data.column(name)
        if values.null_count == len(values):
            found[name] = None
        elif values.null_count == 0 and _all_equal(values, values[0]):
            found[name] = values[0].as_py()
    return found if len(found) < data.num_columns else {}


def _all_equal(values: pa.ChunkedArray, first: pa.Scalar) -> bool:
    try:
        return pc.all(pc.equal(values.slice(0, 64), first)).as_py() and pc.all(pc.equal(values, first)).as_py()
    except pa.ArrowNotImplementedError:  # a type without equality kernel (lists, structs): loaded row by row
        return False


def _bulk_load(dsn: str, loader: psycopg.Connection, table: str, data: pa.Table, types: list[str]) -> None:
    """Binary COPY of ``data`` into ``table``, split between ``LOAD_SESSIONS`` connections at once.

    One backend parsing rows and writing heap pages is the bottleneck of a load; each session commits its
    part (``table`` is not attached yet).
    """

    def load(part: pa.Table) -> None:
        with psycopg.connect(dsn) as connection:  # commits on leaving
            copy_in_binary(connection, table, part, types)

    size = -(-data.num_rows // LOAD_SESSIONS)
    with ThreadPoolExecutor(LOAD_SESSIONS - 1) as pool:
        others = [pool.submit(load, data.slice(i * size, size)) for i in range(1, LOAD_SESSIONS)]
        copy_in_binary(loader, table, data.slice(0, size), types)
        loader.commit()
        for future in others:
            future.result()


def _drop_leftovers(conn: psycopg.Connection, plan: _Plan) -> None:
    """Drop fresh tables of this day that a crashed load left behind (committed by other sessions, never attached).

    Called under the day's advisory lock on both paths, so no live load of the day owns one.
    """
    schema, final = plan.partition.split(".")
    leftovers = conn.execute(
        "select c.oid::regclass::text from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relname ~ %s and c.relkind = 'r' and not c.relispartition",
        (schema, f"^{re.escape(final)}_[0-9a-f]{{8}}$"),
    ).fetchall()
    for (name,) in leftovers:
        conn.execute(sql.SQL("drop table {}").format(sql.SQL(name)))


def _swap(conn: psycopg.Connection, staged: list[tuple[_Plan, str]], before_attach: Callable[[], None] | None) -> None:
    """Drop each day's partition if any and attach its fresh table under its name, all at once.

    Dropping a partition needs an exclusive lock on its parent, and while a swap waits for one every new query
    of the parent queues behind it. So each attempt waits at most ``SWAP_LOCK_TIMEOUT_MS`` (in a savepoint,
    which a timeout rolls back alone), then steps aside for a growing, jittered pause and tries again; after
    ``SWAP_ATTEMPTS`` it raises :class:`SwapTimeout` naming the sessions in the way, nothing changed.
    """
    for attempt in range(1, SWAP_ATTEMPTS + 1):
        try:
            with conn.transaction():
                previous = conn.execute("select current_setting('lock_timeout')").fetchone()[0]
                conn.execute("select set_config('lock_timeout', %s, true)", (f"{SWAP_LOCK_TIMEOUT_MS}ms",))
                for plan, _ in staged:
                    conn.execute(sql.SQL("drop table if exists {}").format(qualified(plan.partition)))
                if before_attach is not None:
                    before_attach()
                for plan, staging in staged:
                    conn.execute(
                        sql.SQL("alter table {} rename to {}").format(
                            qualified(staging), sql.Identifier(plan.partition.split(".")[1])
                        )
                    )
                    conn.execute(
                        sql.SQL("alter table {} attach partition {} for values in ({})").format(
                            qualified(plan.parent), qualified(plan.partition), sql.Literal(plan.value)
                        )
                    )
                conn.execute("select set_config('lock_timeout', %s, true)", (previous,))
            return
        except psycopg.errors.LockNotAvailable as error:
            if attempt == SWAP_ATTEMPTS:
                raise SwapTimeout(_blocked_message(conn, staged)) from error
            time.sleep(
                min(SWAP_BACKOFF_MAX_SECONDS, SWAP_BACKOFF_SECONDS * 2 ** (attempt - 1)) * random.uniform(0.5, 1)
            )


def _blocked_message(conn: psycopg.Connection, staged: list[tuple[_Plan, str]]) -> str:
    """Which sessions hold locks on the tables a swap could not lock."""
    names = sorted({p.parent for p, _ in staged} | {p.partition for p, _ in staged})
    holders = conn.execute(
        "select distinct a.pid, a.state, coalesce(now() - a.xact_start, '0'::interval)::text, left(a.query, 80) "
        "from pg_locks l join pg_stat_activity a on a.pid = l.pid "
        "where l.granted and a.pid <> pg_backend_pid() "
        "and l.relation in (select to_regclass(n) from unnest(%s::text[]) n) order by 1",
        (names,),
    ).fetchall()
    who = "; ".join(f"pid {pid} ({state} for {age}: {query!r})" for pid, state, age, query in holders) or "none now"
    return (
        f"could not swap {', '.join(p.partition for p, _ in staged)} in: {SWAP_ATTEMPTS} attempts of "
        f"{SWAP_LOCK_TIMEOUT_MS} ms each found other sessions holding locks on them (sessions holding them: {who}); "
        "nothing was changed, end those transactions or retry"
    )
