#!/usr/bin/env bash
# Real PostgreSQL 15 and Redis 7 on loopback for `make run` and `make test`,
# from Debian's packages, with data under .run/ in the repository (gitignored).
# Passwords and the API's write token are generated once per checkout and written to
# .run/local-services.env (mode 0600), which callers source for DATABASE_URL, REDIS_HOST,
# API_WRITE_TOKEN and friends.
set -Eeuo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
export RM_LOG_TAG=local-services

RUN_DIR="${RM_REPO_ROOT}/.run"
PG_DIR="${RUN_DIR}/postgres"
REDIS_DIR="${RUN_DIR}/redis"
ENV_FILE="${RUN_DIR}/local-services.env"
PG_PORT="${LOCAL_PG_PORT:-55432}"
REDIS_PORT="${LOCAL_REDIS_PORT:-56379}"
PG_BIN=/usr/lib/postgresql/15/bin
DB_NAMES=(restomarket restomarket_test)

usage() {
  cat <<USAGE
Usage: $(basename "$0") COMMAND [SERVICE]

Runs real PostgreSQL 15 (127.0.0.1:${PG_PORT}) and Redis 7 (127.0.0.1:${REDIS_PORT})
for local development and tests. Data lives in ${RUN_DIR}.

Commands:
  start [postgres|redis]   install if needed, initialise once, start (idempotent)
  stop  [postgres|redis]   stop gracefully
  status                   show what is running
  running [postgres|redis] exit 0 when it runs (both when no SERVICE), else 1;
                           prints nothing (for scripts that stop only what they started)
  env                      print the connection settings (shell syntax)
  -h, --help               this help

Ports can be changed with LOCAL_PG_PORT and LOCAL_REDIS_PORT.
USAGE
}

