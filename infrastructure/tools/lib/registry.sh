# shellcheck shell=bash disable=SC2034 # its settings and REF_* are read by the callers
# The OCI distribution (registry) API for the tooling: image references, and
# requests that answer a registry's credential challenge (a Bearer token from
# its realm, or Basic) without a credential ever on a command line. Source it
# after common.sh; it defines functions and settings only and changes no shell
# options. Call registry_init before the first request and registry_cleanup
# when done (for example in an EXIT trap).
#
# Settings a caller may change:
#   REGISTRY_URL[HOST]  base URL of HOST's API (a mirror; Docker Hub's is preset)
#   REGISTRY_CACERT     CA bundle the registries' certificates chain to
# Credentials, when set, go to registries that ask: REGISTRY_USERNAME and
# REGISTRY_PASSWORD.

# Every manifest kind a tag may point to: OCI and Docker, single and multi-platform.
REGISTRY_MANIFEST_TYPES="application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.list.v2+json,application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json"
declare -A REGISTRY_URL=([docker.io]="https://registry-1.docker.io")
REGISTRY_CACERT=""
# After a request: its HTTP status (empty: no answer), and files with its
# response headers and body.
REGISTRY_STATUS=""
REGISTRY_HEADERS=""
REGISTRY_BODY=""
REGISTRY_WORK=""
# scope -> how the registry wants it asked: "none", "basic" or "bearer TOKEN".
declare -A _REGISTRY_AUTH=()

# registry_init - a private folder for the answers.
registry_init() {
  [[ -n "${REGISTRY_WORK}" ]] || REGISTRY_WORK=$(mktemp -d "${TMPDIR:-/tmp}/registry.XXXXXX")
  REGISTRY_HEADERS="${REGISTRY_WORK}/headers" REGISTRY_BODY="${REGISTRY_WORK}/body"
}

# registry_cleanup - remove it (also fine when registry_init never ran).
registry_cleanup() {
  [[ -z "${REGISTRY_WORK}" ]] || rm -rf "${REGISTRY_WORK}"
  REGISTRY_WORK=""
}

# parse_ref REF - set REF_HOST, REF_REPO (API path), REF_NAME (REF without
# tag and digest), REF_TAG, REF_DIGEST; return 1 when REF is malformed or
# names neither a tag nor a digest.
parse_ref() {
  parse_repository "$1" || return 1
  [[ -n "${REF_TAG}" || -n "${REF_DIGEST}" ]]
}

