"""The simulator: deterministic, day-independent, in the contract, scalable, with learnable structure."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from ecomflow.sources.contract import TABLES
from ecomflow.sources.simulator import SimulatorConfig, generate_day, write_day

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


def test_every_table_follows_the_contract():
    for offset in (0, 60, 300):
        tables = generate_day(CONFIG, CONFIG.start_date + dt.timedelta(days=offset))
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
    small = generate_day(SimulatorConfig(n_customers=1_000), DAY)
    large = generate_day(SimulatorConfig(n_customers=10_000), DAY)
    for name in ("sessions", "orders"):
        ratio = large[name].num_rows / max(small[name].num_rows, 1)
        assert 5 < ratio < 20, (name, ratio)


def test_late_booked_repayments_exist():
    late = 0
    for offset in range(1, 400):
        day = CONFIG.start_date + dt.timedelta(days=offset)
        paid = generate_day(CONFIG, day)["repayments"].column("paid_at")
        late += pc.sum(pc.less(pc.cast(paid, "date32"), __import__("pyarrow").scalar(day))).as_py() or 0
    assert late > 0
