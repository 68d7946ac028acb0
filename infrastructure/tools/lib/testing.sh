# shellcheck shell=bash
# Test helpers of the project's shell suites: the assertions the engine's own
# tests use (scripts/tests/assert.sh: check, expect_*, summary, ...) plus
# helpers that build images.

# shellcheck source-path=SCRIPTDIR source=../../scripts/tests/assert.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts/tests" && pwd)/assert.sh"

# api_image_variant IMAGE BASE VERSION CMD_JSON DIR RUN_ID - build IMAGE from the
# API image BASE so that it reports VERSION (its own release file, as the image
# build writes one) and starts with the arguments CMD_JSON: cheap extra
# releases, good or broken, for deploy tests. DIR is the build context
# (created); RUN_ID labels the image as the test's.
api_image_variant() {
  local image="$1" base="$2" version="$3" args="$4" dir="$5" run_id="$6"
  mkdir -p "${dir}"
  printf 'version=%s\ncommit=test\nbuildTime=test\n' "${version}" >"${dir}/release.properties"
  cat >"${dir}/Dockerfile" <<EOF
FROM ${base}
LABEL org.opencontainers.image.version="${version}" com.restomarket.test="${run_id}"
COPY release.properties /app/release.properties
CMD ${args}
EOF
  DOCKER_BUILDKIT=1 /usr/bin/docker build -q -t "${image}" "${dir}" >/dev/null
}

# stub_start NAME SCRIPT [ARGS...] - run a python3 HTTP stub of an outside API
# (it prints its port on its first line) in WORK; sets STUB_PID and STUB_URL
# (http://127.0.0.1:PORT), dies with the stub's own errors when it does not start.
STUB_PID=""
# shellcheck disable=SC2034 # read by the suites that source this file
STUB_URL=""
stub_start() {
  local name="$1"
  shift
  python3 "$@" >"${WORK}/${name}.port" 2>"${WORK}/${name}.err" &
  STUB_PID=$!
  wait_until 10 "stub ${name}" test -s "${WORK}/${name}.port" ||
    die "the stub ${name} did not start: $(cat "${WORK}/${name}.err")"
  # shellcheck disable=SC2034 # read by the suites
  STUB_URL="http://127.0.0.1:$(head -n 1 "${WORK}/${name}.port")"
}

# stub_stop - stop the stub stub_start started, if it runs (for cleanup traps too).
stub_stop() {
  [[ -z "${STUB_PID}" ]] || { kill "${STUB_PID}" 2>/dev/null || true; wait "${STUB_PID}" 2>/dev/null || true; }
  STUB_PID=""
}
