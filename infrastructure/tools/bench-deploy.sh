#!/usr/bin/env bash
# Benchmark of the deploy engine: runs the load scenarios of
# tests/test-deploy.sh (deploy v1 -> v2, rollback to the warm standby, a cold
# rollback, failed v3, v4 and v5, each under a constant load through the
# proxy, and a release reverted by the post-switch watch) and prints one
# table: requests, non-2xx, socket errors, p50/p99 latency inside the switch
# window next to the steady p99 before it, and the wall time, time to switch
# and gate time of each deploy/rollback. Then it runs the timed scenarios
# (deploy, warm and cold rollback) again, BENCH_RUNS in all, and prints each
# target with every run's value, met or MISSED on their median (exit 1 when
# one is missed): a cold path waits on the JVM's start under load, which
# moves by about 0.4 s from one run to the next on this machine, so one run
# alone decides nothing.
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
source "${HERE}/lib/common.sh"
export RM_LOG_TAG="bench-deploy"

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Runs the load scenarios of tests/test-deploy.sh once and its timed ones
(deploy, warm and cold rollback) BENCH_RUNS times in all (about 2.5 minutes,
then 1 minute a run; real Docker, the real API image, traffic to 127.0.0.1
only). Prints the first run's table, then each target with every run's value
and their median, met or MISSED on the median. Exit 0 when every target is
met and no run had a failed request, 1 otherwise.
Environment: BENCH_RUNS (default 5, from 1 to 99); DEPLOY_TEST_RATE (default
200 req/s); WARMUP_ROUNDS (default: the engine's, as on the hosts; 0 measures
the switch without the warm-up).
USAGE
}

METRICS=""

# Targets, one per line: "SCENARIO<TAB>COLUMN<TAB>LIMIT<TAB>WHAT". Rows are
# test-deploy.sh's metrics (tab-separated): 8 wall-s, 9 gate-s, 11 switch-s,
# 12 watch-s, and 13 the wall time less the watch, added here. The watch is an
# observation time the environment sets (WATCH_SECONDS: 3 s in these
# scenarios, 60 s in dev and staging), not work the deploy does, and a
# switch-and-stop deployer such as kamal-proxy has none: the deploy target is
# on the rest; the table shows both.
TARGETS='deploy v1->v2	13	6	deploy, image present, no pending migration: wall time less the post-switch watch <= 6 s
rollback v2->v1 (cold)	8	5	cold rollback (the previous release stopped): wall time <= 5 s
rollback v2->v1 (warm)	8	1	warm rollback (to the standby): wall time <= 1 s'

# run_scenarios ONLY FILE - test-deploy.sh's scenarios (DEPLOY_TEST_ONLY=ONLY)
# with their metrics in FILE, plus column 13 (the wall time less the watch);
# returns test-deploy.sh's status.
run_scenarios() {
  local only="$1" file="$2" rc=0
  DEPLOY_TEST_ONLY="${only}" DEPLOY_TEST_METRICS="${file}" "${HERE}/tests/test-deploy.sh" >&2 || rc=$?
  [[ -s "${file}" ]] || die "the scenarios produced no metrics (exit ${rc})" "run ${HERE}/tests/test-deploy.sh and read its output"
  awk -F'\t' -v OFS='\t' '{$13 = ($12 ~ /^[0-9.]+$/ ? sprintf("%.1f", $8 - $12) : $8); print}' "${file}" >"${file}.rows"
  mv "${file}.rows" "${file}"
  return "${rc}"
}

