# shellcheck shell=bash
# Test helpers of the project's shell suites: the assertions the engine's own
# tests use (scripts/tests/assert.sh: check, expect_*, summary, ...) plus
# helpers that build images.

# shellcheck source-path=SCRIPTDIR source=../../scripts/tests/assert.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts/tests" && pwd)/assert.sh"

# api_image_variant IMAGE BASE VERSION CMD_JSON DIR RUN_ID - build IMAGE from the
# API image BASE so that it reports VERSION (an earlier class-path entry
# overrides the jar's version file) and starts with the arguments CMD_JSON:
# cheap extra releases, good or broken, for deploy tests. DIR is the build
# context (created); RUN_ID labels the image as the test's.
api_image_variant() {
  local image="$1" base="$2" version="$3" args="$4" dir="$5" run_id="$6"
  mkdir -p "${dir}"
  printf 'version=%s\ncommit=test\nbuildTime=test\n' "${version}" >"${dir}/restomarket-version.properties"
  cat >"${dir}/Dockerfile" <<EOF
FROM ${base}
LABEL org.opencontainers.image.version="${version}" com.restomarket.test="${run_id}"
COPY restomarket-version.properties /app/override/
ENTRYPOINT ["/usr/bin/tini", "--", "java", "-XX:MaxRAMPercentage=75", "-cp", "/app/override:/app/restomarket-api.jar", "com.restomarket.api.RestomarketApiApplication"]
CMD ${args}
EOF
  DOCKER_BUILDKIT=1 /usr/bin/docker build -q -t "${image}" "${dir}" >/dev/null
}
