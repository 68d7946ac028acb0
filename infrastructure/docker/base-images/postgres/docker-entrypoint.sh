#!/usr/bin/env bash
# Entry point of the air-gapped PostgreSQL image. Follows the official image's
# contract: on an empty PGDATA run initdb with POSTGRES_USER/POSTGRES_PASSWORD
# (or POSTGRES_PASSWORD_FILE, a secret file read while still root), create POSTGRES_DB, run /docker-entrypoint-initdb.d/*, then exec postgres as
# the unprivileged postgres user. Arguments starting with '-' go to postgres,
# any other command runs as given (e.g. psql, bash).
set -Eeuo pipefail

POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-${POSTGRES_USER}}"
POSTGRES_HOST_AUTH_METHOD="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"

log() { printf '%s [postgres-entrypoint] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "ERROR: $1"; log "  hint: $2"; exit 1; }

prepare_dirs_as_root() {
  mkdir -p "${PGDATA}" /var/run/postgresql
  chown -R postgres:postgres "${PGDATA}" /var/run/postgresql
  chmod 700 "${PGDATA}"
}

# Like the official image's file_env: the password comes from a file (a
# mounted secret, readable by root only) so it stays out of `docker inspect`.
# Read before dropping to user postgres; the value is passed on in the
# environment of the server process, not the container's configuration.
read_password_file() {
  [[ -n "${POSTGRES_PASSWORD_FILE:-}" ]] || return 0
  [[ -z "${POSTGRES_PASSWORD:-}" ]] ||
    die "both POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE are set" "pass only one of them"
  [[ -r "${POSTGRES_PASSWORD_FILE}" ]] ||
    die "cannot read POSTGRES_PASSWORD_FILE=${POSTGRES_PASSWORD_FILE}" "mount the password file there (read-only is fine)"
  POSTGRES_PASSWORD=$(<"${POSTGRES_PASSWORD_FILE}")
  export POSTGRES_PASSWORD
  unset POSTGRES_PASSWORD_FILE
}

require_password() {
  [[ -n "${POSTGRES_PASSWORD:-}" || "${POSTGRES_HOST_AUTH_METHOD}" == trust ]] && return 0
  die "the database is not initialised and POSTGRES_PASSWORD is not set" \
    "pass -e POSTGRES_PASSWORD_FILE=/run/secrets/... or -e POSTGRES_PASSWORD=... (or POSTGRES_HOST_AUTH_METHOD=trust for throwaway local use only)"
}

init_cluster() {
  local pwfile="" pwargs=()
  if [[ -n "${POSTGRES_PASSWORD:-}" ]]; then
    pwfile=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD}" >"${pwfile}"
    pwargs=(--pwfile="${pwfile}")
  fi
  log "initialising a new cluster in ${PGDATA}"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words by contract
  initdb --username="${POSTGRES_USER}" "${pwargs[@]}" --encoding=UTF8 --locale=C.UTF-8 \
    ${POSTGRES_INITDB_ARGS:-} -D "${PGDATA}" >/dev/null
  [[ -z "${pwfile}" ]] || rm -f "${pwfile}"
  printf 'host all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD}" >>"${PGDATA}/pg_hba.conf"
}

# Runs while a socket-only server is up: create the database, run init scripts.
run_init_scripts() {
  local psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER}" --dbname postgres)
  if [[ "${POSTGRES_DB}" != postgres ]]; then
    "${psql[@]}" --set db="${POSTGRES_DB}" -q <<<'CREATE DATABASE :"db";'
  fi
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    [[ -e "${f}" ]] || continue
    case "${f}" in
      *.sh) log "running ${f}"; bash "${f}" ;;
      *.sql) log "running ${f}"; "${psql[@]}" --dbname "${POSTGRES_DB}" -f "${f}" ;;
      *.sql.gz) log "running ${f}"; gunzip -c "${f}" | "${psql[@]}" --dbname "${POSTGRES_DB}" ;;
      *) log "ignoring ${f}" ;;
    esac
  done
}

first_start() {
  require_password
  init_cluster
  pg_ctl -D "${PGDATA}" -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" -w start >/dev/null
  run_init_scripts
  pg_ctl -D "${PGDATA}" -m fast -w stop >/dev/null
  log "initialisation complete; starting PostgreSQL"
}

main() {
  case "${1:-}" in
    -*) set -- postgres "$@" ;;
  esac
  if [[ "${1:-}" != postgres ]]; then
    exec "$@"
  fi
  read_password_file
  if [[ $(id -u) == 0 ]]; then
    prepare_dirs_as_root
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
  fi
  [[ -s "${PGDATA}/PG_VERSION" ]] || first_start
  exec "$@"
}

main "$@"
