# shellcheck shell=bash
# The GitHub REST API for the CI tooling: which repository, and one call that
# fails loudly. Source it after common.sh; it defines functions only and
# changes no shell options. A caller sets REPO (OWNER/NAME) and may set
# GITHUB_API_HINT, what to do when the API refuses a call.

GITHUB_API_VERSION="2022-11-28"

# github_repo_from_origin - OWNER/NAME of a github.com 'origin' remote, if any.
github_repo_from_origin() {
  local url
  url=$(git -C "${RM_REPO_ROOT}" remote get-url origin 2>/dev/null) || return 0
  if [[ "${url}" =~ github\.com[:/]([^/]+/[^/]+)$ ]]; then
    printf '%s' "${BASH_REMATCH[1]%.git}"
  fi
}

# github_require_repo - REPO as given, else the origin remote's; refused unless it
# is OWNER/NAME. Also makes sure curl and jq are there for github_api.
github_require_repo() {
  [[ -n "${REPO}" ]] || REPO=$(github_repo_from_origin)
  [[ "${REPO}" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] ||
    die "no valid target repository (got '${REPO}')" "pass --repo OWNER/NAME or set GITHUB_REPOSITORY"
  have jq || ensure_apt_packages jq
  have curl || ensure_apt_packages curl
}

# github_api METHOD PATH [BODY_FILE] - one REST call to GITHUB_API_URL (default
# https://api.github.com) with GITHUB_TOKEN; prints the response body, dies
# when there is no answer or the status is not 2xx.
github_api() {
  local method="$1" path="$2" body="${3:-}" api_url="${GITHUB_API_URL:-https://api.github.com}" out status args=()
  out=$(mktemp)
  args=(-sS -o "${out}" -w '%{http_code}' -X "${method}"
    -H "Accept: application/vnd.github+json" -H "X-GitHub-Api-Version: ${GITHUB_API_VERSION}")
  [[ -n "${body}" ]] && args+=(-H "Content-Type: application/json" --data-binary "@${body}")
  # The token goes to curl on standard input, never on its command line.
  status=$(printf 'header = "Authorization: Bearer %s"\n' "${GITHUB_TOKEN}" | curl -K - "${args[@]}" "${api_url}${path}") || { rm -f "${out}"; die "${method} ${path}: no answer from ${api_url}" "check the network and GITHUB_API_URL"; }
  if [[ "${status}" != 2* ]]; then
    warn "${method} ${path}: HTTP ${status}: $(head -c 500 "${out}")"
    rm -f "${out}"
    die "${method} ${path} failed with HTTP ${status}" "${GITHUB_API_HINT:-check that GITHUB_TOKEN may do this on ${REPO:-the repository}}"
  fi
  cat "${out}"
  rm -f "${out}"
}
