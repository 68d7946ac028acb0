#!/usr/bin/env bash
# Builds the API image restomarket/api:TAG from apps/api/Dockerfile with the
# base images resolved by compose.sh (official ones, or the air-gapped local
# equivalents), the release identity as build args and OCI labels. The tag is
# also the version the API reports on /version and in X-App-Version, which is
# what the deploy engine checks before it moves traffic.
set -Eeuo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
export RM_LOG_TAG="build-image"

IMAGE_REPO="${IMAGE_REPO:-restomarket/api}"
DOCKER=/usr/bin/docker
TAG_PATTERN='^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'

usage() {
  cat <<USAGE
Usage: $(basename "$0") [TAG]

Builds ${IMAGE_REPO}:TAG (default TAG: the short git commit, or 'dev').
The API inside reports TAG as its version.

Environment:
  IMAGE_REPO      repository name (default restomarket/api)
  BUILD_CONTEXT   build context holding apps/api/Dockerfile (default: the repository)
  BUILD_NO_CACHE  1 to build without the layer cache (a cold build)
  SOURCE_URL      org.opencontainers.image.source label
  BUILD_JDK_IMAGE, RUNTIME_BASE_IMAGE   override the base images
USAGE
}

default_tag() { git -C "${RM_REPO_ROOT}" rev-parse --short=12 HEAD 2>/dev/null || echo dev; }

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    -*) usage >&2; die "unknown option '$1'" "see --help" ;;
  esac
  local tag="${1:-$(default_tag)}" commit start context="${BUILD_CONTEXT:-${RM_REPO_ROOT}}" extra=()
  [[ "${BUILD_NO_CACHE:-}" == 1 ]] && extra+=(--no-cache)
  [[ "${tag}" =~ ${TAG_PATTERN} ]] || die "invalid image tag '${tag}'" "use letters, digits, '.', '_' or '-' (max 128), e.g. v1.2.3 or a git SHA"
  [[ -x "${DOCKER}" ]] || die "${DOCKER} not found" "run make docker (infrastructure/tools/bootstrap/docker.sh)"
  # shellcheck source=/dev/null
  source <("${RM_REPO_ROOT}/infrastructure/tools/compose.sh" --env)
  commit=$(git -C "${RM_REPO_ROOT}" rev-parse HEAD 2>/dev/null || echo unknown)
  start=$(date +%s)
  log "building ${IMAGE_REPO}:${tag} (jdk ${BUILD_JDK_IMAGE}, runtime base ${RUNTIME_BASE_IMAGE})"
  DOCKER_BUILDKIT=1 "${DOCKER}" build --progress=plain \
    -f "${context}/apps/api/Dockerfile" "${extra[@]}" \
    --build-arg BUILD_JDK_IMAGE="${BUILD_JDK_IMAGE}" \
    --build-arg RUNTIME_BASE_IMAGE="${RUNTIME_BASE_IMAGE}" \
    --build-arg APP_VERSION="${tag}" \
    --build-arg GIT_COMMIT="${commit}" \
    --build-arg BUILD_TIME="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --build-arg SOURCE_URL="${SOURCE_URL:-https://github.com/restomarket/restomarket}" \
    -t "${IMAGE_REPO}:${tag}" "${context}" >"${RM_CACHE_DIR}/build-image.log" 2>&1 ||
    { tail -n 40 "${RM_CACHE_DIR}/build-image.log" >&2; die "image build failed" "full log: ${RM_CACHE_DIR}/build-image.log"; }
  log "built ${IMAGE_REPO}:${tag} in $(($(date +%s) - start))s, $("${DOCKER}" image inspect -f '{{.Size}}' "${IMAGE_REPO}:${tag}" | awk '{printf "%.0f MB", $1 / 1e6}')"
}

main "$@"
