#!/usr/bin/env bash
# The README's first command on a new machine: a pristine Debian 12 container
# (fresh-machine/Dockerfile: the tools and CAs a new machine of this kind has,
# the JDK and Go mounted read-only, no Docker and no project caches) gets its
# own Docker engine the way the Ansible test hosts do, a copy of this work
# tree as a clean clone, and then `make up` with nothing before it. The dev
# stack must answer (/health 200 with both dependencies, Adminer 200, Swagger
# UI 200), a second `make up` must be a no-op that succeeds, and `make down`
# must stop it. Prints the wall times and "N passed, N failed".
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../tools/lib/common.sh
source "${HERE}/../../tools/lib/common.sh"
# shellcheck source=../../tools/lib/testing.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/testing.sh"
export RM_LOG_TAG="test-fresh"

TOOLS="${RM_REPO_ROOT}/infrastructure/tools"
DOCKER=/usr/bin/docker
RUN_ID="rm-fresh-$$"
IMAGE=restomarket/test-fresh-machine:bookworm
# A subnet of its own: the engine inside uses 172.17.0.0/16.
SUBNET=172.30.214.0/24
JDK_DIR=/usr/lib/jvm/temurin-25-jdk-amd64
GO_DIR=/usr/local/go
JAVA_CACERTS=/etc/ssl/certs/java/cacerts
LOCAL_CA_DIR="${LOCAL_CA_DIR:-/usr/local/share/ca-certificates}"
CLONE=/root/restomarket
UP_TIMEOUT="${FRESH_UP_TIMEOUT:-1800}"
WORK=""

usage() {
  cat <<USAGE
Usage: $(basename "$0") [--keep]

Runs 'make up' from nothing in a new Debian 12 container with its own Docker
engine (about 10 minutes: it installs Docker, builds Compose, the base images
and downloads the Maven dependencies, as a new machine does), checks the dev
stack, then 'make down'. The copy is of this work tree's tracked and untracked
(not ignored) files, so uncommitted changes are tested too.

  --keep   leave the container, its network and volume for debugging

Environment:
  FRESH_UP_TIMEOUT  seconds allowed for 'make up' (default ${UP_TIMEOUT})
USAGE
}

cleanup() {
  local rc=$?
  if [[ "${KEEP:-0}" == 1 ]]; then
    log "kept: container ${RUN_ID} (docker exec -it ${RUN_ID} bash), work dir ${WORK}"
    return "${rc}"
  fi
  "${DOCKER}" rm -f -v "${RUN_ID}" >/dev/null 2>&1 || true
  "${DOCKER}" network rm "${RUN_ID}" >/dev/null 2>&1 || true
  "${DOCKER}" volume rm "${RUN_ID}-docker" >/dev/null 2>&1 || true
  [[ -z "${WORK}" ]] || rm -rf "${WORK}"
  return "${rc}"
}

# on COMMAND - run COMMAND with bash in the clone inside the fresh machine.
on() { "${DOCKER}" exec -i -w "${CLONE}" "${RUN_ID}" bash -c "$1"; }

http_code() { on "curl -s -o /dev/null -w '%{http_code}' --max-time 5 '$1'" || true; }

# ---- setup -----------------------------------------------------------------------

prepare() {
  "${TOOLS}/bootstrap/docker.sh" --no-compose >/dev/null 2>&1 || "${TOOLS}/bootstrap/docker.sh" --no-compose
  "${RM_REPO_ROOT}/infrastructure/docker/base-images/build.sh" >/dev/null 2>&1 ||
    "${RM_REPO_ROOT}/infrastructure/docker/base-images/build.sh"
  [[ -x "${JDK_DIR}/bin/java" ]] || die "no JDK at ${JDK_DIR}" "a machine of this kind has Temurin 25 there"
  [[ -x "${GO_DIR}/bin/go" ]] || die "no Go at ${GO_DIR}" "a machine of this kind has Go there"
  [[ -f "${JAVA_CACERTS}" ]] || die "no ${JAVA_CACERTS} (the JDK's trust store links to it)" \
    "apt-get install ca-certificates-java"
  # shellcheck source=/dev/null
  source <("${TOOLS}/compose.sh" --env)
  WORK=$(mktemp -d "/tmp/${RUN_ID}.XXXX")
}

build_machine_image() {
  local ctx="${WORK}/image"
  mkdir -p "${ctx}/local-ca"
  cp "${HERE}/fresh-machine/Dockerfile" "${ctx}/"
  if [[ -d "${LOCAL_CA_DIR}" ]]; then find "${LOCAL_CA_DIR}" -type f -name '*.crt' -exec cp -t "${ctx}/local-ca" {} +; fi
  cp "${JAVA_CACERTS}" "${ctx}/java-cacerts"
  DOCKER_BUILDKIT=1 "${DOCKER}" build -q --build-arg BASE_IMAGE="${RUNTIME_BASE_IMAGE}" -t "${IMAGE}" "${ctx}" \
    >"${WORK}/image-build.log" 2>&1 || { tail -n 20 "${WORK}/image-build.log" >&2; return 1; }
}

