#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# registry-retention.sh against a real registry (CNCF distribution, TLS with a
# CA made for the test, Basic credentials, deletes enabled) holding ten
# releases pushed through the registry API with known creation times, tagged
# as docker-build tags them, plus referrers (attestation-like manifests
# tagged sha256-<subject>) and a multi-platform index. Checks the plan (the
# five newest and the protected stay, with their referrers), that a dry run
# and every refused input delete nothing, the deletions themselves, a second
# run that finds nothing to do, --keep, the GitHub Packages path against a
# stub of that API (tools/tests/github-api-stub.py) (which versions it deletes, untagged leftovers included,
# what a kept index lists never), and that no credential is on a command
# line. Prints "N passed, N failed".
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/common.sh
source "${HERE}/../lib/common.sh"
# shellcheck source=../lib/testing.sh
source "${HERE}/../lib/testing.sh"
export RM_LOG_TAG="test-registry-retention"

RETENTION="${HERE}/registry-retention.sh"
REG_USER=retention
WORK=""
NAME="acme/restomarket/api"
OUT=""
RC=0
# release (r1..r10) -> its commit tag; digest -> release.
declare -A SHA_OF=() DIGEST_OF=()
PROTECT=""

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Starts a TLS registry with credentials on 127.0.0.1, pushes ten small
releases and their referrers through its API, and runs registry-retention.sh
against it (and, for the GitHub Packages path, against a python3 stub of that
API, tools/tests/github-api-stub.py). Removes what it made.
USAGE
}

cleanup() {
  registry_stop
  stub_stop
  [[ -z "${WORK}" ]] || rm -rf "${WORK}"
}

# api METHOD PATH [CURL_ARGS...] - a call to the test registry as its user
# (credentials from a file, for the test's own pushes); prints the body.
api() {
  local method="$1" path="$2"
  shift 2
  printf 'user = "%s:%s"\n' "${REG_USER}" "$(cat "${REGISTRY_PASSWORD_FILE}")" |
    curl -sS -K - --cacert "${REGISTRY_CA}" -X "${method}" "$@" "https://${REGISTRY_ADDR}/v2/${NAME}/${path}"
}

# blob FILE - upload FILE as a blob; prints its digest.
blob() {
  local digest location
  digest="sha256:$(sha256sum "$1" | cut -d' ' -f1)"
  location=$(api POST blobs/uploads/ -D - -o /dev/null | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  printf 'user = "%s:%s"\n' "${REG_USER}" "$(cat "${REGISTRY_PASSWORD_FILE}")" |
    curl -sSf -K - --cacert "${REGISTRY_CA}" -X PUT -H 'Content-Type: application/octet-stream' \
      --data-binary "@$1" "${location}$([[ "${location}" == *\?* ]] && echo '&' || echo '?')digest=${digest}" -o /dev/null
  echo "${digest}"
}

# put_manifest FILE TYPE TAG... - the manifest FILE under every TAG; prints its digest.
put_manifest() {
  local file="$1" type="$2" tag
  shift 2
  for tag in "$@"; do
    api PUT "manifests/${tag}" -f -H "Content-Type: ${type}" --data-binary "@${file}" -o /dev/null
  done
  echo "sha256:$(sha256sum "${file}" | cut -d' ' -f1)"
}

# image NAME CREATED - an OCI image manifest (one small layer, a config with
# CREATED) in WORK/NAME.json, its blobs uploaded; prints its size in bytes.
image() {
  local name="$1" created="$2" config layer
  jq -n --arg c "${created}" '{architecture: "amd64", os: "linux", created: $c, rootfs: {type: "layers", diff_ids: []}}' \
    >"${WORK}/${name}.config"
  head -c 64 /dev/urandom >"${WORK}/${name}.layer"
  config=$(blob "${WORK}/${name}.config")
  layer=$(blob "${WORK}/${name}.layer")
  jq -n --arg c "${config}" --arg l "${layer}" --argjson cs "$(stat -c %s "${WORK}/${name}.config")" '
    {schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
     config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
     layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: 64}]}' >"${WORK}/${name}.json"
}

