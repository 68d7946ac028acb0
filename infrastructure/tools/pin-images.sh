#!/usr/bin/env bash
# Pins the base images of infrastructure/docker/images.env to their registry
# digests (name:tag@sha256:...) and writes the same references as the API
# Dockerfile's build-arg defaults, so a build pulls exactly what was reviewed.
# images.env is the one source; the Dockerfile's defaults follow it.
set -Eeuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
export RM_LOG_TAG="pin-images"

IMAGES_ENV="${RM_REPO_ROOT}/infrastructure/docker/images.env"
DOCKERFILE="${RM_REPO_ROOT}/apps/api/Dockerfile"
# registry host -> base URL of its API (--registry); Docker Hub's by default.
declare -A REGISTRY_URL=([docker.io]="https://registry-1.docker.io")
CACERT=""
MANIFEST_TYPES="application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.list.v2+json,application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [--verify | --lint] [OPTIONS]

Without a mode: asks each image's registry for the digest its tag points to
now and rewrites images.env as NAME:TAG@sha256:..., then the API Dockerfile's
ARG defaults to the same references. Nothing is written unless every image
resolved. Run it on a machine that reaches the registries (make pin-images),
review the diff and commit it.

Modes:
  --verify   change nothing; fail unless every image is pinned, its digest is
             still served by its registry and the Dockerfile agrees (a tag
             that moved on is reported, not failed: pin again to take it)
  --lint     change nothing, ask no registry: every reference well formed and
             the Dockerfile's defaults equal to images.env (unpinned images
             are listed)

Options:
  --images-env FILE        default: infrastructure/docker/images.env
  --dockerfile FILE        default: apps/api/Dockerfile
  --registry HOST=URL      API address of a registry (repeatable), e.g. a
                           mirror; default docker.io=https://registry-1.docker.io
  --cacert FILE            CA bundle the registries' TLS certificates chain to
  -h, --help

Environment: REGISTRY_USERNAME and REGISTRY_PASSWORD, when set, are sent to
registries that ask for credentials (never on the command line).
Exit status: 0 done; 1 a registry refused or lacks an image, or --verify or
--lint found a problem; 2 bad usage or files.
USAGE
}

# image_vars - the NAME_IMAGE=REF lines of images.env, as "NAME REF".
image_vars() {
  sed -n 's/^\([A-Z][A-Z0-9_]*_IMAGE\)=\(.*\)$/\1 \2/p' "${IMAGES_ENV}"
}

# parse_ref REF - set REF_HOST, REF_REPO (API path), REF_NAME (REF without
# tag and digest), REF_TAG, REF_DIGEST; return 1 when REF is malformed.
parse_ref() {
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
  [[ -n "${REF_TAG}" || -n "${REF_DIGEST}" ]]
}

# api_url HOST - the base URL of HOST's registry API.
api_url() {
  echo "${REGISTRY_URL[$1]:-https://$1}"
}

