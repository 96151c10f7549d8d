"""How hard the simulated customers are to predict, and how often simulated sellers default.

Generates orders and sessions straight from the simulator (no files) for ``REALISM_CUSTOMERS`` customers over
``REALISM_DAYS`` days, then at three as-of dates late in the history ranks next-14-day buyers among customers
who have ever bought by "days since last order", by frequency, by browsing and by a BG/NBD model fitted (with
scipy) on the history before the as-of date. It also prints the customers' order-count shape and the credit
default rate per seller-month (the label of ``train_seller_default``: a seller with an active loan at a month
start, not yet in default, defaulting within six months). ``python -m bench.simulator_realism [regime ...]``.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time

import numpy as np
from scipy import optimize, special, stats

from ecomflow.sources.simulator import Population, Simulator, SimulatorConfig

CUSTOMERS = int(os.environ.get("REALISM_CUSTOMERS", 2_000))
DAYS = int(os.environ.get("REALISM_DAYS", 730))
SEEDS = [int(seed) for seed in os.environ.get("REALISM_SEEDS", "42").split(",")]
WINDOW = 14
DEFAULT_DPD, CREDIT_MONTHS = 90, 6


def activity(sim: Simulator, days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(customer, day) of every order and of every identified session over ``days`` days."""
    orders, sessions = [], []
    for day in range(days):
        buyers = sim.orders(day)["customer"]
        orders.append(np.stack([buyers, np.full(len(buyers), day)], axis=1))
        who = sim.sessions_and_events(day)[0]["customer_id"].drop_null().to_numpy(zero_copy_only=False)
        ids = np.array([int(c[1:]) for c in who], dtype=np.int64)
        sessions.append(np.stack([ids, np.full(len(ids), day)], axis=1))
    o, s = np.concatenate(orders), np.concatenate(sessions)
    return o[:, 0], o[:, 1], s[:, 0], s[:, 1]