# Postgres refuses to run as root; as root we run it as the package's user.
as_pg() {
  if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

install_packages() {
  [[ -x "${PG_BIN}/postgres" ]] && have redis-server && return 0
  ensure_apt_packages postgresql-15 redis-server
  # Debian's packages start their own system services; this project does not use them.
  if have pg_ctlcluster; then pg_ctlcluster 15 main stop >/dev/null 2>&1 || true; fi
  pkill -x redis-server -U redis >/dev/null 2>&1 || true
}

write_env_file() {
  if [[ ! -f "${ENV_FILE}" ]]; then
    mkdir -p "${RUN_DIR}"
    local pg_pass redis_pass
    pg_pass=$(random_secret)
    redis_pass=$(random_secret)
    (
      umask 077
      cat >"${ENV_FILE}" <<ENV
DATABASE_URL=jdbc:postgresql://127.0.0.1:${PG_PORT}/restomarket
DATABASE_USERNAME=restomarket
DATABASE_PASSWORD=${pg_pass}
REDIS_HOST=127.0.0.1
REDIS_PORT=${REDIS_PORT}
REDIS_PASSWORD=${redis_pass}
ENV
    )
    log "wrote ${ENV_FILE}"
  fi
  add_write_token
}

# add_write_token - the API refuses to start without API_WRITE_TOKEN; files written
# before it existed get one, and an existing value is kept.
add_write_token() {
  grep -q '^API_WRITE_TOKEN=' "${ENV_FILE}" && return 0
  printf 'API_WRITE_TOKEN=%s\n' "$(random_secret)" >>"${ENV_FILE}"
  log "added API_WRITE_TOKEN to ${ENV_FILE}"
}

env_value() { sed -n "s/^$1=//p" "${ENV_FILE}"; }

pg_running() { as_pg "${PG_BIN}/pg_ctl" -D "${PG_DIR}" status >/dev/null 2>&1; }

init_postgres() {
  [[ -f "${PG_DIR}/PG_VERSION" ]] && return 0
  log "initialising PostgreSQL data directory ${PG_DIR}"
  mkdir -p "${PG_DIR}"
  ((EUID == 0)) && chown postgres:postgres "${PG_DIR}"
  chmod 700 "${PG_DIR}"
  local pwfile
  pwfile=$(mktemp)
  env_value DATABASE_PASSWORD >"${pwfile}"
  ((EUID == 0)) && chown postgres "${pwfile}"
  as_pg "${PG_BIN}/initdb" -D "${PG_DIR}" -U restomarket --pwfile="${pwfile}" \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 >"${RUN_DIR}/initdb.log" 2>&1 ||
    die "initdb failed" "see ${RUN_DIR}/initdb.log"
  rm -f "${pwfile}"
}

start_postgres() {
  init_postgres
  if pg_running; then
    log "PostgreSQL already running on 127.0.0.1:${PG_PORT}"
  else
    log "starting PostgreSQL 15 on 127.0.0.1:${PG_PORT}"
    as_pg "${PG_BIN}/pg_ctl" -D "${PG_DIR}" -l "${PG_DIR}/server.log" -w -t 30 \
      -o "-p ${PG_PORT} -c listen_addresses=127.0.0.1 -k ${PG_DIR}" start >/dev/null ||
      die "PostgreSQL did not start" "see ${PG_DIR}/server.log; is port ${PG_PORT} taken? (set LOCAL_PG_PORT)"
  fi
  create_databases
}

pg_sql() {
  PGPASSWORD="$(env_value DATABASE_PASSWORD)" psql -h 127.0.0.1 -p "${PG_PORT}" -U restomarket -d postgres -tAqc "$1"
}

create_databases() {
  wait_until 30 "PostgreSQL accepts connections" pg_sql 'SELECT 1' ||
    die "PostgreSQL does not accept connections" "see ${PG_DIR}/server.log"
  local db
  for db in "${DB_NAMES[@]}"; do
    [[ "$(pg_sql "SELECT 1 FROM pg_database WHERE datname='${db}'")" == 1 ]] && continue
    pg_sql "CREATE DATABASE ${db}" >/dev/null
    log "created database ${db}"
  done
}

stop_postgres() {
  if pg_running; then
    log "stopping PostgreSQL"
    as_pg "${PG_BIN}/pg_ctl" -D "${PG_DIR}" -m fast -w stop >/dev/null
  else
    log "PostgreSQL is not running"
  fi
}

redis_cli() { REDISCLI_AUTH="$(env_value REDIS_PASSWORD)" redis-cli -h 127.0.0.1 -p "${REDIS_PORT}" "$@"; }

redis_running() { [[ "$(redis_cli PING 2>/dev/null)" == "PONG" ]]; }

start_redis() {
  if redis_running; then
    log "Redis already running on 127.0.0.1:${REDIS_PORT}"
    return 0
  fi
  mkdir -p "${REDIS_DIR}"
  log "starting Redis 7 on 127.0.0.1:${REDIS_PORT}"
  # The password goes through stdin (a config read from '-') so it never shows in `ps`.
  printf 'requirepass %s\n' "$(env_value REDIS_PASSWORD)" |
    redis-server - --port "${REDIS_PORT}" --bind 127.0.0.1 --dir "${REDIS_DIR}" \
      --appendonly yes --daemonize yes --pidfile "${REDIS_DIR}/redis.pid" --logfile "${REDIS_DIR}/redis.log"
  wait_until 15 "Redis" redis_running ||
    die "Redis did not start" "see ${REDIS_DIR}/redis.log; is port ${REDIS_PORT} taken? (set LOCAL_REDIS_PORT)"
}

stop_redis() {
  if redis_running; then
    log "stopping Redis"
    redis_cli SHUTDOWN >/dev/null 2>&1 || true
    wait_until 15 "Redis stopped" bash -c "! kill -0 \$(cat '${REDIS_DIR}/redis.pid' 2>/dev/null) 2>/dev/null" || true
  else
    log "Redis is not running"
  fi
}

status() {
  if pg_running; then echo "postgres: running on 127.0.0.1:${PG_PORT}"; else echo "postgres: stopped"; fi
  if redis_running; then echo "redis:    running on 127.0.0.1:${REDIS_PORT}"; else echo "redis:    stopped"; fi
}

main() {
  local cmd="${1:-}" service="${2:-all}"
  case "${cmd}" in
    -h | --help) usage; return 0 ;;
    start | stop | status | running | env) ;;
    "") usage >&2; die "no command given" "use one of: start, stop, status, running, env" ;;
    *) usage >&2; die "unknown command '${cmd}'" "use one of: start, stop, status, running, env" ;;
  esac
  case "${service}" in
    all | postgres | redis) ;;
    *) die "unknown service '${service}'" "use postgres or redis, or leave it out for both" ;;
  esac
  case "${cmd}" in
    start)
      install_packages
      write_env_file
      [[ "${service}" == redis ]] || start_postgres
      [[ "${service}" == postgres ]] || start_redis
      ;;
    stop)
      [[ -f "${ENV_FILE}" ]] || { log "nothing to stop (no ${ENV_FILE})"; return 0; }
      [[ "${service}" == redis ]] || stop_postgres
      [[ "${service}" == postgres ]] || stop_redis
      ;;
    status) [[ -f "${ENV_FILE}" ]] && status || echo "not initialised" ;;
    running)
      [[ -f "${ENV_FILE}" ]] || return 1
      [[ "${service}" == redis ]] || pg_running || return 1
      [[ "${service}" == postgres ]] || redis_running
      ;;
    env)
      [[ -f "${ENV_FILE}" ]] || die "no settings yet" "run '$0 start' first"
      sed 's/^/export /' "${ENV_FILE}"
      ;;
  esac
}

main "$@"
