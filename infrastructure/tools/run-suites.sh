#!/usr/bin/env bash
# Runs test suites (each one a make target), keeps going after a failure, and
# prints one table plus a closing "N passed, N failed, N skipped" line summed
# over Maven Surefire counts and the shell suites' own closing lines.
set -Eeuo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
export RM_LOG_TAG="test"

SERVICES="${RM_REPO_ROOT}/infrastructure/tools/local-services.sh"
# Local services that were not running when this run began (see note_idle_services).
IDLE_SERVICES=()

usage() {
  cat <<USAGE
Usage: $(basename "$0") SUITE...

Runs 'make SUITE' for each suite, logs each to ${RM_REPO_ROOT}/.run/test-logs/SUITE.log
while streaming it, and ends with a summary table and a total line.
Exit status is non-zero when any suite failed.

A SUITE may be a group A+B+C: A runs streamed as usual while B, then C, run
at the same time, each logged to its own file only (their start and end are
logged). Group only suites that share no ports, containers or files and
that measure no latency: the group saves wall time on a machine's idle cores.

Suites that need PostgreSQL and Redis start them (make services-up); at the
end, also after a failure or Ctrl-C, this run stops the ones it started and
leaves running the ones that were already running.
USAGE
}

# note_idle_services - remember which local services are not running yet.
note_idle_services() {
  local service
  for service in postgres redis; do
    "${SERVICES}" running "${service}" || IDLE_SERVICES+=("${service}")
  done
}

# stop_started_services - stop the local services that a suite started; runs
# once, before the summary or from the EXIT trap.
stop_started_services() {
  local service
  for service in "${IDLE_SERVICES[@]}"; do
    "${SERVICES}" running "${service}" || continue
    log "stopping ${service}: a suite of this run started it"
    "${SERVICES}" stop "${service}" >&2 ||
      warn "could not stop ${service}; run infrastructure/tools/local-services.sh stop ${service}"
  done
  IDLE_SERVICES=()
}

# counts LOG - echo "passed failed skipped" found in a suite's log: Maven's
# closing lines (Surefire's and Failsafe's, added up), else the shell suites'.
counts() {
  local log="$1" lines
  lines=$(grep -E '^\[(INFO|ERROR|WARNING)\] Tests run: [0-9]+, Failures: [0-9]+, Errors: [0-9]+, Skipped: [0-9]+$' "${log}" || true)
  if [[ -n "${lines}" ]]; then
    sed -E 's/.*Tests run: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+), Skipped: ([0-9]+)/\1 \2 \3 \4/' <<<"${lines}" |
      awk '{run += $1; failed += $2 + $3; skipped += $4} END {print run - failed - skipped, failed, skipped}'
    return
  fi
  # A suite may run several shell test files: add up all their closing lines.
  grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "${log}" |
    sed -E 's/^([A-Za-z-]+: )?([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$/\2 \3 \5/' |
    awk '{p += $1; f += $2; s += ($3 == "" ? 0 : $3); n++} END {if (n) {print p, f, s; exit 0} exit 1}' && return
  echo "0 0 0"
}

# failure_digest LOG - the failed checks of a suite's log with their details
# (at most 40 lines), or its last 15 lines when no check failed: a run's output
# often reaches people as its tail only.
failure_digest() {
  local digest
  digest=$(awk '/^ *FAIL  / {keep = 1; print; next} keep && /^        / {print; next} {keep = 0}' "$1" | head -n 40)
  [[ -n "${digest}" ]] || digest=$(tail -n 15 "$1")
  printf '%s\n' "${digest}"
}

