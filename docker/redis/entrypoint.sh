#!/bin/sh
# Redis reads its password from a config file written here from REDIS_PASSWORD (printf is a shell builtin), so it
# never appears on a command line; the variable is dropped before the image's entrypoint starts the server as the
# redis user.
set -eu
umask 077
printf 'requirepass "%s"\n' "${REDIS_PASSWORD:?}" > /tmp/redis.conf
chown redis:redis /tmp/redis.conf
unset REDIS_PASSWORD
exec docker-entrypoint.sh redis-server /tmp/redis.conf "$@"
