"""The bad-input corpus: one loaded day, then one kind of bad landing input at a time, against a real PostgreSQL.

Every case asserts its outcome — the day loads, one row is quarantined with its reason and its value exactly as
written, or the day fails naming the file (and the line or column) — and what the day's stored rows are after it.
Every case also brings a new version of ``orders`` for the day: when the day fails, ``orders`` must still hold the
old version (a day is all or nothing across its tables).
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecomflow.ingest import IngestError, ensure_raw_schema, load_day
from ecomflow.sources.contract import get_table

DAY = dt.date(2025, 6, 1)
TABLES = ["customers", "orders", "order_items", "loans", "loan_schedule"]
HEADERS = {name: ",".join(get_table(name).column_names) for name in TABLES}
GOOD = {
    "customers": [
        "c1,2025-05-01 10:00:00,web,north,Utrecht,52.09,5.12,25-34,f,true,2025-06-01 08:00:00",
        "c2,2025-05-02 10:00:00,app,south,Eindhoven,51.44,5.47,35-44,,false,2025-06-01 09:00:00",
    ],
    "orders": ["o1,c1,web,2025-06-01 10:00:00,,4.5", "o2,c2,app,2025-06-01 11:00:00,SPRING,0"],
    "order_items": ["o1,1,p1,s1,2,10.0,0", "o1,2,p2,s1,1,5.5,0.5", "o2,1,p1,s1,1,10.0,0"],
    "loans": ["l1,s1,1000,0.12,12,2025-06-01 09:00:00", "l2,s2,500,0.1,6,2025-06-01 10:00:00"],
    "loan_schedule": ["l1,1,2025-07-01,90", "l1,2,2025-08-01,90"],
}
NEW_ORDER = "o3,c1,store,2025-06-01 12:00:00,,0"


def _csv(table: str, rows: list[str]) -> bytes:
    return ("\n".join([HEADERS[table], *rows]) + "\n").encode()


def _with_row(table: str, row: str) -> bytes:
    """The good file of ``table`` with ``row`` appended (it becomes row 3 or 4)."""
    return _csv(table, [*GOOD[table], row])


def _customer(city: str = "X", latitude: str = "52.1", longitude: str = "5.1") -> str:
    """A customers row, good but for what is given."""
    return f"c9,2025-05-01 10:00:00,web,north,{city},{latitude},{longitude},25-34,f,true,2025-06-01 08:00:00"


def _typed(table: str, rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=get_table(table).arrow_schema)


WHEN = dt.datetime(2025, 6, 1, 9, tzinfo=dt.UTC)


def _loan(principal: float) -> dict:
    return {
        "loan_id": "l9",
        "seller_id": "s9",
        "principal": principal,
        "annual_rate": 0.1,
        "term_months": 6,
        "originated_at": WHEN,
    }


def _loans_parquet(principal: float) -> Callable[[Path], Path]:
    rows = [_loan(1000.0) | {"loan_id": "l1"}, _loan(500.0) | {"loan_id": "l2"}, _loan(principal)]
    return _parquet("loans", _typed("loans", rows))


def _parquet(table: str, data: pa.Table, name: str = "part-0.parquet", **options) -> Callable[[Path], Path]:
    def write(directory: Path) -> Path:
        _remove_csv(directory)
        pq.write_table(data, directory / name, write_page_checksum=True, **options)
        return directory / name

    return write


def _bytes(content: bytes, name: str = "part-0.csv", replace: bool = True) -> Callable[[Path], Path]:
    def write(directory: Path) -> Path:
        if replace:
            _remove_csv(directory)
        (directory / name).write_bytes(content)
        return directory / name

    return write


def _remove_csv(directory: Path) -> None:
    for path in directory.iterdir():
        path.unlink()


def _corrupted_parquet(directory: Path) -> Path:
    """A Parquet file (page checksums on) with bytes flipped in the middle of a data page."""
    rows = [_loan(1000.0 + i) | {"loan_id": f"l{i}", "seller_id": f"s{i % 7}"} for i in range(2000)]
    path = _parquet("loans", _typed("loans", rows), compression="none")(directory)
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 3
    raw[middle : middle + 16] = bytes(b ^ 0x5A for b in raw[middle : middle + 16])
    path.write_bytes(bytes(raw))
    return path


@dataclass(frozen=True)
class Loads:
    """The day loads; ``check`` is a query on the table and its expected rows."""

    rows: int
    check: tuple[str, list[tuple]] | None = None


@dataclass(frozen=True)
class Quarantined:
    """One row of the file is quarantined (row, field, reason, value as written); the others load."""

    row: int
    field: str | None
    reason: str
    raw_value: str | None
    rows: int


@dataclass(frozen=True)
class Fails:
    """The day fails; the message names the file and matches ``pattern``; nothing stored changes."""

    pattern: str


@dataclass(frozen=True)
class Case:
    id: str
    table: str
    write: Callable[[Path], Path]
    outcome: Loads | Quarantined | Fails


def _city_loads(name: str, written: str, stored: str) -> Case:
    """A customers file whose extra row's city, ``written`` in CSV, loads as ``stored``."""
    check = ("select city from raw.customers where customer_id = 'c9'", [(stored,)])
    return Case(name, "customers", _bytes(_with_row("customers", _customer(city=written))), Loads(3, check))


