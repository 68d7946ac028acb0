#!/usr/bin/env bash
# Measures the API image against its targets and prints a table: cold build
# (no layer cache), rebuild after a one-line Java change, image size (as stored
# and as pushed, gzip-compressed layers), and container start -> healthy with
# and without the AOT cache on the same run, against real PostgreSQL and Redis
# containers; then each target, met or MISSED. The starts alternate, one with
# the cache, one without, BENCH_RUNS times each, and the verdict is on their
# median: a start on this machine moves by a few tenths of a second from one
# minute to the next, so one start alone, or a block of starts of one kind,
# decides nothing.
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../tools/lib/common.sh
source "${HERE}/../tools/lib/common.sh"
export RM_LOG_TAG="bench-image"

DOCKER="${RM_DOCKER:-/usr/bin/docker}"
BUILD="${RM_REPO_ROOT}/infrastructure/tools/build-image.sh"
RUNS="${BENCH_RUNS:-5}"
PREFIX="rmbench-$$"
WORK=""

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Builds restomarket/api:bench-cold (no cache) and restomarket/api:bench-edit
(after a one-line change in a copy of the sources), then times BENCH_RUNS
starts (default 5, from 1 to 99) with the AOT cache required (-XX:AOTMode=on)
and as many with it off, alternately. Prints the table and each target, met
or MISSED; a start's target is judged on the median of its runs, each run
shown. Exit 0 when every target is met, 1 otherwise, 2 on bad input.
Removes what it created. Environment: BENCH_RUNS; RM_DOCKER (default
/usr/bin/docker).
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
  awk -v ns=$(($(date +%s%N) - start)) 'BEGIN {printf "%.1f\n", ns / 1e9}'
}

copy_sources() {
  mkdir -p "${WORK}/src"
  # What the build may see is what .dockerignore lets in ("!PATH" lines).
  local paths
  mapfile -t paths < <(sed -n '/^!/{s/^!//; s#/\*\*$##; p}' "${RM_REPO_ROOT}/.dockerignore")
  (cd "${RM_REPO_ROOT}" && tar -cf - .dockerignore apps/api/Dockerfile "${paths[@]}") | tar -xf - -C "${WORK}/src"
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
  awk -v ns=$(($(date +%s%N) - start)) 'BEGIN {printf "%.2f\n", ns / 1e9}'
}

# stats FILE - "MEDIAN SLOWEST RUNS" of FILE's seconds: the median (two
# decimals), the slowest, and every value in the order measured.
stats() {
  local median slowest
  read -r median slowest < <(median_max <"$1")
  printf '%.2f %s %s\n' "${median}" "${slowest}" "$(tr '\n' ' ' <"$1" | sed 's/ $//')"
}