# referrer NAME SUBJECT SUFFIX - an attestation-like manifest about SUBJECT,
# tagged sha256-<hex>SUFFIX as the OCI tag schema (and cosign) tag them.
referrer() {
  local name="$1" subject="$2" config
  printf '{}' >"${WORK}/${name}.config"
  config=$(blob "${WORK}/${name}.config")
  jq -n --arg c "${config}" --arg s "${subject}" '
    {schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
     artifactType: "application/vnd.dev.sigstore.bundle.v0.3+json",
     config: {mediaType: "application/vnd.oci.empty.v1+json", digest: $c, size: 2},
     layers: [], subject: {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $s, size: 1}}' \
    >"${WORK}/${name}.json"
  put_manifest "${WORK}/${name}.json" application/vnd.oci.image.manifest.v1+json "sha256-${subject#sha256:}$3"
}

# push_releases - r1..r10, created a day apart (r10 the newest) and tagged
# <sha12> and develop-<sha12>; r1 also v1.0.0, r10 also latest; r10 is a
# multi-platform index (an amd64 image and an attestation-like child).
push_releases() {
  local n sha tags digest child
  for n in {1..10}; do
    sha=$(printf 'release-%s' "${n}" | sha1sum | cut -c1-12)
    SHA_OF[r${n}]=${sha}
    tags=("${sha}" "develop-${sha}")
    ((n != 1)) || tags+=(v1.0.0)
    ((n != 10)) || tags+=(latest)
    image "r${n}" "$(printf '2026-11-%02dT10:00:00Z' "${n}")"
    if ((n == 10)); then
      # The platform image, untagged: only the index lists it.
      child=$(put_manifest "${WORK}/r10.json" application/vnd.oci.image.manifest.v1+json \
        "sha256:$(sha256sum "${WORK}/r10.json" | cut -d' ' -f1)")
      CHILD_DIGEST="${child}"
      jq -n --arg d "${child}" --argjson s "$(stat -c %s "${WORK}/r10.json")" '
        {schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
         manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
                      platform: {architecture: "amd64", os: "linux"}}]}' >"${WORK}/r10.index.json"
      digest=$(put_manifest "${WORK}/r10.index.json" application/vnd.oci.image.index.v1+json "${tags[@]}")
    else
      digest=$(put_manifest "${WORK}/r${n}.json" application/vnd.oci.image.manifest.v1+json "${tags[@]}")
    fi
    DIGEST_OF[r${n}]=${digest}
  done
  # Staging runs r3 and would roll back to r4 (as deployed-tags.sh would say).
  PROTECT="^(latest|stable|v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?|([A-Za-z0-9._-]+-)?(${SHA_OF[r3]}|${SHA_OF[r4]}))\$"
  REF_KEPT=$(referrer ref-r3 "${DIGEST_OF[r3]}" .att)
  REF_GONE=$(referrer ref-r5 "${DIGEST_OF[r5]}" "")
  REF_ORPHAN=$(referrer ref-orphan "sha256:$(printf orphan | sha256sum | cut -d' ' -f1)" .sig)
}

# tags - the registry's tags now, sorted, one line.
tags() { api GET tags/list | jq -r '.tags // [] | sort | join(" ")'; }

# has DIGEST - the registry still serves the manifest DIGEST.
has() { [[ "$(api HEAD "manifests/$1" -o /dev/null -w '%{http_code}' -H "Accept: ${REGISTRY_MANIFEST_TYPES}")" == 200 ]]; }

# retention ARGS... - the tool against the test registry with the test's
# credentials (a curl on PATH that logs its arguments); sets OUT (plan), RC.
retention() {
  RC=0
  OUT=$(REGISTRY_USERNAME="${REG_USER}" REGISTRY_PASSWORD="${REG_PASSWORD-$(cat "${REGISTRY_PASSWORD_FILE}")}" \
    PATH="${WORK}/spy:${PATH}" "${RETENTION}" --image "${REGISTRY_ADDR}/${NAME}" --cacert "${REGISTRY_CA}" "$@" \
    2>"${WORK}/stderr") || RC=$?
}

# plan_of RELEASE - the plan line's verdict for RELEASE ("keep newest", "delete", ...).
plan_of() { awk -v d="$1" '$2 == d {print $1 ($5 == "" ? "" : " " $5)}' <<<"${OUT}"; }

spy_curl() {
  mkdir -p "${WORK}/spy"
  cat >"${WORK}/spy/curl" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>"${WORK}/curl-args.log"
exec $(command -v curl) "\$@"
EOF
  chmod +x "${WORK}/spy/curl"
}

# ---- cases ---------------------------------------------------------------------

