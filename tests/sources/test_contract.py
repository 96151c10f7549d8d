import pyarrow as pa

from ecomflow.ingest.schema import raw_table_ddl
from ecomflow.sources import docs
from ecomflow.sources.contract import TABLES, get_table


def test_reference_page_is_in_sync_with_the_contract():
    assert docs.CONTRACT_PAGE.read_text() == docs.render(), "run: uv run python -m ecomflow.sources.docs"


def test_every_table_has_a_key_of_its_own_columns_and_described_columns():
    for table in TABLES:
        assert set(table.key) <= set(table.column_names), table.name
        assert all(c.description for c in table.columns), table.name
        assert all(not table.column(k).nullable for k in table.key), table.name


def test_arrow_schema_and_ddl_derive_from_one_definition():
    orders = get_table("orders")
    assert orders.arrow_schema.field("ordered_at").type == pa.timestamp("us", tz="UTC")
    assert not orders.arrow_schema.field("order_id").nullable
    assert "timestamptz not null" in raw_table_ddl(orders).as_string()


def test_dependencies_name_contract_tables():
    names = {t.name for t in TABLES}
    for table in TABLES:
        assert set(table.depends_on) <= names


def test_unknown_table_names_the_known_ones():
    try:
        get_table("invoices")
    except KeyError as error:
        assert "orders" in str(error)
    else:
        raise AssertionError("expected a KeyError")
