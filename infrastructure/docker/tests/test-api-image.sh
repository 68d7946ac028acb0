#!/usr/bin/env bash
# Checks the built API image as a user of it would: labels, non-root user, no
# secrets in layers or history, the migrate command, the AOT cache and Spring's
# AOT-generated bean definitions in use, HEALTHCHECK reaching
# healthy against real PostgreSQL and Redis containers with secrets mounted as
# files (not in `docker inspect`), and a graceful SIGTERM that completes an
# in-flight request. Prints "N passed, N failed".
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../tools/lib/common.sh
source "${HERE}/../../tools/lib/common.sh"
# shellcheck source=../../tools/lib/testing.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/testing.sh"
# shellcheck source=../../tools/lib/services.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/services.sh"
export RM_LOG_TAG="test-api-image"

DOCKER=/usr/bin/docker
IMAGE="${1:-}"
PREFIX="rmimgtest-$$"
NETWORK="${PREFIX}-net"
WORK=""

usage() {
  cat <<USAGE
Usage: $(basename "$0") IMAGE

Runs the checks against IMAGE (e.g. restomarket/api:dev), using PostgreSQL and
Redis containers it starts on its own network and removes afterwards.
USAGE
}

cleanup() {
  "${DOCKER}" rm -f -v "${PREFIX}-api" "${PREFIX}-pg" "${PREFIX}-redis" "${PREFIX}-migrate" >/dev/null 2>&1 || true
  "${DOCKER}" network rm "${NETWORK}" >/dev/null 2>&1 || true
  [[ -n "${WORK}" ]] && rm -rf "${WORK}"
}


start_dependencies() {
  # shellcheck source=/dev/null
  source <("${RM_REPO_ROOT}/infrastructure/tools/compose.sh" --env)
  "${DOCKER}" network create "${NETWORK}" >/dev/null
  local pg_opts=() redis_opts=()
  postgres_password_opts pg_opts "${WORK}/secrets/DATABASE_PASSWORD"
  redis_password_opts redis_opts "${WORK}/secrets/REDIS_PASSWORD"
  "${DOCKER}" run -d --name "${PREFIX}-pg" --network "${NETWORK}" -e POSTGRES_USER=restomarket \
    "${pg_opts[@]}" -e POSTGRES_DB=restomarket "${POSTGRES_IMAGE}" >/dev/null
  "${DOCKER}" run -d --name "${PREFIX}-redis" --network "${NETWORK}" "${redis_opts[@]}" "${REDIS_IMAGE}" \
    "${REDIS_SERVER[@]}" >/dev/null
  wait_until 60 "test PostgreSQL" "${DOCKER}" exec "${PREFIX}-pg" pg_isready -U restomarket -h 127.0.0.1
}

# run_api NAME ARGS... - the API container with settings in env and secrets as files.
run_api() {
  local name="$1"
  shift
  "${DOCKER}" run -d --name "${name}" --network "${NETWORK}" -p 127.0.0.1::3000 \
    -e DATABASE_URL="jdbc:postgresql://${PREFIX}-pg:5432/restomarket" -e DATABASE_USERNAME=restomarket \
    -e REDIS_HOST="${PREFIX}-redis" -e LOG_FORMAT= \
    -v "${WORK}/secrets:/run/secrets:ro" "$@" "${IMAGE}" >/dev/null
}

