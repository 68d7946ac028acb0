#!/usr/bin/env bash
# Runs the local compose stacks: `dev` (docker-compose.yml, hot reload) and
# `staging` (docker-compose.staging.yml, the production image). `up` checks the
# host ports, prepares settings, brings up Docker and the base images, starts
# the stack, waits until the API is healthy and prints the URLs.
set -Eeuo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
export RM_LOG_TAG="stack"

COMPOSE="${RM_REPO_ROOT}/infrastructure/tools/compose.sh"
DOCKER=/usr/bin/docker
UP_TIMEOUT="${STACK_UP_TIMEOUT:-300}"
# Settings of .env.staging that must hold a real secret.
STAGING_SECRETS=(POSTGRES_PASSWORD REDIS_PASSWORD API_WRITE_TOKEN)

usage() {
  cat <<USAGE
Usage: $(basename "$0") ACTION [dev|staging]

Actions:
  up      prepare settings, start the stack, wait until the API is healthy, print URLs
  down    stop and remove the containers (data volumes are kept; add --volumes to drop them)
  logs    follow the logs (Ctrl-C to stop)
  ps      list the containers
  config  validate the compose file and print it resolved

dev      docker-compose.yml with .env.development (created with random passwords
         from .env.development.example when missing, never overwritten)
staging  docker-compose.staging.yml with .env.staging (you create it from
         .env.staging.example); the image restomarket/api:staging is built first

Environment:
  STACK_UP_TIMEOUT  seconds to wait for a healthy API (default ${UP_TIMEOUT})
  STACK_NAME        compose project and prefix of its volumes and network
                    (default restomarket / restomarket-staging)
  STACK_ENV_FILE    settings file (default .env.development / .env.staging)
USAGE
}

# Sets STACK_NAME, FILE, ENV_FILE, EXAMPLE for the stack named $1.
select_stack() {
  case "$1" in
    dev) FILE=docker-compose.yml EXAMPLE=.env.development.example ;;
    staging) FILE=docker-compose.staging.yml EXAMPLE=.env.staging.example ;;
    *) die "unknown stack '$1'" "use dev or staging" ;;
  esac
  local default_name=restomarket
  [[ "$1" == staging ]] && default_name=restomarket-staging
  STACK_NAME="${STACK_NAME:-${default_name}}"
  ENV_FILE="${STACK_ENV_FILE:-${EXAMPLE%.example}}"
  export STACK_NAME
}

compose() {
  "${COMPOSE}" -p "${STACK_NAME}" -f "${RM_REPO_ROOT}/${FILE}" --env-file "${ENV_FILE}" "$@"
}

# env_value KEY - a setting as compose resolves it: the caller's environment
# wins over the settings file (e.g. API_PORT=4001 make up).
env_value() {
  if [[ -n "${!1:-}" ]]; then
    printf '%s\n' "${!1}"
  else
    sed -n "s/^$1=//p" "${ENV_FILE}" | tail -n 1
  fi
}


create_dev_env() {
  if [[ -f "${ENV_FILE}" ]]; then
    add_generated_settings
    return 0
  fi
  # New passwords cannot open a database initialised with older ones.
  if "${DOCKER}" volume inspect "${STACK_NAME}_postgres_data" >/dev/null 2>&1; then
    die "${ENV_FILE} is missing but the volume ${STACK_NAME}_postgres_data exists, initialised with its passwords" \
      "restore ${ENV_FILE}, or drop the old data: docker volume rm ${STACK_NAME}_postgres_data ${STACK_NAME}_redis_data"
  fi
  log "creating ${ENV_FILE} from ${EXAMPLE} with fresh random passwords"
  local line
  (
    umask 077
    while IFS= read -r line; do
      if [[ "${line}" =~ ^[A-Z_]+=generate$ ]]; then line="${line%=*}=$(random_secret)"; fi
      printf '%s\n' "${line}"
    done <"${RM_REPO_ROOT}/${EXAMPLE}" >"${ENV_FILE}"
  )
}

# A settings file made by an older checkout lacks the generated settings added
# since (e.g. API_WRITE_TOKEN): append those with fresh values, keep the rest.
add_generated_settings() {
  local line key
  while IFS= read -r line; do
    [[ "${line}" =~ ^([A-Z_]+)=generate$ ]] || continue
    key="${BASH_REMATCH[1]}"
    grep -q "^${key}=" "${ENV_FILE}" && continue
    log "adding ${key} to ${ENV_FILE} (a fresh random value)"
    printf '%s=%s\n' "${key}" "$(random_secret)" >>"${ENV_FILE}"
  done <"${RM_REPO_ROOT}/${EXAMPLE}"
}

require_staging_env() {
  [[ -f "${ENV_FILE}" ]] ||
    die "missing ${ENV_FILE}: the staging stack needs its own settings" "cp ${EXAMPLE} ${ENV_FILE}, set POSTGRES_PASSWORD, REDIS_PASSWORD and API_WRITE_TOKEN, then re-run"
  local key
  for key in "${STAGING_SECRETS[@]}"; do
    case "$(env_value "${key}")" in
      "" | replace-me) die "${key} in ${ENV_FILE} is not set" "put a real secret there, e.g. \$(openssl rand -base64 24)" ;;
    esac
  done
}

