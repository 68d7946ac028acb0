#!/usr/bin/env bash
# pin-images.sh against a real registry: CNCF distribution with TLS (a CA made
# for the test) and Basic credentials stands in for Docker Hub (--registry
# docker.io=...). Each base image name of images.env is pushed there with
# content of its own; the tool pins a copy of images.env and of the API
# Dockerfile, and the result is checked against the digests the registry
# gave at push time: pulls by the pinned reference, stays put on a second run,
# follows a moved tag, fails on a deleted digest, a wrong password, an unknown
# tag or an untrusted CA without writing anything, and keeps its credentials
# off every command line. Also: the repository's own images.env and
# Dockerfile agree (--lint). Prints "N passed, N failed".
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/common.sh
source "${HERE}/../lib/common.sh"
# shellcheck source=../lib/testing.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/testing.sh"
export RM_LOG_TAG="test-pin-images"

DOCKER=/usr/bin/docker
PIN="${RM_REPO_ROOT}/infrastructure/tools/pin-images.sh"
RUN_ID="rmpintest-$$"
WORK=""
TOKEN_REGISTRY_PID=""
# name of images.env -> the digest the registry answered when it was pushed.
declare -A PUSHED=()

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Starts a TLS registry with credentials on 127.0.0.1, pushes a small image
under each base image name of images.env, and runs pin-images.sh against it
on copies of images.env and the API Dockerfile. Needs Docker and root.
Removes what it made.
USAGE
}

cleanup() {
  registry_stop
  stub_stop
  [[ -z "${TOKEN_REGISTRY_PID}" ]] || kill "${TOKEN_REGISTRY_PID}" 2>/dev/null || true
  "${DOCKER}" images -q --filter "label=com.restomarket.test=${RUN_ID}" | sort -u |
    xargs -r "${DOCKER}" rmi -f >/dev/null 2>&1 || true
  if [[ -n "${WORK}" ]]; then rm -rf "${WORK}"; fi
}

# pin ARGS... - pin-images.sh on the copies, against the test registry, with
# the test's credentials; output in WORK/pin.out, exit status echoed.
pin() {
  local rc=0
  REGISTRY_USERNAME="${REG_USER-pinner}" REGISTRY_PASSWORD="${REG_PASSWORD-$(cat "${REGISTRY_PASSWORD_FILE}")}" \
    PATH="${WORK}/spy:${PATH}" "${PIN}" --images-env "${WORK}/images.env" --dockerfile "${WORK}/Dockerfile" \
    --registry "docker.io=https://${REGISTRY_ADDR}" "$@" >"${WORK}/pin.out" 2>&1 || rc=$?
  echo "${rc}"
}

