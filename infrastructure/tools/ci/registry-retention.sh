#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Registry retention for the API image (image-cleanup.yml runs it weekly): the
# KEEP newest tagged images stay, and so does every image with a tag matching
# the protection regex (deployed-tags.sh: latest, stable, semantic versions,
# and what each environment runs or would roll back to); the rest is deleted
# with the signatures and attestations that refer to it. Lists through the
# registry API (OCI distribution), deletes through it too, or, on ghcr.io,
# through the GitHub Packages API, which is the only way GHCR deletes. Fails
# closed: any error before the deletions deletes nothing.
set -Eeuo pipefail
shopt -s inherit_errexit

# shellcheck source=../lib/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib/common.sh"
# shellcheck source=../lib/registry.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/registry.sh"
# shellcheck source=../lib/github.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/github.sh"
export RM_LOG_TAG="registry-retention"

IMAGE=""
KEEP=5
PROTECT=""
DELETE=""
DELETE_WITH=""
PAGE_SIZE=100
# A referrer's tag in the OCI tag schema (and cosign's): sha256-<subject hex>[.suffix].
REFERRER_TAG='^sha256-[0-9a-f]{64}([.].*)?$'
REPO=""
WORK=""

usage() {
  cat <<USAGE
Usage: $(basename "$0") --image REGISTRY/REPOSITORY --protect REGEX [--keep N] [--delete]

Decides which images of REPOSITORY stay and, with --delete, deletes the rest:
  kept     the N newest tagged images (by the creation time in their config)
           and every image with a tag matching REGEX, with what refers to them
           (tags sha256-<digest>[.sig|.att|...]) and what they list
  deleted  every other tagged image and its referrers; on ghcr.io also
           untagged versions nothing kept refers to
Without --delete it is a dry run: the plan is printed, nothing changes.
The plan goes to standard output, one image per line:
  keep|delete <digest> <created> <tags,...> [newest|protected|referrer]

Options:
  --image REF        the repository, e.g. ghcr.io/OWNER/restomarket/api
  --protect REGEX    tags never deleted (extended regex, anchored by you), e.g.
                     the output of deployed-tags.sh; required, so that a run
                     without the deployed releases cannot happen by accident
  --keep N           newest tagged images kept (default ${KEEP})
  --delete           delete; without it nothing is deleted
  --delete-with registry|github-packages
                     how to delete: the registry API (DELETE of a manifest; a
                     CNCF distribution registry needs storage.delete.enabled),
                     or the GitHub Packages API; default: github-packages on
                     ghcr.io, registry elsewhere
  --cacert FILE      CA bundle the registry's certificate chains to
  -h, --help         show this help

Environment:
  REGISTRY_USERNAME, REGISTRY_PASSWORD  registry credentials, sent only when
                     it asks, never on a command line (on GHCR: the actor and
                     GITHUB_TOKEN)
  GITHUB_TOKEN       for github-packages: a token that may delete the package's
                     versions (packages: write); GITHUB_API_URL as in github.sh
Exit status: 0 done (or planned); 1 the registry or API refused, or a deletion
failed (the others are still tried); 2 bad usage.
USAGE
}

parse_args() {
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --delete) DELETE=1 ;;
      --image | --protect | --keep | --delete-with | --cacert)
        [[ $# -ge 2 ]] || die "$1 needs a value" "run with --help" 2
        case "$1" in
          --image) IMAGE="$2" ;;
          --protect) PROTECT="$2" ;;
          --keep) KEEP="$2" ;;
          --delete-with) DELETE_WITH="$2" ;;
          --cacert) REGISTRY_CACERT="$2" ;;
        esac
        shift
        ;;
      *) usage >&2; die "unknown argument: $1" "run with --help" 2 ;;
    esac
    shift
  done
}

