#!/usr/bin/env bash
# The mlflow service's entrypoint (under dumb-init): the service account Airflow's tasks log with is created or
# updated in the auth store (docker/mlflow/service_account.py), then the server command runs. Its password is
# dropped from the environment first: the server does not use it.
set -euo pipefail
python "$(dirname "$0")/service_account.py"
unset MLFLOW_SERVICE_PASSWORD
exec "$@"