test_labels_and_user() {
  local tag="${IMAGE##*:}"
  expect_eq "label version is the tag" "${tag}" "$("${DOCKER}" image inspect -f '{{index .Config.Labels "org.opencontainers.image.version"}}' "${IMAGE}")"
  expect_match "label revision is a git commit" '^[0-9a-f]{40}$|^unknown$' "$("${DOCKER}" image inspect -f '{{index .Config.Labels "org.opencontainers.image.revision"}}' "${IMAGE}")"
  expect_match "label created is a UTC time" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$("${DOCKER}" image inspect -f '{{index .Config.Labels "org.opencontainers.image.created"}}' "${IMAGE}")"
  expect_match "label source is set" '^https?://' "$("${DOCKER}" image inspect -f '{{index .Config.Labels "org.opencontainers.image.source"}}' "${IMAGE}")"
  expect_eq "image user is 1001" "1001:1001" "$("${DOCKER}" image inspect -f '{{.Config.User}}' "${IMAGE}")"
  # shellcheck disable=SC2016 # expanded by the container's bash
  expect_eq "the API's user cannot change its code (/app and /app/lib are root's)" "denied denied" \
    "$("${DOCKER}" run --rm --entrypoint bash "${IMAGE}" -c \
      'for d in /app /app/lib; do { : >"${d}/planted"; } 2>/dev/null && printf "written " || printf "denied "; done' | sed 's/ $//')"
  expect_match "entrypoint reads the JVM options file and the AOT cache" '@/app/jvm.options.*AOTCache=/app/app.aot' \
    "$("${DOCKER}" image inspect -f '{{json .Config.Entrypoint}}' "${IMAGE}")"
  expect_match "tini is PID 1" 'tini' "$("${DOCKER}" image inspect -f '{{json .Config.Entrypoint}}' "${IMAGE}")"
  local size
  size=$("${DOCKER}" image inspect -f '{{.Size}}' "${IMAGE}")
  log "image size: $((size / 1000000)) MB"
}