validate_inputs() {
  [[ -n "${IMAGE}" ]] || die "no --image given" "e.g. --image ghcr.io/OWNER/restomarket/api" 2
  { parse_repository "${IMAGE}" && [[ -z "${REF_TAG}${REF_DIGEST}" && "${REF_HOST}" != docker.io ]]; } ||
    die "--image '${IMAGE}' is not REGISTRY/REPOSITORY (no tag, no digest)" "e.g. --image ghcr.io/OWNER/restomarket/api" 2
  [[ -n "${PROTECT}" ]] ||
    die "no --protect regex given" "pass the tags that must stay, e.g. --protect \"\$(infrastructure/tools/ci/deployed-tags.sh)\"" 2
  local rc=0
  grep -Eq -- "${PROTECT}" <<<"" 2>/dev/null || rc=$?
  ((rc <= 1)) || die "--protect '${PROTECT}' is not a valid extended regex" "check its brackets and escapes" 2
  [[ "${KEEP}" =~ ^[1-9][0-9]*$ ]] || die "--keep must be a whole number of at least 1 (got '${KEEP}')" "e.g. --keep 5" 2
  [[ -z "${DELETE_WITH}" ]] || [[ "${DELETE_WITH}" =~ ^(registry|github-packages)$ ]] ||
    die "--delete-with must be registry or github-packages (got '${DELETE_WITH}')" "run with --help" 2
  [[ -n "${DELETE_WITH}" ]] || { DELETE_WITH=registry; [[ "${REF_HOST}" != ghcr.io ]] || DELETE_WITH=github-packages; }
  [[ -z "${REGISTRY_CACERT}" || -r "${REGISTRY_CACERT}" ]] || die "cannot read the CA bundle ${REGISTRY_CACERT}" "" 2
  if [[ "${DELETE_WITH}" == github-packages && -n "${DELETE}" ]]; then
    [[ -n "${GITHUB_TOKEN:-}" ]] || die "GITHUB_TOKEN is not set" "export a token with packages: write" 2
  fi
  have jq || ensure_apt_packages jq
  have curl || ensure_apt_packages curl
  API="$(registry_api_url "${REF_HOST}")/v2/${REF_REPO}"
  SCOPE="repository:${REF_REPO}:pull"
}

# get PATH WHAT [CURL_ARGS...] - GET API/PATH; dies unless it answers 200.
get() {
  local path="$1" what="$2"
  shift 2
  registry_request GET "${API}/${path}" "${SCOPE}" "$@" ||
    die "${IMAGE}: no answer from the registry reading ${what}" "check the address and --cacert; nothing was deleted"
  [[ "${REGISTRY_STATUS}" == 200 ]] ||
    die "${IMAGE}: HTTP ${REGISTRY_STATUS} reading ${what}: $(head -c 300 "${REGISTRY_BODY}")" \
      "401/403: check REGISTRY_USERNAME/REGISTRY_PASSWORD; nothing was deleted"
}

# list_tags - every tag of the repository (paged with the Link header), into WORK/tags.
list_tags() {
  local path="tags/list?n=${PAGE_SIZE}" next
  : >"${WORK}/tags"
  while [[ -n "${path}" ]]; do
    get "${path}" "the tags"
    jq -er '(.tags // [])[]' "${REGISTRY_BODY}" >>"${WORK}/tags" 2>/dev/null ||
      jq -e '.tags // [] | type == "array"' "${REGISTRY_BODY}" >/dev/null 2>&1 ||
      die "${IMAGE}: the tag list is not JSON with a tags array: $(head -c 300 "${REGISTRY_BODY}")" "nothing was deleted"
    next=$(registry_header link | sed -n 's/^<\([^>]*\)>.*rel="\{0,1\}next.*/\1/p')
    path="${next#/v2/"${REF_REPO}"/}"
    [[ "${path}" != "${next}" || -z "${next}" ]] || die "${IMAGE}: a next page outside the repository: ${next}" "nothing was deleted"
  done
}

