"""One typed settings object: every knob is an environment variable prefixed ``ECOMFLOW_``.

Defaults start the embedded runtime on this machine. Pointing ``ECOMFLOW_WAREHOUSE_URL``,
``ECOMFLOW_AIRFLOW_DB_URL`` or ``ECOMFLOW_MLFLOW_TRACKING_URI`` at real servers is the only change needed
for a deployment: nothing embedded is started for a URL that is set.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DAGS_DIR = PROJECT_ROOT / "dags"
PLUGINS_DIR = PROJECT_ROOT / "plugins"


DEFAULT_START_DATE = dt.date(2025, 1, 1)
SIMULATION_RECORD = "simulation.json"
"""In the state directory: the first day of business the demo simulated, so later processes simulate the same."""


def recorded_start_date(state_dir: Path) -> dt.date | None:
    """The start date the demo recorded in ``state_dir``, if any."""
    record = state_dir / SIMULATION_RECORD
    if not record.exists():
        return None
    return dt.date.fromisoformat(json.loads(record.read_text())["start_date"])


class Settings(BaseSettings):
    """Configuration of ecomflow, read from ``ECOMFLOW_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="ECOMFLOW_", frozen=True, extra="ignore")

    state_dir: Path = Field(PROJECT_ROOT / ".ecomflow", description="Embedded runtime state: data, logs, pids.")
    landing_dir: Path | None = Field(None, description="Landing area; defaults to <state_dir>/landing.")

    pg_host: str = Field("127.0.0.1", description="Host the embedded PostgreSQL listens on (TCP).")
    pg_port: int = Field(54329, description="Port of the embedded PostgreSQL.")
    pg_server_dir: Path = Field(
        Path("/var/lib/ecomflow/postgres"),
        description="As root only: where the embedded PostgreSQL's binaries and data live, out of the clone, so that "
        "its unprivileged user reaches them from any clone location (root's home is 0700).",
    )
    warehouse_url: str | None = Field(None, description="External warehouse; disables the embedded PostgreSQL.")
    airflow_db_url: str | None = Field(None, description="External Airflow metadata database (SQLAlchemy URL).")
    mlflow_tracking_uri: str | None = Field(None, description="External MLflow tracking server.")

    mlflow_port: int = Field(5055, description="Port of the embedded MLflow tracking server.")
    airflow_port: int = Field(8080, description="Port of the embedded Airflow api-server.")
    airflow_user: str = Field("admin", description="Airflow UI login of the embedded runtime.")
    mlflow_ui_url: str | None = Field(
        None, description="MLflow UI as a browser reaches it, for Airflow's links; defaults to the tracking URI."
    )
    dbt_docs_url: str = Field(
        "http://127.0.0.1:8081", description="dbt docs as a browser reaches them (`ecomflow docs` serves them here)."
    )

    simulate: bool = Field(True, description="The ingest DAG lands the simulator's files for its day first.")
    seed: int = Field(42, description="Seed of the source simulator: same seed and day give the same files.")
    n_customers: int = Field(1_000, description="Simulator scale: number of customers (sellers scale with it).")
    start_date: dt.date = Field(
        default_factory=lambda data: recorded_start_date(data["state_dir"]) or DEFAULT_START_DATE,
        description="First day of simulated business; set, it pins the demo's days. Unset: the one the demo "
        "recorded in the state directory, else 2025-01-01 (the demo itself then ends its days yesterday).",
    )
    simulator_regime: Literal["realistic", "easy"] = Field(
        "easy",
        description="How simulated customers buy: 'realistic' (BG/NBD rates and drop-out, seasonality) or 'easy'.",
    )
    demo_days: int = Field(7, description="Days the demo runs through Airflow, after the history.")
    history_days: int = Field(
        730, description="Days of history the demo loads before the Airflow days (two years: credit needs them)."
    )

    propensity_window_days: int = Field(14, description="Purchase-propensity label window in days.")
    credit_default_dpd: int = Field(90, description="Days past due that count as a default.")
    credit_window_months: int = Field(6, description="Credit-risk label window in months.")

    score_batch_rows: int = Field(
        200_000, description="Rows per batch of reason codes (contributions: rows x features doubles each)."
    )
    reason_codes_exact_deciles: int = Field(
        3, description="Customers in propensity deciles 1..N (the audiences acted on) get exact TreeSHAP reasons."
    )
    reason_codes_rest: Literal["approximate", "none"] = Field(
        "approximate", description="Reasons for the other customers: approximate (Saabas) contributions, or none."
    )
    drift_psi_threshold: float = Field(0.25, description="Population stability index above which monitoring fails.")

    @property
    def landing(self) -> Path:
        """Directory holding ``<table>/dt=YYYY-MM-DD/`` partitions."""
        return self.landing_dir or self.state_dir / "landing"

    @property
    def embedded_postgres(self) -> bool:
        """Whether the embedded PostgreSQL serves any of the databases."""
        return self.warehouse_url is None or self.airflow_db_url is None or self.mlflow_tracking_uri is None

    def embedded_url(self, database: str, driver: str = "postgresql") -> str:
        """URL of ``database`` on the embedded server."""
        return f"{driver}://postgres@{self.pg_host}:{self.pg_port}/{database}"

    @property
    def warehouse(self) -> str:
        """Libpq URL of the warehouse."""
        return self.warehouse_url or self.embedded_url("warehouse")

    @property
    def airflow_db(self) -> str:
        """SQLAlchemy URL of Airflow's metadata database."""
        return self.airflow_db_url or self.embedded_url("airflow", "postgresql+psycopg2")

    @property
    def mlflow_backend_store(self) -> str:
        """SQLAlchemy URL of the embedded MLflow server's backend store."""
        return self.embedded_url("mlflow", "postgresql+psycopg2")

    @property
    def mlflow_uri(self) -> str:
        """Tracking URI clients use."""
        return self.mlflow_tracking_uri or f"http://127.0.0.1:{self.mlflow_port}"

    @property
    def mlflow_ui(self) -> str:
        """Base URL of the MLflow UI that links point at."""
        return (self.mlflow_ui_url or self.mlflow_uri).rstrip("/")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (read once from the environment)."""
    return Settings()