# parse_repository REF - as parse_ref, but a bare repository (HOST/PATH) is
# fine too.
parse_repository() {
  local ref="$1" rest first
  REF_DIGEST="" REF_TAG=""
  [[ "${ref}" =~ ^[a-z0-9][a-z0-9._:/-]*[a-z0-9](:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$ ]] || return 1
  rest="${ref}"
  [[ "${rest}" == *@* ]] && { REF_DIGEST="${rest#*@}"; rest="${rest%@*}"; }
  if [[ "${rest##*/}" == *:* ]]; then
    REF_TAG="${rest##*:}"
    rest="${rest%:*}"
  fi
  REF_NAME="${rest}"
  first="${rest%%/*}"
  if [[ "${rest}" == */* && ("${first}" == *.* || "${first}" == *:* || "${first}" == localhost) ]]; then
    REF_HOST="${first}" REF_REPO="${rest#*/}"
  else
    REF_HOST="docker.io" REF_REPO="${rest}"
    [[ "${REF_REPO}" == */* ]] || REF_REPO="library/${REF_REPO}"
  fi
}

# registry_api_url HOST - the base URL of HOST's registry API.
registry_api_url() {
  echo "${REGISTRY_URL[$1]:-https://$1}"
}

# curl_with_credentials ARGS... - curl with REGISTRY_USERNAME/PASSWORD, if set,
# handed over on standard input (a config line), never as an argument.
curl_with_credentials() {
  if [[ -n "${REGISTRY_USERNAME:-}" ]]; then
    local user="${REGISTRY_USERNAME}:${REGISTRY_PASSWORD:-}"
    user="${user//\\/\\\\}"
    printf 'user = "%s"\n' "${user//\"/\\\"}" | curl -K - "$@"
  else
    curl "$@"
  fi
}

# status_of HEADERS - the HTTP status code of the last response in HEADERS.
status_of() {
  grep -E '^HTTP/' <<<"$1" | tail -n 1 | awk '{print $2}'
}

# registry_header NAME - the value of header NAME in the last answer (nothing
# when it has none).
registry_header() {
  { grep -i "^$1:" "${REGISTRY_HEADERS}" || true; } | tail -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'
}

# _registry_curl AUTH ARGS... - curl as AUTH says (see _REGISTRY_AUTH).
_registry_curl() {
  local auth="$1"
  shift
  case "${auth}" in
    basic) curl_with_credentials "$@" ;;
    bearer\ *) printf 'header = "Authorization: Bearer %s"\n' "${auth#bearer }" | curl -K - "$@" ;;
    *) curl "$@" ;;
  esac
}

# _registry_challenge URL SCOPE - after a 401, how to ask for SCOPE (from the
# WWW-Authenticate header), remembered in _REGISTRY_AUTH; 1 when no way.
_registry_challenge() {
  local url="$1" scope="$2" challenge realm service token base=(-sS --max-time 30)
  [[ -z "${REGISTRY_CACERT}" ]] || base+=(--cacert "${REGISTRY_CACERT}")
  challenge=$(registry_header www-authenticate)
  if [[ "${challenge}" =~ ^[Bb]earer ]]; then
    realm=$(sed -n 's/.*realm="\([^"]*\)".*/\1/p' <<<"${challenge}")
    service=$(sed -n 's/.*service="\([^"]*\)".*/\1/p' <<<"${challenge}")
    [[ -n "${realm}" ]] || { warn "${url}: a Bearer challenge without a realm"; return 1; }
    token=$(curl_with_credentials "${base[@]}" -f -G --data-urlencode "service=${service}" \
      --data-urlencode "scope=${scope}" "${realm}" | jq -r '.token // .access_token // empty') || token=""
    [[ -n "${token}" ]] || { warn "${realm}: no token for ${scope} (refused: check REGISTRY_USERNAME/REGISTRY_PASSWORD)"; return 1; }
    _REGISTRY_AUTH[${scope}]="bearer ${token}"
  elif [[ "${challenge}" =~ ^[Bb]asic ]]; then
    _REGISTRY_AUTH[${scope}]=basic
  else
    return 1
  fi
}

# registry_request METHOD URL SCOPE [CURL_ARGS...] - one request to a registry
# API URL for SCOPE (e.g. repository:NAME:pull), answering a 401 challenge the
# first time a scope needs one. Sets REGISTRY_STATUS and fills the files
# REGISTRY_HEADERS and REGISTRY_BODY (HEAD: no body). Returns 1 only when
# nothing answered; the caller judges the status.
registry_request() {
  local method="$1" url="$2" scope="$3" args
  shift 3
  [[ -n "${REGISTRY_WORK}" ]] || die "registry_request before registry_init" "a bug in the calling script"
  args=(-sS --max-time 60 -D "${REGISTRY_HEADERS}" -o "${REGISTRY_BODY}" -w '%{http_code}')
  [[ -z "${REGISTRY_CACERT}" ]] || args+=(--cacert "${REGISTRY_CACERT}")
  if [[ "${method}" == HEAD ]]; then args+=(--head); else args+=(-X "${method}"); fi
  REGISTRY_STATUS=$(_registry_curl "${_REGISTRY_AUTH[${scope}]:-none}" "${args[@]}" "$@" "${url}") ||
    { REGISTRY_STATUS=""; return 1; }
  if [[ "${REGISTRY_STATUS}" == 401 && -z "${_REGISTRY_AUTH[${scope}]:-}" ]] &&
    _registry_challenge "${url}" "${scope}"; then
    REGISTRY_STATUS=$(_registry_curl "${_REGISTRY_AUTH[${scope}]}" "${args[@]}" "$@" "${url}") ||
      { REGISTRY_STATUS=""; return 1; }
  fi
  [[ "${method}" != HEAD ]] || : >"${REGISTRY_BODY}"
}
