#!/usr/bin/env bash
# Prepares this machine as the host of ENV=local, what Ansible does for a
# droplet: the environment directory (api.env + secrets/ as files readable by
# the API's uid 1001) and PostgreSQL and Redis containers on the environment's
# network, where the blue/green slots find them by name. Passwords are made
# once and kept, and reach PostgreSQL and Redis as those same files, never as
# values in `docker inspect`; `make deploy ENV=local` calls `up` before deploy.sh.
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
source "${HERE}/lib/common.sh"
# shellcheck source=../scripts/lib/deploy.sh
source "${RM_REPO_ROOT}/infrastructure/scripts/lib/deploy.sh"
# shellcheck source=lib/services.sh
source "${HERE}/lib/services.sh"
export RM_LOG_TAG="local-host"

API_UID=1001
# Label of the PostgreSQL and Redis containers: the hash of their docker run arguments.
SPEC_LABEL=com.restomarket.local-host.spec

usage() {
  cat <<USAGE
Usage: $(basename "$0") up|down|status

  up      create the environment directory of ENV=local (settings + secrets, made once),
          build or pull the base images and start its PostgreSQL and Redis containers on
          the environment network; on a host prepared already, two docker calls say so
          and nothing else runs (make deploy calls it before every deploy)
  down    remove every container of the local deployment (proxy, slots, PostgreSQL,
          Redis) and its network; data volumes, secrets and the release ledger are kept
  status  show the containers of the local deployment

Settings come from infrastructure/scripts/env/local.env (RESTOMARKET_DEPLOY_ENVS and
RESTOMARKET_ENV_DIR override the folders); the proxy image from
infrastructure/docker/images.env. dev and staging hosts are prepared by Ansible.
USAGE
}

db_container() { echo "${STACK_NAME}-postgres"; }
redis_container() { echo "${STACK_NAME}-redis"; }

write_env_dir() {
  mkdir -p "${ENV_DIR}/secrets"
  local name
  for name in DATABASE_PASSWORD REDIS_PASSWORD API_WRITE_TOKEN; do
    [[ -s "${ENV_DIR}/secrets/${name}" ]] && continue
    (umask 077 && random_secret >"${ENV_DIR}/secrets/${name}")
    log "generated ${ENV_DIR}/secrets/${name}"
  done
  chmod 0755 "${ENV_DIR}/secrets"
  chown "${API_UID}:${API_UID}" "${ENV_DIR}/secrets/"*
  chmod 0600 "${ENV_DIR}/secrets/"*
  if [[ ! -f "${ENV_DIR}/api.env" ]]; then
    cat >"${ENV_DIR}/api.env" <<ENV
# Settings of the API on this host (no secrets: those are files in secrets/).
DATABASE_URL=jdbc:postgresql://$(db_container):5432/restomarket
DATABASE_USERNAME=restomarket
REDIS_HOST=$(redis_container)
LOG_FORMAT=ecs
ENV
    log "wrote ${ENV_DIR}/api.env"
  fi
}

ensure_network() {
  "${DOCKER}" network inspect "${NETWORK}" >/dev/null 2>&1 && return 0
  "${DOCKER}" network create "${NETWORK}" >/dev/null
  log "created network ${NETWORK}"
}

# container_spec ARGS... - the hash of a dependency's docker run ARGS (they
# hold paths, no secret), kept in a label of its container.
container_spec() { printf '%s\0' "${NETWORK}" "$@" | sha256sum | cut -c1-16; }

# ensure_container NAME ARGS... - start NAME with docker run ARGS unless it runs
# already with the same ARGS (its spec label), so a container from older
# settings is replaced, e.g. one that got its password as a value; its data
# volume stays.
ensure_container() {
  local name="$1" spec
  shift
  spec=$(container_spec "$@")
  case "$(container_state "${name}")" in
    running)
      [[ "$("${DOCKER}" inspect -f "{{index .Config.Labels \"${SPEC_LABEL}\"}}" "${name}")" == "${spec}" ]] && return 0
      log "replacing ${name}: it runs with other settings"
      "${DOCKER}" stop -t 30 "${name}" >/dev/null
      "${DOCKER}" rm -f "${name}" >/dev/null
      ;;
    absent) ;;
    *) "${DOCKER}" rm -f "${name}" >/dev/null ;;
  esac
  "${DOCKER}" run -d --name "${name}" --network "${NETWORK}" --restart unless-stopped \
    --label "${LABEL_STACK}=${STACK_NAME}" --label "${SPEC_LABEL}=${spec}" "$@" >/dev/null
  log "started ${name}"
}

