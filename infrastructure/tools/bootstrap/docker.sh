#!/usr/bin/env bash
# Make a Docker engine and Docker Compose available on this machine.
#
# On a fresh Debian machine (as root) this installs Debian's docker.io, starts
# dockerd in the background and builds Compose v2 from the Go module proxy
# (Docker Hub and GitHub are unreachable here, the Go proxy is not). When the
# engine already answers it says so and returns at once.
set -Eeuo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
export RM_LOG_TAG="bootstrap-docker"

# Debian's 20.10 client: it builds with BuildKit without a buildx plugin.
DEBIAN_DOCKER=/usr/bin/docker
DOCKERD_LOG="${RM_CACHE_DIR}/dockerd.log"
ENGINE_WAIT_SECONDS=60

# The last Compose v2 release: it builds with the Go these machines have (the
# v5 line needs a newer Go) and works against Debian's engine (API 1.41);
# compose_v2_works checks the latter on every machine.
COMPOSE_MODULE="github.com/docker/compose/v2"
COMPOSE_VERSION="v2.40.3"
COMPOSE_BIN="${RM_BIN_DIR}/docker-compose"
COMPOSE_BUILD_LOG="${RM_CACHE_DIR}/compose-build.log"

usage() {
  cat <<EOF
Usage: $(basename "$0") [--no-compose] [-h|--help]

Ensures a Docker engine answers and Docker Compose is available.

  - engine already up            -> says so and returns
  - no engine, Debian as root    -> apt-get install docker.io, start dockerd
                                    (log: ${DOCKERD_LOG})
  - no engine elsewhere          -> prints how to install Docker, exits 1
  - Compose: v2 ${COMPOSE_VERSION} built from the Go module proxy into
    ${COMPOSE_BIN}; falls back to Debian's docker-compose v1 when Go
    or the proxy is unavailable.

Options:
  --no-compose   only ensure the engine
  -h, --help     show this help

Environment:
  RESTOMARKET_CACHE_DIR     cache root (default ~/.cache/restomarket)
  RM_SKIP_COMPOSE_V2=1      do not try to build Compose v2, use v1 directly
EOF
}

docker_cli() {
  if [[ -x "${DEBIAN_DOCKER}" ]]; then echo "${DEBIAN_DOCKER}"; else command -v docker || echo docker; fi
}

engine_answers() {
  timeout 5 "$(docker_cli)" info >/dev/null 2>&1
}