# registry_head URL SCOPE - HEAD a manifest URL, answering the registry's
# challenge (Bearer token or Basic); prints the response headers.
registry_head() {
  local url="$1" scope="$2" headers challenge realm service token
  local base=(-sS --max-time 30)
  [[ -z "${CACERT}" ]] || base+=(--cacert "${CACERT}")
  local curl_opts=("${base[@]}" -I -H "Accept: ${MANIFEST_TYPES}")
  headers=$(curl "${curl_opts[@]}" "${url}") || return 1
  if [[ "$(status_of "${headers}")" == 401 ]]; then
    challenge=$(grep -i '^www-authenticate:' <<<"${headers}" | head -n 1 | tr -d '\r')
    if [[ "${challenge}" =~ [Bb]earer ]]; then
      realm=$(sed -n 's/.*realm="\([^"]*\)".*/\1/p' <<<"${challenge}")
      service=$(sed -n 's/.*service="\([^"]*\)".*/\1/p' <<<"${challenge}")
      [[ -n "${realm}" ]] || { warn "${url}: a Bearer challenge without a realm"; return 1; }
      token=$(curl_with_credentials "${base[@]}" -f -G --data-urlencode "service=${service}" \
        --data-urlencode "scope=${scope}" "${realm}" | jq -r '.token // .access_token // empty') || token=""
      [[ -n "${token}" ]] || { warn "${realm}: no token for ${scope} (refused: check REGISTRY_USERNAME/REGISTRY_PASSWORD)"; return 1; }
      # The token goes to curl on standard input, not on its command line.
      headers=$(printf 'header = "Authorization: Bearer %s"\n' "${token}" | curl -K - "${curl_opts[@]}" "${url}") || return 1
    elif [[ "${challenge}" =~ [Bb]asic ]]; then
      headers=$(curl_with_credentials "${curl_opts[@]}" "${url}") || return 1
    fi
  fi
  printf '%s\n' "${headers}"
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

# manifest_digest REF_HOST REF_REPO REFERENCE - print the digest the registry
# serves for REFERENCE (a tag or a digest), or fail saying why.
manifest_digest() {
  local host="$1" repo="$2" reference="$3" headers status digest
  headers=$(registry_head "$(api_url "${host}")/v2/${repo}/manifests/${reference}" "repository:${repo}:pull") ||
    { warn "${host}/${repo}:${reference}: the registry did not answer"; return 1; }
  status=$(status_of "${headers}")
  case "${status}" in
    200) ;;
    401 | 403) warn "${host}/${repo}:${reference}: access refused (HTTP ${status}); set REGISTRY_USERNAME/REGISTRY_PASSWORD"; return 1 ;;
    404) warn "${host}/${repo}:${reference}: not in the registry (HTTP 404)"; return 1 ;;
    *) warn "${host}/${repo}:${reference}: HTTP ${status:-no answer}"; return 1 ;;
  esac
  digest=$(grep -i '^docker-content-digest:' <<<"${headers}" | tail -n 1 | awk '{print $2}' | tr -d '\r')
  [[ "${digest}" =~ ^sha256:[0-9a-f]{64}$ ]] || { warn "${host}/${repo}:${reference}: no digest in the registry's answer"; return 1; }
  echo "${digest}"
}

# dockerfile_default NAME - the default of 'ARG NAME=...' in the Dockerfile.
dockerfile_default() {
  sed -n "s/^ARG $1=\(.*\)$/\1/p" "${DOCKERFILE}" | head -n 1
}

