#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Smoke tests of a deployed environment through its load balancer, run by the
# deploy-staging job after the deploy engine finished on every droplet (and
# again after a rollback): the release is ready, every backend the load
# balancer reaches serves the expected release, and the API answers a read.
# Readiness (/readyz), as the load balancer and the deploy gate use: a Redis
# outage (/health 503, the API serving without its cache) is reported as a
# warning, not a failed deploy that would roll back a good release.
set -Eeuo pipefail

# shellcheck source=../lib/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib/common.sh"
export RM_LOG_TAG="smoke-test"

HEALTH_TIMEOUT="${SMOKE_HEALTH_TIMEOUT:-120}"
# Requests to /version: enough for a round-robin balancer to reach every droplet.
VERSION_PROBES="${SMOKE_VERSION_PROBES:-10}"
CURL=(curl -sS --max-time 5)

usage() {
  cat <<USAGE
Usage: $(basename "$0") BASE_URL EXPECTED_TAG
       $(basename "$0") --live-version BASE_URL

Checks BASE_URL (the load balancer, e.g. https://staging.example.com):
  1. GET /readyz answers 200 within ${HEALTH_TIMEOUT}s (SMOKE_HEALTH_TIMEOUT);
     a /health other than 200 (a dependency such as Redis down) is a warning
  2. ${VERSION_PROBES} GETs of /version all report EXPECTED_TAG (SMOKE_VERSION_PROBES):
     no droplet behind the balancer still serves another release
  3. GET /api/v1/restaurants?size=1 answers 200 with a JSON page (database read)
Exit 0 when all pass, 1 otherwise.

--live-version prints the release BASE_URL serves now (empty, exit 0, when
nothing answers: a first deploy has nothing to roll back to).
USAGE
}

# version_of URL - the "version" field of URL/version, or nothing.
version_of() {
  "${CURL[@]}" -f "$1/version" 2>/dev/null | jq -r '.version // empty' 2>/dev/null || true
}

ready() { [[ "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$1/readyz" 2>/dev/null)" == 200 ]]; }

check_health() {
  wait_until "${HEALTH_TIMEOUT}" "GET $1/readyz 200" ready "$1" ||
    die "GET $1/readyz did not answer 200 within ${HEALTH_TIMEOUT}s" "look at the droplets: rollback.sh --list, docker logs"
  local code body
  body=$("${CURL[@]}" -w '\n%{http_code}' "$1/health" 2>/dev/null || true)
  code="${body##*$'\n'}"
  if [[ "${code}" == 200 ]]; then
    log "GET /health: 200, every dependency connected"
  else
    warn "GET /health: ${code:-no answer} $(head -c 200 <<<"${body%$'\n'*}") (the release is ready and serves; see which dependency is down)"
  fi
}

check_versions() {
  local url="$1" want="$2" i got
  for ((i = 1; i <= VERSION_PROBES; i++)); do
    got=$(version_of "${url}")
    [[ "${got}" == "${want}" ]] ||
      die "probe ${i}/${VERSION_PROBES}: $url/version reports '${got}', expected '${want}'" \
        "a droplet behind the load balancer runs another release; check each with rollback.sh --list"
  done
  log "all ${VERSION_PROBES} probes report ${want}"
}

check_read() {
  local body
  body=$("${CURL[@]}" -f "$1/api/v1/restaurants?size=1") ||
    die "GET $1/api/v1/restaurants failed" "the API cannot read from its database; check DATABASE_URL on the droplets"
  jq -e 'type == "object"' >/dev/null <<<"${body}" ||
    die "GET $1/api/v1/restaurants did not return a JSON object" "got: $(head -c 200 <<<"${body}")"
  log "GET /api/v1/restaurants answers"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    --live-version)
      [[ -n "${2:-}" ]] || die "--live-version needs BASE_URL" "run with --help"
      version_of "${2%/}"
      return 0
      ;;
    -*) usage >&2; die "unknown option '$1'" "run with --help" ;;
  esac
  [[ $# -eq 2 && -n "$1" && -n "$2" ]] || { usage >&2; die "expected BASE_URL and EXPECTED_TAG" "run with --help"; }
  have jq || ensure_apt_packages jq
  local url="${1%/}" tag="$2"
  step health check_health "${url}"
  step version check_versions "${url}" "${tag}"
  step read check_read "${url}"
  log "smoke tests of ${tag} at ${url}: passed"
}

main "$@"
