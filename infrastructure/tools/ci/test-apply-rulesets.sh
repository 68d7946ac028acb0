#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Offline tests of apply-rulesets.sh: the dry run prints one request per
# ruleset and needs no token; without a token a real run refuses with a clear
# message; against a stub of the GitHub REST API on 127.0.0.1 an existing
# ruleset is updated (PUT by id), a missing one created (POST), with the token
# and the file's JSON as the body. Prints "N passed, N failed".
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/common.sh
source "${HERE}/../lib/common.sh"
# shellcheck source=../lib/testing.sh
source "${HERE}/../lib/testing.sh"
export RM_LOG_TAG="test-apply-rulesets"

APPLY="${HERE}/apply-rulesets.sh"
WORK=""
STUB_PID=""

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Runs apply-rulesets.sh in dry-run mode, without a token, and against a stub
GitHub API (python3 http.server on 127.0.0.1) that records every request.
USAGE
}

cleanup() {
  [[ -z "${STUB_PID}" ]] || kill "${STUB_PID}" 2>/dev/null || true
  [[ -z "${WORK}" ]] || rm -rf "${WORK}"
}

# The stub answers GET .../rulesets with one existing repository ruleset named
# "main" (id 7), accepts PUT and POST, and appends "METHOD PATH AUTH BODY-NAME"
# per request to the log.
start_stub() {
  cat >"${WORK}/stub.py" <<'PY'
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

LOG = sys.argv[1]

class Stub(BaseHTTPRequestHandler):
    def _record(self, name):
        with open(LOG, "a") as log:
            log.write(f"{self.command} {self.path} {self.headers.get('Authorization')} {name}\n")

    def _answer(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._record("-")
        self._answer(200, [{"id": 7, "name": "main", "source_type": "Repository"},
                           {"id": 9, "name": "develop", "source_type": "Organization"}])

    def _write(self, status, new_id):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._record(body["name"])
        self._answer(status, {"id": new_id, "name": body["name"]})

    def do_PUT(self):
        self._write(200, 7)

    def do_POST(self):
        self._write(201, 8)

    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), Stub)
print(server.server_port, flush=True)
server.serve_forever()
PY
  python3 "${WORK}/stub.py" "${WORK}/requests.log" >"${WORK}/port" 2>"${WORK}/stub.err" &
  STUB_PID=$!
  wait_until 10 "stub GitHub API" test -s "${WORK}/port" || die "the stub API did not start: $(cat "${WORK}/stub.err")"
}

test_dry_run() {
  local out rc=0
  out=$(env -u GITHUB_TOKEN "${APPLY}" --dry-run --repo acme/restomarket 2>&1) || rc=$?
  expect_eq "dry run needs no token and succeeds" 0 "${rc}"
  expect_match "dry run lists the existing rulesets first" \
    '^GET https://api.github.com/repos/acme/restomarket/rulesets' "${out}"
  expect_eq "dry run prints one write per ruleset file" 2 "$(grep -c '^PUT-or-POST ' <<<"${out}")"
  expect_match "dry run shows the main ruleset body" '"name": "main"' "${out}"
  expect_match "dry run shows the develop ruleset body" '"name": "develop"' "${out}"
}

test_refuses_without_token() {
  local out rc=0
  out=$(env -u GITHUB_TOKEN "${APPLY}" --repo acme/restomarket 2>&1) || rc=$?
  if ((rc != 0)); then pass "a real run without GITHUB_TOKEN fails"; else fail "a real run without GITHUB_TOKEN fails" "exit 0"; fi
  expect_match "and says which variable is missing" 'GITHUB_TOKEN is not set' "${out}"
}

test_rejects_bad_repo() {
  check_fails "an invalid --repo is refused" env GITHUB_TOKEN=x "${APPLY}" --dry-run --repo 'not a repo'
}

test_against_stub() {
  local out rc=0 log="${WORK}/requests.log"
  start_stub
  out=$(GITHUB_TOKEN=test-token GITHUB_API_URL="http://127.0.0.1:$(cat "${WORK}/port")" \
    "${APPLY}" --repo acme/restomarket 2>&1) || rc=$?
  expect_eq "applying against the API succeeds" 0 "${rc}"
  expect_eq "the existing repository ruleset 'main' is updated in place" \
    "PUT /repos/acme/restomarket/rulesets/7 Bearer test-token main" "$(grep '^PUT ' "${log}" || true)"
  expect_eq "'develop' (only an organisation ruleset of that name exists) is created" \
    "POST /repos/acme/restomarket/rulesets Bearer test-token develop" "$(grep '^POST ' "${log}" || true)"
  expect_eq "three requests in all" 3 "$(wc -l <"${log}")"
  expect_match "each outcome is logged" "ruleset 'develop': created \\(id 8\\)" "${out}"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unknown argument: $1" "run with --help" ;;
  esac
  have python3 || die "python3 not found" "install python3"
  WORK=$(mktemp -d)
  trap cleanup EXIT
  test_dry_run
  test_refuses_without_token
  test_rejects_bad_repo
  test_against_stub
  summary
}

main "$@"