# push NAME REF CONTENT - push a one-file image as REF (a Docker Hub name) to
# the test registry; record its digest under NAME.
push() {
  local name="$1" ref="$2" content="$3" local_ref digest
  local_ref="${REGISTRY_ADDR}/${ref}"
  [[ "${ref%%:*}" == */* ]] || local_ref="${REGISTRY_ADDR}/library/${ref}"
  mkdir -p "${WORK}/ctx"
  printf '%s\n' "${content}" >"${WORK}/ctx/content"
  tar -C "${WORK}/ctx" -c content | "${DOCKER}" import -c "LABEL com.restomarket.test=${RUN_ID}" - "${local_ref}" >/dev/null
  digest=$(DOCKER_CONFIG="${WORK}/docker" "${DOCKER}" push "${local_ref}" 2>&1 | sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/\1/p')
  [[ -n "${digest}" ]] || die "could not push ${local_ref} to the test registry"
  PUSHED[${name}]="${digest}"
}

setup() {
  WORK=$(mktemp -d)
  step registry registry_start "${WORK}/registry" 127.0.0.1 pinner
  # Docker treats 127.0.0.0/8 registries as insecure: it pushes over this
  # TLS without the CA. Its login goes to a config of the test's own.
  mkdir -p "${WORK}/docker" "${WORK}/spy"
  "${DOCKER}" --config "${WORK}/docker" login -u pinner --password-stdin "${REGISTRY_ADDR}" \
    <"${REGISTRY_PASSWORD_FILE}" >/dev/null 2>&1 || die "docker login to the test registry failed"
  cp "${RM_REPO_ROOT}/infrastructure/docker/images.env" "${WORK}/images.env"
  cp "${RM_REPO_ROOT}/apps/api/Dockerfile" "${WORK}/Dockerfile"
  local name ref
  while read -r name ref; do
    push "${name}" "${ref}" "${name} ${ref} v1"
  done < <(sed -n 's/^\([A-Z_]*_IMAGE\)=\(.*\)$/\1 \2/p' "${WORK}/images.env")
  log "pushed ${#PUSHED[@]} images to ${REGISTRY_ADDR}"
  # Records every curl command line of pin-images.sh (credentials must not be there).
  printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>"%s/curl-args"\nexec /usr/bin/curl "$@"\n' "${WORK}" >"${WORK}/spy/curl"
  chmod +x "${WORK}/spy/curl"
}

test_repository_files() {
  check "the repository's images.env and API Dockerfile agree (--lint)" "${PIN}" --lint
}

test_pin() {
  local rc name ref
  cp "${WORK}/images.env" "${WORK}/images.env.before"
  cp "${WORK}/Dockerfile" "${WORK}/Dockerfile.before"
  rc=$(pin --cacert "${REGISTRY_CA}")
  expect_eq "pin: exit 0" 0 "${rc}"
  # What the files must say: each reference with the digest its push got.
  cp "${WORK}/images.env.before" "${WORK}/images.env.expected"
  cp "${WORK}/Dockerfile.before" "${WORK}/Dockerfile.expected"
  while read -r name ref; do
    sed -i "s|^${name}=.*|${name}=${ref}@${PUSHED[${name}]}|" "${WORK}/images.env.expected"
    sed -i "s|^ARG ${name}=.*|ARG ${name}=${ref}@${PUSHED[${name}]}|" "${WORK}/Dockerfile.expected"
  done < <(sed -n 's/^\([A-Z_]*_IMAGE\)=\(.*\)$/\1 \2/p' "${WORK}/images.env.before")
  expect_eq "pin: images.env = the pushed digests, comments and order kept" \
    "$(cat "${WORK}/images.env.expected")" "$(cat "${WORK}/images.env")"
  expect_eq "pin: the Dockerfile's base-image defaults = images.env, the rest untouched" \
    "$(cat "${WORK}/Dockerfile.expected")" "$(cat "${WORK}/Dockerfile")"
  expect_eq "pin: both files changed (6 images in images.env, 2 in the Dockerfile)" "6 2" \
    "$(grep -c '@sha256:' "${WORK}/images.env") $(grep -c '^ARG .*@sha256:' "${WORK}/Dockerfile")"
  check "pin: --lint agrees with the pinned files" "${PIN}" --lint --images-env "${WORK}/images.env" --dockerfile "${WORK}/Dockerfile"
  rc=$(pin --cacert "${REGISTRY_CA}" --verify)
  expect_eq "verify: every pinned digest is served (exit ${rc})" 0 "${rc}"
  ref=$(sed -n "s/^RUNTIME_BASE_IMAGE=//p" "${WORK}/images.env")
  check "a pinned reference pulls: ${REGISTRY_ADDR}/library/${ref}" \
    env DOCKER_CONFIG="${WORK}/docker" "${DOCKER}" pull "${REGISTRY_ADDR}/library/${ref}"
  cp "${WORK}/images.env" "${WORK}/images.env.pinned"
  rc=$(pin --cacert "${REGISTRY_CA}")
  expect_eq "pin again: exit 0" 0 "${rc}"
  expect_match "pin again: nothing changed" '6 images pinned, 0 changed' "$(cat "${WORK}/pin.out")"
  check "pin again: images.env byte for byte the same" cmp "${WORK}/images.env.pinned" "${WORK}/images.env"
  check_fails "no credential reached a curl command line" grep -qF "$(cat "${REGISTRY_PASSWORD_FILE}")" "${WORK}/curl-args"
  expect_match "curl was called (the spy saw the registry)" "https://${REGISTRY_ADDR}/v2/" "$(cat "${WORK}/curl-args")"
}

# The same registry content behind Bearer tokens, as Docker Hub and GHCR ask
# for them: a second registry on the same storage whose token service
# (registry-token-service.py) signs tokens only for the test's credentials.
test_bearer_token() {
  local dir="${WORK}/token" port rc
  mkdir -p "${dir}"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=restomarket test token signer" \
    -keyout "${dir}/signer.key" -out "${dir}/signer.pem" 2>/dev/null
  stub_start token-service "${HERE}/registry-token-service.py" "${dir}/signer.pem" "${dir}/signer.key" test-issuer \
    "${WORK}/registry/tls.pem" "${WORK}/registry/tls.key" "pinner:$(cat "${REGISTRY_PASSWORD_FILE}")"
  port=$(free_tcp_port)
  sed -e '/^auth:/,$d' -e "s|addr: .*|addr: 127.0.0.1:${port}|" "${WORK}/registry/config.yml" >"${dir}/config.yml"
  printf 'auth:\n  token:\n    realm: https://127.0.0.1:%s/token\n    service: test-registry\n    issuer: test-issuer\n    rootcertbundle: %s\n' \
    "${STUB_URL##*:}" "${dir}/signer.pem" >>"${dir}/config.yml"
  TOKEN_REGISTRY_PID=$(registry_serve "${dir}/config.yml" "127.0.0.1:${port}" "${REGISTRY_CA}")
  check "the second registry challenges for a Bearer token" grep -qi '^www-authenticate: bearer realm=' \
    <<<"$(curl -sI --cacert "${REGISTRY_CA}" "https://127.0.0.1:${port}/v2/library/debian/manifests/bookworm-slim")"
  cp "${WORK}/images.env.before" "${dir}/images.env"
  cp "${WORK}/Dockerfile.before" "${dir}/Dockerfile"
  rc=0
  REGISTRY_USERNAME=pinner REGISTRY_PASSWORD="$(cat "${REGISTRY_PASSWORD_FILE}")" "${PIN}" --cacert "${REGISTRY_CA}" \
    --images-env "${dir}/images.env" --dockerfile "${dir}/Dockerfile" --registry "docker.io=https://127.0.0.1:${port}" \
    >"${dir}/pin.out" 2>&1 || rc=$?
  expect_eq "Bearer: pin exit 0" 0 "${rc}"
  expect_eq "Bearer: the same pins as with Basic credentials" "$(cat "${WORK}/images.env")" "$(cat "${dir}/images.env")"
  cp "${WORK}/images.env.before" "${dir}/images.env"
  cp "${WORK}/Dockerfile.before" "${dir}/Dockerfile"
  rc=0
  "${PIN}" --cacert "${REGISTRY_CA}" --images-env "${dir}/images.env" --dockerfile "${dir}/Dockerfile" \
    --registry "docker.io=https://127.0.0.1:${port}" >"${dir}/pin.out" 2>&1 || rc=$?
  expect_eq "Bearer without credentials: exit 1, nothing written" "1 $(md5sum <"${WORK}/images.env.before")" \
    "${rc} $(md5sum <"${dir}/images.env")"
  expect_match "Bearer without credentials: says the token was refused" 'no token for repository:library/[a-z-]*:pull \(refused' \
    "$(cat "${dir}/pin.out")"
  kill "${TOKEN_REGISTRY_PID}" 2>/dev/null || true
  wait "${TOKEN_REGISTRY_PID}" 2>/dev/null || true
  TOKEN_REGISTRY_PID=""
  stub_stop
}

test_moved_tag() {
  local rc old
  old=$(sed -n 's/^REDIS_IMAGE=//p' "${WORK}/images.env")
  push REDIS_IMAGE "${old%@*}" "redis v2"
  rc=$(pin --cacert "${REGISTRY_CA}" --verify)
  expect_eq "verify after the tag moved: still exit 0 (the pinned digest is served)" 0 "${rc}"
  expect_match "verify says the tag moved on, to the new digest" "REDIS_IMAGE: ok, served; .* has moved on to ${PUSHED[REDIS_IMAGE]}" \
    "$(cat "${WORK}/pin.out")"
  rc=$(pin --cacert "${REGISTRY_CA}")
  expect_eq "pin after the tag moved: only REDIS_IMAGE changed" "0|1 changed|REDIS_IMAGE=${old%@*}@${PUSHED[REDIS_IMAGE]}" \
    "${rc}|$(grep -o '[0-9]* changed' "${WORK}/pin.out")|$(grep '^REDIS_IMAGE=' "${WORK}/images.env")"
  expect_eq "pin after the tag moved: every other line as before" \
    "$(grep -v '^REDIS_IMAGE=' "${WORK}/images.env.pinned")" "$(grep -v '^REDIS_IMAGE=' "${WORK}/images.env")"
}

# unchanged_after LABEL EXPECTED_OUTPUT_RE ARGS... - pin-images.sh ARGS fails,
# says EXPECTED_OUTPUT_RE and leaves both files as they were.
unchanged_after() {
  local label="$1" re="$2" rc sums
  shift 2
  sums=$(md5sum "${WORK}/images.env" "${WORK}/Dockerfile")
  rc=$(pin "$@")
  expect_eq "${label}: exit 1" 1 "${rc}"
  expect_match "${label}: says why" "${re}" "$(cat "${WORK}/pin.out")"
  expect_eq "${label}: nothing written" "${sums}" "$(md5sum "${WORK}/images.env" "${WORK}/Dockerfile")"
}

test_refusals() {
  REG_PASSWORD=wrong unchanged_after "a wrong password" 'access refused \(HTTP 401\)' --cacert "${REGISTRY_CA}"
  REG_USER="" unchanged_after "no credentials" 'access refused \(HTTP 401\)' --cacert "${REGISTRY_CA}"
  unchanged_after "a CA the registry's certificate does not chain to" 'the registry did not answer'
  local digest
  digest=$(sed -n 's/^POSTGRES_IMAGE=.*@//p' "${WORK}/images.env")
  curl -s -o /dev/null --cacert "${REGISTRY_CA}" -u "pinner:$(cat "${REGISTRY_PASSWORD_FILE}")" -X DELETE \
    "https://${REGISTRY_ADDR}/v2/library/postgres/manifests/${digest}"
  unchanged_after "verify with a pinned digest deleted from the registry" \
    'POSTGRES_IMAGE: the pinned digest of postgres is not served any more' --cacert "${REGISTRY_CA}" --verify
  sed -i 's|^ADMINER_IMAGE=.*|ADMINER_IMAGE=adminer:9.9.9|' "${WORK}/images.env"
  unchanged_after "an unknown tag" 'library/adminer:9.9.9: not in the registry' --cacert "${REGISTRY_CA}"
  sed -i 's|^ARG RUNTIME_BASE_IMAGE=.*|ARG RUNTIME_BASE_IMAGE=debian:trixie-slim|' "${WORK}/Dockerfile"
  local rc=0 out
  out=$("${PIN}" --lint --images-env "${WORK}/images.env" --dockerfile "${WORK}/Dockerfile" 2>&1) || rc=$?
  expect_eq "lint: a Dockerfile default that differs from images.env fails (exit ${rc})" 1 "${rc}"
  expect_match "lint: names the variable and both values" \
    "RUNTIME_BASE_IMAGE: the Dockerfile says 'debian:trixie-slim', images.env 'debian:bookworm-slim@sha256:" "${out}"
  rc=0
  out=$("${PIN}" --registry docker.io 2>&1) || rc=$?
  expect_eq "bad usage: --registry without a URL is refused with exit 2" 2 "${rc}"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unknown argument '$1'" "see --help" 2 ;;
  esac
  [[ ${EUID} -eq 0 ]] || die "test-pin-images.sh needs root (Docker)" "run it as root (make test-docker)"
  trap cleanup EXIT
  setup
  test_repository_files
  test_pin
  test_bearer_token
  test_moved_tag
  test_refusals
  summary
}

main "$@"
