# shellcheck shell=bash
# PostgreSQL and Redis containers that get their password as a file, so no
# password shows in `docker inspect` (Env, Cmd, Healthcheck): what the ENV=local
# host and the suites' stand-ins pass to `docker run`. Works with the official
# images and the air-gapped ones (both read POSTGRES_PASSWORD_FILE as root and
# take Redis settings on stdin). docker-compose.yml and
# docker-compose.staging.yml do the same with compose secrets.

# Where the containers find their password file (read-only bind mounts).
PG_PASSWORD_SECRET=/run/secrets/DATABASE_PASSWORD
REDIS_PASSWORD_SECRET=/run/secrets/REDIS_PASSWORD

# postgres_password_opts VAR FILE - append to the array VAR the docker run
# options that mount the host file FILE as PostgreSQL's password.
postgres_password_opts() {
  local -n _pg_opts="$1"
  _pg_opts+=(-v "$2:${PG_PASSWORD_SECRET}:ro" -e "POSTGRES_PASSWORD_FILE=${PG_PASSWORD_SECRET}")
}

# redis_password_opts VAR FILE - append to the array VAR the docker run options
# that mount the host file FILE as Redis's password; run the image with
# "${REDIS_SERVER[@]}" [OPTIONS...] as its command.
redis_password_opts() {
  local -n _redis_opts="$1"
  _redis_opts+=(-v "$2:${REDIS_PASSWORD_SECRET}:ro")
}

# REDIS_SERVER - the container's command: a shell (root, before the image's
# entry point drops to user redis) reads the file and starts `redis-server
# [OPTIONS...] -`, which takes requirepass as settings on stdin, never as an
# argument. The "-" goes last: redis-server reads stdin only for a first or
# last "-", and the official entry point puts --protected-mode no first.
# shellcheck disable=SC2016,SC2034 # expanded by the container's shell; used by the sourcing scripts
REDIS_SERVER=(sh -c 'exec docker-entrypoint.sh redis-server "$@" - <<EOF
requirepass $(cat '"${REDIS_PASSWORD_SECRET}"')
EOF' redis-server)

# REDIS_CLI - redis-cli inside such a container, authenticated from the file:
# docker exec NAME "${REDIS_CLI[@]}" PING [more redis-cli arguments].
# shellcheck disable=SC2016,SC2034 # expanded by the container's shell; used by the sourcing scripts
REDIS_CLI=(sh -c 'REDISCLI_AUTH=$(cat '"${REDIS_PASSWORD_SECRET}"') && export REDISCLI_AUTH && exec redis-cli "$@"' redis-cli)