# The machine's resolvers: the engine inside hands them to its containers, which
# could not use the outer engine's 127.0.0.11.
dns_flags() {
  awk '$1 == "nameserver" && $2 !~ /^127\./ {printf "--dns %s ", $2}' /etc/resolv.conf
}

start_machine() {
  "${DOCKER}" network create --subnet "${SUBNET}" --label "com.restomarket.test=${RUN_ID}" "${RUN_ID}" >/dev/null
  local -a dns
  read -r -a dns <<<"$(dns_flags)"
  # The capability set of the Ansible test hosts (--privileged is refused here);
  # /var/lib/docker on a volume so the engine inside can use overlay2.
  "${DOCKER}" run -d --name "${RUN_ID}" --hostname fresh-machine --network "${RUN_ID}" "${dns[@]}" \
    --label "com.restomarket.test=${RUN_ID}" \
    --cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --security-opt systempaths=unconfined --device-cgroup-rule 'a *:* rwm' --cgroupns private \
    --tmpfs /run --tmpfs /tmp -v "${RUN_ID}-docker:/var/lib/docker" \
    -v "${JDK_DIR}:${JDK_DIR}:ro" -v "${GO_DIR}:${GO_DIR}:ro" "${IMAGE}" >/dev/null
}

# copy_clone - the work tree's files (tracked and untracked, never ignored ones)
# as a fresh git checkout in the machine: what a clean clone holds.
copy_clone() {
  "${DOCKER}" exec "${RUN_ID}" mkdir -p "${CLONE}"
  (cd "${RM_REPO_ROOT}" && git ls-files -z -co --exclude-standard | tar --null -T - -c) |
    "${DOCKER}" exec -i "${RUN_ID}" tar -x -C "${CLONE}"
  on 'git init -q && git add -A && git -c user.name=fresh -c user.email=fresh@localhost commit -qm "clean clone"'
}

# ---- checks ----------------------------------------------------------------------

test_machine_is_fresh() {
  check_fails "the machine has no docker engine or client of Debian's" on 'test -x /usr/bin/docker || pgrep -x dockerd'
  check_fails "the machine has no Compose" on 'command -v docker-compose || test -d ~/.cache/restomarket'
  check_fails "the machine has no Maven, Go or Python caches" on 'test -d ~/.m2 || test -d ~/go || test -d ~/.cache'
  check "the JDK and Go are where a new machine has them" on "${JDK_DIR}/bin/java -version && go version"
}

test_make_up_from_nothing() {
  local start rc=0
  start=$(date +%s)
  log "make up on the fresh machine (up to ${UP_TIMEOUT}s; log: ${WORK}/make-up.log)"
  timeout "${UP_TIMEOUT}" "${DOCKER}" exec -w "${CLONE}" "${RUN_ID}" make up >"${WORK}/make-up.log" 2>&1 || rc=$?
  UP_SECONDS=$(($(date +%s) - start))
  if ((rc == 0)); then
    pass "make up, the first command on a fresh machine (${UP_SECONDS}s)"
  else
    fail "make up, the first command on a fresh machine (exit ${rc} after ${UP_SECONDS}s)" "$(tail -n 12 "${WORK}/make-up.log")"
    return 1
  fi
}

test_dev_stack_answers() {
  local health
  health=$(on 'curl -s --max-time 5 http://127.0.0.1:3001/health' || true)
  expect_eq "/health 200 on :3001" 200 "$(http_code http://127.0.0.1:3001/health)"
  expect_match "/health: database and redis connected" '"database":"connected".*"redis":"connected"|"redis":"connected".*"database":"connected"' "${health}"
  expect_eq "Adminer 200 on :8080" 200 "$(http_code http://127.0.0.1:8080/)"
  expect_eq "Swagger UI 200 in the dev stack" 200 "$(http_code http://127.0.0.1:3001/swagger-ui/index.html)"
}

test_second_up_and_down() {
  local start out
  start=$(date +%s)
  if out=$("${DOCKER}" exec -w "${CLONE}" "${RUN_ID}" make up 2>&1); then
    pass "a second make up succeeds ($(($(date +%s) - start))s)"
  else
    fail "a second make up succeeds" "$(tail -n 8 <<<"${out}")"
  fi
  check "make down" on 'make down'
  expect_eq "no container left running" "" "$(on '/usr/bin/docker ps -q' 2>&1)"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    --keep) KEEP=1 ;;
    "") ;;
    *) usage >&2; die "unknown argument: $1" "see --help" ;;
  esac
  [[ ${EUID} -eq 0 ]] || die "this test needs root (it runs a Docker engine inside a container)" "run it as root"
  trap cleanup EXIT
  local start
  start=$(date +%s)
  step prepare prepare
  step build_machine_image build_machine_image
  step start_machine start_machine
  step copy_clone copy_clone
  test_machine_is_fresh
  if test_make_up_from_nothing; then
    test_dev_stack_answers
    test_second_up_and_down
  fi
  printf 'test-fresh: make up from nothing took %ss; the suite %ss\n' "${UP_SECONDS:-?}" "$(($(date +%s) - start))"
  summary
}

main "$@"