MARKUP = HEADERS["orders"].replace("channel", "[bold red]channel[/]")
FEW_MB = "x" * 3_000_000

CASES = [
    # The contract's reasons: a bad row is quarantined, the rest of the file loads.
    Case(
        "wrong_type",
        "orders",
        _bytes(_with_row("orders", "o9,c9,web,2025-06-01 10:00:00,,abc")),
        Quarantined(3, "shipping_fee", "wrong_type", "abc", 2),
    ),
    Case(
        "malformed_timestamp",
        "orders",
        _bytes(_with_row("orders", "o9,c9,web,2025-02-30 10:00:00,,1")),
        Quarantined(3, "ordered_at", "malformed_timestamp", "2025-02-30 10:00:00", 2),
    ),
    Case(
        "malformed_date",
        "loan_schedule",
        _bytes(_with_row("loan_schedule", "l1,3,2025-13-01,90")),
        Quarantined(3, "due_date", "malformed_date", "2025-13-01", 2),
    ),
    Case(
        "null_key",
        "orders",
        _bytes(_with_row("orders", ",c9,web,2025-06-01 10:00:00,,1")),
        Quarantined(3, "order_id", "null_key", None, 2),
    ),
    Case(
        "null_required",
        "orders",
        _bytes(_with_row("orders", "o9,,web,2025-06-01 10:00:00,,1")),
        Quarantined(3, "customer_id", "null_required", None, 2),
    ),
    Case(
        "unknown_value",
        "orders",
        _bytes(_with_row("orders", "o9,c9,telepathy,2025-06-01 10:00:00,,1")),
        Quarantined(3, "channel", "unknown_value", "telepathy", 2),
    ),
    Case(
        "unknown_value_as_written",
        "orders",
        _bytes(_with_row("orders", "o9,c9,  Web ,2025-06-01 10:00:00,,1")),
        Quarantined(3, "channel", "unknown_value", "  Web ", 2),
    ),
    Case(
        "negative_value",
        "orders",
        _bytes(_with_row("orders", "o9,c9,web,2025-06-01 10:00:00,,-1.5")),
        Quarantined(3, "shipping_fee", "negative_value", "-1.5", 2),
    ),
    Case(
        "below_minimum",
        "order_items",
        _bytes(_with_row("order_items", "o2,2,p1,s1,0,10.0,0")),
        Quarantined(4, "quantity", "below_minimum", "0", 3),
    ),
    Case(
        "duplicate_key",
        "orders",
        _bytes(_with_row("orders", "o1,c9,web,2025-06-01 10:00:00,,1")),
        Quarantined(3, "order_id", "duplicate_key", "o1", 2),
    ),
    Case(
        "integer_overflow",
        "order_items",
        _bytes(_with_row("order_items", "o2,2,p1,s1,99999999999999999999,1,0")),
        Quarantined(4, "quantity", "wrong_type", "99999999999999999999", 3),
    ),
    # Numbers: NaN and infinity are no amounts; ranges the contract knows.
    Case("nan_in_parquet", "loans", _loans_parquet(float("nan")), Quarantined(3, "principal", "not_finite", "nan", 2)),
    Case(
        "infinity_in_parquet",
        "loans",
        _loans_parquet(float("inf")),
        Quarantined(3, "principal", "not_finite", "inf", 2),
    ),
    Case(
        "minus_infinity_in_parquet",
        "loans",
        _loans_parquet(float("-inf")),
        Quarantined(3, "principal", "not_finite", "-inf", 2),
    ),
    Case(
        "overflowing_float_text",
        "loans",
        _bytes(_with_row("loans", "l9,s9,1e999,0.1,6,2025-06-01 10:00:00")),
        Quarantined(3, "principal", "not_finite", "1e999", 2),
    ),
    Case(
        "nan_text",
        "loans",
        _bytes(_with_row("loans", "l9,s9,NaN,0.1,6,2025-06-01 10:00:00")),
        Quarantined(3, "principal", "wrong_type", "NaN", 2),
    ),
    Case(
        "latitude_out_of_range",
        "customers",
        _bytes(_with_row("customers", _customer(latitude="1819.54"))),
        Quarantined(3, "latitude", "above_maximum", "1819.54", 2),
    ),
    Case(
        "longitude_out_of_range",
        "customers",
        _bytes(_with_row("customers", _customer(longitude="-200"))),
        Quarantined(3, "longitude", "below_minimum", "-200", 2),
    ),
    # Text: any UTF-8 loads or is quarantined; a field far too long is one row, not the file.
    Case(
        "nul_in_text",
        "customers",
        _bytes(_with_row("customers", _customer(city="Ut\x00recht"))),
        Quarantined(3, "city", "invalid_text", "Ut\\0recht", 2),
    ),
    Case(
        "nul_in_a_number",
        "orders",
        _bytes(_with_row("orders", "o9,c9,web,2025-06-01 10:00:00,,1\x00")),
        Quarantined(3, "shipping_fee", "wrong_type", "1\\0", 2),
    ),
    Case(
        "field_of_a_few_mb",
        "customers",
        _bytes(_with_row("customers", _customer(city=FEW_MB))),
        Quarantined(3, "city", "too_long", FEW_MB, 2),
    ),
    Case(
        "bytes_not_utf8_in_parquet",
        "orders",
        _parquet(
            "orders",
            pa.table(
                {
                    "order_id": ["o1", "o2", "o9"],
                    "customer_id": pa.array([b"c1", b"c2", b"c\xff"], pa.binary()),
                    "channel": ["web"] * 3,
                    "ordered_at": pa.array([WHEN] * 3, pa.timestamp("us", tz="UTC")),
                    "shipping_fee": [1.0] * 3,
                }
            ),
        ),
        Quarantined(3, "customer_id", "invalid_text", "\\x63ff", 2),
    ),
    _city_loads("utf8_of_every_kind", '"Zürich 東京 🚲 ""x"""', 'Zürich 東京 🚲 "x"'),
    _city_loads("newline_inside_quotes", '"Utrecht\nNoord"', "Utrecht\nNoord"),
    Case(
        "null_like_words_are_text",
        "orders",
        _bytes(_with_row("orders", "o9,c9,web,2025-06-01 10:00:00,NULL,1")),
        Loads(3, ("select promo_code from raw.orders where order_id = 'o9'", [("NULL",)])),
    ),
    Case(
        "byte_order_mark_and_crlf",
        "orders",
        _bytes(b"\xef\xbb\xbf" + _csv("orders", GOOD["orders"]).replace(b"\n", b"\r\n")),
        Loads(2),
    ),
    Case("gzip_csv", "orders", _bytes(gzip.compress(_csv("orders", GOOD["orders"])), "part-0.csv.gz"), Loads(2)),
    Case("markers_of_other_tools_ignored", "orders", _bytes(b"", "_SUCCESS", replace=False), Loads(2)),
    # Timestamps finer than PostgreSQL's microsecond.
    Case(
        "nanosecond_timestamps_in_parquet",
        "orders",
        _parquet(
            "orders",
            pa.table(
                {
                    "order_id": ["o1"],
                    "customer_id": ["c1"],
                    "channel": ["web"],
                    "ordered_at": pa.array([1_748_772_000_123_456_789], pa.timestamp("ns")),
                    "shipping_fee": [1.0],
                }
            ),
        ),
        Loads(
            1, ("select ordered_at::text from raw.orders where order_id = 'o1'", [("2025-06-01 10:00:00.123456+00",)])
        ),
    ),
    Case(
        "nanosecond_timestamps_in_csv",
        "orders",
        _bytes(_csv("orders", ["o1,c1,web,2025-06-01T10:00:00.123456789Z,,1"])),
        Loads(
            1, ("select ordered_at::text from raw.orders where order_id = 'o1'", [("2025-06-01 10:00:00.123456+00",)])
        ),
    ),
    # Files that cannot be read: the day fails naming the file (and line or column), nothing stored changes.
    Case(
        "header_only_csv",
        "customers",
        _bytes(_csv("customers", [])),
        Fails(r"no row to load.*holds 2 row\(s\).*--allow-empty"),
    ),
    Case(
        "zero_row_parquet",
        "customers",
        _parquet("customers", get_table("customers").arrow_schema.empty_table()),
        Fails(r"no row to load.*--allow-empty"),
    ),
    Case(
        "every_row_quarantined",
        "orders",
        _bytes(_csv("orders", ["o1,c1,web,bad,,1"])),
        Fails(r"every row quarantined.*--allow-empty"),
    ),
    Case("empty_file", "orders", _bytes(b""), Fails(r"cannot read as CSV")),
    Case("corrupted_parquet", "loans", _corrupted_parquet, Fails(r"cannot read as Parquet")),
    Case("not_parquet", "loans", _bytes(b"this is not parquet", "part-0.parquet"), Fails(r"cannot read as Parquet")),
    Case("not_gzip", "orders", _bytes(b"not gzip at all", "part-0.csv.gz"), Fails(r"cannot read as CSV")),
    Case(
        "duplicate_header_column",
        "orders",
        _bytes(_csv("orders", GOOD["orders"]).replace(b"promo_code", b"order_id", 1)),
        Fails(r"order_id appear more than once"),
    ),
    Case(
        "wrong_number_of_fields",
        "order_items",
        _bytes(_with_row("order_items", "o2,2,p1,s1,1,10.0,0,extra")),
        Fails(r"line 5: expected 7 field\(s\), found 8"),
    ),
    Case(
        "not_utf8",
        "customers",
        _bytes(_with_row("customers", _customer(city="Z\xfcrich")).replace("Z\xfc".encode(), b"Z\xfc")),
        Fails(r"line 4, byte \d+: not valid UTF-8"),
    ),
    Case(
        "missing_required_column",
        "order_items",
        _bytes(b"order_id,line_number\no1,1\n"),
        Fails(r"missing required column\(s\) product_id"),
    ),
    Case(
        "header_like_terminal_markup",
        "orders",
        _bytes(("\n".join([MARKUP, *GOOD["orders"]]) + "\n").encode()),
        Fails(r"missing required column\(s\) channel"),
    ),
    Case(
        "list_column_in_parquet",
        "orders",
        _parquet(
            "orders",
            pa.table(
                {
                    "order_id": ["o1"],
                    "customer_id": pa.array([["c1"]]),
                    "channel": ["web"],
                    "ordered_at": pa.array([WHEN], pa.timestamp("us", tz="UTC")),
                    "shipping_fee": [1.0],
                }
            ),
        ),
        Fails(r"column 'customer_id' has type list<.*expected string"),
    ),
    Case(
        "unmatched_file_name",
        "orders",
        _bytes(_csv("orders", GOOD["orders"]), "part-1.CSV", replace=False),
        Fails(r"part-1.CSV: not loaded: a landing file's name ends in"),
    ),
]


