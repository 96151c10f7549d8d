"""The raw-data contract: one schema per source table, defined once.

Everything else derives from these definitions: the Arrow schema files are written and read with, the
``raw.*`` DDL, the vectorised validation in ingestion, and the reference page ``docs/data-contract.md``.

Files live at ``<landing>/<table>/dt=YYYY-MM-DD/*.parquet|csv``: a partition holds the rows that became
known on that day (a shipment when it is delivered, a repayment when it is booked), so ``dt`` is the
knowledge date that point-in-time features filter on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
POSTGRES_TYPES: dict[str, str] = {
    "string": "text",
    "int64": "bigint",
    "float64": "double precision",
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamptz",
}

# Longest text a column accepts unless it says otherwise: a value far longer is a broken file or a pasted blob,
# quarantined rather than loaded (the row only: the file's other rows load).
MAX_TEXT_LENGTH = 1_000

CHANNELS = ("web", "app", "social", "store")
REGIONS = ("north", "south", "east", "west", "central")


@dataclass(frozen=True)
class Column:
    """One column of a source table."""

    name: str
    type: str
    description: str
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None
    max_length: int | None = None
    """Most characters a text value may have (``MAX_TEXT_LENGTH`` when not set); text columns only."""

    @property
    def arrow_type(self) -> pa.DataType:
        """The Arrow type files are written and validated with."""
        return ARROW_TYPES[self.type]

    @property
    def postgres_type(self) -> str:
        """The column type in ``raw``."""
        return POSTGRES_TYPES[self.type]

    @property
    def length_limit(self) -> int | None:
        """Most characters a value may have: text columns only."""
        return (self.max_length or MAX_TEXT_LENGTH) if self.type == "string" else None


@dataclass(frozen=True)
class Table:
    """One source table: its columns, its key and what it describes."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    depends_on: tuple[str, ...] = field(default=())
    allow_empty: bool = False
    """Whether an empty input (no row, or none that passes) may replace a day that holds rows without
    ``--allow-empty``: a table whose source legitimately sends an empty correction of a day."""

    @property
    def column_names(self) -> list[str]:
        """Column names in contract order."""
        return [c.name for c in self.columns]

    @property
    def arrow_schema(self) -> pa.Schema:
        """Arrow schema of a valid file of this table."""
        return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns])

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        return next(c for c in self.columns if c.name == name)


def _id(name: str, what: str) -> Column:
    return Column(name, "string", f"Identifier of the {what}.")


def _money(name: str, description: str, nullable: bool = False) -> Column:
    return Column(name, "float64", description, nullable=nullable, min_value=0)


