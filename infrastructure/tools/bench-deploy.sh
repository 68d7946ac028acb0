#!/usr/bin/env bash
# Benchmark of the deploy engine: runs the load scenarios of
# tests/test-deploy.sh (deploy v1 -> v2, rollback, failed v3 and v4, each under
# a constant load through the proxy, and a release reverted by the post-switch
# watch) and prints one table: requests, non-2xx, socket errors, p50/p99
# latency inside the switch window (switch start until the old slot stopped)
# next to the steady p99 before it and the wall time of each deploy/rollback, against the
# targets (rollback <= 15 s with the image present; deploy <= 20 s plus the
# API's start time).
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
source "${HERE}/lib/common.sh"
export RM_LOG_TAG="bench-deploy"

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Runs the load scenarios of tests/test-deploy.sh (about 3-4 minutes; real
Docker, the real API image, traffic to 127.0.0.1 only) and prints a table.
Environment: DEPLOY_TEST_RATE (default 200 req/s).
USAGE
}

METRICS=""

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unknown argument '$1'" "see --help" 2 ;;
  esac
  local rc=0
  METRICS=$(mktemp)
  trap 'rm -f "${METRICS}"' EXIT
  DEPLOY_TEST_ONLY=load DEPLOY_TEST_METRICS="${METRICS}" "${HERE}/tests/test-deploy.sh" >&2 || rc=$?
  [[ -s "${METRICS}" ]] || die "the scenarios produced no metrics (exit ${rc})" "run ${HERE}/tests/test-deploy.sh and read its output"
  printf '%-36s %9s %8s %8s %10s %8s %8s %10s %8s %7s\n' scenario requests non-2xx errors in-window p50-ms p99-ms steady-p99 wall-s gate-s
  awk -F'\t' '{printf "%-36s %9s %8s %8s %10s %8s %8s %10s %8s %7s\n", $1, $2, $3, $4, $5, $6, $7, ($10 == "" ? "-" : $10), $8, $9}' "${METRICS}"
  printf 'rate %s req/s, keep-alive, no retries. in-window: requests from switch start until the old slot stopped\n' "${DEPLOY_TEST_RATE:-200}"
  printf '(including the post-switch watch); steady-p99: the requests before the switch. Target: in-window p99 <= 2x steady p99.\n'
  printf 'WARMUP_ROUNDS=0 measures without the warm-up (default 200 rounds of real reads before the switch).\n'
  printf 'gate-s: candidate start until it passed the gate (the API start time).\n'
  printf 'Targets: rollback <= 15 s; deploy <= 20 s plus the API start time (wall-s - gate-s <= 20).\n'
  return "${rc}"
}

main "$@"
