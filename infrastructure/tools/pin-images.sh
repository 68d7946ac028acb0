#!/usr/bin/env bash
# Pins the base images of infrastructure/docker/images.env to their registry
# digests (name:tag@sha256:...) and writes the same references as the API
# Dockerfile's build-arg defaults, so a build pulls exactly what was reviewed.
# images.env is the one source; the Dockerfile's defaults follow it.
set -Eeuo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/registry.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/registry.sh"
export RM_LOG_TAG="pin-images"

IMAGES_ENV="${RM_REPO_ROOT}/infrastructure/docker/images.env"
DOCKERFILE="${RM_REPO_ROOT}/apps/api/Dockerfile"

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

# manifest_digest REF_HOST REF_REPO REFERENCE - print the digest the registry
# serves for REFERENCE (a tag or a digest), or fail saying why.
manifest_digest() {
  local host="$1" repo="$2" reference="$3" status digest
  registry_request HEAD "$(registry_api_url "${host}")/v2/${repo}/manifests/${reference}" "repository:${repo}:pull" \
    -H "Accept: ${REGISTRY_MANIFEST_TYPES}" || { warn "${host}/${repo}:${reference}: the registry did not answer"; return 1; }
  status="${REGISTRY_STATUS}"
  case "${status}" in
    200) ;;
    401 | 403) warn "${host}/${repo}:${reference}: access refused (HTTP ${status}); set REGISTRY_USERNAME/REGISTRY_PASSWORD"; return 1 ;;
    404) warn "${host}/${repo}:${reference}: not in the registry (HTTP 404)"; return 1 ;;
    *) warn "${host}/${repo}:${reference}: HTTP ${status:-no answer}"; return 1 ;;
  esac
  digest=$(registry_header docker-content-digest)
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
          --cacert) REGISTRY_CACERT="$2" ;;
          --registry)
            [[ "$2" =~ ^([a-z0-9.-]+(:[0-9]+)?)=(https?://[^[:space:]]+)$ ]] ||
              die "--registry wants HOST=URL, not '$2'" "e.g. --registry docker.io=https://mirror.example.com" 2
            # shellcheck disable=SC2034 # read by registry_api_url (lib/registry.sh)
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
  [[ -z "${REGISTRY_CACERT}" || -r "${REGISTRY_CACERT}" ]] || die "cannot read the CA bundle ${REGISTRY_CACERT}" "" 2
  [[ -n "$(image_vars)" ]] || die "${IMAGES_ENV} names no NAME_IMAGE=REF line" "" 2
  if [[ "${mode}" != lint ]]; then
    { have curl && have jq; } || die "pin-images needs curl and jq" "apt-get install curl jq" 2
  fi
  registry_init
  trap registry_cleanup EXIT
  "${mode}"
}

main "$@"
