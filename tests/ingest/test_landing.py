"""Nothing in a landing area is skipped silently: its layout, ranges, and what the ``ingest`` command prints."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
import typer
from rich.console import Console

from ecomflow import cli
from ecomflow.ingest import IngestError, RangeError, ensure_raw_schema, ingest_range
from ecomflow.ingest.load import check_range

DAY = dt.date(2025, 7, 1)
HEADER = "order_id,customer_id,channel,ordered_at,promo_code,shipping_fee"


def _orders(landing: Path, day: dt.date, rows: list[str], name: str = "part-0.csv", folder: str = "") -> Path:
    path = landing / "orders" / (folder or f"dt={day}") / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    landing = tmp_path / "landing"
    _orders(landing, DAY, [f"o1,c1,web,{DAY} 10:00:00,,1"])
    return landing


@pytest.fixture
def clean_orders(warehouse):
    ensure_raw_schema(warehouse)
    warehouse.execute("truncate raw.orders, raw.quarantine")
    warehouse.commit()
    return warehouse


def test_folders_outside_the_layout_are_reported_with_their_path(landing):
    for folder in ("customer", "invoices"):
        (landing / folder).mkdir()
    for folder in ("dt=2025-02-30", "dt=2025-1-1", "2025-07-01"):
        (landing / "orders" / folder).mkdir()
    (landing / "_SUCCESS").touch()

    warnings = check_range(landing, DAY, DAY).warnings

    text = "\n".join(warnings)
    assert (
        f"{landing / 'customer'}: not read: no table of the contract is called 'customer'; did you mean customers/?"
        in text
    )
    assert f"{landing / 'invoices'}: not read" in text and "the contract's tables are customers, sellers" in text
    assert f"{landing / 'orders' / 'dt=2025-1-1'}: not read" in text and "did you mean dt=2025-01-01?" in text
    assert f"{landing / 'orders' / 'dt=2025-02-30'}: not read" in text and "not a date in the calendar" in text
    assert f"{landing / 'orders' / '2025-07-01'}: not read" in text
    assert "_SUCCESS" not in text
    assert len(warnings) == 5


@pytest.mark.parametrize(
    ("start", "end", "where", "pattern"),
    [
        (DAY, DAY - dt.timedelta(days=1), "landing", r"--from 2025-07-01 is after --to 2025-06-30"),
        (DAY, DAY, "missing", r"missing: landing directory not found"),
        (DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=3), "landing", r"no landing file for any table"),
    ],
    ids=["from after to", "missing landing directory", "range without files"],
)
def test_a_range_that_cannot_load_anything_is_an_error(landing, start, end, where, pattern):
    target = landing if where == "landing" else landing.parent / where
    with pytest.raises(IngestError, match=pattern):
        ingest_range(target, start, end)


def test_a_range_goes_on_past_a_failed_day_and_lists_every_failure(clean_orders, landing):
    second, third = DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)
    bad = _orders(landing, second, [f"o2,c2,web,{second} 10:00:00,,1"], name="part-0.CSV")
    _orders(landing, third, [f"o3,c3,web,{third} 10:00:00,,1", "o4,c4"])
    warnings: list[str] = []

    with pytest.raises(RangeError) as failure:
        ingest_range(landing, DAY, third + dt.timedelta(days=1), on_warning=warnings.append)

    assert [day for day, _ in failure.value.failures] == [second, third]
    assert str(bad) in str(failure.value) and "line 3: expected 6 field(s), found 2" in str(failure.value)
    loaded = clean_orders.execute("select _partition_date, order_id from raw.orders order by 1").fetchall()
    assert loaded == [(DAY, "o1")]
    assert any("no landing file for 1 day(s) of the range: 2025-07-04" in w for w in warnings)


def test_the_ingest_command_prints_markup_as_text_and_exits_non_zero_on_a_failed_day(
    clean_orders, landing, monkeypatch
):
    (landing / "[red]orders").mkdir()
    _orders(landing, DAY + dt.timedelta(days=1), []).write_text("order_id,[b]\no2,x\n")
    header = f"{HEADER},[/bold]"
    (landing / "orders" / f"dt={DAY}" / "part-0.csv").write_text(f"{header}\no1,c1,web,{DAY} 10:00:00,,1,x\n")
    output = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=output, width=1000))
    with pytest.raises(typer.Exit) as exit_:
        cli._ingest(landing, DAY, DAY + dt.timedelta(days=1))

    printed = output.getvalue()
    assert exit_.value.exit_code == 1
    assert "[red]orders: not read" in printed  # the folder's name, printed as written
    assert "unknown column(s) [/bold] ignored" in printed
    assert "1 day(s) not loaded: 2025-07-02" in printed and "missing required column(s) customer_id" in printed
    assert clean_orders.execute("select count(*) from raw.orders").fetchone()[0] == 1
