"""A real loading process for the kill tests: it loads one day and stops dead at one step of the swap.

``python killable_loader.py LANDING DAY TABLES STEP MARKER PATH``: loads ``DAY`` of the comma-separated
``TABLES`` from ``LANDING`` with :func:`ecomflow.ingest.load_day`, and at ``STEP`` writes ``MARKER`` and waits to
be killed. Steps: ``stage`` (the first COPY into a fresh table), ``drop`` (before dropping the old partition),
``rename`` and ``attach`` (before the first of each), ``commit`` (after the last attach, before the commit).
``PATH`` is ``one`` or ``several`` (sessions loading each table). The steps are recognised by the statements the
loader sends, so the loader itself carries no test hook.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

from ecomflow.core import partitions, warehouse
from ecomflow.ingest import ensure_raw_schema, load_day

BEFORE = {"drop": "drop table if exists", "rename": " rename to ", "attach": " attach partition "}


def main() -> None:
    """Install the pause for the step, then load the day."""
    landing, day, tables, step, marker, path = sys.argv[1:7]
    tables_list = tables.split(",")
    if path == "several":
        partitions.PARALLEL_MIN_ROWS = 1

    def pause() -> None:
        Path(marker).write_text(step)
        time.sleep(3600)

    def text(conn: psycopg.Connection, query: object) -> str:
        return query.as_string(conn) if isinstance(query, sql.Composable) else str(query)

    execute, copy = psycopg.Connection.execute, psycopg.Cursor.copy
    attached = []

    def paused_execute(self, query, params=None, **kwargs):  # noqa: ANN001, ANN202
        statement = text(self, query).lower()
        if step in BEFORE and BEFORE[step] in statement:
            pause()
        result = execute(self, query, params, **kwargs)
        if step == "commit" and BEFORE["attach"] in statement:
            attached.append(statement)
            if len(attached) == len(tables_list):
                pause()
        return result

    def paused_copy(self, statement, params=None, **kwargs):  # noqa: ANN001, ANN202
        if step == "stage" and "format binary" in text(self.connection, statement).lower():
            pause()
        return copy(self, statement, params, **kwargs)

    psycopg.Connection.execute = paused_execute
    psycopg.Cursor.copy = paused_copy
    with warehouse.connect() as conn:
        ensure_raw_schema(conn)
        load_day(conn, Path(landing), dt.date.fromisoformat(day), tables_list)


if __name__ == "__main__":
    main()
