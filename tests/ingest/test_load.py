"""Landing → raw against a real PostgreSQL: quarantine reasons, idempotent reloads, unreadable files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ecomflow.ingest import IngestError, ensure_raw_schema, ingest_day

DAY = dt.date(2025, 3, 1)
HEADER = "order_id,customer_id,channel,ordered_at,promo_code,shipping_fee"
GOOD_ROWS = [
    "o1,c1,web,2025-03-01 10:00:00,,4.5",
    "o2,c2,app,2025-03-01T11:00:00Z,SPRING,0",
]


def _write(landing: Path, table: str, day: dt.date, name: str, text: str) -> Path:
    path = landing / table / f"dt={day}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    return tmp_path / "landing"


@pytest.fixture
def clean_raw(warehouse):
    ensure_raw_schema(warehouse)
    warehouse.execute("truncate raw.orders, raw.quarantine")
    warehouse.commit()
    return warehouse


def _quarantine(conn) -> dict[int, tuple[str, str, str]]:
    rows = conn.execute(
        "select row_number, field, reason, raw_value from raw.quarantine where table_name = 'orders' order by 1"
    ).fetchall()
    return {r[0]: (r[1], r[2].split(":")[0], r[3]) for r in rows}


@pytest.mark.parametrize(
    ("bad_row", "field", "reason", "raw_value"),
    [
        ("o9,c9,web,2025-03-01 10:00:00,,abc", "shipping_fee", "wrong_type", "abc"),
        ("o9,c9,web,2025-03-01 10:00:00,,-1.5", "shipping_fee", "negative_value", "-1.5"),
        (",c9,web,2025-03-01 10:00:00,,1", "order_id", "null_key", None),
        ("o9,c9,telepathy,2025-03-01 10:00:00,,1", "channel", "unknown_value", "telepathy"),
        ("o9,c9,web,2025-02-30 10:00:00,,1", "ordered_at", "malformed_timestamp", "2025-02-30 10:00:00"),
        ("o9,c9,web,01/03/2025,,1", "ordered_at", "malformed_timestamp", "01/03/2025"),
        ("o1,c9,web,2025-03-01 10:00:00,,1", "order_id", "duplicate_key", "o1"),
    ],
)
def test_each_kind_of_bad_row_is_quarantined_with_its_reason(clean_raw, landing, bad_row, field, reason, raw_value):
    path = _write(landing, "orders", DAY, "part.csv", "\n".join([HEADER, *GOOD_ROWS, bad_row]) + "\n")

    report = ingest_day(clean_raw, landing, "orders", DAY)

    assert (report.rows_loaded, report.rows_quarantined) == (2, 1)
    assert _quarantine(clean_raw) == {3: (field, reason, raw_value)}
    source = clean_raw.execute("select distinct source_file from raw.quarantine").fetchone()[0]
    assert source == str(path)
    loaded = clean_raw.execute("select order_id from raw.orders order by 1").fetchall()
    assert loaded == [("o1",), ("o2",)]


def test_malformed_date_in_a_date_column(clean_raw, landing):
    header = "loan_id,installment_number,due_date,amount_due"
    _write(landing, "loan_schedule", DAY, "a.csv", f"{header}\nl1,1,2025-04-01,100\nl1,2,2025-13-01,100\n")
    clean_raw.execute("truncate raw.loan_schedule")
    report = ingest_day(clean_raw, landing, "loan_schedule", DAY)
    assert (report.rows_loaded, report.rows_quarantined) == (1, 1)
    reason = clean_raw.execute("select reason from raw.quarantine where table_name = 'loan_schedule'").fetchone()[0]
    assert reason.startswith("malformed_date")


def test_reloading_a_day_replaces_exactly_that_day(clean_raw, landing):
    other_day = DAY + dt.timedelta(days=1)
    _write(landing, "orders", DAY, "part.csv", "\n".join([HEADER, *GOOD_ROWS]) + "\n")
    _write(landing, "orders", other_day, "part.csv", f"{HEADER}\no3,c3,store,{other_day} 09:00:00,,0\n")
    ingest_day(clean_raw, landing, "orders", DAY)
    ingest_day(clean_raw, landing, "orders", other_day)
    checksum = (
        "select count(*), md5(string_agg(order_id || channel || ordered_at::text, ',' order by order_id)) "
        "from raw.orders"
    )
    before = clean_raw.execute(checksum).fetchone()

    ingest_day(clean_raw, landing, "orders", DAY)
    ingest_day(clean_raw, landing, "orders", DAY)

    assert clean_raw.execute(checksum).fetchone() == before
    per_day = dict(clean_raw.execute("select _partition_date, count(*) from raw.orders group by 1").fetchall())
    assert per_day == {DAY: 2, other_day: 1}


def test_every_raw_row_carries_its_lineage(clean_raw, landing):
    path = _write(landing, "orders", DAY, "part.csv", "\n".join([HEADER, *GOOD_ROWS]) + "\n")
    report = ingest_day(clean_raw, landing, "orders", DAY)
    lineage = clean_raw.execute(
        "select distinct _partition_date, _source_file, _batch_id, _loaded_at is not null from raw.orders"
    ).fetchall()
    assert lineage == [(DAY, str(path), report.batch_id, True)]


def test_an_unreadable_file_fails_naming_it_and_leaves_raw_untouched(clean_raw, landing):
    _write(landing, "orders", DAY, "part.csv", "\n".join([HEADER, *GOOD_ROWS]) + "\n")
    ingest_day(clean_raw, landing, "orders", DAY)
    broken = _write(landing, "orders", DAY, "zz-broken.parquet", "this is not parquet")

    with pytest.raises(IngestError, match=str(broken)):
        ingest_day(clean_raw, landing, "orders", DAY)

    assert clean_raw.execute("select count(*) from raw.orders").fetchone()[0] == 2


def test_missing_required_column_fails_the_file_and_extra_columns_are_reported(clean_raw, landing):
    _write(landing, "orders", DAY, "a.csv", "order_id,channel\no1,web\n")
    with pytest.raises(IngestError, match="missing required column.*customer_id"):
        ingest_day(clean_raw, landing, "orders", DAY)

    _write(landing, "orders", DAY, "a.csv", f"{HEADER},loyalty_tier\no1,c1,web,2025-03-01 10:00:00,,4.5,gold\n")
    report = ingest_day(clean_raw, landing, "orders", DAY)
    assert report.rows_loaded == 1
    assert any("loyalty_tier" in w for w in report.warnings)


def test_a_day_without_files_is_skipped_and_keeps_what_raw_holds(clean_raw, landing):
    _write(landing, "orders", DAY, "part.csv", "\n".join([HEADER, *GOOD_ROWS]) + "\n")
    ingest_day(clean_raw, landing, "orders", DAY)
    report = ingest_day(clean_raw, landing, "orders", DAY + dt.timedelta(days=5))
    assert report.skipped
    assert clean_raw.execute("select count(*) from raw.orders").fetchone()[0] == 2


def test_two_files_of_one_day_each_keep_their_source_file(clean_raw, landing):
    first = _write(landing, "orders", DAY, "part-0.csv", "\n".join([HEADER, GOOD_ROWS[0]]) + "\n")
    second = _write(landing, "orders", DAY, "part-1.csv", "\n".join([HEADER, GOOD_ROWS[1]]) + "\n")
    ingest_day(clean_raw, landing, "orders", DAY)
    files = clean_raw.execute("select order_id, _source_file from raw.orders order by 1").fetchall()
    assert files == [("o1", str(first)), ("o2", str(second))]


def test_a_simulated_day_round_trips_through_raw_unchanged(warehouse, tmp_path):
    """Contract round trip: every table the simulator writes comes back from ``raw`` value for value."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from ecomflow.core.warehouse import copy_out
    from ecomflow.sources.contract import get_table
    from ecomflow.sources.simulator import SimulatorConfig, write_day

    config = SimulatorConfig(seed=3, n_customers=300, start_date=dt.date(2025, 1, 1))
    day = dt.date(2025, 4, 15)
    write_day(config, day, tmp_path)
    ensure_raw_schema(warehouse)
    for table_dir in sorted(p for p in tmp_path.iterdir() if p.is_dir()):
        table = get_table(table_dir.name)
        # The day becomes exactly these files, even where one is empty and an earlier test left rows that day.
        report = ingest_day(warehouse, tmp_path, table.name, day, allow_empty=True)
        assert report.rows_quarantined == 0, table.name
        landed = pq.read_table(table_dir / f"dt={day}").select(table.column_names)
        columns = ", ".join(f'"{c}"' for c in table.column_names)
        loaded = copy_out(warehouse, f"select {columns} from raw.{table.name} where _partition_date = %s", (day,))
        order = [(k, "ascending") for k in table.key]
        landed, loaded = landed.sort_by(order), loaded.cast(table.arrow_schema).sort_by(order)
        assert loaded.num_rows == landed.num_rows == report.rows_loaded, table.name
        for name in table.column_names:
            assert pc.all(pc.equal(loaded.column(name), landed.column(name))).as_py() in (True, None), name
            assert loaded.column(name).null_count == landed.column(name).null_count, name