# pushed_mb IMAGE - the image as a registry stores it: each layer gzip-compressed.
pushed_mb() {
  local dir="${WORK}/save" bytes=0 layer
  mkdir -p "${dir}"
  "${DOCKER}" save "$1" | tar -xf - -C "${dir}"
  for layer in "${dir}"/*/layer.tar; do bytes=$((bytes + $(gzip -6 -c "${layer}" | wc -c))); done
  rm -rf "${dir}"
  awk -v b="${bytes}" 'BEGIN {printf "%.0f", b / 1e6}'
}

# time_starts - RUNS starts with the AOT cache required, RUNS without it,
# alternately, so that the machine's drift during the bench weighs on both
# alike; their seconds in WORK/starts-aot and WORK/starts-plain.
time_starts() {
  local i
  start_dependencies
  start_to_healthy restomarket/api:bench-cold >/dev/null # warm the page cache once
  log "timing ${RUNS} starts with the AOT cache and ${RUNS} without, alternately"
  for ((i = 1; i <= RUNS; i++)); do
    start_to_healthy -e JAVA_TOOL_OPTIONS=-XX:AOTMode=on restomarket/api:bench-cold >>"${WORK}/starts-aot"
    start_to_healthy -e JAVA_TOOL_OPTIONS=-XX:AOTMode=off restomarket/api:bench-cold >>"${WORK}/starts-plain"
  done
}

# target NAME VALUE LIMIT UNIT [RUNS] - one line, met or MISSED (RUNS: the
# values VALUE is the median of); returns 1 when missed.
target() {
  local runs=""
  [[ -z "${5:-}" ]] || runs=" (median of ${RUNS}: $5)"
  if awk -v v="$2" -v l="$3" 'BEGIN {exit !(v <= l)}'; then
    printf 'met     %s: %s%s <= %s%s%s\n' "$1" "$2" "$4" "$3" "$4" "${runs}"
  else
    printf 'MISSED  %s: %s%s > %s%s%s\n' "$1" "$2" "$4" "$3" "$4" "${runs}"
    return 1
  fi
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unexpected argument '$1'" "run it without arguments" 2 ;;
  esac
  [[ "${RUNS}" =~ ^[1-9][0-9]?$ ]] || die "BENCH_RUNS wants a number of starts from 1 to 99, got '${RUNS}'" "e.g. BENCH_RUNS=3 make bench-image" 2
  WORK=$(mktemp -d)
  trap cleanup EXIT
  local cold edit size pushed cache aot plain aot_slowest plain_slowest aot_runs plain_runs missed=0
  log "cold build (no layer cache)"
  cold=$(BUILD_NO_CACHE=1 seconds_of "${BUILD}" bench-cold)
  copy_sources
  log "rebuild after a one-line Java change"
  edit=$(BUILD_CONTEXT="${WORK}/src" seconds_of "${BUILD}" bench-edit)
  size=$("${DOCKER}" image inspect -f '{{.Size}}' restomarket/api:bench-cold | awk '{printf "%.0f", $1 / 1e6}')
  cache=$("${DOCKER}" history --no-trunc --format '{{.Size}} {{.CreatedBy}}' restomarket/api:bench-cold | awk '/aot-training/ {print $1; exit}')
  log "compressing the layers (the pushed size)"
  pushed=$(pushed_mb restomarket/api:bench-cold)
  time_starts
  read -r aot aot_slowest aot_runs < <(stats "${WORK}/starts-aot")
  read -r plain plain_slowest plain_runs < <(stats "${WORK}/starts-plain")
  printf '\n%-46s %10s %10s\n' metric measured target
  printf '%-46s %9ss %10s\n' "cold build (no cache)" "${cold}" "<= 300s"
  printf '%-46s %9ss %10s\n' "rebuild after one-line Java change" "${edit}" "<= 60s"
  printf '%-46s %8sMB %10s\n' "image size (uncompressed, with the AOT cache)" "${size}" "<= 130MB"
  printf '%-46s %10s %10s\n' "  of which the AOT cache layer" "${cache}" "-"
  printf '%-46s %8sMB %10s\n' "pushed size (gzip-compressed layers)" "${pushed}" "-"
  printf '%-46s %9ss %10s\n' "start -> healthy, AOT cache (median of ${RUNS})" "${aot}" "<= 2.5s"
  printf '%-46s %9ss %10s\n' "  slowest start with the AOT cache" "${aot_slowest}" "-"
  printf '%-46s %9ss %10s\n' "start -> healthy, no AOT cache (median of ${RUNS})" "${plain}" "-"
  printf '%-46s %9ss %10s\n\n' "  slowest start without it" "${plain_slowest}" "-"
  target "cold build" "${cold}" 300 s || missed=1
  target "one-line rebuild" "${edit}" 60 s || missed=1
  target "image size" "${size}" 130 MB || missed=1
  target "start -> healthy with the AOT cache" "${aot}" 2.5 s "${aot_runs}" || missed=1
  target "the AOT cache is faster than none" "${aot}" "${plain}" s "${plain_runs} without it" || missed=1
  return "${missed}"
}

main "$@"