# run_suite SUITE LOGS [quiet] - run 'make SUITE' into LOGS/SUITE.log (streamed
# unless quiet) and write "rc seconds" to LOGS/SUITE.result.
run_suite() {
  local suite="$1" logs="$2" quiet="${3:-}" start rc=0
  start=$(date +%s)
  rm -f "${logs}/${suite}.result"
  if [[ -n "${quiet}" ]]; then
    log "suite ${suite}: start (alongside ${quiet}; log: ${logs}/${suite}.log)"
    make --no-print-directory -C "${RM_REPO_ROOT}" "${suite}" >"${logs}/${suite}.log" 2>&1 </dev/null || rc=$?
  else
    log "suite ${suite}: start"
    make --no-print-directory -C "${RM_REPO_ROOT}" "${suite}" 2>&1 | tee "${logs}/${suite}.log" || rc=$?
  fi
  log "suite ${suite}: $([[ ${rc} -eq 0 ]] && echo passed || echo "FAILED (exit ${rc})") in $(($(date +%s) - start))s"
  echo "${rc} $(($(date +%s) - start))" >"${logs}/${suite}.result"
}

# The background chain of the group that is running, if any (see stop_side_chain).
SIDE_PID=""

# stop_side_chain - stop a group's background suites (after Ctrl-C or a crash).
stop_side_chain() {
  [[ -n "${SIDE_PID}" ]] || return 0
  kill -- "-${SIDE_PID}" 2>/dev/null || kill "${SIDE_PID}" 2>/dev/null || true
  wait "${SIDE_PID}" 2>/dev/null || true
  SIDE_PID=""
}

main() {
  [[ $# -gt 0 ]] || { usage >&2; die "no suite given" "name make targets, e.g. $(basename "$0") test-api"; }
  [[ "$1" == -h || "$1" == --help ]] && { usage; return 0; }
  local arg suite
  for arg in "$@"; do
    [[ "${arg}" != -* ]] || die "unknown option: ${arg}" "name make targets, e.g. $(basename "$0") test-api; see --help"
    [[ "${arg}" =~ ^[a-z0-9][a-z0-9-]*(\+[a-z0-9][a-z0-9-]*)*$ ]] ||
      die "not a suite or group of suites: ${arg}" "name make targets (e.g. test-api) or a group A+B; see --help"
  done
  local logs="${RM_REPO_ROOT}/.run/test-logs" rc secs p f s group
  local total_p=0 total_f=0 total_s=0 failed_suites=()
  local rows=()
  mkdir -p "${logs}"
  note_idle_services
  trap 'stop_side_chain; stop_started_services' EXIT
  for arg in "$@"; do
    IFS=+ read -r -a group <<<"${arg}"
    if ((${#group[@]} > 1)); then
      # The background chain runs in its own process group so that Ctrl-C's
      # cleanup can stop all of it.
      set -m
      (for suite in "${group[@]:1}"; do run_suite "${suite}" "${logs}" "${group[0]}"; done) &
      SIDE_PID=$!
      set +m
    fi
    run_suite "${group[0]}" "${logs}"
    if [[ -n "${SIDE_PID}" ]]; then
      wait "${SIDE_PID}" || true
      SIDE_PID=""
    fi
    for suite in "${group[@]}"; do
      read -r rc secs <"${logs}/${suite}.result" 2>/dev/null || { rc=1 secs=0; }
      read -r p f s < <(counts "${logs}/${suite}.log")
      # A suite that failed without a failing test still counts as one failure.
      ((rc != 0 && f == 0)) && f=1
      ((rc != 0)) && failed_suites+=("${suite}")
      total_p=$((total_p + p)) total_f=$((total_f + f)) total_s=$((total_s + s))
      rows+=("$(printf '%-16s %-6s %7d %7d %7d %6ds' "${suite}" "$([[ ${rc} -eq 0 ]] && echo ok || echo FAIL)" "${p}" "${f}" "${s}" "${secs}")")
    done
  done
  stop_started_services
  for suite in "${failed_suites[@]}"; do
    printf '\n---- %s: what failed ----\n' "${suite}"
    failure_digest "${logs}/${suite}.log"
  done
  printf '\n%-16s %-6s %7s %7s %7s %7s\n' suite result passed failed skipped time
  printf '%s\n' "${rows[@]}"
  ((${#failed_suites[@]} == 0)) || printf '\nfailed suites: %s (logs in %s)\n' "${failed_suites[*]}" "${logs}"
  printf '%d passed, %d failed, %d skipped\n' "${total_p}" "${total_f}" "${total_s}"
  ((${#failed_suites[@]} == 0))
}

main "$@"
