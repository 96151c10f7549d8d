"""The simulator: deterministic, day-independent, in the contract, scalable, with learnable structure."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ecomflow.sources.contract import TABLES
from ecomflow.sources.simulator import Simulator, SimulatorConfig, _is_promo, generate_day, write_day

CONFIG = SimulatorConfig(seed=7, n_customers=500)
DAY = CONFIG.start_date + dt.timedelta(days=120)


def test_same_seed_and_day_give_identical_files(tmp_path):
    write_day(CONFIG, DAY, tmp_path / "a")
    write_day(SimulatorConfig(seed=7, n_customers=500), DAY, tmp_path / "b")
    for table in TABLES:
        name = f"{table.name}/dt={DAY}/part-0.parquet"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), table.name


def test_a_day_alone_equals_the_day_inside_a_range():
    for offset in range(115, 121):
        generate_day(CONFIG, CONFIG.start_date + dt.timedelta(days=offset))
    in_range = generate_day(CONFIG, DAY)
    alone = generate_day(SimulatorConfig(seed=7, n_customers=500, start_date=CONFIG.start_date), DAY)
    for name in in_range:
        assert in_range[name].equals(alone[name]), name


@pytest.mark.parametrize("regime", ["realistic", "easy"])
def test_every_table_follows_the_contract(regime):
    config = SimulatorConfig(seed=7, n_customers=500, regime=regime)
    for offset in (0, 60, 300):
        tables = generate_day(config, config.start_date + dt.timedelta(days=offset))
        for table in TABLES:
            data = tables[table.name]
            assert data.schema.equals(table.arrow_schema), table.name
            for column in table.columns:
                values = data.column(column.name)
                if not column.nullable:
                    assert values.null_count == 0, f"{table.name}.{column.name}"
                if column.allowed:
                    allowed = pa.array(column.allowed)
                    assert pc.all(pc.is_in(values.drop_null(), value_set=allowed)).as_py() in (True, None), column.name
                if column.min_value is not None and len(values.drop_null()):
                    assert pc.min(values).as_py() >= column.min_value, f"{table.name}.{column.name}"
            keys = data.select(list(table.key)).group_by(list(table.key)).aggregate([]).num_rows
            assert keys == data.num_rows, f"duplicate keys in {table.name}"


def test_nothing_before_the_first_day():
    tables = generate_day(CONFIG, CONFIG.start_date - dt.timedelta(days=1))
    assert all(t.num_rows == 0 for t in tables.values())


def test_scale_knob_grows_activity_roughly_linearly():
    week = [DAY + dt.timedelta(days=k) for k in range(7)]
    small = [generate_day(SimulatorConfig(n_customers=1_000), day) for day in week]
    large = [generate_day(SimulatorConfig(n_customers=10_000), day) for day in week]
    for name in ("sessions", "orders"):
        ratio = sum(t[name].num_rows for t in large) / max(sum(t[name].num_rows for t in small), 1)
        assert 5 < ratio < 20, (name, ratio)


def test_late_booked_repayments_exist():
    late = 0
    for offset in range(1, 400):
        day = CONFIG.start_date + dt.timedelta(days=offset)
        paid = generate_day(CONFIG, day)["repayments"].column("paid_at")
        late += pc.sum(pc.less(pc.cast(paid, "date32"), __import__("pyarrow").scalar(day))).as_py() or 0
    assert late > 0


def test_purchases_do_not_depend_on_which_days_were_asked_for_first():
    """Leaving for good depends on past purchases: any day must still come out the same alone or in order."""
    config = SimulatorConfig(seed=11, n_customers=800, regime="realistic")
    in_order, alone = Simulator(config), Simulator(config)
    late = [alone.orders(day)["customer"] for day in (700, 30, 420)]
    for day in range(701):
        in_order.orders(day)
    assert all(np.array_equal(a, in_order.orders(d)["customer"]) for a, d in zip(late, (700, 30, 420), strict=True))
    visitors = Simulator(config).sessions_and_events(500)[0]["customer_id"]
    assert visitors.equals(in_order.sessions_and_events(500)[0]["customer_id"])


# -- the realistic regime's shape: 2,000 customers over a year -----------------------------------------------

YEAR = 365
SHAPE = SimulatorConfig(seed=3, n_customers=2_000, regime="realistic")


@pytest.fixture(scope="module")
def year_of_orders() -> tuple[np.ndarray, np.ndarray]:
    """(customer, day) of every order of the realistic regime over a year."""
    sim = Simulator(SHAPE)
    buyers = [sim.orders(day)["customer"] for day in range(YEAR)]
    return np.concatenate(buyers), np.repeat(np.arange(YEAR), [len(b) for b in buyers])


def test_most_buyers_buy_once_or_twice_and_a_few_buy_much(year_of_orders):
    customer, _ = year_of_orders
    per_buyer = np.sort(np.bincount(customer)[np.bincount(customer) > 0])[::-1]
    assert np.mean(per_buyer <= 2) > 0.5
    top_decile = per_buyer[: len(per_buyer) // 10].sum() / per_buyer.sum()
    assert top_decile > 0.28, "a minority of frequent buyers places a large share of the orders"


def test_some_frequent_buyers_leave_for_good(year_of_orders):
    customer, day = year_of_orders
    early = np.bincount(customer[day < 180], minlength=SHAPE.n_customers)
    late = np.bincount(customer[day >= 240], minlength=SHAPE.n_customers)
    frequent = early >= 3
    assert frequent.sum() >= 30
    assert 0.3 < np.mean(late[frequent] == 0) < 0.9, "some, not all, customers who bought often stop for good"


@pytest.mark.parametrize("as_of", [200, 300])
def test_a_few_percent_of_buyers_buy_in_the_next_14_days(year_of_orders, as_of):
    customer, day = year_of_orders
    ever = np.unique(customer[day < as_of])
    window = np.unique(customer[(day >= as_of) & (day < as_of + 14)])
    rate = np.isin(ever, window).mean()
    assert len(ever) > 300
    assert 0.02 < rate < 0.09, rate


def test_q4_and_promotion_days_sell_more(year_of_orders):
    _, day = year_of_orders
    per_day = np.bincount(day, minlength=YEAR)
    months = np.array([(SHAPE.start_date + dt.timedelta(days=d)).month for d in range(YEAR)])
    assert per_day[months >= 11].mean() > 1.3 * per_day[(months == 9) | (months == 10)].mean()
    promo = np.array([_is_promo(SHAPE, d) for d in range(YEAR)])
    ordinary = (months >= 2) & (months <= 10)
    assert per_day[promo & ordinary].mean() > 1.4 * per_day[~promo & ordinary].mean()
