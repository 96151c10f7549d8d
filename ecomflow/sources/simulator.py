"""A deterministic, vectorised simulator of a multi-channel marketplace, written as daily landing partitions.

Populations (customers, sellers, products, loans) are pure functions of the seed; a day's activity is a pure
function of (seed, day), so any day can be generated on its own and a backfill of any range works. Rows land
in the partition of the day they become known: a shipment on delivery, a return when processed, a repayment
when booked (sometimes days after it was paid).

Customers buy in one of two regimes (``SimulatorConfig.regime``, ``ECOMFLOW_SIMULATOR_REGIME``). ``realistic``
follows the BG/NBD story a CLV analyst fits: purchase rates are gamma-distributed across customers (most buy once
or twice, a minority often), and after each purchase a customer leaves for good with a beta-distributed
probability; demand follows the week, the year (a Q4 peak, January and summer sales) and promotion days. Browsing
is noisy and only loosely tied to buying: active buyers browse more, and most purchases are preceded by a visit
or two in the weeks before. Because leaving depends on past purchases, each customer's purchase days are drawn a
block of days at a time, in order, from the seed alone: a day is still a pure function of (seed, day). The
``easy`` regime, still the default until the models beat the baselines on ``realistic``, keeps the first
simulator's customers: weekly in-market episodes raise browsing and add-to-cart a week before they raise
purchases, which makes next-14-day buyers far easier to rank than real ones.

Latent structure the models can learn, never written into a column: seller health shocks first show up in
sales, late deliveries, returns and ratings, and later in late and missed loan instalments.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ecomflow.core.settings import Settings
from ecomflow.sources.contract import CHANNELS, REGIONS, TABLES, get_table

log = logging.getLogger(__name__)

DAY_US = 86_400_000_000
CATEGORIES = ("fashion", "electronics", "home", "beauty", "sports", "toys", "grocery", "books")
CITIES = {r: [f"{r}_city_{i}" for i in range(4)] for r in REGIONS}
PRODUCTS_PER_SELLER = 4  # small shops; inventory is a daily row per product, the largest table
LOANS_PER_BORROWER = 10  # renewals every 150 days: enough for the earliest sellers to borrow to the end of 2027
UNDERWRITING_MIN_HEALTH = 0.7  # a seller visibly sicker than this gets no new loan
IDIOSYNCRATIC_MISS_RATE = 0.002  # instalments missed by healthy sellers: the default risk no feature explains
PROFILE_CHANGE_RATE = 0.002  # share of existing customers who move or switch marketing consent on a given day
REVIEW_TEXT = {1: "very disappointed", 2: "not great", 3: "okay", 4: "good value", 5: "excellent, fast delivery"}

Regime = Literal["realistic", "easy"]
FIRST_SIGNUP = -730  # the earliest sign-up, in days from the first day of business
NEVER = 10**9  # a day that never comes
# Realistic regime: BG/NBD purchase rates per day ~ Gamma(shape, scale) and drop-out ~ Beta(a, b) per purchase.
RATE_SHAPE, RATE_SCALE = 0.8, 0.011
DROPOUT_A, DROPOUT_B = 1.0, 2.5
CONVERSION = 0.7  # share of sign-ups who ever make a first purchase
BLOCK_DAYS = 365  # purchase days are drawn a block at a time
# Visits leading up to a purchase: Binomial(LEAD_VISITS, LEAD_SHARE) of them, each Geometric(LEAD_GAP) days
# before it (at most LEAD_DAYS).
LEAD_VISITS, LEAD_SHARE, LEAD_GAP, LEAD_DAYS = 2, 0.45, 0.12, 21
WEEKDAY_DEMAND = (1.0, 0.95, 0.95, 1.0, 1.05, 1.15, 1.1)
MONTH_DEMAND = (1.15, 0.9, 0.95, 0.95, 1.0, 0.95, 1.1, 0.9, 0.95, 1.0, 1.4, 1.6)


@dataclass(frozen=True)
class SimulatorConfig:
    """Seed, scale, the first day of business and how customers buy (``realistic`` or the first, ``easy``)."""

    seed: int = 42
    n_customers: int = 1_000
    start_date: dt.date = dt.date(2025, 1, 1)
    regime: Regime = "easy"

    @classmethod
    def from_settings(cls, settings: Settings) -> SimulatorConfig:
        """The simulated business the settings describe (``ECOMFLOW_SEED``, ``_N_CUSTOMERS``, ``_START_DATE``, ...)."""
        return cls(
            seed=settings.seed,
            n_customers=settings.n_customers,
            start_date=settings.start_date,
            regime=settings.simulator_regime,
        )

    @property
    def n_sellers(self) -> int:
        """Sellers scale with customers (one per two: a marketplace of many small shops)."""
        return max(40, self.n_customers // 2)


def _rng(config: SimulatorConfig, *stream: int) -> np.random.Generator:
    return np.random.default_rng([config.seed, *stream])


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    if len(numbers) == 0:
        return pa.array([], pa.string())
    return pa.array(np.char.add(prefix, np.char.zfill(np.asarray(numbers).astype(str), width)))


def _timestamps(day_offsets: np.ndarray, start: dt.date, fraction: np.ndarray) -> pa.Array:
    base = int(dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC).timestamp() * 1_000_000)
    micros = base + day_offsets.astype(np.int64) * DAY_US + (fraction * (DAY_US - 1)).astype(np.int64)
    return pa.array(micros, pa.timestamp("us", tz="UTC"))


class Population:
    """Entities and their latent traits, fixed by the seed."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config

    @cached_property
    def customers(self) -> dict[str, np.ndarray]:
        """Customer traits: sign-up day, intent, channel preference, churn day, profile."""
        n, rng = self.config.n_customers, _rng(self.config, 1)
        signup = rng.integers(-730, 366, n)
        return {
            "signup": signup,
            "signup_frac": rng.random(n),
            "intent": np.clip(rng.lognormal(-3.6, 0.8, n), 0.002, 0.25),
            "episode_rate": np.clip(rng.beta(2, 8, n), 0.02, 0.6),
            "channel_cum": np.cumsum(rng.dirichlet([3, 2.5, 1, 1.5], n), axis=1),
            "churn": signup + rng.exponential(500, n).astype(np.int64),
            "region": rng.integers(0, len(REGIONS), n),
            "city": rng.integers(0, 4, n),
            "age_band": rng.integers(0, 5, n),
            "gender": rng.integers(0, 4, n),
            "opt_in": rng.random(n) < 0.6,
            "lat": rng.normal(52, 1, n),
            "lon": rng.normal(5, 1, n),
        }

    @cached_property
    def buying(self) -> dict[str, np.ndarray]:
        """Realistic-regime traits: purchase rate, purchases made before leaving, first purchase day, browsing."""
        n, rng = self.config.n_customers, _rng(self.config, 6)
        converts = rng.random(n) < CONVERSION
        dropout = np.clip(rng.beta(DROPOUT_A, DROPOUT_B, n), 1e-6, 1.0)
        return {
            "rate": np.maximum(rng.gamma(RATE_SHAPE, RATE_SCALE, n), 1e-9),
            "purchases": rng.geometric(dropout),  # the purchase after which the customer leaves
            "first": np.where(converts, self.customers["signup"] + rng.geometric(0.15, n), NEVER),
            "browsing": rng.lognormal(-0.3, 0.8, n),
        }

    @cached_property
    def sellers(self) -> dict[str, np.ndarray]:
        """Seller traits: onboarding day, size, category, and a health shock (start day, severity)."""
        n, rng = self.config.n_sellers, _rng(self.config, 2)
        shocked = rng.random(n) < 0.2
        return {
            "onboard": rng.integers(-900, 301, n),
            "onboard_frac": rng.random(n),
            "size": rng.choice(3, n, p=[0.5, 0.35, 0.15]),
            "category": rng.integers(0, len(CATEGORIES), n),
            "region": rng.integers(0, len(REGIONS), n),
            "founded": rng.integers(1985, 2024, n),
            "shock": np.where(shocked, rng.integers(-300, 600, n), 10**6),
            # Mild shocks dent sales without ever stopping repayments; severe ones end in default.
            "severity": rng.uniform(0.2, 1.0, n),
            "quality": rng.uniform(0.85, 1.0, n),
        }

    def seller_health(self, day: int | np.ndarray, sellers: np.ndarray | None = None) -> np.ndarray:
        """Health in [0, 1] of sellers on ``day``: falls over 90 days after a shock."""
        s = self.sellers
        idx = slice(None) if sellers is None else sellers
        decline = np.clip((np.asarray(day) - s["shock"][idx]) / 90.0, 0, 1)
        return s["quality"][idx] * (1 - s["severity"][idx] * decline)

    @cached_property
    def products(self) -> dict[str, np.ndarray]:
        """Products per seller, listed when the seller onboards."""
        rng = _rng(self.config, 3)
        seller = np.repeat(np.arange(self.config.n_sellers), PRODUCTS_PER_SELLER)
        n = len(seller)
        return {
            "seller": seller,
            "price": np.round(rng.lognormal(3.2, 0.7, n), 2),
            "popularity": rng.lognormal(0, 1, n),
            "listed": self.sellers["onboard"][seller] + rng.integers(0, 30, n),
            "listed_frac": rng.random(n),
        }

    @cached_property
    def loans(self) -> dict[str, np.ndarray]:
        """Supply-chain-finance loans: a borrowing seller renews every 150 days while underwriting passes.

        Underwriting sees the seller's health when a loan would be originated: a visibly sick seller gets no
        new loan, so defaults come from sellers whose trouble started after the money was lent.
        """
        rng = _rng(self.config, 4)
        s = self.sellers
        borrower = np.flatnonzero(rng.random(self.config.n_sellers) < 0.65)
        seller = np.repeat(borrower, LOANS_PER_BORROWER)
        k = np.tile(np.arange(LOANS_PER_BORROWER), len(borrower))
        originated = s["onboard"][seller] + 40 + k * 150 + rng.integers(0, 40, len(seller))
        term = rng.choice([6, 12], len(seller))
        principal = np.round(
            np.array([5_000, 20_000, 60_000])[s["size"][seller]] * rng.uniform(0.5, 1.5, len(seller)), 2
        )
        rate = np.round(rng.uniform(0.08, 0.18, len(seller)), 4)
        frac = rng.random(len(seller))
        approved = self.seller_health(originated, seller) >= UNDERWRITING_MIN_HEALTH
        return {
            "seller": seller[approved],
            "originated": originated[approved],
            "term": term[approved],
            "principal": principal[approved],
            "rate": rate[approved],
            "frac": frac[approved],
        }

    @cached_property
    def installments(self) -> dict[str, np.ndarray]:
        """Every instalment with its due day, amount and when it is paid and booked (or never)."""
        loans = self.loans
        loan = np.repeat(np.arange(len(loans["seller"])), loans["term"])
        number = np.concatenate([np.arange(1, t + 1) for t in loans["term"]]) if len(loan) else np.array([], int)
        due = loans["originated"][loan] + 30 * number
        amount = np.round(
            loans["principal"][loan] * (1 + loans["rate"][loan] * loans["term"][loan] / 12) / loans["term"][loan], 2
        )
        rng = _rng(self.config, 5)
        health = self.seller_health(due - 30, loans["seller"][loan])
        sick = health < 0.55
        # Sick sellers miss most instalments; a few healthy ones miss one for reasons no data shows.
        missed = (sick & (rng.random(len(loan)) < 0.75)) | (rng.random(len(loan)) < IDIOSYNCRATIC_MISS_RATE)
        delay = np.where(sick, rng.integers(10, 90, len(loan)), rng.geometric(0.6, len(loan)) - 1)
        booked_late = rng.random(len(loan)) < 0.03
        paid = due + delay
        return {
            "loan": loan,
            "number": number,
            "due": due,
            "amount": amount,
            "missed": missed,
            "paid": paid,
            "booked": paid + np.where(booked_late, rng.integers(1, 11, len(loan)), 0),
            "paid_frac": rng.random(len(loan)),
            # A partial payment pays half on the day and the rest 5-40 days later.
            "partial": rng.random(len(loan)) < 0.05,
            "rest_paid": paid + rng.integers(5, 41, len(loan)),
        }