def test_duplicates_across_files_are_quarantined_with_their_own_file_and_row(clean_raw, landing):
    first = _write(
        landing,
        "orders",
        DAY,
        "part-0.csv",
        "\n".join([HEADER, "o1,c1,web,bad-date,,1", "o2,c2,web,2025-03-01 10:00:00,,1", GOOD_ROWS[1]]) + "\n",
    )
    second = _write(
        landing, "orders", DAY, "part-1.csv", "\n".join([HEADER, "o3,c3,app,2025-03-01 12:00:00,,0", GOOD_ROWS[1]])
    )

    report = ingest_day(clean_raw, landing, "orders", DAY)

    assert (report.rows_loaded, report.rows_quarantined) == (2, 3)
    records = clean_raw.execute(
        "select source_file, row_number, split_part(reason, ':', 1) from raw.quarantine order by 1, 2, 3"
    ).fetchall()
    assert records == [
        (str(first), 1, "malformed_timestamp"),
        (str(first), 3, "duplicate_key"),  # o2 again, after the bad row was dropped
        (str(second), 2, "duplicate_key"),
    ]
    loaded = clean_raw.execute("select order_id, _source_file from raw.orders order by 1").fetchall()
    assert loaded == [("o2", str(first)), ("o3", str(second))]


@pytest.mark.parametrize("bad_first_row", [False, True])
def test_duplicates_in_a_parquet_file_found_while_the_rows_are_checked(clean_raw, landing, monkeypatch, bad_first_row):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ecomflow.ingest import load
    from ecomflow.sources.contract import get_table

    monkeypatch.setattr(load, "EARLY_DUPLICATES_MIN_ROWS", 0)  # the path large files take
    fees = [-1.0 if bad_first_row else 1.0, 2.0, 3.0, 4.0]  # a negative fee quarantines row 1
    path = landing / "orders" / f"dt={DAY}" / "part.parquet"
    path.parent.mkdir(parents=True)
    when = dt.datetime(2025, 3, 1, 10, tzinfo=dt.UTC)
    data = {
        "order_id": ["o1", "o2", "o1", "o3"],
        "customer_id": ["c1", "c2", "c3", "c4"],
        "channel": ["web"] * 4,
        "ordered_at": [when] * 4,
        "promo_code": [None] * 4,
        "shipping_fee": fees,
    }
    pq.write_table(pa.table(data, schema=get_table("orders").arrow_schema), path)

    report = ingest_day(clean_raw, landing, "orders", DAY)

    loaded = [r[0] for r in clean_raw.execute("select order_id from raw.orders order by 1").fetchall()]
    reasons = {r: reason for r, (_, reason, _) in _quarantine(clean_raw).items()}
    if bad_first_row:  # o1 of row 1 is bad, so o1 of row 3 is the first good one and loads
        assert (loaded, reasons) == (["o1", "o2", "o3"], {1: "negative_value"})
    else:
        assert (loaded, reasons) == (["o1", "o2", "o3"], {3: "duplicate_key"})
    assert report.rows_loaded == 3
