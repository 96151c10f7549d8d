from ecomflow.core.settings import Settings
from ecomflow.local.runtime import dbt_env


def test_external_urls_disable_the_embedded_services():
    settings = Settings(
        warehouse_url="postgresql://u:p@db.example:5433/wh",
        airflow_db_url="postgresql+psycopg2://u:p@db.example/airflow",
        mlflow_tracking_uri="http://mlflow.example:5000",
    )
    assert not settings.embedded_postgres
    assert settings.warehouse == "postgresql://u:p@db.example:5433/wh"
    assert settings.mlflow_uri == "http://mlflow.example:5000"


def test_dbt_reads_the_warehouse_url_through_env_vars():
    env = dbt_env(Settings(warehouse_url="postgresql://u:secret@db.example:5433/wh"))
    assert env["ECOMFLOW_WAREHOUSE_HOST"] == "db.example"
    assert env["ECOMFLOW_WAREHOUSE_PORT"] == "5433"
    assert env["ECOMFLOW_WAREHOUSE_USER"] == "u"
    assert env["ECOMFLOW_WAREHOUSE_PASSWORD"] == "secret"
    assert env["ECOMFLOW_WAREHOUSE_DBNAME"] == "wh"


def test_embedded_defaults_point_at_the_local_server():
    settings = Settings(pg_port=54999, warehouse_url=None, airflow_db_url=None, mlflow_tracking_uri=None)
    assert settings.embedded_postgres
    assert settings.warehouse == "postgresql://postgres@127.0.0.1:54999/warehouse"