print_table() {
  printf '%-30s %9s %8s %8s %10s %8s %8s %10s %8s %8s %7s %8s %10s\n' scenario requests non-2xx errors in-window p50-ms p99-ms steady-p99 wall-s switch-s gate-s watch-s wall-watch
  awk -F'\t' '{printf "%-30s %9s %8s %8s %10s %8s %8s %10s %8s %8s %7s %8s %10s\n", $1, $2, $3, $4, $5, $6, $7, ($10 == "" ? "-" : $10), $8, ($11 == "" ? "-" : $11), $9, ($12 == "" ? "-" : $12), $13}' "$1"
  printf 'rate %s req/s, keep-alive, no retries. in-window: requests from switch start until the old slot\n' "${DEPLOY_TEST_RATE:-200}"
  printf 'left rotation for good (stopped, or kept as the warm standby), including the post-switch watch;\n'
  printf 'steady-p99: the requests before the switch. switch-s: command start until the new release took\n'
  printf 'the traffic. gate-s: candidate start until it passed the gate (the API start time).\n'
  printf 'watch-s: the post-switch watch (WATCH_SECONDS); wall-watch: wall-s less it.\n'
  if [[ -n "${WARMUP_ROUNDS:-}" ]]; then
    printf 'warm-up: WARMUP_ROUNDS=%s from the environment, not the engine default the hosts use.\n\n' "${WARMUP_ROUNDS}"
  else
    printf "warm-up: the engine's default rounds (WARMUP_ROUNDS), as on the hosts.\n\n"
  fi
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unknown argument '$1'" "see --help" 2 ;;
  esac
  local runs="${BENCH_RUNS:-5}"
  [[ "${runs}" =~ ^[1-9][0-9]{0,1}$ ]] || die "BENCH_RUNS wants a number of runs from 1 to 99, got '${runs}'" "e.g. BENCH_RUNS=3 make bench-deploy" 2
  METRICS=$(mktemp -d)
  trap 'rm -rf "${METRICS}"' EXIT
  local rc=0 run done_runs=0
  for ((run = 1; run <= runs; run++)); do
    if ((run == 1)); then
      log "run 1 of ${runs}: every load scenario"
      run_scenarios load "${METRICS}/run-1.tsv" || rc=$?
    else
      log "run ${run} of ${runs}: the timed scenarios (deploy, warm and cold rollback)"
      run_scenarios timed "${METRICS}/run-${run}.tsv" || rc=$?
    fi
    done_runs=${run}
    # A failed check ends the benchmark: its figures would not be comparable.
    ((rc == 0)) || break
  done
  print_table "${METRICS}/run-1.tsv"
  local missed=0 scenario column limit what values verdict median worst failed count
  failed=$(for ((run = 1; run <= done_runs; run++)); do
    awk -F'\t' -v run="${run}" '$1 !~ /^watch/ && ($3 != 0 || $4 != 0) {print $1 " (run " run ")"}' "${METRICS}/run-${run}.tsv"
  done)
  if [[ -n "${failed}" ]]; then
    printf 'MISSED  0 failed requests in every scenario of every run: %s\n' "$(tr '\n' ',' <<<"${failed}" | sed 's/,$//')"
    missed=1
  else
    printf 'met     0 failed requests in every scenario of %s but the watch revert (whose 5xx are the point)\n' \
      "$( ((done_runs == 1)) && echo "the run" || echo "the ${done_runs} runs")"
  fi
  while IFS=$'\t' read -r scenario column limit what; do
    values=$(for ((run = 1; run <= done_runs; run++)); do
      awk -F'\t' -v s="${scenario}" -v c="${column}" '$1 == s {print $c}' "${METRICS}/run-${run}.tsv"
    done)
    if [[ -z "${values}" ]]; then
      printf 'MISSED  %s: no such row\n' "${what}"
      missed=1
      continue
    fi
    read -r median worst < <(median_max <<<"${values}")
    verdict=$(awk -v m="${median}" -v l="${limit}" 'BEGIN {print (m <= l ? "met" : "MISSED")}')
    count=$(wc -l <<<"${values}")
    printf '%-7s %s: median %s s of %s (%s; slowest %s s)\n' "${verdict}" "${what}" "${median}" \
      "$( ((count == 1)) && echo "1 run" || echo "${count} runs")" "$(tr '\n' ' ' <<<"${values}" | sed 's/ $//')" "${worst}"
    [[ "${verdict}" == met ]] || missed=1
  done < <(printf '%b\n' "${TARGETS}")
  ((rc == 0)) || return "${rc}"
  return "${missed}"
}

main "$@"