def _checksums(conn, fingerprint) -> dict[str, tuple]:
    return {t: fingerprint(conn, f"raw.{t}", "where _partition_date = %s", (DAY,)) for t in TABLES}


@pytest.fixture
def loaded_day(warehouse, tmp_path):
    """A landing area whose day is loaded for every table of the corpus; yields (landing, stored checksums)."""
    ensure_raw_schema(warehouse)
    warehouse.execute(f"truncate {', '.join(f'raw.{t}' for t in TABLES)}, raw.quarantine")
    warehouse.commit()
    landing = tmp_path / "landing"
    for table, rows in GOOD.items():
        directory = landing / table / f"dt={DAY}"
        directory.mkdir(parents=True)
        (directory / "part-0.csv").write_bytes(_csv(table, rows))
    load_day(warehouse, landing, DAY, TABLES)
    return landing


def _quarantine(conn, table: str) -> list[tuple]:
    return conn.execute(
        "select row_number, field, split_part(reason, ':', 1), raw_value from raw.quarantine "
        "where table_name = %s order by 1",
        (table,),
    ).fetchall()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_bad_input_loads_quarantines_or_fails_naming_the_file(warehouse, loaded_day, fingerprint, case):
    landing = loaded_day
    before = _checksums(warehouse, fingerprint)
    if case.table != "orders":  # a new version of orders comes with every case: all or nothing across tables
        (landing / "orders" / f"dt={DAY}" / "part-0.csv").write_bytes(_with_row("orders", NEW_ORDER))
    path = case.write(landing / case.table / f"dt={DAY}")

    if isinstance(case.outcome, Fails):
        with pytest.raises(IngestError) as failure:
            load_day(warehouse, landing, DAY, TABLES)
        message = str(failure.value)
        assert str(path) in message
        assert re.search(case.outcome.pattern, message, re.DOTALL), message
        warehouse.rollback()
        assert _checksums(warehouse, fingerprint) == before  # every table of the day as it was
        return

    reports = {r.table: r for r in load_day(warehouse, landing, DAY, TABLES)}
    stored = warehouse.execute(f"select count(*) from raw.{case.table} where _partition_date = %s", (DAY,))
    assert stored.fetchone()[0] == case.outcome.rows == reports[case.table].rows_loaded
    if case.table != "orders":
        assert warehouse.execute("select count(*) from raw.orders where order_id = 'o3'").fetchone()[0] == 1
    if isinstance(case.outcome, Quarantined):
        outcome = case.outcome
        assert _quarantine(warehouse, case.table) == [(outcome.row, outcome.field, outcome.reason, outcome.raw_value)]
        assert warehouse.execute(
            "select distinct source_file from raw.quarantine where table_name = %s", (case.table,)
        ).fetchall() == [(str(path),)]
    else:
        assert _quarantine(warehouse, case.table) == []
        if case.outcome.check:
            query, expected = case.outcome.check
            assert warehouse.execute(query).fetchall() == expected


def test_an_empty_input_empties_a_day_only_when_asked_and_says_so(warehouse, loaded_day):
    directory = loaded_day / "customers" / f"dt={DAY}"
    (directory / "part-0.csv").write_bytes(_csv("customers", []))

    reports = {r.table: r for r in load_day(warehouse, loaded_day, DAY, TABLES, allow_empty=True)}

    assert warehouse.execute("select count(*) from raw.customers").fetchone()[0] == 0
    assert any("2 stored row(s) are removed" in w for w in reports["customers"].warnings)
    # Empty again, on an empty day: loads, and says so.
    reports = {r.table: r for r in load_day(warehouse, loaded_day, DAY, TABLES)}
    assert any("the day holds no row either" in w for w in reports["customers"].warnings)
