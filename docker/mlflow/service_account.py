"""Create or update the MLflow service account of Airflow's tasks before the server starts (see entrypoint.sh).

The account (``MLFLOW_SERVICE_USERNAME`` / ``MLFLOW_SERVICE_PASSWORD``) is never an admin. With the auth config's
``default_permission = READ`` it reads every experiment and model, and it holds MANAGE on the experiments and
registered models it creates (MLflow grants the creator that), which the training tasks do: so it writes runs and
model versions and moves aliases on ecomflow's models, but cannot manage users or touch anyone else's resources.
Rerunning is safe: an existing account gets the configured password and loses any admin flag.
"""

from __future__ import annotations

import os
import sys

from mlflow.server.auth.config import read_auth_config
from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore


def main() -> int:
    """Make the account match the environment; exit non-zero with one line if it is not configured."""
    name, password = os.environ.get("MLFLOW_SERVICE_USERNAME"), os.environ.get("MLFLOW_SERVICE_PASSWORD")
    if not name or not password:
        print("service_account.py: set MLFLOW_SERVICE_USERNAME and MLFLOW_SERVICE_PASSWORD", file=sys.stderr)
        return 1
    config = read_auth_config()
    if name == config.admin_username:
        print(f"service_account.py: the service account must not be the admin {name!r}", file=sys.stderr)
        return 1
    store = SqlAlchemyStore()
    store.init_db(config.database_uri)
    if store.has_user(name):
        store.update_user(name, password=password, is_admin=False)
    else:
        store.create_user(name, password, is_admin=False)
    print(f"MLflow service account {name!r} ready (not an admin)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
