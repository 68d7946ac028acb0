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

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Runs apply-rulesets.sh in dry-run mode, without a token, and against a stub
GitHub API (python3 http.server on 127.0.0.1) that records every request.
USAGE
}

cleanup() {
  stub_stop
  [[ -z "${WORK}" ]] || rm -rf "${WORK}"
}

# The stub answers GET .../rulesets with one existing repository ruleset named
# "main" (id 7), team "platform" with id 42, and the staging environment's
# branch policies "main" (id 3) and "feature/*" (id 4, a stale one); it accepts
# PUT, POST and DELETE, and appends "METHOD PATH AUTH WHAT" per request to the
# log (WHAT: a ruleset's or policy's name, an environment's reviewer IDs).
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
        if self.path.startswith("/orgs/acme/teams/platform"):
            self._answer(200, {"id": 42, "slug": "platform"})
        elif "/deployment-branch-policies" in self.path:
            self._answer(200, {"total_count": 2, "branch_policies": [
                {"id": 3, "name": "main", "type": "branch"}, {"id": 4, "name": "feature/*", "type": "branch"}]})
        elif "/rulesets" in self.path:
            self._answer(200, [{"id": 7, "name": "main", "source_type": "Repository"},
                               {"id": 9, "name": "develop", "source_type": "Organization"}])
        else:
            self._answer(404, {"message": "Not Found"})

    def _write(self, status, new_id):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if "/environments/" in self.path and "deployment-branch-policies" not in self.path:
            self._record("reviewers=" + ",".join(f"{r['type']}:{r['id']}" for r in body["reviewers"])
                         + f" self-review={body['prevent_self_review']}"
                         + f" custom={body['deployment_branch_policy']['custom_branch_policies']}")
        else:
            self._record(body["name"])
        self._answer(status, {"id": new_id, "name": body.get("name", "")})

    def do_PUT(self):
        self._write(200, 7)

    def do_POST(self):
        self._write(201, 8)

    def do_DELETE(self):
        self._record("-")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), Stub)
print(server.server_port, flush=True)
server.serve_forever()
PY
  stub_start github-api "${WORK}/stub.py" "${WORK}/requests.log"
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
  expect_match "dry run shows the staging environment with its reviewer" \
    'PUT https://api.github.com/repos/acme/restomarket/environments/staging.*"id": "<ID of Team platform>"' "$(tr '\n' ' ' <<<"${out}")"
  expect_match "dry run shows that only develop may deploy to staging" \
    'POST-if-missing https://api.github.com/repos/acme/restomarket/environments/staging/deployment-branch-policies branch develop' "${out}"
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
  out=$(GITHUB_TOKEN=test-token GITHUB_API_URL="${STUB_URL}" \
    "${APPLY}" --repo acme/restomarket 2>&1) || rc=$?
  expect_eq "applying against the API succeeds" 0 "${rc}"
  expect_eq "the existing repository ruleset 'main' is updated in place" \
    "PUT /repos/acme/restomarket/rulesets/7 Bearer test-token main" "$(grep '^PUT /repos/acme/restomarket/rulesets' "${log}" || true)"
  expect_eq "'develop' (only an organisation ruleset of that name exists) is created" \
    "POST /repos/acme/restomarket/rulesets Bearer test-token develop" "$(grep '^POST /repos/acme/restomarket/rulesets' "${log}" || true)"
  expect_eq "the staging environment gets team platform (id 42) as reviewer, no self-review, custom branches" \
    "PUT /repos/acme/restomarket/environments/staging Bearer test-token reviewers=Team:42 self-review=True custom=True" \
    "$(grep '^PUT /repos/acme/restomarket/environments/' "${log}" || true)"
  expect_eq "develop is added as the branch that may deploy" \
    "POST /repos/acme/restomarket/environments/staging/deployment-branch-policies Bearer test-token develop" \
    "$(grep '^POST .*deployment-branch-policies' "${log}" || true)"
  expect_eq "branches the file does not list may no longer deploy" \
    "DELETE /repos/acme/restomarket/environments/staging/deployment-branch-policies/3 Bearer test-token -
DELETE /repos/acme/restomarket/environments/staging/deployment-branch-policies/4 Bearer test-token -" \
    "$(grep '^DELETE ' "${log}" || true)"
  expect_eq "nine requests in all" 9 "$(wc -l <"${log}")"
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