# describe DIGEST - one line of JSON about the manifest DIGEST: its creation
# time (an index: its first platform image's), the digests it lists and the
# one it refers to (subject).
describe() {
  local digest="$1" manifest config child
  get "manifests/${digest}" "manifest ${digest}" -H "Accept: ${REGISTRY_MANIFEST_TYPES}"
  manifest=$(jq -c '{config: (.config.digest // null), children: [(.manifests // [])[].digest], subject: (.subject.digest // null),
    platform: ([(.manifests // [])[] | select(.platform.os? != "unknown") | .digest] | first)}' \
    "${REGISTRY_BODY}") || die "${IMAGE}: manifest ${digest} is not JSON" "nothing was deleted"
  config=$(jq -r '.config // empty' <<<"${manifest}")
  if [[ -z "${config}" ]]; then
    # An index: its first platform image's (not an attestation's, platform unknown/unknown).
    child=$(jq -r '.platform // empty' <<<"${manifest}")
    if [[ -n "${child}" ]]; then
      get "manifests/${child}" "manifest ${child}" -H "Accept: ${REGISTRY_MANIFEST_TYPES}"
      config=$(jq -r '.config.digest // empty' "${REGISTRY_BODY}")
    fi
  fi
  local created=""
  if [[ -n "${config}" ]]; then
    get "blobs/${config}" "the config of ${digest}" -L
    created=$(jq -r '.created // empty' "${REGISTRY_BODY}" 2>/dev/null) || created=""
  fi
  jq -c --arg d "${digest}" --arg c "${created}" '. + {digest: $d, created: $c}' <<<"${manifest}"
}

# inventory - WORK/images.json: [{digest, tags, created, children, subject}]
# for every tagged manifest, tags grouped by the digest they point to.
inventory() {
  local tag digest
  declare -A tags_of=()
  while read -r tag; do
    registry_request HEAD "${API}/manifests/${tag}" "${SCOPE}" -H "Accept: ${REGISTRY_MANIFEST_TYPES}" ||
      die "${IMAGE}: no answer for tag ${tag}" "nothing was deleted"
    [[ "${REGISTRY_STATUS}" == 200 ]] || die "${IMAGE}:${tag}: HTTP ${REGISTRY_STATUS}" "nothing was deleted"
    digest=$(registry_header docker-content-digest)
    [[ "${digest}" =~ ^sha256:[0-9a-f]{64}$ ]] || die "${IMAGE}:${tag}: no digest in the registry's answer" "nothing was deleted"
    tags_of[${digest}]+="${tag} "
  done <"${WORK}/tags"
  for digest in "${!tags_of[@]}"; do
    describe "${digest}" | jq -c --arg t "${tags_of[${digest}]}" '. + {tags: ($t | split(" ") | map(select(. != "")) | sort)}'
  done | jq -s . >"${WORK}/images.json"
}

# plan - WORK/plan.json from the inventory: each image kept (why) or deleted.
# The one place the policy lives.
plan() {
  jq --arg re "${PROTECT}" --arg ref "${REFERRER_TAG}" --argjson keep "${KEEP}" '
    def referrer: (.tags | length > 0) and all(.tags[]; test($ref));
    def subject_of: .subject // ("sha256:" + (.tags[0] | capture("^sha256-(?<h>[0-9a-f]{64})").h));
    (map(select(referrer | not)) | sort_by(.created, .digest) | reverse
      | to_entries | map(.value + {why: (if any(.value.tags[]; test($re)) then "protected"
                                          elif .key < $keep then "newest" else null end)})) as $releases
    | ([$releases[] | select(.why) | .digest]) as $kept
    | $releases + map(select(referrer) | . + {subject: subject_of}
        | . + {why: (.subject as $s | if any($kept[]; . == $s) then "referrer" else null end)})' \
    "${WORK}/images.json" >"${WORK}/plan.json"
}

print_plan() {
  jq -r '.[] | [if .why then "keep" else "delete" end, .digest, (if .created == "" then "-" else .created end),
    (.tags | join(",")), (.why // "")] | join(" ")' "${WORK}/plan.json"
}

# ---- deletion ----------------------------------------------------------------------

# delete_by_registry DIGEST - DELETE the manifest (and so all its tags).
delete_by_registry() {
  registry_request DELETE "${API}/manifests/$1" "repository:${REF_REPO}:delete" || return 1
  [[ "${REGISTRY_STATUS}" == 202 || "${REGISTRY_STATUS}" == 404 ]] ||
    { warn "DELETE $1: HTTP ${REGISTRY_STATUS}: $(head -c 300 "${REGISTRY_BODY}")"; return 1; }
}

# package_versions - the GHCR package's versions (id, digest, tags) into
# WORK/versions.json, and PACKAGE_PATH (under /orgs or /users).
package_versions() {
  local owner="${REF_REPO%%/*}" package="${REF_REPO#*/}" type page=1 body count
  REPO="${owner}/${package%%/*}"
  type=$(github_api GET "/users/${owner}" | jq -r '.type // empty')
  case "${type}" in
    Organization) PACKAGE_PATH="/orgs/${owner}" ;;
    User) PACKAGE_PATH="/users/${owner}" ;;
    *) die "GitHub does not say whether ${owner} is a user or an organization" "check GITHUB_API_URL" ;;
  esac
  PACKAGE_PATH+="/packages/container/$(jq -rn --arg p "${package}" '$p | @uri')/versions"
  : >"${WORK}/versions.jsonl"
  while :; do
    body=$(github_api GET "${PACKAGE_PATH}?per_page=${PAGE_SIZE}&page=${page}")
    count=$(jq -r 'if type == "array" then length else error("not a list") end' <<<"${body}" 2>/dev/null) ||
      die "GET ${PACKAGE_PATH}: not a list of versions: $(head -c 300 <<<"${body}")" "nothing was deleted"
    jq -c '.[] | {id, digest: .name, tags: (.metadata.container.tags // [])}' <<<"${body}" >>"${WORK}/versions.jsonl"
    ((count == PAGE_SIZE)) || break
    page=$((page + 1))
  done
  jq -s . "${WORK}/versions.jsonl" >"${WORK}/versions.json"
}

# untagged_orphans - the digests of untagged package versions that no kept
# image is or lists (the leftovers of earlier pushes), appended to the plan.
untagged_orphans() {
  jq --slurpfile versions "${WORK}/versions.json" '
    ([.[] | select(.why) | .digest, .children[]]) as $reachable
    | . + [$versions[0][] | select((.tags | length) == 0) | .digest as $d | select(any($reachable[]; . == $d) | not)
        | {digest, tags: [], created: "", children: [], subject: null, why: null}]' \
    "${WORK}/plan.json" >"${WORK}/plan.full.json"
  mv "${WORK}/plan.full.json" "${WORK}/plan.json"
}

# delete_by_package DIGEST - DELETE the package version with that digest.
delete_by_package() {
  local id
  id=$(jq -r --arg d "$1" '[.[] | select(.digest == $d) | .id] | first // empty' "${WORK}/versions.json")
  [[ -n "${id}" ]] || { warn "no package version has digest $1"; return 1; }
  (github_api DELETE "${PACKAGE_PATH}/${id}" >/dev/null)
}

delete_all() {
  local digest failed=0 deleted=0 deleter=delete_by_registry
  [[ "${DELETE_WITH}" != github-packages ]] || deleter=delete_by_package
  while read -r digest; do
    if "${deleter}" "${digest}"; then
      deleted=$((deleted + 1))
      log "deleted ${digest}"
    else
      failed=$((failed + 1))
    fi
  done < <(jq -r '.[] | select(.why | not) | .digest' "${WORK}/plan.json")
  log "deleted ${deleted}, failed ${failed}"
  ((failed == 0)) || die "${failed} deletion(s) failed" "see the warnings above; run again once fixed"
}

cleanup() {
  registry_cleanup
  [[ -z "${WORK}" ]] || rm -rf "${WORK}"
}

main() {
  parse_args "$@"
  validate_inputs
  trap cleanup EXIT
  WORK=$(mktemp -d)
  registry_init
  list_tags
  log "${IMAGE}: $(wc -l <"${WORK}/tags") tag(s)"
  inventory
  plan
  [[ "${DELETE_WITH}" != github-packages ]] || { package_versions; untagged_orphans; }
  print_plan
  log "$(jq -r '"keep \(map(select(.why)) | length), delete \(map(select(.why | not)) | length)"' "${WORK}/plan.json")" \
    "(the ${KEEP} newest, tags matching ${PROTECT}, and what refers to them are kept)"
  if [[ -z "${DELETE}" ]]; then
    log "dry run: nothing deleted (--delete deletes)"
    return 0
  fi
  delete_all
}

main "$@"