test_refusals() {
  local before
  before=$(tags)
  retention --help
  expect_eq "--help exits 0" 0 "${RC}"
  retention
  expect_eq "no --protect: refused (exit 2)" 2 "${RC}"
  expect_match "no --protect: says what to pass" 'deployed-tags.sh' "$(cat "${WORK}/stderr")"
  retention --protect '^(latest$'
  expect_eq "a broken --protect regex: refused (exit 2)" 2 "${RC}"
  retention --protect "${PROTECT}" --keep 0
  expect_eq "--keep 0: refused (exit 2)" 2 "${RC}"
  RC=0
  "${RETENTION}" --image "${REGISTRY_ADDR}/${NAME}:tag" --protect x 2>/dev/null || RC=$?
  expect_eq "an --image with a tag: refused (exit 2)" 2 "${RC}"
  REG_PASSWORD=wrong retention --protect "${PROTECT}" --delete
  expect_eq "a wrong password: exit 1" 1 "${RC}"
  expect_match "a wrong password: says 401 and that nothing was deleted" '401.*nothing was deleted' "$(cat "${WORK}/stderr")"
  RC=0
  REGISTRY_USERNAME="${REG_USER}" REGISTRY_PASSWORD="$(cat "${REGISTRY_PASSWORD_FILE}")" \
    "${RETENTION}" --image "${REGISTRY_ADDR}/${NAME}" --protect "${PROTECT}" --delete >/dev/null 2>&1 || RC=$?
  expect_eq "a registry whose CA is not trusted: exit 1" 1 "${RC}"
  expect_eq "the refused runs deleted nothing" "${before}" "$(tags)"
}

test_dry_run() {
  local before n
  before=$(tags)
  retention --protect "${PROTECT}"
  expect_eq "dry run: exit 0" 0 "${RC}"
  ((RC == 0)) || tail -n 5 "${WORK}/stderr"
  for n in 6 7 8 9; do expect_eq "dry run: r${n} kept as one of the 5 newest" "keep newest" "$(plan_of "${DIGEST_OF[r${n}]}")"; done
  expect_eq "dry run: r10 (latest, and the newest) kept, protected" "keep protected" "$(plan_of "${DIGEST_OF[r10]}")"
  expect_eq "dry run: r1 (v1.0.0) kept, protected" "keep protected" "$(plan_of "${DIGEST_OF[r1]}")"
  expect_eq "dry run: r3 (staging's live) kept, protected" "keep protected" "$(plan_of "${DIGEST_OF[r3]}")"
  expect_eq "dry run: r4 (staging's previous) kept, protected" "keep protected" "$(plan_of "${DIGEST_OF[r4]}")"
  expect_eq "dry run: r2 to be deleted" delete "$(plan_of "${DIGEST_OF[r2]}")"
  expect_eq "dry run: r5 to be deleted" delete "$(plan_of "${DIGEST_OF[r5]}")"
  expect_eq "dry run: r3's attestation kept as its referrer" "keep referrer" "$(plan_of "${REF_KEPT}")"
  expect_eq "dry run: r5's attestation deleted with it" delete "$(plan_of "${REF_GONE}")"
  expect_eq "dry run: an attestation of an image no longer there deleted" delete "$(plan_of "${REF_ORPHAN}")"
  expect_eq "dry run: 13 images in the plan (10 releases, 3 referrers)" 13 "$(grep -c . <<<"${OUT}")"
  expect_match "dry run: says nothing was deleted" 'dry run: nothing deleted' "$(cat "${WORK}/stderr")"
  expect_eq "dry run: the registry is unchanged" "${before}" "$(tags)"
}