def auc(score: np.ndarray, label: np.ndarray) -> float:
    """ROC AUC by the rank-sum formula (ties get half credit)."""
    ranks = stats.rankdata(score)
    pos = label.sum()
    neg = len(label) - pos
    return float((ranks[label].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _bgnbd_loglik(params: np.ndarray, x: np.ndarray, tx: np.ndarray, big_t: np.ndarray) -> float:
    r, alpha, a, b = np.exp(params)
    common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    alive = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(alpha + big_t)
    dead = np.where(
        x > 0,
        special.betaln(a + 1, np.maximum(b + x - 1, 1e-9)) - special.betaln(a, b) - (r + x) * np.log(alpha + tx),
        -np.inf,
    )
    return -float(np.sum(common + np.logaddexp(alive, dead)))


def bgnbd_expected(x: np.ndarray, tx: np.ndarray, big_t: np.ndarray, horizon: float) -> np.ndarray:
    """Expected purchases in the next ``horizon`` days under a BG/NBD fitted to (x, t_x, T) by maximum likelihood."""
    fit = optimize.minimize(_bgnbd_loglik, np.log([0.5, 50.0, 1.0, 3.0]), args=(x, tx, big_t), method="Nelder-Mead")
    r, alpha, a, b = np.exp(fit.x)
    z = horizon / (alpha + big_t + horizon)
    head = (a + b + x - 1) / (a - 1)
    tail = 1 - ((alpha + big_t) / (alpha + big_t + horizon)) ** (r + x) * special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    odds_dead = np.where(x > 0, a / np.maximum(b + x - 1, 1e-9) * ((alpha + big_t) / (alpha + tx)) ** (r + x), 0.0)
    return head * tail / (1 + odds_dead)


def rank_buyers(customer: np.ndarray, day: np.ndarray, s_customer: np.ndarray, s_day: np.ndarray, as_of: int) -> dict:
    """Next-14-day buyer rate and AUCs at ``as_of`` among customers with an order before it."""
    before = day < as_of
    n = max(customer.max(), s_customer.max()) + 1
    count = np.bincount(customer[before], minlength=n)
    ever = np.flatnonzero(count > 0)
    first = np.full(n, as_of)
    np.minimum.at(first, customer[before], day[before])
    last = np.full(n, -1)
    np.maximum.at(last, customer[before], day[before])
    # BG/NBD counts repeat purchase days, not orders.
    days_bought = np.unique(customer[before] * 100_000 + day[before]) // 100_000
    x = (np.bincount(days_bought, minlength=n) - 1)[ever].astype(float)
    label = np.zeros(n, bool)
    label[customer[(day >= as_of) & (day < as_of + WINDOW)]] = True
    recent = (s_day < as_of) & (s_day >= as_of - WINDOW)
    browsing = np.bincount(s_customer[recent], minlength=n)
    y = label[ever]
    tx, big_t = (last - first)[ever].astype(float), (as_of - first)[ever].astype(float)
    return {
        "as_of": as_of,
        "ever_bought": len(ever),
        "buyer_rate": float(y.mean()),
        "auc_recency": auc(-(as_of - last[ever]).astype(float), y),
        "auc_frequency": auc(count[ever].astype(float), y),
        "auc_sessions_14d": auc(browsing[ever].astype(float), y),
        "auc_bgnbd": auc(bgnbd_expected(x, tx, big_t, WINDOW), y),
    }


def order_shape(customer: np.ndarray, day: np.ndarray, days: int) -> dict:
    """Share of buyers with 1-2 orders, the top decile's share of orders, and buyers gone quiet."""
    count = np.bincount(customer)
    buyers = np.sort(count[count > 0])[::-1]
    last = np.full(len(count), -1)
    np.maximum.at(last, customer, day)
    frequent = count >= 4
    return {
        "buyers": len(buyers),
        "orders_per_day": len(customer) / days,
        "share_1_2_orders": float(np.mean(buyers <= 2)),
        "top_decile_order_share": float(buyers[: max(1, len(buyers) // 10)].sum() / buyers.sum()),
        "frequent_quiet_last_180d": float(np.mean(last[frequent] < days - 180)) if frequent.any() else float("nan"),
    }


def _add_months(month: dt.date, k: int) -> dt.date:
    return dt.date(month.year + (month.month - 1 + k) // 12, (month.month - 1 + k) % 12 + 1, 1)


def seller_month_default_rate(pop: Population, days: int) -> tuple[int, float]:
    """Seller-months (active loan at the month start, not yet defaulted) and the share defaulting within six months."""
    loans, inst = pop.loans, pop.installments
    settled = np.where(inst["partial"], inst["rest_paid"], inst["paid"])
    defaulted = inst["missed"] | (settled > inst["due"] + DEFAULT_DPD)
    default_seller = loans["seller"][inst["loan"][defaulted]]
    default_day = inst["due"][defaulted] + DEFAULT_DPD
    last_due = np.zeros(len(loans["seller"]), int)
    np.maximum.at(last_due, inst["loan"], inst["due"])
    start = pop.config.start_date
    months = []
    month = dt.date(start.year, start.month, 1)
    while (_add_months(month, CREDIT_MONTHS) - start).days <= days:
        months.append(month)
        month = _add_months(month, 1)
    rows, positives = 0, 0
    for month in months:
        m = (month - start).days
        end = (_add_months(month, CREDIT_MONTHS) - start).days
        active = np.unique(loans["seller"][(loans["originated"] < m) & (last_due >= m)])
        already = np.unique(default_seller[default_day < m])
        eligible = np.setdiff1d(active, already)
        soon = np.unique(default_seller[(default_day >= m) & (default_day < end)])
        rows += len(eligible)
        positives += len(np.intersect1d(eligible, soon))
    return rows, positives / max(rows, 1)


def report(regime: str, seed: int) -> list[dict]:
    """Print one regime's figures for one seed; returns the figures per as-of date."""
    sim = Simulator(SimulatorConfig(seed=seed, n_customers=CUSTOMERS, regime=regime))
    tag = f"[{regime} seed {seed}]"
    started = time.perf_counter()
    customer, day, s_customer, s_day = activity(sim, DAYS)
    seconds = time.perf_counter() - started
    print(f"{tag} {CUSTOMERS:,} customers x {DAYS} days of orders and sessions generated in {seconds:.1f} s")
    print(f"{tag} shape: " + ", ".join(f"{k}={v:.3g}" for k, v in order_shape(customer, day, DAYS).items()))
    found = []
    for as_of in (DAYS - WINDOW - 120, DAYS - WINDOW - 60, DAYS - WINDOW):
        found.append(rank_buyers(customer, day, s_customer, s_day, as_of))
        print(f"{tag} " + ", ".join(f"{k}={v:.3g}" for k, v in found[-1].items()))
    rows, rate = seller_month_default_rate(sim.pop, DAYS)
    print(f"{tag} credit: {rows:,} seller-months, default within {CREDIT_MONTHS} months {rate:.2%}")
    return found


def main() -> None:
    """Print every regime's figures per seed, then their means over seeds and as-of dates."""
    for regime in sys.argv[1:] or ["realistic", "easy"]:
        found = [figures for seed in SEEDS for figures in report(regime, seed)]
        keys = [k for k in found[0] if k.startswith(("auc", "buyer"))]
        means = ", ".join(f"{k}={np.mean([f[k] for f in found]):.3f}" for k in keys)
        print(f"[{regime}] mean over {len(SEEDS)} seed(s) x 3 as-of dates: {means}")


if __name__ == "__main__":
    main()
