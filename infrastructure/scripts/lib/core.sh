# shellcheck shell=bash
# The deploy engine's own basics: timestamped logs, fatal errors with a hint
# and polling. The engine ships to hosts as one folder, so it sources nothing
# outside it; the project's tooling builds on this file too.
# Source it; it defines functions only and changes no shell options.

_rm_ts() { date -u +%Y-%m-%dT%H:%M:%SZ; }

log() { printf '%s [%s] %s\n' "$(_rm_ts)" "${RM_LOG_TAG:-restomarket}" "$*" >&2; }
warn() { printf '%s [%s] WARNING: %s\n' "$(_rm_ts)" "${RM_LOG_TAG:-restomarket}" "$*" >&2; }

# die MESSAGE [HINT] [STATUS] - print what went wrong and what to do, exit STATUS (1).
die() {
  printf '%s [%s] ERROR: %s\n' "$(_rm_ts)" "${RM_LOG_TAG:-restomarket}" "$1" >&2
  if [[ -n "${2:-}" ]]; then
    printf '%s [%s]   hint: %s\n' "$(_rm_ts)" "${RM_LOG_TAG:-restomarket}" "$2" >&2
  fi
  exit "${3:-1}"
}

have() { command -v "$1" >/dev/null 2>&1; }

# wait_until SECONDS DESCRIPTION COMMAND... - poll COMMAND every 0.2s until it succeeds.
wait_until() {
  local timeout="$1" what="$2" deadline
  shift 2
  deadline=$(($(date +%s) + timeout))
  until "$@" >/dev/null 2>&1; do
    (($(date +%s) >= deadline)) && return 1
    sleep 0.2
  done
  log "${what}: ready"
}