def _weekly_episode(config: SimulatorConfig, rates: np.ndarray, week: int) -> np.ndarray:
    """Whether each customer is in market in ``week`` (deterministic per seed and week)."""
    return _rng(config, 10, week + 10_000).random(len(rates)) < rates


def _season(day: int, start: dt.date) -> float:
    date = start + dt.timedelta(days=int(day))
    weekly = 1.15 if date.weekday() >= 5 else 0.95
    peak = 1.6 if date.month in (11, 12) else 1.0
    return weekly * peak


def _is_promo(config: SimulatorConfig, day: int) -> bool:
    return bool(_rng(config, 11, day + 10_000).random() < 0.08)


def _demand(config: SimulatorConfig, day: int) -> float:
    """Realistic-regime demand on ``day``: weekday, month, Black Friday week and promotion days."""
    date = config.start_date + dt.timedelta(days=int(day))
    black_friday_week = date.month == 11 and date.day >= 22
    promo = 1.8 if _is_promo(config, day) else 1.0
    return WEEKDAY_DEMAND[date.weekday()] * MONTH_DEMAND[date.month - 1] * (1.5 if black_friday_week else 1.0) * promo


@dataclass(frozen=True, eq=False)
class _Block:
    """Purchases of one block of days (by day) and the visits that lead up to them (by visit day)."""

    day: np.ndarray
    customer: np.ndarray
    visit_day: np.ndarray
    visitor: np.ndarray