# The containers read their secrets as files, never as values in `docker
# inspect`: compose mounts these at /run/secrets (the API reads them as its
# config tree, PostgreSQL through POSTGRES_PASSWORD_FILE, Redis through its
# command). The settings file stays their one source: they are rewritten from
# it on every start. Compose does not see a file's content change, so
# SECRETS_CHANGED tells up() to recreate the containers, which read them at start.
SECRETS_CHANGED=""
write_secrets() {
  local dir="${RM_REPO_ROOT}/.run/${STACK_NAME}-secrets" name value
  # Secret file name -> the setting that holds its value.
  local -A setting=([DATABASE_PASSWORD]=POSTGRES_PASSWORD [REDIS_PASSWORD]=REDIS_PASSWORD [API_WRITE_TOKEN]=API_WRITE_TOKEN)
  mkdir -p "${dir}"
  chmod 700 "${dir}"
  for name in "${!setting[@]}"; do
    value=$(env_value "${setting[${name}]}")
    [[ -n "${value}" ]] || die "${setting[${name}]} in ${ENV_FILE} is empty" "set a value there"
    (umask 077 && printf '%s' "${value}" >"${dir}/${name}.tmp")
    if cmp -s "${dir}/${name}.tmp" "${dir}/${name}"; then
      rm -f "${dir}/${name}.tmp"
    else
      mv -f "${dir}/${name}.tmp" "${dir}/${name}"
      SECRETS_CHANGED=1
    fi
  done
  # PostgreSQL, Redis and the dev API read them as root; the staging API runs
  # as uid 1001 (without root to chown, the 0700 folder keeps them private).
  [[ "${STACK}" == staging ]] || return 0
  chown 1001:1001 "${dir}"/* 2>/dev/null || chmod 644 "${dir}"/*
}

# The stack's own containers hold its ports when it runs already. Asked of the
# engine by compose's project label: a `compose ps` that fails under load must
# not pass for "not running" and turn a second `make up` into a port conflict.
port_owner_is_us() {
  local ids
  ids=$("${DOCKER}" ps -q --filter "label=com.docker.compose.project=${STACK_NAME}") ||
    die "cannot list the containers of stack ${STACK_NAME}" "check that the Docker engine answers: docker info"
  [[ -n "${ids}" ]]
}

check_ports() {
  local key port
  port_owner_is_us && return 0
  for key in API_PORT ADMINER_PORT POSTGRES_PORT REDIS_PORT; do
    port=$(env_value "${key}")
    [[ -n "${port}" ]] || continue
    if ss -Hltn "sport = :${port}" 2>/dev/null | grep -q .; then
      die "port ${port} (${key}) is already in use on this machine" \
        "stop what listens there (ss -ltnp 'sport = :${port}') or set another ${key} in ${ENV_FILE}"
    fi
  done
}

wait_for_api() {
  local port url deadline
  port=$(env_value API_PORT)
  url="http://127.0.0.1:${port}/health"
  deadline=$(($(date +%s) + UP_TIMEOUT))
  log "waiting for ${url} (up to ${UP_TIMEOUT}s; the first dev start downloads Maven dependencies)"
  until [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "${url}")" == 200 ]]; do
    if (($(date +%s) >= deadline)); then
      compose logs --tail 40 api >&2 || true
      die "the API did not become healthy within ${UP_TIMEOUT}s" "see the log above, or: make logs"
    fi
    sleep 2
  done
}

print_urls() {
  cat <<URLS

  restomarket ${STACK} stack is up
    API        http://localhost:$(env_value API_PORT)        (health: /health, version: /version)
    Adminer    http://localhost:$(env_value ADMINER_PORT)        (server: postgres, user: $(env_value POSTGRES_USER), password in ${ENV_FILE})
    PostgreSQL localhost:$(env_value POSTGRES_PORT)
    Redis      localhost:$(env_value REDIS_PORT)

URLS
}

up() {
  # Docker first: the settings and port checks below ask the engine questions,
  # and on a fresh machine there is no engine until this step installs it.
  step docker "${RM_REPO_ROOT}/infrastructure/tools/bootstrap/docker.sh"
  if [[ "${STACK}" == dev ]]; then create_dev_env; else require_staging_env; fi
  check_ports
  step base-images "${RM_REPO_ROOT}/infrastructure/docker/base-images/build.sh"
  write_secrets
  if [[ "${STACK}" == staging ]]; then
    step api-image "${RM_REPO_ROOT}/infrastructure/tools/build-image.sh" "$(env_value API_IMAGE | sed 's/.*://')"
  fi
  local recreate=()
  [[ -z "${SECRETS_CHANGED}" ]] || recreate=(--force-recreate)
  step start compose up -d --remove-orphans "${recreate[@]}"
  step wait-healthy wait_for_api
  print_urls
}

main() {
  local action="${1:-}"
  case "${action}" in
    -h | --help) usage; return 0 ;;
    up | down | logs | ps | config) ;;
    "") usage >&2; die "no action given" "use up, down, logs, ps or config" ;;
    *) usage >&2; die "unknown action '${action}'" "use up, down, logs, ps or config" ;;
  esac
  STACK="${2:-dev}"
  select_stack "${STACK}"
  shift $(($# >= 2 ? 2 : 1))
  cd "${RM_REPO_ROOT}"
  case "${action}" in
    up) up ;;
    down)
      [[ -f "${ENV_FILE}" ]] || { log "no ${ENV_FILE}: nothing to stop"; return 0; }
      compose down "$@"
      ;;
    logs) compose logs -f "$@" ;;
    ps) compose ps "$@" ;;
    config)
      if [[ ! -f "${ENV_FILE}" ]]; then
        # Validate against the example when no real settings exist yet.
        ENV_FILE="${RM_REPO_ROOT}/${EXAMPLE}"
      fi
      compose config "$@"
      ;;
  esac
}

main "$@"