# report_engine STATE - log the engine version and API, e.g. "already up".
report_engine() {
  local version
  version=$(timeout 5 "$(docker_cli)" version --format '{{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null || echo unknown)
  log "docker engine $1: ${version}"
}

require_debian_root() {
  is_debian_root && return 0
  die "no Docker engine answers and this is not Debian as root, so it cannot be installed here" \
    "install Docker Engine (https://docs.docker.com/engine/install/ or your distribution's docker package), start it, make sure 'docker info' works for this user, then re-run"
}

install_engine() {
  # iptables and tini are docker.io dependencies; the engine needs nothing else.
  ensure_apt_packages docker.io
  [[ -x "${DEBIAN_DOCKER}" ]] || die "docker.io installed but ${DEBIAN_DOCKER} is missing" \
    "check 'dpkg -L docker.io' and re-run"
}

start_dockerd() {
  if pgrep -x dockerd >/dev/null; then
    log "dockerd is already running but not answering yet; waiting for it"
    return 0
  fi
  mkdir -p "$(dirname "${DOCKERD_LOG}")"
  log "starting dockerd in the background (log: ${DOCKERD_LOG})"
  setsid nohup dockerd >>"${DOCKERD_LOG}" 2>&1 </dev/null &
}

wait_for_engine() {
  wait_until "${ENGINE_WAIT_SECONDS}" "docker socket /var/run/docker.sock" test -S /var/run/docker.sock \
    || die "dockerd did not create /var/run/docker.sock within ${ENGINE_WAIT_SECONDS}s" \
      "read the end of ${DOCKERD_LOG} for the reason"
  wait_until "${ENGINE_WAIT_SECONDS}" "docker info" engine_answers \
    || die "dockerd runs but 'docker info' fails after ${ENGINE_WAIT_SECONDS}s" \
      "read the end of ${DOCKERD_LOG} for the reason"
  report_engine "started"
}

ensure_engine() {
  if engine_answers; then
    report_engine "already up"
    # An engine from elsewhere (Docker Desktop, docker-ce) is fine; builds still
    # want a BuildKit-capable client, which Debian's package brings.
    if [[ ! -x "${DEBIAN_DOCKER}" ]] && is_debian_root; then ensure_apt_packages docker.io; fi
    return 0
  fi
  require_debian_root
  step install_engine install_engine
  step start_dockerd start_dockerd
  step wait_for_engine wait_for_engine
}

# compose_v2_works BIN - the binary reports the pinned version and can list
# projects through this engine (fails when it demands a newer API).
compose_v2_works() {
  local bin="$1"
  [[ -x "${bin}" ]] || return 1
  [[ "$("${bin}" version --short 2>/dev/null)" == "${COMPOSE_VERSION#v}" ]] || return 1
  "${bin}" ls >/dev/null 2>&1
}

build_compose_v2() {
  have go || { warn "Go is not installed; cannot build Compose v2"; return 1; }
  local moddir
  log "downloading ${COMPOSE_MODULE}@${COMPOSE_VERSION} from the Go module proxy"
  # go install refuses this module (its go.mod has replace directives), so
  # build from inside the downloaded module directory instead.
  moddir=$(go mod download -json "${COMPOSE_MODULE}@${COMPOSE_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -n "${moddir}" && -d "${moddir}" ]] || { warn "go mod download of ${COMPOSE_MODULE}@${COMPOSE_VERSION} failed"; return 1; }
  mkdir -p "${RM_BIN_DIR}"
  log "compiling Compose (cold: about 2.5 minutes; log: ${COMPOSE_BUILD_LOG})"
  if ! (
    cd "${moddir}"
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
      -ldflags "-s -w -X ${COMPOSE_MODULE}/internal.Version=${COMPOSE_VERSION}" \
      -o "${COMPOSE_BIN}.tmp" ./cmd
  ) >"${COMPOSE_BUILD_LOG}" 2>&1; then
    tail -n 5 "${COMPOSE_BUILD_LOG}" >&2
    warn "go build of Compose failed (log: ${COMPOSE_BUILD_LOG})"
    rm -f "${COMPOSE_BIN}.tmp"
    return 1
  fi
  mv "${COMPOSE_BIN}.tmp" "${COMPOSE_BIN}"
}

install_compose_v1() {
  is_debian_root || die "no Compose available and cannot install one here (not Debian as root)" \
    "install Docker Compose v2 (https://docs.docker.com/compose/install/) and re-run"
  ensure_apt_packages docker-compose
  log "using Debian's docker-compose $(docker-compose version --short 2>/dev/null || echo '?') (v1)"
}

ensure_compose() {
  if compose_v2_works "${COMPOSE_BIN}"; then
    log "compose v2 ready: ${COMPOSE_BIN} (${COMPOSE_VERSION})"
    return 0
  fi
  if "$(docker_cli)" compose version >/dev/null 2>&1; then
    log "compose v2 plugin ready: $("$(docker_cli)" compose version --short 2>/dev/null)"
    return 0
  fi
  if [[ "${RM_SKIP_COMPOSE_V2:-}" != 1 ]]; then
    if step build_compose_v2 build_compose_v2 && compose_v2_works "${COMPOSE_BIN}"; then
      log "compose v2 ready: ${COMPOSE_BIN} (${COMPOSE_VERSION})"
      return 0
    fi
    warn "Compose v2 unavailable or incompatible with this engine; falling back to Debian's docker-compose v1"
    rm -f "${COMPOSE_BIN}"
  fi
  step install_compose_v1 install_compose_v1
}

main() {
  local with_compose=1
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --no-compose) with_compose=0 ;;
      *) usage >&2; die "unknown argument: $1" "see --help" ;;
    esac
    shift
  done
  ensure_engine
  ((with_compose == 0)) || ensure_compose
}

main "$@"
