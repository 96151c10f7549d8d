"""The landing area's layout, ``<landing>/<table>/dt=YYYY-MM-DD/*.parquet|csv|csv.gz``, and what does not fit it.

Nothing in a landing area is skipped silently: a folder that is no contract table (with the closest name when
it looks like a misspelling), a day folder that is no real ``dt=YYYY-MM-DD`` date, or a file whose name the
loader does not read is reported with its path. Names starting with ``_`` or ``.`` (``_SUCCESS``, ``.DS_Store``)
are the usual markers of other tools and are passed over.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from ecomflow.sources.contract import TABLES, TABLES_BY_NAME

FILE_SUFFIXES = (".parquet", ".csv", ".csv.gz")
_DAY_FOLDER = re.compile(r"dt=(\d{4})-(\d{2})-(\d{2})")
_LOOSE_DAY_FOLDER = re.compile(r"dt=(\d{4})-(\d{1,2})-(\d{1,2})")


def partition_dir(landing: Path, table: str, day: dt.date) -> Path:
    """``<landing>/<table>/dt=YYYY-MM-DD``."""
    return landing / table / f"dt={day.isoformat()}"


def _ignored(path: Path) -> bool:
    return path.name.startswith(("_", "."))


def day_files(landing: Path, table: str, day: dt.date) -> tuple[list[Path], list[str]]:
    """The files of one (table, day) the loader reads, in a stable order, and one problem per entry it cannot."""
    directory = partition_dir(landing, table, day)
    if not directory.is_dir():
        return [], []
    files, problems = [], []
    for path in sorted(directory.iterdir()):
        if _ignored(path):
            continue
        if path.is_file() and path.name.endswith(FILE_SUFFIXES):
            files.append(path)
        elif path.is_file():
            problems.append(
                f"{path}: not loaded: a landing file's name ends in {', '.join(FILE_SUFFIXES)} (lower case)"
            )
        else:
            problems.append(f"{path}: not loaded: a day folder holds files only")
    return files, problems


def landing_files(landing: Path, table: str, day: dt.date) -> list[Path]:
    """Files of one partition the loader reads, in a stable order."""
    return day_files(landing, table, day)[0]


def available_tables(landing: Path) -> list[str]:
    """Contract tables that have a folder in ``landing`` (a user may have only some sources)."""
    return [t.name for t in TABLES if (landing / t.name).is_dir()]


def parse_day_folder(name: str) -> dt.date | None:
    """The day of a ``dt=YYYY-MM-DD`` folder name, or None when it is not one (or not a real date)."""
    match = _DAY_FOLDER.fullmatch(name)
    if match is None:
        return None
    try:
        return dt.date(*map(int, match.groups()))
    except ValueError:
        return None


def _day_folder_problem(path: Path) -> str:
    loose = _LOOSE_DAY_FOLDER.fullmatch(path.name)
    hint = ""
    if loose:
        try:
            hint = f"; did you mean dt={dt.date(*map(int, loose.groups())).isoformat()}?"
        except ValueError:
            hint = f"; {path.name[3:]} is not a date in the calendar"
    return f"{path}: not read: a day folder is named dt=YYYY-MM-DD (a real date){hint}"


@dataclass
class LandingScan:
    """What a landing area holds for a range of days."""

    days: dict[dt.date, list[str]] = field(default_factory=dict)
    """Each day of the range with files, and the tables that have files (or unreadable entries) for it."""
    warnings: list[str] = field(default_factory=list)
    """Folders and files outside the layout, each with its path."""


def scan(landing: Path, start: dt.date, end: dt.date, tables: list[str] | None = None) -> LandingScan:
    """Find the (table, day) folders of ``[start, end]`` in ``landing`` and everything that does not fit the layout.

    Args:
        landing: the landing directory; it must exist.
        start: first day.
        end: last day.
        tables: the tables to look for (default: every contract table).
    """
    found = LandingScan()
    wanted = tables if tables is not None else [t.name for t in TABLES]
    for entry in sorted(landing.iterdir()):
        if _ignored(entry) or entry.name in TABLES_BY_NAME:
            continue
        close = difflib.get_close_matches(entry.name, list(TABLES_BY_NAME), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}/?" if close else f"; the contract's tables are {', '.join(TABLES_BY_NAME)}"
        found.warnings.append(f"{entry}: not read: no table of the contract is called {entry.name!r}{hint}")
    for name in wanted:
        folder = landing / name
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if _ignored(entry):
                continue
            day = parse_day_folder(entry.name) if entry.is_dir() else None
            if day is None:
                found.warnings.append(_day_folder_problem(entry))
            elif start <= day <= end and any(not _ignored(p) for p in entry.iterdir()):
                found.days.setdefault(day, []).append(name)
    return found