test_no_secrets_in_image() {
  local tar="${WORK}/image.tar" secret found=0 history
  "${DOCKER}" save -o "${tar}" "${IMAGE}"
  history=$("${DOCKER}" history --no-trunc "${IMAGE}")
  local secrets=("${DB_PASSWORD}" "${REDIS_PASSWORD}" "${WRITE_TOKEN}")
  local f
  for f in "${RM_REPO_ROOT}/.env.development" "${RM_REPO_ROOT}/.env.staging" "${RM_REPO_ROOT}/.run/local-services.env"; do
    [[ -f "${f}" ]] || continue
    while IFS= read -r secret; do [[ ${#secret} -ge 8 ]] && secrets+=("${secret}"); done < <(sed -En 's/^[A-Z_]*(PASSWORD|TOKEN)=//p' "${f}")
  done
  mkdir -p "${WORK}/layers"
  tar -xf "${tar}" -C "${WORK}/layers"
  for layer in "${WORK}"/layers/*/layer.tar; do tar -xf "${layer}" -C "${WORK}/layers" 2>/dev/null || true; done
  for secret in "${secrets[@]}"; do
    if grep -rqaF -- "${secret}" "${WORK}/layers" || grep -qF -- "${secret}" <<<"${history}"; then found=1; fi
  done
  expect_eq "no known password in layers or history (${#secrets[@]} scanned)" 0 "${found}"
  expect_eq "no .env file in the image" "" "$(find "${WORK}/layers" -name '.env*' -print -quit)"
  # The AOT training runs as root in the build: anything it left in /tmp would
  # be root's files in the image (its log, the JVM's perf data, Tomcat's work
  # directories).
  expect_eq "nothing left in /tmp by the build" "" "$(find "${WORK}/layers/tmp" -mindepth 1 -print 2>&1 | head -n 5)"
  rm -rf "${WORK}/layers" "${tar}"
}

test_migrate_command() {
  local rc=0
  "${DOCKER}" run --name "${PREFIX}-migrate" --network "${NETWORK}" \
    -e DATABASE_URL="jdbc:postgresql://${PREFIX}-pg:5432/restomarket" -e DATABASE_USERNAME=restomarket \
    -e REDIS_HOST="${PREFIX}-redis" -e LOG_FORMAT= -v "${WORK}/secrets:/run/secrets:ro" \
    "${IMAGE}" migrate >"${WORK}/migrate.log" 2>&1 || rc=$?
  expect_eq "'migrate' exits 0" 0 "${rc}"
  expect_eq "'migrate' created the schema" 1 "$("${DOCKER}" exec "${PREFIX}-pg" psql -U restomarket -d restomarket -tAc \
    "SELECT count(*) FROM flyway_schema_history WHERE success AND version = '1'" 2>/dev/null | tr -d '[:space:]')"
}

# engine_java_options - the JVM sizes the deploy engine gives a slot with
# staging's SLOT_MEMORY (the engine's own function, the env file's value).
staging_slot_memory() { sed -n 's/^SLOT_MEMORY=//p' "${RM_REPO_ROOT}/infrastructure/scripts/env/staging.env"; }
engine_java_options() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  bash -c 'source "$1" && SLOT_MEMORY="$2" jvm_memory_args' engine-lib \
    "${RM_REPO_ROOT}/infrastructure/scripts/lib/deploy.sh" "$(staging_slot_memory)" | sed -n 's/^JAVA_TOOL_OPTIONS=//p'
}

# aot_start [JVM_OPTION...] - the image's own entrypoint as a 1-vCPU droplet
# runs it (one CPU, the engine's memory limit and JVM sizes), stopped once the
# context is refreshed. -XX:AOTMode=on makes the JVM exit with an error
# instead of silently starting without the cache.
aot_start() {
  local opts
  opts="$(engine_java_options) -XX:AOTMode=on -Xlog:aot=info -XX:+PrintFlagsFinal -Dspring.context.exit=onRefresh $*"
  "${DOCKER}" run --rm --network "${NETWORK}" --cpus 1 --memory "$(staging_slot_memory)" \
    -e DATABASE_URL="jdbc:postgresql://${PREFIX}-pg:5432/restomarket" -e DATABASE_USERNAME=restomarket \
    -e REDIS_HOST="${PREFIX}-redis" -e LOG_FORMAT= -v "${WORK}/secrets:/run/secrets:ro" \
    -e "JAVA_TOOL_OPTIONS=${opts}" "${IMAGE}" 2>&1
}

test_aot_cache_used() {
  local out rc=0
  expect_match "the engine gives the slot a heap size" '-Xmx[0-9]+m' "$(engine_java_options)"
  out=$(aot_start) || rc=$?
  expect_eq "the JVM starts with the image's AOT cache required (1 CPU, slot memory)" 0 "${rc}"
  expect_match "...and uses its AOT-linked classes" 'Using AOT-linked classes: true' "${out}"
  expect_match "...under G1, chosen by the image, not left to the JVM (which picks Serial on 1 CPU)" \
    'bool UseG1GC += true +\{product\} \{command line\}' "${out}"
  expect_match "...with the heap share from jvm.options" 'MaxRAMPercentage += 75\.0+ +\{product\} \{command line\}' "${out}"
  expect_match "...running Spring's AOT-generated bean definitions, not evaluating conditions at start" \
    'Starting AOT-processed RestomarketApiApplication' "${out}"
  rc=0
  out=$(aot_start -DSWAGGER_ENABLED=true) || rc=$?
  if ((rc != 0)); then
    pass "SWAGGER_ENABLED=true, which the AOT-processed image cannot serve, refuses to start"
  else
    fail "SWAGGER_ENABLED=true, which the AOT-processed image cannot serve, refuses to start" "it started"
  fi
  expect_match "...naming the setting" 'SWAGGER_ENABLED=true, but this image was built without' "${out}"
  rc=0
  out=$(aot_start -XX:-UseCompressedOops) || rc=$?
  if ((rc != 0)); then
    pass "a JVM that cannot use the cache (no compressed oops) is refused, so this check can fail"
  else
    fail "a JVM that cannot use the cache (no compressed oops) is refused, so this check can fail" "it started"
  fi
  expect_match "...saying why" 'Unable to use AOT cache' "${out}"
}

test_healthy_with_file_secrets() {
  run_api "${PREFIX}-api"
  local status=""
  for _ in $(seq 1 120); do
    status=$("${DOCKER}" inspect -f '{{.State.Health.Status}}' "${PREFIX}-api")
    [[ "${status}" == healthy || "${status}" == unhealthy ]] && break
    sleep 0.5
  done
  expect_eq "HEALTHCHECK reaches healthy" healthy "${status}"
  PORT=$("${DOCKER}" port "${PREFIX}-api" 3000 | head -n 1 | sed 's/.*://')
  # Ready means the database answers; the first Redis check also opens the
  # cache's connection, which can outlast the check's 1 s timeout on a busy
  # host, so /health gets a few seconds to report both.
  local health=""
  for _ in $(seq 1 20); do
    health=$(curl -s "http://127.0.0.1:${PORT}/health")
    [[ "${health}" == *'"database":"connected","redis":"connected"'* ]] && break
    sleep 0.5
  done
  expect_match "/health reports both services connected (within 10 s of ready)" '"database":"connected","redis":"connected"' "${health}"
  expect_match "/version reports the image tag" "\"version\":\"${IMAGE##*:}\"" "$(curl -s "http://127.0.0.1:${PORT}/version")"
  local container
  for container in "${PREFIX}-api" "${PREFIX}-pg" "${PREFIX}-redis"; do
    expect_secrets_hidden "secret values absent from docker inspect of ${container}" "${container}" \
      "${DB_PASSWORD}" "${REDIS_PASSWORD}" "${WRITE_TOKEN}"
  done
  expect_eq "process runs as uid 1001" 1001 "$("${DOCKER}" top "${PREFIX}-api" -eo pid,uid,comm | awk '$3 == "java" {print $2}')"
}

# in_container PORT PATH - status line and body of GET PATH on PORT from inside
# the API container (bash builtins only: the image has no curl, not even cat).
in_container() {
  # shellcheck disable=SC2016 # expanded by the container's bash
  "${DOCKER}" exec "${PREFIX}-api" bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" &&
    printf "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" "$2" >&3 &&
    while IFS= read -r line || [[ -n ${line} ]]; do printf "%s\n" "${line}"; done <&3' in-container "$1" "$2" 2>&1 || true
}

# Writes need the token from the secret file; docs are off by default; metrics
# answer on the management port inside the container and never on the public one.
test_api_surface() {
  local url="http://127.0.0.1:${PORT}" body='{"name":"Image Test","cuisine":"thai","city":"Lyon"}'
  expect_eq "POST without a token is 401" 401 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "${body}" "${url}/api/v1/restaurants")"
  expect_eq "POST with the token from /run/secrets is 201" 201 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -H "Authorization: Bearer ${WRITE_TOKEN}" -d "${body}" "${url}/api/v1/restaurants")"
  expect_eq "Swagger UI off by default (404)" 404 "$(curl -s -o /dev/null -w '%{http_code}' "${url}/swagger-ui/index.html")"
  expect_eq "no metrics on the public port (404)" 404 "$(curl -s -o /dev/null -w '%{http_code}' "${url}/actuator/prometheus")"
  local metrics
  metrics=$(in_container 8081 /actuator/prometheus)
  expect_match "metrics on the management port 8081 inside the container" 'HTTP/1.1 200' "${metrics}"
  local series
  for series in http_server_requests_seconds_count jvm_memory_used_bytes hikaricp_connections; do
    expect_match "...with ${series}" "${series}" "${metrics}"
  done
  expect_eq "the management port is not published" "3000/tcp -> 127.0.0.1:${PORT}" "$("${DOCKER}" port "${PREFIX}-api" | sed 's/0\.0\.0\.0/127.0.0.1/')"
}

# The training run goes past the context refresh (apps/api/aot-training.sh), so
# what a start and the first requests load comes from the cache too: each of
# these classes is first needed after the refresh (Tomcat's connector once the
# server starts, the management context, the first request and its JSON).
test_aot_cache_covers_serving() {
  local name="${PREFIX}-aot" port log class
  run_api "${name}" -e "JAVA_TOOL_OPTIONS=-XX:AOTMode=on -Xlog:class+load=info"
  port=$("${DOCKER}" port "${name}" 3000 | head -n 1 | sed 's/.*://')
  if ! wait_until 60 "the API with class-load logging" curl -sf -o /dev/null "http://127.0.0.1:${port}/readyz"; then
    fail "the API with class-load logging is ready" "$("${DOCKER}" logs "${name}" 2>&1 | tail -n 5)"
  fi
  curl -s -o /dev/null "http://127.0.0.1:${port}/api/v1/restaurants?page=0&size=5"
  log=$("${DOCKER}" logs "${name}" 2>&1)
  "${DOCKER}" rm -f "${name}" >/dev/null
  # shellcheck disable=SC2016 # class names, with their literal $
  for class in 'org.apache.tomcat.util.net.NioEndpoint$Poller' 'org.apache.coyote.http11.Http11Processor' \
    'com.restomarket.api.RestomarketApiApplication__ManagementBeanFactoryRegistrations' \
    'tools.jackson.databind.ser.BeanSerializerBuilder'; do
    expect_match "the AOT cache holds ${class}, loaded only after the context refresh" \
      "] ${class//$/\\$} source: shared objects file" "${log}"
  done
}

test_sigterm_completes_in_flight_request() {
  # Freeze Redis so /health waits for its check timeout: in flight when SIGTERM lands.
  "${DOCKER}" pause "${PREFIX}-redis" >/dev/null
  curl -s -o /dev/null -w '%{http_code}' --max-time 15 "http://127.0.0.1:${PORT}/health" >"${WORK}/inflight" &
  local curl_pid=$! start rc
  sleep 0.3
  start=$(date +%s)
  "${DOCKER}" stop -t 30 "${PREFIX}-api" >/dev/null
  local took=$(($(date +%s) - start))
  wait "${curl_pid}" || true
  "${DOCKER}" unpause "${PREFIX}-redis" >/dev/null
  expect_eq "in-flight request answered during shutdown" 503 "$(cat "${WORK}/inflight")"
  rc=$("${DOCKER}" inspect -f '{{.State.ExitCode}}' "${PREFIX}-api")
  if [[ "${rc}" == 143 || "${rc}" == 0 ]]; then pass "exit after SIGTERM is clean (${rc})"; else fail "exit after SIGTERM is clean" "exit ${rc}"; fi
  if ((took < 30)); then pass "stopped within the grace period (${took}s of 30s)"; else fail "stopped within the grace period" "${took}s"; fi
  expect_match "graceful shutdown ran" 'Graceful shutdown complete' "$("${DOCKER}" logs "${PREFIX}-api" 2>&1)"
}

main() {
  case "${IMAGE}" in
    -h | --help) usage; return 0 ;;
    "" | -*) usage >&2; die "no image given" "pass one, e.g. restomarket/api:dev (make image builds it)" ;;
  esac
  "${DOCKER}" image inspect "${IMAGE}" >/dev/null 2>&1 || die "image ${IMAGE} not found" "build it first: make image"
  WORK=$(mktemp -d)
  trap cleanup EXIT
  DB_PASSWORD=$(random_secret)
  REDIS_PASSWORD=$(random_secret)
  mkdir -p "${WORK}/secrets"
  printf '%s' "${DB_PASSWORD}" >"${WORK}/secrets/DATABASE_PASSWORD"
  printf '%s' "${REDIS_PASSWORD}" >"${WORK}/secrets/REDIS_PASSWORD"
  WRITE_TOKEN=$(random_secret)
  printf '%s' "${WRITE_TOKEN}" >"${WORK}/secrets/API_WRITE_TOKEN"
  chmod 0644 "${WORK}/secrets/"*
  start_dependencies
  test_labels_and_user
  test_no_secrets_in_image
  test_migrate_command
  test_aot_cache_used
  test_healthy_with_file_secrets
  test_api_surface
  test_aot_cache_covers_serving
  test_sigterm_completes_in_flight_request
  summary
}

main "$@"
