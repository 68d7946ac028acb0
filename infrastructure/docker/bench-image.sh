#!/usr/bin/env bash
# Measures the API image against its targets and prints a table: cold build
# (no layer cache), rebuild after a one-line Java change, image size, and
# container start -> healthy with and without the AOT cache (median of runs,
# against real PostgreSQL and Redis containers). Numbers are printed, not asserted.
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../tools/lib/common.sh
source "${HERE}/../tools/lib/common.sh"
export RM_LOG_TAG="bench-image"

DOCKER=/usr/bin/docker
BUILD="${RM_REPO_ROOT}/infrastructure/tools/build-image.sh"
RUNS="${BENCH_RUNS:-3}"
PREFIX="rmbench-$$"
WORK=""

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Builds restomarket/api:bench-cold (no cache) and restomarket/api:bench-edit
(after a one-line change in a copy of the sources), then times ${RUNS} starts
(BENCH_RUNS) with and without the AOT cache. Removes what it created.
USAGE
}

cleanup() {
  "${DOCKER}" rm -f -v "${PREFIX}-api" "${PREFIX}-pg" "${PREFIX}-redis" >/dev/null 2>&1 || true
  "${DOCKER}" network rm "${PREFIX}-net" >/dev/null 2>&1 || true
  "${DOCKER}" rmi restomarket/api:bench-edit >/dev/null 2>&1 || true
  [[ -n "${WORK}" ]] && rm -rf "${WORK}"
}

seconds_of() {
  local start
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1 || die "'$*' failed" "run it alone to see why"
  echo "scale=1; ($(date +%s%N) - ${start}) / 1000000000" | bc
}

copy_sources() {
  mkdir -p "${WORK}/src"
  (cd "${RM_REPO_ROOT}" && tar -cf - mvnw .mvn pom.xml .dockerignore apps/api/pom.xml apps/api/Dockerfile apps/api/src/main) |
    tar -xf - -C "${WORK}/src"
  echo "// benchmark edit $(date +%s)" >>"${WORK}/src/apps/api/src/main/java/com/restomarket/api/system/VersionController.java"
}

start_dependencies() {
  # shellcheck source=/dev/null
  source <("${RM_REPO_ROOT}/infrastructure/tools/compose.sh" --env)
  "${DOCKER}" network create "${PREFIX}-net" >/dev/null
  "${DOCKER}" run -d --name "${PREFIX}-pg" --network "${PREFIX}-net" -e POSTGRES_USER=bench \
    -e POSTGRES_PASSWORD=bench-only -e POSTGRES_DB=bench "${POSTGRES_IMAGE}" >/dev/null
  "${DOCKER}" run -d --name "${PREFIX}-redis" --network "${PREFIX}-net" "${REDIS_IMAGE}" redis-server >/dev/null
  wait_until 60 "bench PostgreSQL" "${DOCKER}" exec "${PREFIX}-pg" pg_isready -U bench -h 127.0.0.1
}

# start_to_healthy [ENTRYPOINT ARGS...] - seconds from `docker run` to /health 200.
start_to_healthy() {
  local start port
  "${DOCKER}" rm -f "${PREFIX}-api" >/dev/null 2>&1 || true
  start=$(date +%s%N)
  "${DOCKER}" run -d --name "${PREFIX}-api" --network "${PREFIX}-net" -p 127.0.0.1::3000 \
    -e DATABASE_URL="jdbc:postgresql://${PREFIX}-pg:5432/bench" -e DATABASE_USERNAME=bench \
    -e DATABASE_PASSWORD=bench-only -e API_WRITE_TOKEN=bench-only-write-token -e REDIS_HOST="${PREFIX}-redis" "$@" >/dev/null
  port=$("${DOCKER}" port "${PREFIX}-api" 3000 | head -n 1 | sed 's/.*://')
  until [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:${port}/health")" == 200 ]]; do
    (($(date +%s%N) - start > 120000000000)) && die "the API did not become healthy in 120 s" "docker logs ${PREFIX}-api"
    sleep 0.05
  done
  echo "scale=2; ($(date +%s%N) - ${start}) / 1000000000" | bc
}

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

main() {
  [[ "${1:-}" == -h || "${1:-}" == --help ]] && { usage; return 0; }
  [[ $# -eq 0 ]] || { usage >&2; die "unexpected argument '$1'" "run it without arguments"; }
  ensure_apt_packages bc
  WORK=$(mktemp -d)
  trap cleanup EXIT
  local cold edit size aot plain i
  log "cold build (no layer cache)"
  cold=$(BUILD_NO_CACHE=1 seconds_of "${BUILD}" bench-cold)
  copy_sources
  log "rebuild after a one-line Java change"
  edit=$(BUILD_CONTEXT="${WORK}/src" seconds_of "${BUILD}" bench-edit)
  size=$("${DOCKER}" image inspect -f '{{.Size}}' restomarket/api:bench-cold | awk '{printf "%.0f", $1 / 1e6}')
  start_dependencies
  start_to_healthy restomarket/api:bench-cold >/dev/null # warm the page cache once
  aot=$(for ((i = 0; i < RUNS; i++)); do start_to_healthy restomarket/api:bench-cold; done | median)
  plain=$(for ((i = 0; i < RUNS; i++)); do
    start_to_healthy --entrypoint /usr/bin/tini restomarket/api:bench-cold -- java -XX:MaxRAMPercentage=75 -jar /app/restomarket-api.jar
  done | median)
  printf '\n%-42s %10s %10s\n' metric measured target
  printf '%-42s %9ss %10s\n' "cold build (no cache)" "${cold}" "<= 300s"
  printf '%-42s %9ss %10s\n' "rebuild after one-line Java change" "${edit}" "<= 60s"
  printf '%-42s %8sMB %10s\n' "image size" "${size}" "<= 130MB"
  printf '%-42s %9ss %10s\n' "start -> healthy, AOT cache (median of ${RUNS})" "${aot}" "<= 5s"
  printf '%-42s %9ss %10s\n' "start -> healthy, no AOT cache (median of ${RUNS})" "${plain}" "<= 5s"
  printf '%-42s %10s %10s\n' "of which the AOT cache layer" "$("${DOCKER}" history --no-trunc --format '{{.Size}} {{.CreatedBy}}' restomarket/api:bench-cold | awk '/AOTCacheOutput/ {print $1; exit}')" "-"
}

main "$@"
