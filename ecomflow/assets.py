"""Airflow Assets that connect the DAGs (instead of sensors)."""

from airflow.sdk import Asset

RAW = Asset(name="warehouse_raw", uri="ecomflow://warehouse/raw")
FEATURES = Asset(name="warehouse_features", uri="ecomflow://warehouse/features")
SCORES = Asset(name="warehouse_scores", uri="ecomflow://warehouse/scores")
MONITORING = Asset(name="model_monitoring", uri="ecomflow://warehouse/monitoring")
