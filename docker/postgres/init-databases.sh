#!/usr/bin/env bash
# One login role and database per component, created by the postgres image on its first start (an empty data
# volume): /docker-entrypoint-initdb.d/ runs this with the superuser, before the server accepts TCP clients.
#
#   airflow  owns  airflow       Airflow's metadata database (and the Celery result backend)
#   mlflow   owns  mlflow        MLflow's tracking and registry store
#                  mlflow_auth   MLflow's basic-auth users and permissions
#   ecomflow owns  warehouse     raw, staging, marts, features, scores; CREATEROLE for dbt's read-only `analyst`
#
# Passwords come from the environment (.env). Names are fixed: docker-compose.yml and docker/mlflow/basic_auth.ini
# use them (tests/deploy/test_compose.py runs this script on a fresh cluster and connects as each role).
set -euo pipefail

sql() {
    psql --no-psqlrc -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres "$@"
}

create_role() {  # name password [attribute...]
    local name=$1 password=$2
    shift 2
    if [[ -z "${password}" ]]; then
        echo "init-databases.sh: no password for role ${name}; set it in .env" >&2
        exit 1
    fi
    # psql interpolates :"name" as an identifier and :'password' as a literal, so any value is safe.
    sql -v name="${name}" -v password="${password}" <<SQL
create role :"name" login password :'password' ${*};
SQL
}

create_database() {  # name owner
    sql -v name="$1" -v owner="$2" <<'SQL'
create database :"name" owner :"owner";
SQL
}

private() {  # database: only its owner (and the superuser) may connect
    sql -v name="$1" <<'SQL'
revoke connect, temporary on database :"name" from public;
SQL
}

create_role airflow "${AIRFLOW_DB_PASSWORD:-}"
create_database airflow airflow
private airflow

create_role mlflow "${MLFLOW_DB_PASSWORD:-}"
create_database mlflow mlflow
create_database mlflow_auth mlflow
private mlflow
private mlflow_auth

create_role ecomflow "${WAREHOUSE_DB_PASSWORD:-}" createrole
# Not private: analysts log in to the warehouse with roles of their own in `analyst`.
create_database warehouse ecomflow
