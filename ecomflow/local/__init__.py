"""The embedded runtime: PostgreSQL, MLflow and Airflow processes on this machine."""