# PostgreSQL's and Redis's docker run arguments, into the arrays PG_ARGS and
# REDIS_ARGS. The passwords are the API's own secret files, mounted read-only:
# no value in `docker inspect` (lib/services.sh).
PG_ARGS=()
REDIS_ARGS=()
dependency_args() {
  local pg_opts=() redis_opts=()
  postgres_password_opts pg_opts "${ENV_DIR}/secrets/DATABASE_PASSWORD"
  redis_password_opts redis_opts "${ENV_DIR}/secrets/REDIS_PASSWORD"
  PG_ARGS=(-v "${STACK_NAME}_postgres_data:/var/lib/postgresql/data"
    -e POSTGRES_USER=restomarket -e POSTGRES_DB=restomarket "${pg_opts[@]}" "${POSTGRES_IMAGE}")
  REDIS_ARGS=(-v "${STACK_NAME}_redis_data:/data" "${redis_opts[@]}" "${REDIS_IMAGE}" "${REDIS_SERVER[@]}" --appendonly yes)
}

start_dependencies() {
  dependency_args
  ensure_container "$(db_container)" "${PG_ARGS[@]}"
  ensure_container "$(redis_container)" "${REDIS_ARGS[@]}"
  wait_until 60 "$(db_container)" "${DOCKER}" exec "$(db_container)" pg_isready -U restomarket -h 127.0.0.1 ||
    die "$(db_container) did not become ready" "docker logs $(db_container)"
}

# prepared - this host has what a deploy needs and nothing of it changed: the
# settings and secrets, PostgreSQL and Redis running with today's arguments,
# the proxy image and the engine's tools. Two docker calls, so that `make
# deploy` on a prepared host costs next to nothing before the engine starts.
prepared() {
  local name
  [[ -s "${ENV_DIR}/api.env" ]] || return 1
  for name in DATABASE_PASSWORD REDIS_PASSWORD API_WRITE_TOKEN; do
    [[ -s "${ENV_DIR}/secrets/${name}" ]] || return 1
  done
  [[ -z "$(missing_tools)" ]] || return 1
  dependency_args
  [[ "$("${DOCKER}" inspect -f "{{.State.Status}} {{index .Config.Labels \"${SPEC_LABEL}\"}}" \
    "$(db_container)" "$(redis_container)" 2>/dev/null)" == "running $(container_spec "${PG_ARGS[@]}")"$'\n'"running $(container_spec "${REDIS_ARGS[@]}")" ]] ||
    return 1
  "${DOCKER}" image inspect -f '{{.Id}}' "${PROXY_IMAGE}" >/dev/null 2>&1
}

up() {
  [[ "${DEPLOY_ENV}" == local ]] || die "local-host.sh prepares ENV=local only" "dev and staging hosts are set up by Ansible"
  if prepared; then
    log "ENV=local is prepared (settings, secrets, PostgreSQL, Redis, proxy image): nothing to set up"
    return 0
  fi
  "${HERE}/bootstrap/docker.sh" --no-compose >/dev/null
  # The proxy, PostgreSQL and Redis images (built locally on a machine without a registry).
  "${RM_REPO_ROOT}/infrastructure/docker/base-images/build.sh" >/dev/null
  # What the engine needs and, on droplets, gets from Ansible (it installs nothing).
  "${HERE}/bootstrap/engine-tools.sh"
  write_env_dir
  ensure_network
  start_dependencies
  log "ENV=local is ready: make deploy TAG=... serves it on http://${PROXY_BIND}:${PROXY_PORT}"
}

down() {
  local ids
  # The warm standby's timer (deploy.sh --end-standby) has nothing left to stop.
  cancel_standby_timer
  mapfile -t ids < <({
    "${DOCKER}" ps -aq --filter "label=${LABEL_STACK}=${STACK_NAME}"
    "${DOCKER}" ps -aq --filter "name=^${STACK_NAME}-(proxy|blue|green|postgres|redis)$"
  } | sort -u)
  ((${#ids[@]} == 0)) || "${DOCKER}" rm -f "${ids[@]}" >/dev/null
  "${DOCKER}" network rm "${NETWORK}" >/dev/null 2>&1 || true
  log "removed the local deployment's containers and network (volumes, ${ENV_DIR} and the ledger are kept)"
}

main() {
  local action="${1:-}"
  case "${action}" in
    -h | --help) usage; return 0 ;;
    up | down | status) ;;
    "") usage >&2; die "no action given" "use up, down or status" 2 ;;
    *) usage >&2; die "unknown action '${action}'" "use up, down or status" 2 ;;
  esac
  [[ $# -le 1 ]] || die "unexpected argument '$2'" "see --help" 2
  # Image names (PostgreSQL, Redis, and the PROXY_IMAGE load_env asks for).
  # shellcheck source=/dev/null
  source <("${HERE}/compose.sh" --env)
  export PROXY_IMAGE
  load_env local
  case "${action}" in
    up) up ;;
    down) down ;;
    status) "${DOCKER}" ps -a --filter "name=^${STACK_NAME}-" --format 'table {{.Names}}\t{{.Status}}\t{{.Image}}' ;;
  esac
}

main "$@"
