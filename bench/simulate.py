"""Simulator throughput at the tests' scale (1,000 customers) and at the benchmark scale (1,000,000).

Same days, same code, one run; the last line prints rows/s at both scales and their ratio. A vectorised
simulator gets faster per row as the scale grows (fixed per-day costs are spread over more rows); a per-row
Python loop would not.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from ecomflow.sources.simulator import SimulatorConfig, write_days

SMALL, LARGE = 1_000, int(os.environ.get("BENCH_CUSTOMERS", 1_000_000))
DAYS = int(os.environ.get("BENCH_SIM_DAYS", 3))
FIRST = dt.date(2025, 6, 1)


def rows_per_second(n_customers: int) -> tuple[int, float]:
    """Rows written and rows/s for ``DAYS`` days at ``n_customers``, history before them included in the setup."""
    config = SimulatorConfig(seed=1, n_customers=n_customers, start_date=dt.date(2025, 1, 1))
    with tempfile.TemporaryDirectory() as tmp:
        write_days(config, FIRST - dt.timedelta(days=1), FIRST - dt.timedelta(days=1), Path(tmp))  # warm caches
        started = time.perf_counter()
        totals = write_days(config, FIRST, FIRST + dt.timedelta(days=DAYS - 1), Path(tmp))
        seconds = time.perf_counter() - started
    rows = sum(totals.values())
    return rows, rows / seconds


def main() -> None:
    """Print rows/s at both scales and the ratio."""
    small_rows, small = rows_per_second(SMALL)
    large_rows, large = rows_per_second(LARGE)
    print(
        f"simulator {DAYS} day(s): {SMALL:,} customers {small_rows:,} rows at {small:,.0f} rows/s; "
        f"{LARGE:,} customers {large_rows:,} rows at {large:,.0f} rows/s"
    )
    print(f"simulate: {large / small:.1f}x rows/s at {LARGE:,} customers vs {SMALL:,}")


if __name__ == "__main__":
    main()
