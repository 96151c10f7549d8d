#!/usr/bin/env bash
# Fill the empty secrets of an env file for docker-compose.yml: every *_PASSWORD, *_SECRET, *_SECRET_KEY and
# *_FERNET_KEY left empty gets a fresh random value; values already set are kept, so rerunning is safe.
#
#   docker/generate-secrets.sh            # creates .env from .env.example if it does not exist yet
#   docker/generate-secrets.sh other.env
#
# Passwords are hex (they go into database and broker URLs unescaped); the Fernet key is 32 random bytes in
# URL-safe base64, the format Airflow's FERNET_KEY requires.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
env_file=${1:-${root}/.env}

if [[ ! -e "${env_file}" ]]; then
    cp "${root}/.env.example" "${env_file}"
    echo "created ${env_file} from .env.example"
fi
chmod 600 "${env_file}"

secret_for() {  # variable name -> a new value
    case "$1" in
        *_FERNET_KEY) openssl rand -base64 32 | tr '+/' '-_' ;;
        *) openssl rand -hex 24 ;;
    esac
}

filled=0
tmp=$(mktemp "${env_file}.XXXXXX")
trap 'rm -f "${tmp}"' EXIT
while IFS= read -r line || [[ -n "${line}" ]]; do
    if [[ "${line}" =~ ^([A-Z0-9_]+(_PASSWORD|_SECRET|_SECRET_KEY|_FERNET_KEY))=[[:space:]]*$ ]]; then
        line="${BASH_REMATCH[1]}=$(secret_for "${BASH_REMATCH[1]}")"
        filled=$((filled + 1))
    fi
    printf '%s\n' "${line}" >>"${tmp}"
done <"${env_file}"
chmod 600 "${tmp}"
mv "${tmp}" "${env_file}"
trap - EXIT
echo "generated ${filled} secret(s) in ${env_file}"
