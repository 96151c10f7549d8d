"""DDL of the ``raw`` schema, derived from the contract.

Each ``raw.<table>`` is partitioned by ``_partition_date`` (``partition by list``, one partition per day, named
``<table>_pYYYYMMDD``): loading a day builds its partition aside and swaps it in
(:func:`ecomflow.core.partitions.replace_partition`). Readers query the parent; a filter on ``_partition_date``
reads only that day's partition.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from ecomflow.core.partitions import move_into_day_partitions
from ecomflow.sources.contract import TABLES, Table

log = logging.getLogger(__name__)

# Lineage: one value per loaded file, stored by the loader as the partition's column defaults (no bytes per row).
LINEAGE_COLUMNS: dict[str, str] = {
    "_partition_date": "date not null",
    "_source_file": "text not null",
    "_batch_id": "text not null",
    "_loaded_at": "timestamptz not null",
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


def raw_table_ddl(table: Table, name: str | None = None) -> sql.Composed:
    """``create table if not exists raw.<name or table>``: the contract's columns, then lineage, by day."""
    columns = [
        sql.SQL("{} {}{}").format(
            sql.Identifier(c.name), sql.SQL(c.postgres_type), sql.SQL("" if c.nullable else " not null")
        )
        for c in table.columns
    ]
    columns += [sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in LINEAGE_COLUMNS.items()]
    return sql.SQL("create table if not exists raw.{} ({}) partition by list (_partition_date)").format(
        sql.Identifier(name or table.name), sql.SQL(", ").join(columns)
    )


def _migrate_unpartitioned(conn: psycopg.Connection, table: Table) -> None:
    """Move an older, unpartitioned ``raw.<table>`` (one heap, BRIN index) into the partitioned layout.

    Its views (dbt's staging views) are pointed at the new table; one transaction, so a failure leaves the old
    table as it was (:func:`ecomflow.core.partitions.move_into_day_partitions`).
    """
    rows = move_into_day_partitions(conn, f"raw.{table.name}", raw_table_ddl(table))
    log.warning("raw.%s: migrated %d rows to the partitioned layout", table.name, rows)


def ensure_raw_schema(conn: psycopg.Connection) -> None:
    """Create schema ``raw``, every contract table and ``raw.quarantine`` if missing (idempotent).

    Every raw table exists even when a user has no file for it, so the warehouse builds on partial sources.
    A table left by an older version (not partitioned) is migrated to the partitioned layout.
    """
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtextextended('ecomflow:raw-ddl', 0))")
        conn.execute("create schema if not exists raw")
        kinds = dict(
            conn.execute(
                "select c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                "where n.nspname = 'raw'"
            ).fetchall()
        )
        for table in TABLES:
            if kinds.get(table.name) == "r":
                _migrate_unpartitioned(conn, table)
            else:
                conn.execute(raw_table_ddl(table))
        conn.execute(QUARANTINE_DDL)
