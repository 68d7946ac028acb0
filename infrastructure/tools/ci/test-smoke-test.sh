#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Offline tests of smoke-test.sh against a stub API on 127.0.0.1 that plays a
# load balancer in front of two droplets: the smoke tests pass when every
# backend serves the expected release, fail when one still serves another or
# health is down, and --live-version reports what is live (nothing, when
# nothing answers). Prints "N passed, N failed".
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/common.sh
source "${HERE}/../lib/common.sh"
# shellcheck source=../lib/testing.sh
source "${HERE}/../lib/testing.sh"
export RM_LOG_TAG="test-smoke-test"

SMOKE="${HERE}/smoke-test.sh"
WORK=""

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Starts a stub of the API (python3 http.server on 127.0.0.1) whose /version
alternates between the releases in WORK/versions (one per line, round robin
like a load balancer) and whose /health answers WORK/health (a status code).
USAGE
}

cleanup() {
  stub_stop
  [[ -z "${WORK}" ]] || rm -rf "${WORK}"
}

start_stub() {
  cat >"${WORK}/stub.py" <<'PY'
import itertools, json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

WORK = sys.argv[1]
counter = itertools.count()

def read(name):
    with open(os.path.join(WORK, name)) as f:
        return f.read().split()

class Stub(BaseHTTPRequestHandler):
    def _answer(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/readyz":
            status = int(read("ready")[0])
            self._answer(status, {"status": "UP" if status == 200 else "DOWN"})
        elif self.path == "/health":
            status = int(read("health")[0])
            self._answer(status, {"status": "healthy" if status == 200 else "unhealthy",
                                  "services": {"database": "connected",
                                               "redis": "connected" if status == 200 else "disconnected"}})
        elif self.path == "/version":
            versions = read("versions")
            self._answer(200, {"version": versions[next(counter) % len(versions)], "commit": "x", "buildTime": "t"})
        elif self.path.startswith("/api/v1/restaurants"):
            self._answer(200, {"content": [], "page": 0, "size": 1, "totalElements": 0})
        else:
            self._answer(404, {})

    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), Stub)
print(server.server_port, flush=True)
server.serve_forever()
PY
  printf '200\n' >"${WORK}/ready"
  printf '200\n' >"${WORK}/health"
  printf 'abc123def456\n' >"${WORK}/versions"
  stub_start api "${WORK}/stub.py" "${WORK}"
  URL="${STUB_URL}"
}

smoke() { SMOKE_HEALTH_TIMEOUT=2 SMOKE_VERSION_PROBES=4 "${SMOKE}" "$@"; }

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unknown argument: $1" "run with --help" ;;
  esac
  have python3 || die "python3 not found" "install python3"
  WORK=$(mktemp -d)
  trap cleanup EXIT
  start_stub

  check "passes when every backend serves the expected release" smoke "${URL}" abc123def456
  expect_eq "--live-version reports the live release" abc123def456 "$("${SMOKE}" --live-version "${URL}" 2>/dev/null)"
  check_fails "fails when the release is not the expected one" smoke "${URL}" 000000000000

  printf 'abc123def456\n0ld0ld0ld0ld\n' >"${WORK}/versions"
  check_fails "fails when one droplet behind the balancer still serves the old release" smoke "${URL}" abc123def456

  printf 'abc123def456\n' >"${WORK}/versions"
  printf '503\n' >"${WORK}/health"
  local out rc=0
  out=$(smoke "${URL}" abc123def456 2>&1) || rc=$?
  expect_eq "passes when ready but /health is 503 (Redis down: the API serves without its cache)" 0 "${rc}"
  expect_match "warns with /health's answer when a dependency is down" \
    'WARNING: GET /health: 503 .*"redis": "disconnected"' "${out}"
  printf '503\n' >"${WORK}/ready"
  check_fails "fails when readiness does not turn 200 in time" smoke "${URL}" abc123def456

  stub_stop
  expect_eq "--live-version prints nothing when nothing answers (first deploy)" "" "$("${SMOKE}" --live-version "${URL}" 2>/dev/null)"
  check_fails "fails when nothing answers" smoke "${URL}" abc123def456
  summary
}

main "$@"