# lint - references well formed, Dockerfile defaults equal to images.env.
lint() {
  local name ref problems=0 unpinned=() default
  while read -r name ref; do
    if ! parse_ref "${ref}"; then
      warn "${name}: '${ref}' is not an image reference NAME:TAG[@sha256:...]"
      problems=$((problems + 1))
      continue
    fi
    [[ -n "${REF_DIGEST}" ]] || unpinned+=("${name}")
    default=$(dockerfile_default "${name}")
    if [[ -n "${default}" && "${default}" != "${ref}" ]]; then
      warn "${name}: the Dockerfile says '${default}', images.env '${ref}' (make pin-images writes both)"
      problems=$((problems + 1))
    fi
  done < <(image_vars)
  ((${#unpinned[@]} == 0)) || log "not pinned by digest yet: ${unpinned[*]} (make pin-images on a machine that reaches the registries)"
  ((problems == 0)) || return 1
  log "images.env and $(basename "${DOCKERFILE}") agree: $(image_vars | wc -l) images"
}

# verify - every image pinned and still served, the Dockerfile in agreement.
verify() {
  local name ref current problems=0
  lint || problems=$((problems + 1))
  while read -r name ref; do
    parse_ref "${ref}" || continue
    if [[ -z "${REF_DIGEST}" ]]; then
      warn "${name}: ${ref} is not pinned by digest"
      problems=$((problems + 1))
      continue
    fi
    if ! manifest_digest "${REF_HOST}" "${REF_REPO}" "${REF_DIGEST}" >/dev/null; then
      warn "${name}: the pinned digest of ${REF_NAME} is not served any more"
      problems=$((problems + 1))
      continue
    fi
    current=$(manifest_digest "${REF_HOST}" "${REF_REPO}" "${REF_TAG}" 2>/dev/null || true)
    if [[ -n "${current}" && "${current}" != "${REF_DIGEST}" ]]; then
      log "${name}: ok, served; ${REF_NAME}:${REF_TAG} has moved on to ${current} (pin again to take it)"
    else
      log "${name}: ok, ${REF_NAME}@${REF_DIGEST} is served"
    fi
  done < <(image_vars)
  ((problems == 0)) || die "${problems} problem(s) with the pinned base images" "run make pin-images and commit the result"
  log "every base image is pinned and served"
}

# pin - resolve every tag, then write images.env and the Dockerfile.
pin() {
  local name ref digest pinned=() failed=0 changed=0
  lint || die "fix images.env and the Dockerfile first (see above)" "" 2
  while read -r name ref; do
    parse_ref "${ref}" || die "${name}: bad reference '${ref}'" "" 2
    [[ -n "${REF_TAG}" ]] || die "${name}: ${ref} has no tag to resolve" "write NAME:TAG@sha256:... so that a tag says what the digest is" 2
    if ! digest=$(manifest_digest "${REF_HOST}" "${REF_REPO}" "${REF_TAG}"); then
      failed=$((failed + 1))
      continue
    fi
    pinned+=("${name}=${REF_NAME}:${REF_TAG}@${digest}")
    if [[ "${digest}" == "${REF_DIGEST}" ]]; then
      log "${name}: ${REF_NAME}:${REF_TAG} unchanged (${digest})"
    else
      log "${name}: ${REF_NAME}:${REF_TAG} -> ${digest}"
      changed=$((changed + 1))
    fi
  done < <(image_vars)
  ((failed == 0)) || die "${failed} image(s) could not be resolved; nothing was written" "see the warnings above"
  local entry env_tmp docker_tmp
  env_tmp=$(mktemp "${IMAGES_ENV}.XXXXXX")
  docker_tmp=$(mktemp "${DOCKERFILE}.XXXXXX")
  cp "${IMAGES_ENV}" "${env_tmp}"
  cp "${DOCKERFILE}" "${docker_tmp}"
  for entry in "${pinned[@]}"; do
    name="${entry%%=*}"
    sed -i "s|^${name}=.*$|${entry}|" "${env_tmp}"
    sed -i "s|^ARG ${name}=.*$|ARG ${entry}|" "${docker_tmp}"
  done
  chmod --reference="${IMAGES_ENV}" "${env_tmp}"
  chmod --reference="${DOCKERFILE}" "${docker_tmp}"
  mv "${env_tmp}" "${IMAGES_ENV}"
  mv "${docker_tmp}" "${DOCKERFILE}"
  lint >/dev/null
  log "${#pinned[@]} images pinned, ${changed} changed: review 'git diff' and commit"
}

main() {
  local mode=pin
  while [[ $# -gt 0 ]]; do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --verify) mode=verify ;;
      --lint) mode=lint ;;
      --images-env | --dockerfile | --registry | --cacert)
        [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value" "see --help" 2
        case "$1" in
          --images-env) IMAGES_ENV="$2" ;;
          --dockerfile) DOCKERFILE="$2" ;;
          --cacert) CACERT="$2" ;;
          --registry)
            [[ "$2" =~ ^([a-z0-9.-]+(:[0-9]+)?)=(https?://[^[:space:]]+)$ ]] ||
              die "--registry wants HOST=URL, not '$2'" "e.g. --registry docker.io=https://mirror.example.com" 2
            REGISTRY_URL["${BASH_REMATCH[1]}"]="${BASH_REMATCH[3]%/}"
            ;;
        esac
        shift
        ;;
      *) usage >&2; die "unknown argument '$1'" "see --help" 2 ;;
    esac
    shift
  done
  [[ -f "${IMAGES_ENV}" ]] || die "no images file at ${IMAGES_ENV}" "pass --images-env FILE" 2
  [[ -f "${DOCKERFILE}" ]] || die "no Dockerfile at ${DOCKERFILE}" "pass --dockerfile FILE" 2
  [[ -z "${CACERT}" || -r "${CACERT}" ]] || die "cannot read the CA bundle ${CACERT}" "" 2
  [[ -n "$(image_vars)" ]] || die "${IMAGES_ENV} names no NAME_IMAGE=REF line" "" 2
  if [[ "${mode}" != lint ]]; then
    { have curl && have jq; } || die "pin-images needs curl and jq" "apt-get install curl jq" 2
  fi
  "${mode}"
}

main "$@"