TABLES: tuple[Table, ...] = (
    Table(
        "customers",
        "Customers, written on the day they sign up or change their profile (the latest row per id wins).",
        (
            _id("customer_id", "customer"),
            Column("signup_at", "timestamp", "When the customer created an account (UTC)."),
            Column("signup_channel", "string", "Channel of sign-up.", allowed=CHANNELS),
            Column("region", "string", "Home region.", allowed=REGIONS),
            Column("city", "string", "Home city."),
            Column("latitude", "float64", "Home latitude (approximate).", min_value=-90, max_value=90),
            Column("longitude", "float64", "Home longitude (approximate).", min_value=-180, max_value=180),
            Column("age_band", "string", "Age band.", allowed=("18-24", "25-34", "35-44", "45-54", "55+")),
            Column("gender", "string", "Self-declared gender.", nullable=True, allowed=("f", "m", "x")),
            Column("marketing_opt_in", "bool", "Whether the customer accepts marketing messages."),
            Column("updated_at", "timestamp", "When this version of the profile was recorded."),
        ),
        key=("customer_id", "updated_at"),
    ),
    Table(
        "sellers",
        "Sellers (small and medium enterprises) on the marketplace, written when they onboard.",
        (
            _id("seller_id", "seller"),
            Column("seller_name", "string", "Trading name."),
            Column("size_band", "string", "Company size.", allowed=("micro", "small", "medium")),
            Column("category", "string", "Main product category."),
            Column("region", "string", "Region of the warehouse.", allowed=REGIONS),
            Column("founded_year", "int64", "Year the business was founded.", min_value=1900),
            Column("onboarded_at", "timestamp", "When the seller joined the marketplace."),
        ),
        key=("seller_id",),
    ),
    Table(
        "products",
        "Products listed by sellers, written on the day they are listed.",
        (
            _id("product_id", "product"),
            _id("seller_id", "seller"),
            Column("category", "string", "Product category."),
            Column("product_name", "string", "Display name."),
            _money("list_price", "List price in EUR."),
            Column("listed_at", "timestamp", "When the product was listed."),
        ),
        key=("product_id",),
        depends_on=("sellers",),
    ),
    Table(
        "sessions",
        "Browsing sessions on web, app and social, and visits to offline stores.",
        (
            _id("session_id", "session"),
            Column("customer_id", "string", "Customer, when known (null for anonymous visits).", nullable=True),
            Column("channel", "string", "Channel of the session.", allowed=CHANNELS),
            Column("device", "string", "Device type.", allowed=("desktop", "mobile", "tablet", "in_store")),
            Column("started_at", "timestamp", "Session start."),
            Column("ended_at", "timestamp", "Session end."),
            Column("utm_source", "string", "Marketing source.", nullable=True),
        ),
        key=("session_id",),
    ),
    Table(
        "events",
        "Behavioural events inside sessions.",
        (
            _id("event_id", "event"),
            _id("session_id", "session"),
            Column("customer_id", "string", "Customer, when known.", nullable=True),
            Column(
                "event_type",
                "string",
                "What happened.",
                allowed=("page_view", "search", "add_to_cart", "wishlist", "checkout"),
            ),
            Column("product_id", "string", "Product concerned, when any.", nullable=True),
            Column("event_at", "timestamp", "When it happened."),
        ),
        key=("event_id",),
        depends_on=("sessions",),
    ),
    Table(
        "orders",
        "Orders placed on any channel.",
        (
            _id("order_id", "order"),
            _id("customer_id", "customer"),
            Column("channel", "string", "Channel the order was placed on.", allowed=CHANNELS),
            Column("ordered_at", "timestamp", "When the order was placed."),
            Column("promo_code", "string", "Promotion applied, when any.", nullable=True),
            _money("shipping_fee", "Shipping fee charged in EUR."),
        ),
        key=("order_id",),
        depends_on=("customers",),
    ),
    Table(
        "order_items",
        "Lines of orders.",
        (
            _id("order_id", "order"),
            Column("line_number", "int64", "Line within the order, from 1.", min_value=1),
            _id("product_id", "product"),
            _id("seller_id", "seller"),
            Column("quantity", "int64", "Units ordered.", min_value=1),
            _money("unit_price", "Price per unit in EUR, after discount."),
            _money("discount", "Discount per unit in EUR."),
        ),
        key=("order_id", "line_number"),
        depends_on=("orders",),
    ),
    Table(
        "payments",
        "Payments of orders.",
        (
            _id("payment_id", "payment"),
            _id("order_id", "order"),
            Column("method", "string", "Payment method.", allowed=("card", "wallet", "bnpl", "cash", "transfer")),
            _money("amount", "Amount paid in EUR."),
            Column("installments", "int64", "Number of instalments.", min_value=1),
            Column("paid_at", "timestamp", "When the payment was captured."),
        ),
        key=("payment_id",),
        depends_on=("orders",),
    ),
    Table(
        "shipments",
        "Shipments, written on the day they are delivered.",
        (
            _id("shipment_id", "shipment"),
            _id("order_id", "order"),
            _id("seller_id", "seller"),
            Column("carrier", "string", "Carrier.", allowed=("postnl", "dhl", "ups", "dpd", "store_pickup")),
            Column("shipped_at", "timestamp", "When the parcel left the seller."),
            Column("promised_at", "timestamp", "Delivery promised to the customer."),
            Column("delivered_at", "timestamp", "When it was delivered."),
        ),
        key=("shipment_id",),
        depends_on=("orders",),
    ),
    Table(
        "returns",
        "Returned order lines, written on the day the return is processed.",
        (
            _id("return_id", "return"),
            _id("order_id", "order"),
            Column("line_number", "int64", "Order line returned.", min_value=1),
            Column(
                "reason",
                "string",
                "Why it came back.",
                allowed=("damaged", "not_as_described", "late", "changed_mind", "wrong_size"),
            ),
            _money("refund_amount", "Amount refunded in EUR."),
            Column("returned_at", "timestamp", "When the return was processed."),
        ),
        key=("return_id",),
        depends_on=("order_items",),
    ),
    Table(
        "reviews",
        "Product reviews left after delivery.",
        (
            _id("review_id", "review"),
            _id("order_id", "order"),
            _id("product_id", "product"),
            _id("customer_id", "customer"),
            Column("rating", "int64", "Stars from 1 to 5.", min_value=1, max_value=5),
            Column("review_text", "string", "Short text.", nullable=True, max_length=10_000),
            Column("reviewed_at", "timestamp", "When the review was posted."),
        ),
        key=("review_id",),
        depends_on=("orders",),
    ),
    Table(
        "inventory",
        "Stock on hand per product at the end of each day.",
        (
            Column("snapshot_date", "date", "Day of the snapshot."),
            _id("product_id", "product"),
            _id("seller_id", "seller"),
            Column("on_hand", "int64", "Units in stock.", min_value=0),
            Column("reorder_point", "int64", "Level below which the seller restocks.", min_value=0),
        ),
        key=("snapshot_date", "product_id"),
        depends_on=("products",),
    ),
    Table(
        "loans",
        "Supply-chain-finance loans to sellers, written on the day they are originated.",
        (
            _id("loan_id", "loan"),
            _id("seller_id", "seller"),
            _money("principal", "Amount lent in EUR."),
            Column("annual_rate", "float64", "Nominal annual interest rate (0.12 = 12%).", min_value=0),
            Column("term_months", "int64", "Number of monthly instalments.", min_value=1),
            Column("originated_at", "timestamp", "When the money was paid out."),
        ),
        key=("loan_id",),
        depends_on=("sellers",),
    ),
    Table(
        "loan_schedule",
        "Repayment schedule of each loan, written with the loan.",
        (
            _id("loan_id", "loan"),
            Column("installment_number", "int64", "Instalment, from 1.", min_value=1),
            Column("due_date", "date", "Day the instalment is due."),
            _money("amount_due", "Amount due in EUR."),
        ),
        key=("loan_id", "installment_number"),
        depends_on=("loans",),
    ),
    Table(
        "repayments",
        "Repayments received, written on the day they are booked (sometimes days after they were paid).",
        (
            _id("repayment_id", "repayment"),
            _id("loan_id", "loan"),
            Column("installment_number", "int64", "Instalment the payment settles.", min_value=1),
            _money("amount", "Amount received in EUR."),
            Column("paid_at", "timestamp", "When the seller paid."),
        ),
        key=("repayment_id",),
        depends_on=("loan_schedule",),
    ),
)

TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}


def get_table(name: str) -> Table:
    """The contract of ``name``, with a clear error for an unknown table."""
    try:
        return TABLES_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown source table {name!r}; the contract has: {', '.join(TABLES_BY_NAME)}") from None