def _with_visits(rng: np.random.Generator, day: np.ndarray, customer: np.ndarray) -> _Block:
    """A block of purchases with the visits that lead up to them: none, one or two, days to weeks before."""
    visits = np.repeat(np.arange(len(day)), rng.binomial(LEAD_VISITS, LEAD_SHARE, len(day)))
    visit_day = day[visits] - np.minimum(rng.geometric(LEAD_GAP, len(visits)), LEAD_DAYS)
    order = np.argsort(visit_day, kind="stable")
    return _Block(day, customer, visit_day[order], customer[visits][order])


class PurchaseTimeline:
    """Every customer's purchase days in the realistic regime, drawn a block of days at a time, in order.

    A customer makes a first purchase soon after signing up (or never), then buys as a Poisson process of their
    own rate scaled by the day's demand, until the purchase after which they leave. Each block starts from the
    purchases made in the blocks before it, with its own random stream, so any day's purchases depend on the
    seed alone, whichever days were asked for first.
    """

    def __init__(self, config: SimulatorConfig, pop: Population) -> None:
        self.config, self.pop = config, pop
        self._blocks: list[_Block] = []
        self._made = np.zeros(config.n_customers, np.int64)
        self.left_on = np.full(config.n_customers, NEVER, np.int64)  # the day of the purchase after which one left

    def _block(self, day: int) -> _Block:
        number = max(0, (day - FIRST_SIGNUP) // BLOCK_DAYS)  # no purchase before the first sign-up
        while len(self._blocks) <= number:
            self._blocks.append(self._draw(len(self._blocks)))
        return self._blocks[number]

    def _draw(self, number: int) -> _Block:
        first_day = FIRST_SIGNUP + number * BLOCK_DAYS
        rng = _rng(self.config, 60, number)
        b = self.pop.buying
        demand = np.array([_demand(self.config, d) for d in range(first_day, first_day + BLOCK_DAYS)])
        clock = np.concatenate([[0.0], np.cumsum(demand)])  # demand-weighted time since the block began
        left = b["purchases"] - self._made
        starting = np.flatnonzero((b["first"] >= first_day) & (b["first"] < first_day + BLOCK_DAYS))
        offset = b["first"][starting] - first_day
        start_at = clock[offset] + rng.random(len(starting)) * demand[offset]
        left[starting] -= 1
        ongoing = np.flatnonzero((b["first"] < first_day) & (left > 0))
        who = np.concatenate([ongoing, starting[left[starting] > 0]])
        at = np.concatenate([np.zeros(len(ongoing)), start_at[left[starting] > 0]])
        bought, bought_at = [starting], [start_at]
        while len(who):
            at = at + rng.exponential(1.0, len(who)) / b["rate"][who]
            inside = at < clock[-1]
            who, at = who[inside], at[inside]
            bought.append(who)
            bought_at.append(at)
            left[who] -= 1
            who, at = who[left[who] > 0], at[left[who] > 0]
        customer = np.concatenate(bought)
        day = first_day + np.searchsorted(clock, np.concatenate(bought_at), side="right") - 1
        order = np.lexsort((customer, day))
        customer, day = customer[order], day[order]
        self._made = b["purchases"] - left
        last = np.full(len(left), -NEVER, np.int64)
        np.maximum.at(last, customer, day)
        gone = (left == 0) & (self.left_on == NEVER)
        self.left_on[gone] = last[gone]
        return _with_visits(rng, day, customer)

    def buyers(self, day: int) -> np.ndarray:
        """Customers buying on ``day``, once per purchase."""
        block = self._block(day)
        lo, hi = np.searchsorted(block.day, [day, day + 1])
        return block.customer[lo:hi]

    def visitors(self, day: int) -> np.ndarray:
        """Customers visiting on ``day`` ahead of a purchase."""
        found = []
        blocks = [self._block(day), self._block(day + LEAD_DAYS)]
        for block in blocks[:1] if blocks[1] is blocks[0] else blocks:
            lo, hi = np.searchsorted(block.visit_day, [day, day + 1])
            found.append(block.visitor[lo:hi])
        return np.concatenate(found)

    def gone(self, day: int) -> np.ndarray:
        """Whether each customer has left for good before ``day``."""
        self._block(day)
        return self.left_on < day


class Simulator:
    """Generates the rows of each table for one day."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.pop = Population(config)
        self.timeline = PurchaseTimeline(config, self.pop)

    def _active(self, day: int) -> np.ndarray:
        c = self.pop.customers
        return np.flatnonzero((c["signup"] <= day - 1) & (c["churn"] > day))

    def _in_market(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        rates = self.pop.customers["episode_rate"]
        week = (day + 3) // 7
        return _weekly_episode(self.config, rates, week), _weekly_episode(self.config, rates, week - 1)

    def _easy_buyers(self, day: int, promo: bool, rng: np.random.Generator) -> np.ndarray:
        """Easy regime: customers in market last week buy at many times their own intent."""
        active = self._in_market(day)
        customers = self._active(day)
        rate = self.pop.customers["intent"][customers] * (0.3 + 4.0 * active[1][customers])
        counts = rng.poisson(rate * _season(day, self.config.start_date) * (1.5 if promo else 1.0))
        return np.repeat(customers, counts)

    @lru_cache(maxsize=64)  # noqa: B019 - one simulator per config; bounded
    def orders(self, day: int) -> dict[str, np.ndarray]:
        """Orders and lines placed on ``day`` (cached: later days derive shipments, returns, reviews)."""
        rng = _rng(self.config, 20, day + 10_000)
        c, p = self.pop.customers, self.pop.products
        promo = _is_promo(self.config, day)
        buyer = self.timeline.buyers(day) if self.config.regime == "realistic" else self._easy_buyers(day, promo, rng)
        n = len(buyer)
        channel = (rng.random(n)[:, None] > c["channel_cum"][buyer]).sum(axis=1).clip(0, 3)
        listed = np.flatnonzero(p["listed"] <= day)
        weight = p["popularity"][listed] * self.pop.seller_health(day, p["seller"][listed]) ** 2
        lines = rng.integers(1, 5, n)
        order_of_line = np.repeat(np.arange(n), lines)
        cum = np.cumsum(weight)
        product = (
            listed[np.searchsorted(cum, rng.random(len(order_of_line)) * cum[-1])] if len(listed) else np.zeros(0, int)
        )
        discount = np.round(p["price"][product] * (0.15 if promo else 0.0), 2)
        return {
            "customer": buyer,
            "channel": channel,
            "frac": np.sort(rng.random(n)) if n else rng.random(0),
            "promo": np.full(n, promo),
            "fee": np.where(channel == 3, 0.0, 4.95),
            "line_order": order_of_line,
            "line_number": np.concatenate([np.arange(1, k + 1) for k in lines]) if n else np.zeros(0, int),
            "product": product,
            "quantity": rng.integers(1, 3, len(product)),
            "unit_price": np.round(p["price"][product] - discount, 2),
            "discount": discount,
            "line_rand": rng.random((len(product), 4)),
            "order_rand": rng.random((n, 4)),
        }

    def order_ids(self, day: int, n_or_idx: np.ndarray) -> pa.Array:
        """``o<day>-<n>`` ids."""
        date = (self.config.start_date + dt.timedelta(days=int(day))).strftime("%Y%m%d")
        return _ids(f"o{date}-", n_or_idx, 6)

    # -- tables -------------------------------------------------------------------------------------------

    def _new(self, when: np.ndarray, day: int) -> np.ndarray:
        """Entities that become known on ``day``: created that day, or before the first day (opening load)."""
        return np.flatnonzero(when == day) if day > 0 else np.flatnonzero(when <= 0)

    def customers(self, day: int) -> dict:
        """Customers signing up on ``day``, and earlier customers whose profile changes that day.

        A change (moving to another city of the home region, switching marketing consent) is a new row with
        ``updated_at`` on the day: the history the customer snapshot keeps as a slowly changing dimension.
        """
        c = self.pop.customers
        new = self._new(c["signup"], day)
        rng = _rng(self.config, 50, day)
        changes = (c["signup"] < day) & (rng.random(len(c["signup"])) < PROFILE_CHANGE_RATE) & (day > 0)
        changed = np.flatnonzero(changes)  # none on day 0: the opening load holds only current profiles
        city, opt_in = c["city"].copy(), c["opt_in"].copy()
        city[changed] = (city[changed] + rng.integers(1, 4, len(changed))) % 4
        opt_in[changed] ^= rng.random(len(changed)) < 0.5
        i = np.concatenate([new, changed])
        signup_at = _timestamps(c["signup"][i], self.config.start_date, c["signup_frac"][i])
        updated_at = pa.concat_arrays(
            [
                signup_at[: len(new)],
                _timestamps(np.full(len(changed), day), self.config.start_date, rng.random(len(changed))),
            ]
        )
        return {
            "customer_id": _ids("c", i, 7),
            "signup_at": signup_at,
            "signup_channel": np.array(CHANNELS)[(c["channel_cum"][i] < 0.5).sum(axis=1).clip(0, 3)],
            "region": np.array(REGIONS)[c["region"][i]],
            "city": np.array(
                [CITIES[REGIONS[r]][k] for r, k in zip(c["region"][i], city[i], strict=True)], dtype=object
            ),
            "latitude": np.round(c["lat"][i], 4),
            "longitude": np.round(c["lon"][i], 4),
            "age_band": np.array(["18-24", "25-34", "35-44", "45-54", "55+"])[c["age_band"][i]],
            "gender": pa.array(np.array(["f", "m", "x", None], dtype=object)[c["gender"][i]], pa.string()),
            "marketing_opt_in": opt_in[i],
            "updated_at": updated_at,
        }

    def sellers(self, day: int) -> dict:
        """Sellers onboarding on ``day``."""
        s = self.pop.sellers
        i = self._new(s["onboard"], day)
        return {
            "seller_id": _ids("s", i, 5),
            "seller_name": np.char.add("Seller ", i.astype(str)),
            "size_band": np.array(["micro", "small", "medium"])[s["size"][i]],
            "category": np.array(CATEGORIES)[s["category"][i]],
            "region": np.array(REGIONS)[s["region"][i]],
            "founded_year": s["founded"][i],
            "onboarded_at": _timestamps(s["onboard"][i], self.config.start_date, s["onboard_frac"][i]),
        }

    def products(self, day: int) -> dict:
        """Products listed on ``day``."""
        p = self.pop.products
        i = self._new(p["listed"], day)
        return {
            "product_id": _ids("p", i, 7),
            "seller_id": _ids("s", p["seller"][i], 5),
            "category": np.array(CATEGORIES)[self.pop.sellers["category"][p["seller"][i]]],
            "product_name": np.char.add("Product ", i.astype(str)),
            "list_price": p["price"][i],
            "listed_at": _timestamps(p["listed"][i], self.config.start_date, p["listed_frac"][i]),
        }

    def _easy_visitors(self, day: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Easy regime: customers browse far more in and just after an in-market week; in-market visits are hot."""
        customers = self._active(day)
        now, before = self._in_market(day)
        rate = (0.03 + 0.6 * now[customers] + 0.25 * before[customers]) * _season(day, self.config.start_date)
        who = np.repeat(customers, rng.poisson(rate))
        return who, now[who]

    def _realistic_visitors(self, day: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Realistic regime: everyone browses at a rate of their own, active buyers more.

        Most purchases are preceded by a visit or two in the weeks before: those visits are the hot ones.
        """
        c, b = self.pop.customers, self.pop.buying
        known = np.flatnonzero(c["signup"] <= day - 1)
        active = (b["first"][known] <= day) & ~self.timeline.gone(day)[known]
        engaged = 0.02 + active * (0.01 + 0.04 * np.minimum(b["rate"][known] / RATE_SCALE, 4.0))
        browsing = np.repeat(known, rng.poisson(b["browsing"][known] * engaged * _demand(self.config, day)))
        ahead = self.timeline.visitors(day)
        ahead = ahead[c["signup"][ahead] <= day - 1]
        return np.concatenate([browsing, ahead]), np.arange(len(browsing) + len(ahead)) >= len(browsing)

    def sessions_and_events(self, day: int) -> tuple[dict, dict]:
        """Browsing sessions of known and anonymous visitors and their events (add-to-cart rises on hot visits)."""
        rng = _rng(self.config, 30, day + 10_000)
        c = self.pop.customers
        visit = self._realistic_visitors if self.config.regime == "realistic" else self._easy_visitors
        who, hot_known = visit(day, rng)
        n_known, n_anon = len(who), rng.poisson(self.config.n_customers * 0.01)
        n = n_known + n_anon
        channel = np.concatenate(
            [(rng.random(n_known)[:, None] > c["channel_cum"][who]).sum(axis=1).clip(0, 3), rng.integers(0, 3, n_anon)]
        )
        device = np.where(channel == 3, 3, np.where(channel == 0, rng.integers(0, 3, n), 1))
        start = rng.random(n) * 0.95
        customer_ids = np.concatenate(
            [np.asarray(_ids("c", who, 7).to_pylist(), dtype=object), np.full(n_anon, None, dtype=object)]
        )
        session_ids = _ids(f"ss{day + 10_000}-", np.arange(n), 6)
        sessions = {
            "session_id": session_ids,
            "customer_id": pa.array(customer_ids, pa.string()),
            "channel": np.array(CHANNELS)[channel],
            "device": np.array(["desktop", "mobile", "tablet", "in_store"])[device],
            "started_at": _timestamps(np.full(n, day), self.config.start_date, start),
            "ended_at": _timestamps(np.full(n, day), self.config.start_date, start + rng.random(n) * 0.04),
            "utm_source": pa.array(
                np.array([None, "google", "newsletter", "instagram"], dtype=object)[rng.integers(0, 4, n)], pa.string()
            ),
        }
        hot = np.concatenate([hot_known, np.zeros(n_anon, bool)])
        kinds = np.stack(
            [
                np.ones(n, bool),
                rng.random(n) < 0.5,
                rng.random(n) < 0.08 + 0.45 * hot,
                rng.random(n) < 0.05 + 0.15 * hot,
                rng.random(n) < 0.03 + 0.2 * hot,
            ],
            axis=1,
        )
        per_session = np.repeat(np.arange(n), kinds.sum(axis=1))
        kind = np.nonzero(kinds)[1]
        m = len(per_session)
        products = self.pop.products
        events = {
            "event_id": _ids(f"e{day + 10_000}-", np.arange(m), 7),
            "session_id": session_ids.take(per_session),
            "customer_id": pa.array(customer_ids[per_session], pa.string()),
            "event_type": np.array(["page_view", "search", "add_to_cart", "wishlist", "checkout"])[kind],
            "product_id": pa.array(
                np.where(
                    kind == 1,
                    None,
                    np.asarray(_ids("p", rng.integers(0, len(products["seller"]), m), 7).to_pylist(), dtype=object),
                ),
                pa.string(),
            ),
            "event_at": _timestamps(np.full(m, day), self.config.start_date, start[per_session] + kind * 0.002),
        }
        return sessions, events

    def orders_tables(self, day: int) -> tuple[dict, dict, dict]:
        """Orders, order items and payments placed on ``day``."""
        o = self.orders(day)
        n = len(o["customer"])
        ids = self.order_ids(day, np.arange(n))
        ordered_at = _timestamps(np.full(n, day), self.config.start_date, o["frac"])
        total = np.bincount(o["line_order"], weights=o["unit_price"] * o["quantity"], minlength=n) + o["fee"]
        orders = {
            "order_id": ids,
            "customer_id": _ids("c", o["customer"], 7),
            "channel": np.array(CHANNELS)[o["channel"]],
            "ordered_at": ordered_at,
            "promo_code": pa.array(np.where(o["promo"], "PROMO", None).astype(object), pa.string()),
            "shipping_fee": o["fee"],
        }
        items = {
            "order_id": ids.take(o["line_order"]),
            "line_number": o["line_number"],
            "product_id": _ids("p", o["product"], 7),
            "seller_id": _ids("s", self.pop.products["seller"][o["product"]], 5),
            "quantity": o["quantity"],
            "unit_price": o["unit_price"],
            "discount": o["discount"],
        }
        method = np.where(o["channel"] == 3, 3, (o["order_rand"][:, 0] * 3).astype(int))
        method = np.where((o["order_rand"][:, 1] < 0.05) & (method != 3), 4, method)
        payments = {
            "payment_id": _ids(f"pay{day + 10_000}-", np.arange(n), 6),
            "order_id": ids,
            "method": np.array(["card", "wallet", "bnpl", "cash", "transfer"])[method],
            "amount": np.round(total, 2),
            "installments": np.where(method == 2, 3, 1),
            "paid_at": ordered_at,
        }
        return orders, items, payments

    def _order_lifecycle(self, order_day: int) -> dict[str, np.ndarray]:
        """When each order of ``order_day`` ships and is delivered, driven by its first seller's health."""
        o = self.orders(order_day)
        first_line = np.flatnonzero(o["line_number"] == 1)
        seller = self.pop.products["seller"][o["product"][first_line]]
        health = self.pop.seller_health(order_day, seller)
        store = o["channel"] == 3
        late = o["order_rand"][:, 2] < 0.04 + 0.6 * (1 - health)
        ship = np.where(store, 0, 1 + (o["order_rand"][:, 3] * 2).astype(int))
        deliver = np.where(store, 0, ship + 2 + np.where(late, 3 + (o["order_rand"][:, 3] * 6).astype(int), 0))
        return {"seller": seller, "health": health, "store": store, "ship": ship, "deliver": deliver}

    def fulfilment_tables(self, day: int) -> tuple[dict, dict, dict]:
        """Shipments delivered, returns processed and reviews posted on ``day``, for orders of past days."""
        shipments, returns, reviews = [], [], []
        for order_day in range(max(day - 40, 0), day + 1):
            o, life = self.orders(order_day), self._order_lifecycle(order_day)
            ids = self.order_ids(order_day, np.arange(len(o["customer"])))
            base = _timestamps(np.full(len(ids), order_day), self.config.start_date, o["frac"])
            i = np.flatnonzero(life["deliver"] == day - order_day)
            if len(i):
                shipments.append(self._shipments(order_day, ids, o, life, i))
            line_health = life["health"][o["line_order"]]
            returned = o["line_rand"][:, 0] < 0.03 + 0.35 * (1 - line_health)
            lag = 7 + life["deliver"][o["line_order"]] + (o["line_rand"][:, 1] * 20).astype(int)
            j = np.flatnonzero(returned & (lag == day - order_day))
            if len(j):
                returns.append(
                    {
                        "return_id": pa.array([f"r{order_day + 10_000}-{x}" for x in j]),
                        "order_id": ids.take(o["line_order"][j]),
                        "line_number": o["line_number"][j],
                        "reason": np.array(["damaged", "not_as_described", "late", "changed_mind", "wrong_size"])[
                            (o["line_rand"][j, 2] * 5).astype(int)
                        ],
                        "refund_amount": np.round(o["unit_price"][j] * o["quantity"][j], 2),
                        "returned_at": _timestamps(np.full(len(j), day), self.config.start_date, o["line_rand"][j, 3]),
                    }
                )
            reviewed = o["order_rand"][:, 1] < 0.2
            review_lag = life["deliver"] + 1 + (o["order_rand"][:, 0] * 7).astype(int)
            k = np.flatnonzero(reviewed & (review_lag == day - order_day))
            if len(k):
                late = life["deliver"][k] > 4
                rating = np.clip(
                    np.round(1.5 + 3.5 * life["health"][k] - 1.2 * late + o["order_rand"][k, 3] - 0.5), 1, 5
                )
                first = np.flatnonzero(o["line_number"] == 1)[k]
                reviews.append(
                    {
                        "review_id": pa.array([f"rv{order_day + 10_000}-{x}" for x in k]),
                        "order_id": ids.take(k),
                        "product_id": _ids("p", o["product"][first], 7),
                        "customer_id": _ids("c", o["customer"][k], 7),
                        "rating": rating.astype(np.int64),
                        "review_text": pa.array([REVIEW_TEXT[int(r)] for r in rating], pa.string()),
                        "reviewed_at": _timestamps(np.full(len(k), day), self.config.start_date, o["order_rand"][k, 2]),
                    }
                )
            del base
        return shipments, returns, reviews

    def _shipments(self, order_day: int, ids: pa.Array, o: dict, life: dict, i: np.ndarray) -> dict:
        start = self.config.start_date
        frac = o["frac"][i]
        carrier = np.where(life["store"][i], 4, (o["order_rand"][i, 0] * 4).astype(int))
        return {
            "shipment_id": pa.array([f"sh{order_day + 10_000}-{x}" for x in i]),
            "order_id": ids.take(i),
            "seller_id": _ids("s", life["seller"][i], 5),
            "carrier": np.array(["postnl", "dhl", "ups", "dpd", "store_pickup"])[carrier],
            "shipped_at": _timestamps(order_day + life["ship"][i], start, frac),
            "promised_at": _timestamps(order_day + np.where(life["store"][i], 0, 4), start, np.full(len(i), 0.99)),
            "delivered_at": _timestamps(order_day + life["deliver"][i], start, np.minimum(frac + 0.01, 0.999)),
        }

    def inventory(self, day: int) -> dict:
        """Stock per listed product at the end of ``day``: sick sellers run low."""
        p = self.pop.products
        i = np.flatnonzero(p["listed"] <= day)
        rng = _rng(self.config, 40, day + 10_000)
        health = self.pop.seller_health(day, p["seller"][i])
        return {
            "snapshot_date": pa.array(np.full(len(i), self.config.start_date + dt.timedelta(days=day))),
            "product_id": _ids("p", i, 7),
            "seller_id": _ids("s", p["seller"][i], 5),
            "on_hand": rng.poisson(5 + 40 * health),
            "reorder_point": np.full(len(i), 10),
        }

    def loan_tables(self, day: int) -> tuple[dict, dict, list[dict]]:
        """Loans originated on ``day`` with their schedules, and repayments booked on ``day``."""
        loans, inst = self.pop.loans, self.pop.installments
        i = self._new(loans["originated"], day) if day > 0 else np.flatnonzero(loans["originated"] <= 0)
        loan_table = {
            "loan_id": _ids("l", i, 6),
            "seller_id": _ids("s", loans["seller"][i], 5),
            "principal": loans["principal"][i],
            "annual_rate": loans["rate"][i],
            "term_months": loans["term"][i],
            "originated_at": _timestamps(loans["originated"][i], self.config.start_date, loans["frac"][i]),
        }
        j = np.flatnonzero(np.isin(inst["loan"], i))
        start = self.config.start_date
        schedule = {
            "loan_id": _ids("l", inst["loan"][j], 6),
            "installment_number": inst["number"][j],
            "due_date": pa.array([start + dt.timedelta(days=int(d)) for d in inst["due"][j]], pa.date32()),
            "amount_due": inst["amount"][j],
        }
        booked_today = (inst["booked"] == day) if day > 0 else (inst["booked"] <= 0)
        k = np.flatnonzero(booked_today & ~inst["missed"])
        first_part = np.round(np.where(inst["partial"][k], 0.5, 1.0) * inst["amount"][k], 2)
        rest_today = (inst["rest_paid"] == day) if day > 0 else (inst["rest_paid"] <= 0)
        r = np.flatnonzero(rest_today & inst["partial"] & ~inst["missed"])
        repayments = [
            {
                "repayment_id": _ids("rp", k, 7),
                "loan_id": _ids("l", inst["loan"][k], 6),
                "installment_number": inst["number"][k],
                "amount": first_part,
                "paid_at": _timestamps(inst["paid"][k], start, inst["paid_frac"][k]),
            },
            {
                "repayment_id": _ids("rr", r, 7),
                "loan_id": _ids("l", inst["loan"][r], 6),
                "installment_number": inst["number"][r],
                "amount": np.round(inst["amount"][r] - np.round(0.5 * inst["amount"][r], 2), 2),
                "paid_at": _timestamps(inst["rest_paid"][r], start, inst["paid_frac"][r]),
            },
        ]
        return loan_table, schedule, repayments


def _table(name: str, columns: dict | list[dict]) -> pa.Table:
    schema = get_table(name).arrow_schema
    if isinstance(columns, list):
        return pa.concat_tables([_table(name, c) for c in columns]) if columns else schema.empty_table()
    return pa.table(
        {
            f.name: pa.array(columns[f.name], f.type)
            if not isinstance(columns[f.name], pa.Array)
            else columns[f.name].cast(f.type)
            for f in schema
        },
        schema=schema,
    )


@lru_cache(maxsize=4)
def _simulator(config: SimulatorConfig) -> Simulator:
    return Simulator(config)


def generate_day(config: SimulatorConfig, day: dt.date) -> dict[str, pa.Table]:
    """Every table's rows for the partition ``dt=day`` (empty tables before the first day of business)."""
    offset = (day - config.start_date).days
    if offset < 0:
        return {t.name: t.arrow_schema.empty_table() for t in TABLES}
    sim = _simulator(config)
    sessions, events = sim.sessions_and_events(offset)
    orders, items, payments = sim.orders_tables(offset)
    shipments, returns, reviews = sim.fulfilment_tables(offset)
    loans, schedule, repayments = sim.loan_tables(offset)
    raw = {
        "customers": sim.customers(offset),
        "sellers": sim.sellers(offset),
        "products": sim.products(offset),
        "sessions": sessions,
        "events": events,
        "orders": orders,
        "order_items": items,
        "payments": payments,
        "shipments": shipments,
        "returns": returns,
        "reviews": reviews,
        "inventory": sim.inventory(offset),
        "loans": loans,
        "loan_schedule": schedule,
        "repayments": repayments,
    }
    return {name: _table(name, columns) for name, columns in raw.items()}


def write_day(config: SimulatorConfig, day: dt.date, landing: Path) -> dict[str, int]:
    """Write ``day``'s tables to ``landing/<table>/dt=<day>/part-0.parquet``; returns rows per table."""
    counts = {}
    for name, table in generate_day(config, day).items():
        directory = landing / name / f"dt={day.isoformat()}"
        directory.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            table, directory / "part-0.parquet", compression="zstd", store_schema=False, write_page_checksum=True
        )
        counts[name] = table.num_rows
    return counts


def write_days(
    config: SimulatorConfig, start: dt.date, end: dt.date, landing: Path, progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Write every day of ``[start, end]``; logs rows per second and returns total rows per table."""
    totals: dict[str, int] = {}
    started = time.perf_counter()
    day = start
    while day <= end:
        for name, rows in write_day(config, day, landing).items():
            totals[name] = totals.get(name, 0) + rows
        if progress:
            progress(1)
        day += dt.timedelta(days=1)
    seconds = time.perf_counter() - started
    log.info("simulated %d rows in %.1f s (%.0f rows/s)", sum(totals.values()), seconds, sum(totals.values()) / seconds)
    return totals
