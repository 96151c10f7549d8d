"""DDL of the ``raw`` schema, derived from the contract."""

from __future__ import annotations

import psycopg
from psycopg import sql

from ecomflow.sources.contract import TABLES, Table

# Lineage is filled by column defaults from settings local to the loading transaction (see ``load.ingest_day``):
# COPY then carries only the file's own columns, which halves the bytes PostgreSQL has to parse per row.
LINEAGE_COLUMNS: dict[str, str] = {
    "_partition_date": "date not null default current_setting('ecomflow.partition_date')::date",
    "_source_file": "text not null default current_setting('ecomflow.source_file')",
    "_batch_id": "text not null default current_setting('ecomflow.batch_id')",
    "_loaded_at": "timestamptz not null default now()",
}

QUARANTINE_DDL = """
create table if not exists raw.quarantine (
    table_name      text not null,
    partition_date  date not null,
    source_file     text not null,
    row_number      bigint not null,
    field           text,
    reason          text not null,
    raw_value       text,
    batch_id        text not null,
    quarantined_at  timestamptz not null default now()
);
create index if not exists quarantine_table_day on raw.quarantine (table_name, partition_date);
"""


def raw_table_ddl(table: Table) -> sql.Composed:
    """``create table if not exists raw.<table>`` with the contract's columns and the lineage columns."""
    columns = [
        sql.SQL("{} {}{}").format(
            sql.Identifier(c.name), sql.SQL(c.postgres_type), sql.SQL("" if c.nullable else " not null")
        )
        for c in table.columns
    ]
    columns += [sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in LINEAGE_COLUMNS.items()]
    # BRIN, not B-tree: days arrive in order, so a tiny block-range index finds a day to replace at almost
    # no cost per loaded row (a B-tree index made COPY ~40% slower).
    return sql.SQL(
        "create table if not exists raw.{} ({}); create index if not exists {} on raw.{} using brin (_partition_date)"
    ).format(
        sql.Identifier(table.name),
        sql.SQL(", ").join(columns),
        sql.Identifier(f"{table.name}_partition_date"),
        sql.Identifier(table.name),
    )


def ensure_raw_schema(conn: psycopg.Connection) -> None:
    """Create schema ``raw``, every contract table and ``raw.quarantine`` if missing (idempotent).

    Every raw table exists even when a user has no file for it, so the warehouse builds on partial sources.
    """
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtextextended('ecomflow:raw-ddl', 0))")
        conn.execute("create schema if not exists raw")
        for table in TABLES:
            conn.execute(raw_table_ddl(table))
        conn.execute(QUARANTINE_DDL)
