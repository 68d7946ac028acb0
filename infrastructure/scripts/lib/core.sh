# shellcheck shell=bash
# The deploy engine's own basics: timestamped logs, fatal errors with a hint
# and polling. The engine ships to hosts as one folder, so it sources nothing
# outside it; the project's tooling builds on this file too.
# Source it; it defines functions only and changes no shell options.

# utc_now VAR - the UTC time now (2026-01-31T12:00:00Z) in VAR, from bash's own
# clock: a log line forks nothing (a deploy logs dozens of lines, and a fork
# costs milliseconds on a busy host).
utc_now() { TZ=UTC0 printf -v "$1" '%(%Y-%m-%dT%H:%M:%SZ)T' -1; }

log() {
  local ts
  utc_now ts
  printf '%s [%s] %s\n' "${ts}" "${RM_LOG_TAG:-restomarket}" "$*" >&2
}

warn() {
  local ts
  utc_now ts
  printf '%s [%s] WARNING: %s\n' "${ts}" "${RM_LOG_TAG:-restomarket}" "$*" >&2
}

# die MESSAGE [HINT] [STATUS] - print what went wrong and what to do, exit STATUS (1).
die() {
  local ts
  utc_now ts
  printf '%s [%s] ERROR: %s\n' "${ts}" "${RM_LOG_TAG:-restomarket}" "$1" >&2
  if [[ -n "${2:-}" ]]; then
    printf '%s [%s]   hint: %s\n' "${ts}" "${RM_LOG_TAG:-restomarket}" "$2" >&2
  fi
  exit "${3:-1}"
}

have() { command -v "$1" >/dev/null 2>&1; }

# wait_until SECONDS DESCRIPTION COMMAND... - poll COMMAND every 0.2s until it succeeds.
wait_until() {
  local timeout="$1" what="$2" deadline
  shift 2
  deadline=$((EPOCHSECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((EPOCHSECONDS >= deadline)) && return 1
    sleep 0.2
  done
  log "${what}: ready"
}