test_github_packages() {
  local versions
  # GHCR's versions of the package: every manifest above, the index's child
  # untagged, plus an untagged leftover of an earlier push.
  versions=$(for n in {1..10}; do printf '%s\n' "${DIGEST_OF[r${n}]}"; done |
    jq -Rn --arg kept "${REF_KEPT}" --arg gone "${REF_GONE}" --arg orphan "${REF_ORPHAN}" --arg child "${CHILD_DIGEST}" '
      [inputs] + [$kept, $gone, $orphan] | to_entries | map({id: (.key + 100), name: .value, metadata: {container: {tags: ["t"]}}})
      + [{id: 900, name: $child, metadata: {container: {tags: []}}},
         {id: 901, name: ("sha256:" + ("0" * 64)), metadata: {container: {tags: []}}}]')
  jq -n --argjson v "${versions}" '{"/users/acme": {type: "Organization"},
    "/orgs/acme/packages/container/restomarket%2Fapi/versions": $v}' >"${WORK}/packages.json"
  : >"${WORK}/deletes.log"
  stub_start packages "${RM_REPO_ROOT}/infrastructure/tools/tests/github-api-stub.py" \
    "${WORK}/packages.json" "${WORK}/deletes.log"
  GITHUB_TOKEN=test-token GITHUB_API_URL="${STUB_URL}" retention --protect "${PROTECT}" --delete-with github-packages --delete
  stub_stop
  expect_eq "github-packages: exit 0" 0 "${RC}"
  # ids: r2 = 101, r5 = 104, r5's attestation = 111, the orphan attestation = 112, the leftover = 901.
  expect_eq "github-packages: deletes r2, r5, their attestations and the untagged leftover, nothing else" \
    "101 104 111 112 901" \
    "$(sed -n 's|^DELETE /orgs/acme/packages/container/restomarket%2Fapi/versions/\([0-9]*\) .*|\1|p' "${WORK}/deletes.log" | sort -n | paste -sd ' ')"
  expect_eq "github-packages: nothing deleted before every version was listed" \
    "$(grep -n '^GET .*/versions' "${WORK}/deletes.log" | tail -n 1 | cut -d: -f1)" \
    "$(($(grep -n '^DELETE' "${WORK}/deletes.log" | head -n 1 | cut -d: -f1) - 1))"
  expect_eq "github-packages: every DELETE carries the token" 5 "$(grep -c '^DELETE .*Bearer test-token$' "${WORK}/deletes.log")"
  expect_eq "github-packages: the kept index's untagged child (id 900) stays" "" "$(grep '/900 ' "${WORK}/deletes.log" || true)"
}

test_delete() {
  local n
  retention --protect "${PROTECT}" --delete
  expect_eq "--delete: exit 0" 0 "${RC}"
  for n in 1 3 4 6 7 8 9 10; do check "--delete: r${n} is still served" has "${DIGEST_OF[r${n}]}"; done
  check "--delete: the kept index's child is still served" has "${CHILD_DIGEST}"
  check "--delete: r3's attestation is still served" has "${REF_KEPT}"
  check_fails "--delete: r2 is gone" has "${DIGEST_OF[r2]}"
  check_fails "--delete: r5 is gone" has "${DIGEST_OF[r5]}"
  check_fails "--delete: r5's attestation is gone" has "${REF_GONE}"
  check_fails "--delete: the orphan attestation is gone" has "${REF_ORPHAN}"
  expect_eq "--delete: no tag of r2 or r5 left" "" \
    "$(tags | tr ' ' '\n' | grep -E "${SHA_OF[r2]}|${SHA_OF[r5]}|${DIGEST_OF[r5]#sha256:}" || true)"
  retention --protect "${PROTECT}" --delete
  expect_eq "a second --delete: exit 0, nothing left to delete" "0 0" "${RC} $(grep -c '^delete ' <<<"${OUT}" || true)"
  retention --protect "${PROTECT}" --keep 3
  expect_eq "--keep 3: r6 and r7 would go now" "delete delete" \
    "$(plan_of "${DIGEST_OF[r6]}") $(plan_of "${DIGEST_OF[r7]}")"
  expect_eq "--keep 3: r8 stays among the newest" "keep newest" "$(plan_of "${DIGEST_OF[r8]}")"
}

test_no_credential_on_command_lines() {
  local password
  password=$(cat "${REGISTRY_PASSWORD_FILE}")
  expect_eq "no curl command line held the registry password" 0 "$(grep -cF -- "${password}" "${WORK}/curl-args.log" || true)"
  expect_eq "no curl command line held the GitHub token" 0 "$(grep -c 'test-token' "${WORK}/curl-args.log" || true)"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unknown argument: $1" "run with --help" 2 ;;
  esac
  have jq || ensure_apt_packages jq
  trap cleanup EXIT
  WORK=$(mktemp -d)
  # shellcheck source=../lib/registry.sh
  source "${RM_REPO_ROOT}/infrastructure/tools/lib/registry.sh"
  spy_curl
  step registry registry_start "${WORK}/registry" 127.0.0.1 "${REG_USER}"
  step releases push_releases
  log "registry ${REGISTRY_ADDR}/${NAME}: $(tags | wc -w) tags"
  test_refusals
  test_dry_run
  test_github_packages
  test_delete
  test_no_credential_on_command_lines
  summary
}

main "$@"
