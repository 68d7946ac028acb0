#!/usr/bin/env bash
# The one way this project runs Docker Compose. Picks Compose v2 (the binary
# infrastructure/tools/bootstrap/docker.sh builds, or a `docker compose`
# plugin) over Debian's docker-compose v1, puts the base-image variables of
# infrastructure/docker/images.env into the environment (with the air-gapped
# overrides written by infrastructure/docker/base-images/build.sh on top) and
# passes every argument through.
set -Eeuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
export RM_LOG_TAG="compose"

IMAGES_ENV="${RM_REPO_ROOT}/infrastructure/docker/images.env"
AIRGAP_ENV="${RM_CACHE_DIR}/images.airgap.env"
COMPOSE_V2_BIN="${RM_BIN_DIR}/docker-compose"
# Debian's 20.10 client: builds with BuildKit without a buildx plugin.
DEBIAN_DOCKER=/usr/bin/docker

COMPOSE=()

usage() {
  cat <<EOF
Usage: $(basename "$0") [COMPOSE ARGS...]
       $(basename "$0") --which | --env | -h | --help

Runs Docker Compose with all arguments passed through, e.g.
  $(basename "$0") -f infrastructure/docker/compose.yaml up -d

Compose: ${COMPOSE_V2_BIN} (v2, built by bootstrap/docker.sh),
else 'docker compose' (v2 plugin), else Debian's docker-compose (v1).
Set RM_COMPOSE_V1=1 to force v1 (to check a file works with both).

Image variables (BUILD_JDK_IMAGE, POSTGRES_IMAGE, ...): defaults from
  ${IMAGES_ENV}
overridden by the air-gapped local images, when that file exists:
  ${AIRGAP_ENV}
A variable set by the caller to something other than its images.env default
wins over both.

  --which     print the compose command and the image variables, run nothing
  --env       print only the resolved image variables as KEY=value lines, for
              scripts that need them without compose:  source <(compose.sh --env)
  -h, --help  show this help (use '$(basename "$0") help' for Compose's own)
EOF
}

# read_env_file FILE - print KEY=VALUE lines of FILE, comments and blanks skipped.
read_env_file() {
  grep -E '^[A-Za-z_][A-Za-z0-9_]*=' "$1" || true
}

# Export the image variables: images.env defaults, then the air-gapped
# overrides. A caller's value wins only when it differs from the default, so a
# Makefile that exports the defaults does not hide the air-gapped images.
load_image_env() {
  [[ -r "${IMAGES_ENV}" ]] || die "cannot read ${IMAGES_ENV}" "restore it from git"
  local line key value
  local -A default=() caller=()
  while IFS= read -r line; do
    key="${line%%=*}"
    default[${key}]="${line#*=}"
    if [[ -n "${!key:-}" && "${!key}" != "${default[${key}]}" ]]; then caller[${key}]=1; fi
  done < <(read_env_file "${IMAGES_ENV}")
  for key in "${!default[@]}"; do
    [[ -n "${caller[${key}]:-}" ]] || export "${key}=${default[${key}]}"
  done
  [[ -r "${AIRGAP_ENV}" ]] || return 0
  while IFS= read -r line; do
    key="${line%%=*}"
    value="${line#*=}"
    [[ -n "${caller[${key}]:-}" ]] || export "${key}=${value}"
  done < <(read_env_file "${AIRGAP_ENV}")
}

choose_compose() {
  local docker=docker
  [[ -x "${DEBIAN_DOCKER}" ]] && docker="${DEBIAN_DOCKER}"
  if [[ "${RM_COMPOSE_V1:-}" != 1 ]]; then
    if [[ -x "${COMPOSE_V2_BIN}" ]]; then
      COMPOSE=("${COMPOSE_V2_BIN}")
      return 0
    fi
    if "${docker}" compose version >/dev/null 2>&1; then
      COMPOSE=("${docker}" compose)
      return 0
    fi
  fi
  if have docker-compose; then
    COMPOSE=(docker-compose)
    # v1 builds through the `docker` on PATH: make that the BuildKit-capable one.
    PATH="${DEBIAN_DOCKER%/*}:${PATH}"
    export PATH DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1
    return 0
  fi
  die "no Docker Compose found" "run infrastructure/tools/bootstrap/docker.sh (it installs one), then re-run"
}

print_image_env() {
  local key
  while IFS= read -r key; do
    echo "${key}=${!key:-}"
  done < <(read_env_file "${IMAGES_ENV}" | cut -d= -f1)
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
  esac
  load_image_env
  if [[ "${1:-}" == --env ]]; then
    print_image_env
    return 0
  fi
  choose_compose
  if [[ "${1:-}" == --which ]]; then
    echo "compose: ${COMPOSE[*]}"
    print_image_env
    return 0
  fi
  exec "${COMPOSE[@]}" "$@"
}

main "$@"
