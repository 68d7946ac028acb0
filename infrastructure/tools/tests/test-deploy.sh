#!/usr/bin/env bash
# Proves the deploy engine on this machine with real Docker and the real API
# image, under a constant load (vegeta, open loop, keep-alive, no retries)
# through the proxy on 127.0.0.1:
#   - first deploy on an empty host (creates network and proxy), no-op re-run;
#   - v1 -> v2 (v1 kept warm), rollback v2 -> v1 to the warm standby (a
#     switch), v2 again with a 3 s standby that ends on its own, a cold
#     rollback (v2 kept warm in turn, as on the hosts), a v3 whose /health
#     never passes, a v4 that exits on start and a v6 whose migrations fail
#     (the candidate applies them as it starts): 0 non-2xx, 0 socket errors,
#     v3/v4/v6 never answer, no old-version response starts after the switch
#     completed; a rotated secret taken by deploy.sh --restart of the live
#     release, under load (the old slot drained and stopped);
#   - SIGKILL of deploy.sh after pull, after candidate start, after the switch
#     and during the drain: traffic never fails and a re-run converges;
#   - two deploys at once, a stale lock, cleanup and rollback respect the lock;
#     bad input; a proxy restart; a changed PROXY_BIND recreates the proxy;
#   - hardened containers (no capabilities, read-only root, pids and memory
#     limits, JVM sized to the limit) serve and drain; migrations run even with
#     FLYWAY_ENABLED=false in api.env; a ledger that cannot be written after a
#     good switch is a warning, not a failed deploy;
#   - image retention (cleanup-images.sh on purpose-built images).
# Everything it creates is named rmdeploytest-PID* (containers, network,
# image repositories, temp dirs) and removed on exit. Prints "N passed, N failed".
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/common.sh
source "${HERE}/../lib/common.sh"
# shellcheck source=../lib/testing.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/testing.sh"
# shellcheck source=../../scripts/lib/deploy.sh
source "${RM_REPO_ROOT}/infrastructure/scripts/lib/deploy.sh"
# shellcheck source=../lib/services.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/services.sh"
export RM_LOG_TAG="test-deploy"

SCRIPTS="${RM_REPO_ROOT}/infrastructure/scripts"
TOOLS="${RM_REPO_ROOT}/infrastructure/tools"
RUN_ID="rmdeploytest-$$"
REPO="${RUN_ID}/api"
RATE="${DEPLOY_TEST_RATE:-200}"
MAX_CONNECTIONS=32
WORK=""
VEGETA=""
PORT=""
LOAD_PID=""
LOAD_NAME=""
BG_PIDS=()
METRICS=""

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Runs the deploy engine's end-to-end checks (about 5-8 minutes; builds two API
images on the first run). Needs Docker (make docker) and the base images
(make images; built when missing). Only 127.0.0.1 and its own containers
receive traffic; load is ${RATE} req/s and stops on its own.

Environment:
  DEPLOY_TEST_RATE      request rate of the load (default 200)
  DEPLOY_TEST_METRICS   also write the per-scenario metrics (TSV) to this file
  DEPLOY_TEST_ONLY=load only the deploy/rollback/failed-deploy scenarios
                        (what bench-deploy.sh measures)
  DEPLOY_TEST_ONLY=timed
                        only the first deploy, deploy v1 -> v2 and the warm
                        and cold rollbacks (bench-deploy.sh's repeated runs)
USAGE
}

# ---- setup and cleanup ----------------------------------------------------------

cleanup() {
  local pid ids
  set +e # remove as much as possible, whatever fails
  [[ -n "${LOAD_PID}" ]] && kill -INT "${LOAD_PID}" 2>/dev/null
  for pid in "${BG_PIDS[@]}"; do kill -9 "${pid}" 2>/dev/null || true; done
  # A standby timer the engine started (deploy.sh --end-standby) is ours too.
  local state
  for state in "${WORK:-/nonexistent}"/state*; do
    pid=$(STANDBY_FILE="${state}/standby" standby_timer_pid)
    [[ -z "${pid}" ]] || kill "${pid}" 2>/dev/null
  done
  ids=$({ "${DOCKER}" ps -aq --filter "label=${LABEL_STACK}=${RUN_ID}"; "${DOCKER}" ps -aq --filter "name=^${RUN_ID}-"; } | sort -u)
  # shellcheck disable=SC2086 # one container ID per word
  [[ -n "${ids}" ]] && "${DOCKER}" rm -f -v ${ids} >/dev/null 2>&1
  "${DOCKER}" network rm "${RUN_ID}" "${RUN_ID}-deps" >/dev/null 2>&1 || true
  ids=$("${DOCKER}" images --format '{{.Repository}}:{{.Tag}}' | grep "^${RUN_ID}/" || true)
  # shellcheck disable=SC2086 # one image per word
  [[ -n "${ids}" ]] && "${DOCKER}" rmi -f ${ids} >/dev/null 2>&1
  [[ -n "${WORK}" ]] && rm -rf "${WORK}"
  return 0
}

free_port() {
  local port
  for port in $(shuf -i 20000-29999 -n 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null || { echo "${port}"; return 0; }
  done
  die "no free port found"
}

random_secret() { head -c 24 /dev/urandom | base64 | tr -d '/+='; }

# build_variant TAG BASE CMD_JSON - REPO:TAG from BASE, reporting TAG, run with CMD_JSON.
build_variant() { api_image_variant "${REPO}:$1" "$2" "$1" "$3" "${WORK}/build-$1" "${RUN_ID}"; }

write_env_file() {
  local name="$1" repo="$2" state="$3"
  sed -e "s|^IMAGE_REPO=.*|IMAGE_REPO=${repo}|" -e "s|^STACK_NAME=.*|STACK_NAME=${RUN_ID}|" \
    -e "s|^PROXY_PORT=.*|PROXY_PORT=${PORT}|" -e "s|^ENV_DIR=.*|ENV_DIR=${WORK}/envdir|" \
    -e "s|^STATE_DIR=.*|STATE_DIR=${state}|" -e "s|^HEALTH_INTERVAL=.*|HEALTH_INTERVAL=1s|" \
    -e "s|^GATE_TIMEOUT=.*|GATE_TIMEOUT=90|" -e "s|^DRAIN_TIMEOUT=.*|DRAIN_TIMEOUT=20|" \
    -e "s|^SLOT_MEMORY=.*|SLOT_MEMORY=768m|" \
    "${SCRIPTS}/env/local.env" >"${WORK}/envs/${name}.env"
  # A short post-switch watch keeps the many deploys here quick; test_watch_reverts sets its own.
  # The proxy's keep-alive outlasts any load (at most 600 s), so it never
  # closes an idle client connection: check_load's connection count is exact.
  # The warm-up is the engine's default (WARMUP_ROUNDS, as on the hosts), so
  # make bench-deploy measures what a host does.
  # No warm standby unless a scenario asks (--standby): most of them prove the
  # drain and stop of the old slot.
  printf '%s\n' WATCH_SECONDS=3 PROXY_KEEPALIVE_TIMEOUT=900 STANDBY_SECONDS=0 >>"${WORK}/envs/${name}.env"
}

setup() {
  "${TOOLS}/bootstrap/docker.sh" --no-compose >/dev/null 2>&1 || "${TOOLS}/bootstrap/docker.sh" --no-compose
  "${RM_REPO_ROOT}/infrastructure/docker/base-images/build.sh" >/dev/null 2>&1 || "${RM_REPO_ROOT}/infrastructure/docker/base-images/build.sh"
  have jq || ensure_apt_packages jq
  have curl || ensure_apt_packages curl
  VEGETA=$("${TOOLS}/bootstrap/go-tools.sh" vegeta)
  # shellcheck source=/dev/null
  source <("${TOOLS}/compose.sh" --env)
  # The engine takes its proxy image from the environment here (Ansible writes it on hosts).
  export PROXY_IMAGE
  WORK=$(mktemp -d "/tmp/${RUN_ID}.XXXX")
  # Never this machine's own host settings (a droplet's /etc/restomarket/ENV.env).
  export RESTOMARKET_HOST_ENV_DIR="${WORK}/host-settings"
  METRICS="${WORK}/metrics.tsv"
  mkdir -p "${WORK}/envs" "${WORK}/envdir/secrets" "${WORK}/pause"
  PORT=$(free_port)
  log "run ${RUN_ID}: proxy port ${PORT}, work dir ${WORK}"
  install_curl_shim

  step build_v1 env IMAGE_REPO="${REPO}" "${TOOLS}/build-image.sh" v1
  step build_v2 env IMAGE_REPO="${REPO}" "${TOOLS}/build-image.sh" v2
  # v3: the database points nowhere (a command-line argument beats the
  # environment), so readiness answers 503 forever while the process runs
  # (Redis alone would not do: the API serves without its cache); Flyway is
  # off in it, so its readiness, not its migrations, meets that database.
  # v4: an invalid port, the JVM exits on start.
  build_variant v3 "${REPO}:v2" '["--DATABASE_URL=jdbc:postgresql://127.0.0.1:1/restomarket", "--spring.flyway.enabled=false"]'
  build_variant v4 "${REPO}:v2" '["--server.port=70000"]'
  build_bad_writes
  build_broken_migration

  DB_PASSWORD=$(random_secret)
  REDIS_PASSWORD=$(random_secret)
  printf '%s' "${DB_PASSWORD}" >"${WORK}/envdir/secrets/DATABASE_PASSWORD"
  printf '%s' "${REDIS_PASSWORD}" >"${WORK}/envdir/secrets/REDIS_PASSWORD"
  random_secret >"${WORK}/envdir/secrets/API_WRITE_TOKEN"
  chmod 0755 "${WORK}/envdir/secrets"
  chmod 0644 "${WORK}/envdir/secrets/"*
  cat >"${WORK}/envdir/api.env" <<EOF
DATABASE_URL=jdbc:postgresql://${RUN_ID}-pg:5432/restomarket
DATABASE_USERNAME=restomarket
REDIS_HOST=${RUN_ID}-redis
LOG_FORMAT=
# The candidate must run Flyway anyway (its -e FLYWAY_ENABLED=true comes after this file).
FLYWAY_ENABLED=false
EOF
  write_env_file t "${REPO}" "${WORK}/state"
  export RESTOMARKET_DEPLOY_ENVS="${WORK}/envs" DEPLOY_ACTOR=test-deploy
  # shellcheck disable=SC2034 # read by load_env in lib/deploy.sh
  DEPLOY_ENVS_DIR="${WORK}/envs"
  load_env t

  # Dependencies on their own network first: the first deploy must create the env network.
  "${DOCKER}" network create "${RUN_ID}-deps" >/dev/null
  local pg_opts=() redis_opts=()
  postgres_password_opts pg_opts "${WORK}/envdir/secrets/DATABASE_PASSWORD"
  redis_password_opts redis_opts "${WORK}/envdir/secrets/REDIS_PASSWORD"
  "${DOCKER}" run -d --name "${RUN_ID}-pg" --network "${RUN_ID}-deps" -e POSTGRES_USER=restomarket \
    "${pg_opts[@]}" -e POSTGRES_DB=restomarket "${POSTGRES_IMAGE}" >/dev/null
  "${DOCKER}" run -d --name "${RUN_ID}-redis" --network "${RUN_ID}-deps" "${redis_opts[@]}" "${REDIS_IMAGE}" \
    "${REDIS_SERVER[@]}" >/dev/null
  wait_until 60 "test PostgreSQL" "${DOCKER}" exec "${RUN_ID}-pg" pg_isready -U restomarket -h 127.0.0.1
}

# ---- running deploys -----------------------------------------------------------

LOG_N=0
LAST_LOG=""
LAST_RC=0
LAST_SECONDS=0
LAST_START_MS=0

# seconds_of_ms MS - milliseconds as seconds, one decimal.
seconds_of_ms() { awk -v ms="$1" 'BEGIN {printf "%.1f", ms / 1000}'; }

# run_script SCRIPT ARGS... - run a deploy-engine script, keep its output in LAST_LOG.
run_script() {
  local script="$1" start
  shift
  LOG_N=$((LOG_N + 1))
  LAST_LOG="${WORK}/run-${LOG_N}-$(basename "${script}" .sh).log"
  start=$(date +%s%3N)
  LAST_START_MS="${start}"
  LAST_RC=0
  PATH="${WORK}/shim:${PATH}" "${SCRIPTS}/${script}" "$@" >"${LAST_LOG}" 2>&1 || LAST_RC=$?
  LAST_SECONDS=$(seconds_of_ms "$(($(date +%s%3N) - start))")
  log "${script} $* -> exit ${LAST_RC} in ${LAST_SECONDS}s"
}

# start_paused STEP ARGS... - deploy.sh in the background, paused after STEP.
start_paused() {
  local step_name="$1"
  shift
  rm -f "${WORK}/pause/"*
  LOG_N=$((LOG_N + 1))
  LAST_LOG="${WORK}/run-${LOG_N}-paused-${step_name}.log"
  PATH="${WORK}/shim:${PATH}" DEPLOY_PAUSE_AFTER="${step_name}" DEPLOY_PAUSE_DIR="${WORK}/pause" \
    "${SCRIPTS}/deploy.sh" "$@" >"${LAST_LOG}" 2>&1 &
  PAUSED_PID=$!
  BG_PIDS+=("${PAUSED_PID}")
  wait_until 150 "deploy paused after ${step_name}" test -e "${WORK}/pause/paused-${step_name}" ||
    { fail "deploy reached ${step_name}" "$(tail -n 5 "${LAST_LOG}")"; return 1; }
}

event_ms() { sed -n "s/.*event=$1 epoch_ms=\([0-9]*\).*/\1/p" "${2:-${LAST_LOG}}" | tail -n 1; }

# Each call is one more client connection to the proxy: counted, see check_load.
proxy_version_now() {
  echo >>"${WORK}/curls"
  curl -s -m 5 "http://127.0.0.1:${PORT}/version" | sed -n 's/.*"version":"\([^"]*\)".*/\1/p'
}

curl_count() { wc -l <"${WORK}/curls" 2>/dev/null || echo 0; }

# install_curl_shim - the engine scripts run with a curl first on PATH that
# counts each request to the proxy's port in the same file, so check_load knows
# exactly how many proxy connections were the engine's own (its verification
# polls until the new release answers: one request or several).
install_curl_shim() {
  local real
  real=$(command -v curl)
  mkdir -p "${WORK}/shim"
  cat >"${WORK}/shim/curl" <<SHIM
#!/usr/bin/env bash
for arg in "\$@"; do
  if [[ "\${arg}" == *":${PORT}/"* ]]; then echo >>"${WORK}/curls"; break; fi
done
exec "${real}" "\$@"
SHIM
  chmod +x "${WORK}/shim/curl"
}

expect_live() { expect_eq "$1: the proxy serves $2" "$2" "$(proxy_version_now)"; }

# ---- load ----------------------------------------------------------------------

frontend_connections() { proxy_api "show stat" | awk -F, '$1 == "http" && $2 == "FRONTEND" {print $8}'; }

# start_load NAME [TARGETS] - vegeta on GET /version, or on the targets file TARGETS.
start_load() {
  LOAD_NAME="$1"
  if [[ -n "${2:-}" ]]; then
    cp "$2" "${WORK}/targets"
  else
    printf 'GET http://127.0.0.1:%s/version\n' "${PORT}" >"${WORK}/targets"
  fi
  CONN_BEFORE=$(frontend_connections)
  CURLS_BEFORE=$(curl_count)
  RUNS_BEFORE="${LOG_N}"
  # Open loop at a constant rate, keep-alive, at most MAX_CONNECTIONS
  # connections; bounded to 10 minutes even if nobody stops it.
  TZ=UTC "${VEGETA}" attack -targets="${WORK}/targets" -rate="${RATE}/1s" -duration=600s -timeout=10s \
    -keepalive=true -connections="${MAX_CONNECTIONS}" -max-connections="${MAX_CONNECTIONS}" \
    -workers=16 -max-workers=64 -output="${WORK}/${LOAD_NAME}.bin" 2>"${WORK}/${LOAD_NAME}.err" &
  LOAD_PID=$!
  wait_until 10 "load ${LOAD_NAME}" test -s "${WORK}/${LOAD_NAME}.bin"
  sleep 1 # a second of steady traffic before the action: its baseline
}

stop_load() {
  sleep 1 # a second of steady traffic after the action
  kill -INT "${LOAD_PID}" 2>/dev/null || true
  wait "${LOAD_PID}" 2>/dev/null || true
  LOAD_PID=""
  "${VEGETA}" encode --to json "${WORK}/${LOAD_NAME}.bin" >"${WORK}/${LOAD_NAME}.jsonl"
}

# load_stats SWITCH_MS OLD BAD WINDOW_START WINDOW_END - one JSON object.
load_stats() {
  jq -s --argjson sw "${1:-0}" --arg old "${2:-}" --arg bad "${3:-}" --argjson w0 "${4:-0}" --argjson w1 "${5:-0}" '
    def ms: (.timestamp | capture("^(?<s>[0-9T:-]+)(\\.(?<f>[0-9]+))?")) as $c
      | (($c.s + "Z") | fromdateiso8601) * 1000 + ((($c.f // "") + "000")[0:3] | tonumber);
    def ver: ((.headers // {})["X-App-Version"] // [""])[0];
    def pct($p): if length == 0 then 0 else (sort | .[((length - 1) * $p | floor)] / 1e6 | . * 10 | round / 10) end;
    (map(select(ms >= $w0 and ($w1 == 0 or ms <= $w1)) | .latency)) as $win
    | { total: length,
        non2xx: (map(select(.code < 200 or .code > 299)) | length),
        errors: (map(select(.code == 0)) | length),
        old_after: (if $sw > 0 and $old != "" then map(select(ms > $sw and ver == $old)) | length else 0 end),
        bad: (if $bad != "" then map(select(ver == $bad)) | length else 0 end),
        versions: (map(ver) | group_by(.) | map({(.[0]): length}) | add),
        window: ($win | length), p50: ($win | pct(0.5)), p99: ($win | pct(0.99)),
        steady_p99: (map(select($w0 > 0 and ms < $w0) | .latency) | pct(0.99)) }' "${WORK}/${LOAD_NAME}.jsonl"
}

# metrics_row SCENARIO STATS WALL_SECONDS GATE_SECONDS [SWITCH_SECONDS [WATCH_SECONDS]] - one
# row of the table print_metrics shows.
metrics_row() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$(jq .total <<<"$2")" "$(jq .non2xx <<<"$2")" \
    "$(jq .errors <<<"$2")" "$(jq .window <<<"$2")" "$(jq .p50 <<<"$2")" "$(jq .p99 <<<"$2")" "$3" "$4" \
    "$(jq .steady_p99 <<<"$2")" "${5:--}" "${6:--}" >>"${METRICS}"
}

# check_load DESC SWITCH_MS OLD BAD W0 W1 DEPLOY_SECONDS - the load of one scenario was clean.
check_load() {
  local desc="$1" stats conns
  stats=$(load_stats "$2" "$3" "$4" "$5" "$6")
  log "${desc}: $(jq -c . <<<"${stats}")"
  expect_eq "${desc}: 0 non-2xx of $(jq .total <<<"${stats}") requests" 0 "$(jq .non2xx <<<"${stats}")"
  expect_eq "${desc}: 0 socket errors" 0 "$(jq .errors <<<"${stats}")"
  [[ -n "$3" ]] && expect_eq "${desc}: no ${3} response started after the switch completed" 0 "$(jq .old_after <<<"${stats}")"
  [[ -n "$4" ]] && expect_eq "${desc}: ${4} never answered a request" 0 "$(jq .bad <<<"${stats}")"
  # A connection closed under the client would make it open another (and Go's
  # client would silently retry there): the proxy may see no more connections
  # than the load's pool, the requests of this test and of the engine scripts
  # (each counted, see install_curl_shim), and a margin per engine run.
  # The proxy's keep-alive here outlasts the load (write_env_file), so no idle
  # connection is closed; yet each engine run shows one or two connections
  # more than that on a quiet machine, and up to six while a JVM start starves
  # the CPU (CI: 38 where 36 were allowed), with no request failed and no
  # socket error: not found yet. The margin is a quarter of the pool per run.
  # What this check exists to catch, the proxy dropping its clients (a
  # restart, a reload), closes every open connection at once, and the load
  # keeps 25 to 30 of them open: beyond the margin.
  conns=$(($(frontend_connections) - CONN_BEFORE))
  local allowed=$((MAX_CONNECTIONS + $(curl_count) - CURLS_BEFORE + MAX_CONNECTIONS * (LOG_N - RUNS_BEFORE) / 4))
  if ((conns <= allowed)); then
    pass "${desc}: no client connection was closed (${conns} opened, at most ${allowed} expected)"
  else
    fail "${desc}: no client connection was closed" "${conns} connections opened, at most ${allowed} expected"
  fi
  local gate
  gate=$(sed -n 's/.*step gate_candidate: done in \([0-9.]*\)s$/\1/p; s/.*step gate_candidate: FAILED (exit [0-9]*) after \([0-9.]*\)s$/\1/p' "${LAST_LOG}" | tail -n 1)
  # Time to switch: from the command's start until the new release took the traffic.
  local switched switch_s="-"
  switched=$(event_ms switch-complete "${LAST_LOG}")
  [[ -n "${switched}" ]] && switch_s=$(seconds_of_ms "$((switched - LAST_START_MS))")
  # The post-switch watch: a fixed observation time (WATCH_SECONDS), timed apart.
  local watch_from watch_to watch_s="-"
  watch_from=$(event_ms watch-start "${LAST_LOG}")
  watch_to=$(event_ms watch-end "${LAST_LOG}")
  [[ -n "${watch_from}" && -n "${watch_to}" ]] && watch_s=$(seconds_of_ms "$((watch_to - watch_from))")
  metrics_row "${desc}" "${stats}" "$7" "${gate:--}" "${switch_s}" "${watch_s}"
}

# ---- scenarios -------------------------------------------------------------------

test_first_deploy() {
  start_paused pulled v1 t || return 0
  expect_eq "first deploy created the network" "${RUN_ID}" \
    "$("${DOCKER}" network inspect -f "{{index .Labels \"${LABEL_STACK}\"}}" "${RUN_ID}" 2>/dev/null)"
  expect_eq "first deploy started the proxy" running "$(container_state "${RUN_ID}-proxy")"
  "${DOCKER}" network connect "${RUN_ID}" "${RUN_ID}-pg"
  "${DOCKER}" network connect "${RUN_ID}" "${RUN_ID}-redis"
  touch "${WORK}/pause/continue-pulled"
  local rc=0
  wait "${PAUSED_PID}" || rc=$?
  expect_eq "first deploy of v1 exits 0" 0 "${rc}"
  expect_live "first deploy" v1
  expect_match "deploy logs each step with its duration" 'step gate_candidate: done in [0-9]+\.[0-9]s' "$(cat "${LAST_LOG}")"
  expect_match "deploy ends with a one-line summary" 'deploy ok: env=t tag=v1 slot=blue previous=none' "$(tail -n 1 "${LAST_LOG}")"
  local container
  for container in "${RUN_ID}-blue" "${RUN_ID}-pg" "${RUN_ID}-redis"; do
    expect_secrets_hidden "secret values absent from docker inspect of ${container}" "${container}" \
      "${DB_PASSWORD}" "${REDIS_PASSWORD}"
  done
  expect_eq "metrics are not routed by the proxy (404)" 404 \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:${PORT}/actuator/prometheus")"
  expect_eq "the live slot restarts with the host" unless-stopped "$("${DOCKER}" inspect -f '{{.HostConfig.RestartPolicy.Name}}' "${RUN_ID}-blue")"
  expect_eq "migrations ran although api.env sets FLYWAY_ENABLED=false" 1 \
    "$("${DOCKER}" exec "${RUN_ID}-pg" psql -U restomarket -d restomarket -tAc \
      "SELECT count(*) FROM flyway_schema_history WHERE success AND version = '1'" 2>&1)"
  local container
  for container in "${RUN_ID}-blue" "${RUN_ID}-proxy"; do
    expect_eq "${container#"${RUN_ID}-"} is hardened: caps dropped, no-new-privileges, read-only root, pids limit" \
      "[ALL] [no-new-privileges] true 512" \
      "$("${DOCKER}" inspect -f '{{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.PidsLimit}}' "${container}")"
  done
  expect_eq "the slot's memory limit and a JVM sized to it" "805306368 -Xmx422m -Xms140m" \
    "$("${DOCKER}" inspect -f '{{.HostConfig.Memory}}' "${RUN_ID}-blue") $("${DOCKER}" inspect \
      -f '{{range .Config.Env}}{{println .}}{{end}}' "${RUN_ID}-blue" | sed -n 's/^JAVA_TOOL_OPTIONS=\(-Xmx[0-9]*m -Xms[0-9]*m\).*/\1/p')"
  expect_eq "ledger: one JSON line with the release" "v1 ok test-deploy" \
    "$(jq -r 'select(.outcome == "ok") | "\(.tag) \(.outcome) \(.actor)"' "${LEDGER}")"
  run_script deploy.sh v1 t
  expect_eq "re-deploying the live tag exits 0" 0 "${LAST_RC}"
  expect_match "re-deploying the live tag is a no-op that says so" 'already live.*nothing to deploy' "$(cat "${LAST_LOG}")"
}

# start_args_sampler - until stop_args_sampler, every 0.2 s, every process's
# command line on this machine (the engine's docker calls, the JVMs in the
# containers) goes through a check for the secret values; hits in WORK/args-hits.
ARGS_SAMPLER=""
start_args_sampler() {
  local secrets=("${DB_PASSWORD}" "${REDIS_PASSWORD}" "$(cat "${WORK}/envdir/secrets/API_WRITE_TOKEN")")
  : >"${WORK}/args-hits"
  (
    samples=0
    while :; do
      for cmdline in /proc/[0-9]*/cmdline; do
        # Builtins only: a fork per process would load the machine under test.
        mapfile -d '' -t parts 2>/dev/null <"${cmdline}" || continue
        line="${parts[*]}"
        for secret in "${secrets[@]}"; do
          [[ "${line}" != *"${secret}"* ]] || printf '%s\n' "${cmdline}: ${line%%"${secret}"*}<secret>..." >>"${WORK}/args-hits"
        done
      done
      samples=$((samples + 1))
      printf '%s\n' "${samples}" >"${WORK}/args-samples"
      sleep 0.2
    done
  ) &
  ARGS_SAMPLER=$!
  BG_PIDS+=("${ARGS_SAMPLER}")
}

stop_args_sampler() {
  kill "${ARGS_SAMPLER}" 2>/dev/null || true
  wait "${ARGS_SAMPLER}" 2>/dev/null || true
}

test_deploy_v2_under_load() {
  start_load deploy-v1-v2
  start_args_sampler
  run_script deploy.sh --standby 120 v2 t
  local seconds="${LAST_SECONDS}" log="${LAST_LOG}"
  stop_args_sampler
  stop_load
  expect_eq "no secret value in any process's arguments during the deploy ($(cat "${WORK}/args-samples" 2>/dev/null || echo 0) looks at every process)" "" \
    "$(sort -u "${WORK}/args-hits" | head -n 5)"
  expect_eq "deploy v1 -> v2 exits 0" 0 "${LAST_RC}"
  expect_live "deploy v1 -> v2" v2
  expect_eq "the old slot is kept running, out of rotation: the warm standby" "running MAINT" \
    "$(container_state "${RUN_ID}-blue") $(proxy_server_field blue 18)"
  expect_match "a deploy cleans up images once the release is live" 'step prune_images: done' "$(cat "${log}")"
  check_load "deploy v1->v2" "$(event_ms switch-complete "${log}")" v1 "" "$(event_ms switch-start "${log}")" "$(event_ms retired "${log}")" "${seconds}"
}

# rollback_under_load NAME KIND - rollback.sh --previous (v2 -> v1) under load;
# KIND (warm or cold) is what the engine must have done.
rollback_under_load() {
  local name="$1" kind="$2"
  start_load "${name}"
  # As on the hosts (STANDBY_SECONDS in every environment file): the release
  # rolled back from stays warm in turn, cold path or not. Draining and
  # stopping the old slot under load is the restart scenario's.
  run_script rollback.sh --env t --standby 120 --previous
  local seconds="${LAST_SECONDS}" log="${LAST_LOG}"
  stop_load
  expect_eq "${kind} rollback --previous (v2 -> v1) exits 0" 0 "${LAST_RC}"
  expect_live "${kind} rollback" v1
  if [[ "${kind}" == warm ]]; then
    expect_match "warm rollback: a switch to the standby, nothing started" 'v1 is the warm standby in slot blue: no pull' "$(cat "${log}")"
  else
    expect_match "cold rollback: the release is started again" 'step start_candidate: done' "$(cat "${log}")"
    expect_match "cold rollback: no image cleanup, it pulled nothing" 'image cleanup skipped: the rollback pulled no image' "$(cat "${log}")"
  fi
  # The plan's limit is asserted; the targets (warm 1 s, cold 15 s) are
  # reported by bench-deploy.sh: a busy shared machine stretches them.
  if awk -v s="${seconds}" 'BEGIN {exit !(s < 120)}'; then pass "${kind} rollback took ${seconds}s (plan: < 2 min)"; else fail "${kind} rollback took ${seconds}s (plan: < 2 min)"; fi
  check_load "rollback v2->v1 (${kind})" "$(event_ms switch-complete "${log}")" v2 "" "$(event_ms switch-start "${log}")" "$(event_ms retired "${log}")" "${seconds}"
}

test_rollback_under_load() {
  rollback_under_load rollback-warm warm
  expect_eq "warm rollback: v2 is the warm standby in turn" "running MAINT" \
    "$(container_state "${RUN_ID}-green") $(proxy_server_field green 18)"
  # v2 again: the standby's release, so a switch too. v1 stays warm for 3 s
  # only; beyond its standby time the engine stops it on its own, and a
  # rollback then starts it again (the cold path).
  run_script deploy.sh --standby 3 v2 t
  expect_eq "deploy v2 (the warm standby) with a 3 s standby for v1 exits 0" 0 "${LAST_RC}"
  expect_match "deploy v2: a switch to the warm standby" 'v2 is the warm standby in slot green: no pull' "$(cat "${LAST_LOG}")"
  # The timer logs the event once the slot is stopped.
  if wait_until 60 "the standby (v1) stopped by its timer" grep -q 'event=standby-ended .*slot=blue tag=v1' "${WORK}/state/standby.log"; then
    pass "the standby ends on its own after STANDBY_SECONDS"
  else
    fail "the standby ends on its own after STANDBY_SECONDS" "$(tail -n 5 "${WORK}/state/standby.log" 2>&1)"
  fi
  expect_eq "the standby slot is stopped, kept for a cold rollback" exited "$(container_state "${RUN_ID}-blue")"
  rollback_under_load rollback-cold cold
  expect_eq "cold rollback: v2 is the warm standby in turn" "running MAINT" \
    "$(container_state "${RUN_ID}-green") $(proxy_server_field green 18)"
}

# test_failed_deploy TAG WHY_REGEX - a broken release never gets traffic.
test_failed_deploy() {
  local tag="$1"
  start_load "failed-${tag}"
  run_script deploy.sh "${tag}" t
  local seconds="${LAST_SECONDS}"
  stop_load
  if ((LAST_RC != 0)); then pass "deploy of broken ${tag} exits non-zero (${LAST_RC})"; else fail "deploy of broken ${tag} exits non-zero"; fi
  expect_match "failed ${tag}: the reason is given" "ERROR: .*$2" "$(cat "${LAST_LOG}")"
  expect_match "failed ${tag}: the candidate's last log lines are shown" 'last log lines' "$(cat "${LAST_LOG}")"
  expect_eq "failed ${tag}: candidate removed" absent "$(container_state "${RUN_ID}-green")"
  expect_live "failed ${tag}" v1
  expect_eq "failed ${tag}: recorded as failed in the ledger" failed "$(tail -n 1 "${LEDGER}" | jq -r .outcome)"
  check_load "failed deploy ${tag}" "" "" "${tag}" 0 0 "${seconds}"
}

# A release whose migrations fail never starts, so never gets traffic; the
# schema is what v1 and v2 left.
test_failed_migration() {
  local before
  before=$(migrations_applied)
  test_failed_deploy v6 'exited .*migrations included'
  expect_match "failed migration: Flyway's reason is among the candidate's last log lines" 'V900000__fails|FlywayMigrateException|restomarket_no_such_function' "$(cat "${LAST_LOG}")"
  expect_eq "failed migration: the schema history is unchanged" "${before}" "$(migrations_applied)"
}

migrations_applied() {
  "${DOCKER}" exec "${RUN_ID}-pg" psql -U restomarket -d restomarket -tAc \
    "SELECT count(*) || ' ' || coalesce(max(installed_rank), 0) FROM flyway_schema_history" 2>&1
}

test_release_list() {
  run_script rollback.sh --env t --list
  local out
  out=$(cat "${LAST_LOG}")
  expect_match "rollback --list marks the live release" 'rollback +v1 +ok .*<- live' "${out}"
  expect_eq "rollback --list is newest first" "v4 v3 v1 v2 v1" "$(awk 'NR > 1 {print $3}' <<<"${out}" | head -n 5 | tr '\n' ' ' | sed 's/ $//')"
  check "ledger lines are valid JSON" jq -e . "${LEDGER}"
}

# kill_at STEP TAG - SIGKILL deploy.sh paused after STEP; the live release keeps answering.
kill_at() {
  local step_name="$1" tag="$2" live
  live=$(proxy_version_now)
  start_paused "${step_name}" "${tag}" t || return 0
  kill -9 "${PAUSED_PID}"
  wait "${PAUSED_PID}" 2>/dev/null || true
  if [[ "${step_name}" == switched || "${step_name}" == draining ]]; then live="${tag}"; fi
  expect_live "killed after ${step_name}" "${live}"
  run_script deploy.sh "${tag}" t
  expect_eq "re-run after a kill at ${step_name} exits 0" 0 "${LAST_RC}"
  expect_live "re-run after a kill at ${step_name}" "${tag}"
  expect_eq "after ${step_name}: one slot running" 1 \
    "$("${DOCKER}" ps -q --filter "label=${LABEL_STACK}=${RUN_ID}" --filter "label=${LABEL_ROLE}=slot" | wc -l)"
  expect_eq "after ${step_name}: release recorded" "${tag}" "$(ledger_ok_tags | tail -n 1)"
}

# One load per kill point: the connection count (check_load) proves that no
# client connection was closed by the kill or the re-run.
test_fault_injection() {
  local point tag=v2
  for point in pulled candidate-started switched draining; do
    start_load "kill-${point}"
    kill_at "${point}" "${tag}"
    [[ "${point}" == pulled ]] &&
      expect_match "the stale lock of the killed deploy was recovered" 'recovering a stale lock' "$(cat "${LAST_LOG}")"
    local seconds="${LAST_SECONDS}"
    stop_load
    check_load "SIGKILL at ${point}" "" "" "" 0 0 "${seconds}"
    if [[ "${tag}" == v2 ]]; then tag=v1; else tag=v2; fi
  done
}

test_concurrency() {
  start_paused pulled v2 t || return 0
  local first_pid="${PAUSED_PID}" first_log="${LAST_LOG}" rc=0
  run_script deploy.sh v2 t
  expect_eq "a second deploy refuses while one runs (exit 3)" 3 "${LAST_RC}"
  expect_match "the refusal names the running deploy" 'locked by another deploy: pid [0-9]+' "$(cat "${LAST_LOG}")"
  run_script cleanup-images.sh --env t --lock-wait 0
  expect_match "image cleanup waits for the deploy lock instead of deleting under a deploy (exit 3)" \
    '^3 .*locked by another deploy' "${LAST_RC} $(tr '\n' ' ' <"${LAST_LOG}")"
  run_script rollback.sh --env t --lock-wait 0 --previous
  expect_match "rollback.sh --lock-wait 0 refuses while a deploy runs (exit 3)" \
    '^3 .*locked by another deploy' "${LAST_RC} $(tr '\n' ' ' <"${LAST_LOG}")"
  DEPLOY_LOCK_WAIT=120 "${SCRIPTS}/deploy.sh" v2 t >"${WORK}/waiter.log" 2>&1 &
  local waiter=$!
  BG_PIDS+=("${waiter}")
  wait_until 20 "second deploy waiting" grep -q 'waiting for the deploy lock' "${WORK}/waiter.log"
  touch "${WORK}/pause/continue-pulled"
  wait "${first_pid}" || rc=$?
  expect_eq "the first deploy completes" 0 "${rc}"
  rc=0
  wait "${waiter}" || rc=$?
  expect_eq "the waiting deploy runs after it (a no-op)" "0 1" "${rc} $(grep -c 'already live' "${WORK}/waiter.log")"
  expect_match "first deploy finished v2" 'deploy ok: env=t tag=v2' "$(cat "${first_log}")"
  # A lock left by a process that no longer exists.
  bash -c 'exit 0' &
  local dead=$!
  wait "${dead}"
  printf 'pid=%s\nstart=1\nhost=%s\nsince=x\nexpires=%s\ntag=v9\nactor=ghost\n' "${dead}" "$(hostname)" "$(($(date +%s) + 3600))" >"${LOCK_FILE}"
  run_script deploy.sh v2 t
  expect_eq "a stale lock is recovered" "0 1" "${LAST_RC} $(grep -c 'recovering a stale lock' "${LAST_LOG}")"
}

# refused DESC REGEX SCRIPT ARGS... - exits non-zero with a message; live untouched.
refused() {
  local desc="$1" regex="$2"
  shift 2
  run_script "$@"
  if ((LAST_RC != 0)) && grep -qE -- "${regex}" "${LAST_LOG}"; then
    pass "refused: ${desc}"
  else
    fail "refused: ${desc}" "exit ${LAST_RC}: $(tail -n 3 "${LAST_LOG}")"
  fi
}

test_bad_input() {
  local live
  live=$(proxy_version_now)
  refused "missing tag" 'expected IMAGE_TAG' deploy.sh
  refused "malformed tag" "invalid image tag" deploy.sh 'bad tag!' t
  refused "unknown image" 'not found locally and cannot be pulled' deploy.sh nosuch t
  refused "unknown ENV" "unknown environment 'nosuchenv'" deploy.sh v1 nosuchenv
  refused "unknown option" "unknown option" deploy.sh --no-such-option v1 t
  RESTOMARKET_ENV_DIR="${WORK}/missing" refused "missing environment directory" "${WORK}/missing does not exist" deploy.sh v1 t
  mkdir -p "${WORK}/partial/secrets"
  RESTOMARKET_ENV_DIR="${WORK}/partial" refused "missing settings file" "${WORK}/partial/api.env is missing" deploy.sh v1 t
  rm -rf "${WORK}/partial/secrets"
  cp "${WORK}/envdir/api.env" "${WORK}/partial/"
  RESTOMARKET_ENV_DIR="${WORK}/partial" refused "missing secrets directory" "${WORK}/partial/secrets is missing" deploy.sh v1 t
  refused "rollback to a never-deployed tag" 'never deployed successfully' rollback.sh --env t v3
  ledger_append time "$(date -u +%Y-%m-%dT%H:%M:%SZ)" env t action deploy image "${REPO}:gone1" tag gone1 outcome ok duration_s 1
  refused "rollback to a release whose image is gone" 'no longer on this host' rollback.sh --env t gone1
  refused "cleanup: bad --keep" 'wants a number' cleanup-images.sh --keep many
  expect_live "after bad input" "${live}"
}

test_proxy_restart() {
  local live
  live=$(proxy_version_now)
  "${DOCKER}" restart -t 5 "${RUN_ID}-proxy" >/dev/null
  wait_until 30 "proxy back" proxy_version_now
  expect_live "after a proxy restart (configuration persisted)" "${live}"
}

# A release that passes every gate of the engine but fails real requests: its
# database connections use a schema that does not exist (currentSchema, a
# command-line argument beats api.env), so SELECT 1 (health) works and every
# restaurant read or write fails with 500. Flyway is off in it, as it would
# otherwise create that schema (the migrations are v2's, already applied).
build_bad_writes() {
  build_variant v5 "${REPO}:v2" \
    "[\"--DATABASE_URL=jdbc:postgresql://${RUN_ID}-pg:5432/restomarket?currentSchema=rm_missing\", \"--spring.flyway.enabled=false\"]"
}

# build_broken_migration - v6: v2 with one more migration, which fails (a
# function that does not exist), so its start-up ends in Flyway's error.
build_broken_migration() {
  build_variant v6 "${REPO}:v2" '["--spring.flyway.locations=classpath:db/migration,filesystem:/app/broken-migration"]'
  mkdir -p "${WORK}/build-v6-sql"
  printf 'SELECT restomarket_no_such_function();\n' >"${WORK}/build-v6-sql/V900000__fails.sql"
  printf 'FROM %s\nCOPY V900000__fails.sql /app/broken-migration/\n' "${REPO}:v6" >"${WORK}/build-v6-sql/Dockerfile"
  DOCKER_BUILDKIT=1 "${DOCKER}" build -q -t "${REPO}:v6" "${WORK}/build-v6-sql" >/dev/null
}

# With a warm-up that reads a restaurant page no release cached yet, v5 fails
# its warm-up and never gets traffic. (A page already in the cache would hide
# the broken database: the watch below is the backstop for that.) One round is
# enough, and keeps the warm-up on when the environment turns it off
# (WARMUP_ROUNDS=0 make bench-deploy).
test_warm_up_gate() {
  WARMUP_ROUNDS=1 WARMUP_PATHS="/version /health /api/v1/restaurants?page=0&size=7" test_failed_deploy v5 'warm-up'
}

# Warm-up limited to /version and /health (as if v5 broke a route warm-up does
# not read): v5 is switched to under a load of writes and reads, the watch sees
# its 5xx, traffic returns to the previous release, the ledger says "reverted".
test_watch_reverts() {
  local live body="${WORK}/restaurant.json" targets="${WORK}/targets-writes" stats
  live=$(proxy_version_now)
  printf '{"name":"Watch","cuisine":"Thai","city":"Bern"}' >"${body}"
  # The writes come from many clients (X-Forwarded-For, which the proxy
  # believes from this machine's private address), each well under the
  # proxy's per-client write rate limit: this test is about 5xx, not 429.
  local client token
  token=$(cat "${WORK}/envdir/secrets/API_WRITE_TOKEN")
  for ((client = 0; client < 1000; client++)); do
    printf 'POST http://127.0.0.1:%s/api/v1/restaurants\n' "${PORT}"
    printf 'X-Forwarded-For: 10.77.%s.%s\n' "$((client / 250))" "$((client % 250 + 1))"
    printf 'Authorization: Bearer %s\nContent-Type: application/json\n@%s\n\n' "${token}" "${body}"
    printf 'GET http://127.0.0.1:%s/version\n\n' "${PORT}"
  done >"${targets}"
  start_load watch-revert "${targets}"
  # Warm-up on /version only: v5 must reach the switch (its /health, which queries
  # the database, can be slow on a busy machine and would stop it at the warm-up).
  WARMUP_PATHS="/version" run_script deploy.sh --watch 30 v5 t
  local seconds="${LAST_SECONDS}" log="${LAST_LOG}"
  stop_load
  stats=$(load_stats "$(event_ms switch-complete "${log}")" "" "" "$(event_ms switch-start "${log}")" 0)
  log "watch-revert: $(jq -c . <<<"${stats}")"
  expect_eq "v5 switched to, then reverted by the watch: exit 1" 1 "${LAST_RC}"
  # The engine's own account (its errors, warnings and watch lines) shows when this fails.
  expect_match "the reason names the 5xx and the revert" 'watch: v5 answered [0-9]+ of [0-9]+ requests with 5xx.*reverted to' \
    "$(grep -E 'ERROR|WARNING|hint|watch|FAILED|event=' "${log}")"
  expect_live "after the watch reverted v5" "${live}"
  expect_eq "the ledger records v5 as reverted" "v5 reverted" \
    "$(ledger_entries | tail -n 1 | jq -r '"\(.tag) \(.outcome)"')"
  expect_eq "watch revert: 0 socket errors (every request got an HTTP answer)" 0 "$(jq .errors <<<"${stats}")"
  local fivexx revert_s
  fivexx=$(jq -s 'map(select(.code >= 500)) | length' "${WORK}/watch-revert.jsonl")
  revert_s=$(sed -n 's/.*event=watch-revert .*after_s=\([0-9]*\).*/\1/p' "${log}")
  expect_match "v5 answered some requests with 5xx before the revert (${fivexx})" '^[1-9][0-9]*$' "${fivexx}"
  expect_eq "every non-2xx of the window is one of v5's 5xx" "${fivexx}" "$(jq .non2xx <<<"${stats}")"
  if [[ -n "${revert_s}" ]] && ((revert_s <= 10)); then pass "reverted ${revert_s}s after the switch (watch 30 s)"; else
    fail "reverted within 10 s of the switch" "after_s=${revert_s:-none}"; fi
  metrics_row "watch revert v5 (${fivexx} 5xx, ${revert_s}s)" "${stats}" "${seconds}" -
  expect_eq "the reverted candidate is removed" absent "$(container_state "${RUN_ID}-$(other_slot "$(cat "${ACTIVE_FILE}")")")"
}

# write_status TOKEN - the HTTP status of one authenticated write through the
# proxy (a client connection of this test: counted, see check_load).
write_status() {
  echo >>"${WORK}/curls"
  curl -s -o /dev/null -w '%{http_code}' -m 10 -X POST -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
    -d '{"name":"Rotation","cuisine":"Thai","city":"Bern"}' "http://127.0.0.1:${PORT}/api/v1/restaurants"
}

# A rotated secret (the API's write token): deploy.sh --restart starts the
# live release again, blue/green under load, and the new container reads the
# new value; before it, the running release still has the old one.
test_restart_after_rotation() {
  local live old new
  live=$(proxy_version_now)
  old=$(tr -d '\n' <"${WORK}/envdir/secrets/API_WRITE_TOKEN")
  new=$(random_secret)
  printf '%s' "${new}" >"${WORK}/envdir/secrets/API_WRITE_TOKEN"
  expect_eq "rotation: until the restart, the running release accepts the old token" 201 "$(write_status "${old}")"
  start_load "restart-${live}"
  run_script deploy.sh --restart "${live}" t
  local seconds="${LAST_SECONDS}" log="${LAST_LOG}"
  stop_load
  expect_eq "deploy --restart of the live ${live} exits 0" 0 "${LAST_RC}"
  expect_match "restart: a new container, not 'already live'" "restart: ${live} starts again in a new container" "$(cat "${log}")"
  expect_live "after the restart" "${live}"
  # No standby in this environment: the old slot drains and stops under load.
  expect_match "restart: the old container drained and stopped under load" \
    'event=retired epoch_ms=[0-9]+ slot=(blue|green) tag=[^ ]+$' "$(grep 'event=retired' "${log}")"
  check_load "restart ${live} (secret rotated)" "" "" "" "$(event_ms switch-start "${log}")" "$(event_ms retired "${log}")" "${seconds}"
  expect_eq "rotation: after the restart the new token writes" 201 "$(write_status "${new}")"
  expect_eq "rotation: ... and the old one is refused" 401 "$(write_status "${old}")"
}

# A changed PROXY_BIND takes effect: the proxy is recreated on the new address.
test_proxy_rebind() {
  local live
  live=$(proxy_version_now)
  sed -i 's|^PROXY_BIND=.*|PROXY_BIND=127.0.0.2|' "${WORK}/envs/t.env"
  run_script deploy.sh "${live}" t
  expect_eq "deploy after a PROXY_BIND change exits 0" 0 "${LAST_RC}"
  expect_match "the proxy is recreated because its binding changed" \
    'differs from its settings \(binding 127\.0\.0\.1:[0-9]+, want 127\.0\.0\.2:[0-9]+\): handing over' "$(cat "${LAST_LOG}")"
  expect_eq "the proxy answers on the new address" "${live}" \
    "$(curl -s -m 5 "http://127.0.0.2:${PORT}/version" | sed -n 's/.*"version":"\([^"]*\)".*/\1/p')"
  check_fails "the old address no longer answers" curl -s -m 2 "http://127.0.0.1:${PORT}/version"
  sed -i 's|^PROXY_BIND=.*|PROXY_BIND=127.0.0.1|' "${WORK}/envs/t.env"
  run_script deploy.sh "${live}" t
  expect_eq "and back: the proxy serves on 127.0.0.1 again" "0 ${live}" "${LAST_RC} $(proxy_version_now)"
}

# The ledger cannot be written after a good switch: the release is live, the
# deploy says so and exits 0 (CI must not roll back a good release); a re-run
# records it.
# A proxy setting that needs a new container (here its memory limit, as a new
# image would) on a lone host, under load: no load balancer can take the host
# out first (PROXY_HANDOVER_WAIT=0), so connections that arrive while no proxy
# listens fail (refused, or reset by Docker's port forwarder); every HTTP answer
# must still be a 2xx. Reports the connection errors and how long the port was
# without a proxy (at most 3 s).
# (Behind a load balancer the handover drops nothing: ansible-check proves it.)
test_proxy_handover_lone_host() {
  local live stats refused other gap_ms
  live=$(proxy_version_now)
  printf 'PROXY_MEMORY=200m\n' >>"${WORK}/envs/t.env"
  start_load proxy-handover
  run_script deploy.sh "${live}" t
  local seconds="${LAST_SECONDS}" log="${LAST_LOG}"
  stop_load
  stats=$(load_stats 0 "" "" 0 0)
  log "proxy handover, lone host: $(jq -c . <<<"${stats}")"
  expect_eq "proxy handover: deploy.sh of the live release exits 0" 0 "${LAST_RC}"
  expect_match "proxy handover: the settings drift is named" 'differs from its settings \(settings \(spec' "$(cat "${log}")"
  expect_eq "proxy handover: the new proxy has the new memory limit" 209715200 \
    "$("${DOCKER}" inspect -f '{{.HostConfig.Memory}}' "${RUN_ID}-proxy")"
  check_fails "proxy handover: no retiring proxy is left" "${DOCKER}" container inspect "${RUN_ID}-proxy-retiring"
  expect_live "after the proxy handover" "${live}"
  # Every request that got an HTTP answer got a 2xx; the others never reached a
  # proxy: refused, or accepted by Docker's port forwarder while no proxy
  # listened behind it (reset / EOF before any answer).
  expect_eq "proxy handover: every HTTP answer is a 2xx (failures are connection-level only)" 0 \
    "$(jq -s 'map(select(.code != 0 and (.code < 200 or .code > 299))) | length' "${WORK}/proxy-handover.jsonl")"
  refused=$(jq -s 'map(select(.code == 0 and (.error | test("connection refused")))) | length' "${WORK}/proxy-handover.jsonl")
  other=$(jq -s 'map(select(.code == 0 and (.error | test("connection refused") | not))) | length' "${WORK}/proxy-handover.jsonl")
  log "proxy handover, lone host: connection errors $((refused + other)) (${refused} refused, ${other} reset/EOF): $(jq -rs \
    '[.[] | select(.code == 0) | .error | sub(".*: "; "")] | group_by(.) | map("\(.[0]) x\(length)") | join(", ")' \
    "${WORK}/proxy-handover.jsonl")"
  gap_ms=$(sed -n 's/.*proxy handover: done; the port had no listener for \([0-9]*\) ms at most.*/\1/p' "${log}")
  if [[ -n "${gap_ms}" ]] && ((gap_ms <= 3000)); then
    pass "proxy handover: the port was without a listener for ${gap_ms} ms (at most 3000)"
  else
    fail "proxy handover: the port was without a listener for at most 3000 ms" "${gap_ms:-not reported}"
  fi
  metrics_row "proxy handover, no LB (${refused}+${other} conn. errors, ${gap_ms:-?} ms)" "${stats}" "${seconds}" -
  sed -i '/^PROXY_MEMORY=200m$/d' "${WORK}/envs/t.env"
}

test_ledger_failure_after_switch() {
  local live tag
  live=$(proxy_version_now)
  if [[ "${live}" == v1 ]]; then tag=v2; else tag=v1; fi
  mv "${LEDGER}" "${LEDGER}.saved"
  mkdir "${LEDGER}"
  run_script deploy.sh "${tag}" t
  expect_eq "ledger unwritable after the switch: the deploy still exits 0" 0 "${LAST_RC}"
  expect_match "... it warns that the live release is not recorded" "${tag} is live but not recorded" "$(cat "${LAST_LOG}")"
  check_fails "... and never reports a failed deploy" grep -q 'deploy FAILED' "${LAST_LOG}"
  expect_live "ledger unwritable after the switch" "${tag}"
  rmdir "${LEDGER}"
  mv "${LEDGER}.saved" "${LEDGER}"
  run_script deploy.sh "${tag}" t
  expect_eq "a re-run records the live release" "0 ${tag}" "${LAST_RC} $(ledger_ok_tags | tail -n 1)"
}

test_retention() {
  local repo="${RUN_ID}/retain" tag
  write_env_file r "${repo}" "${WORK}/state-r"
  mkdir -p "${WORK}/retain"
  # Protected first (oldest), then r1..r8: distinct IDs and creation times.
  for tag in latest 1.2.3 p-container p-live p-prev r1 r2 r3 r4 r5 r6 r7 r8; do
    printf 'FROM %s\nLABEL com.restomarket.test.retain="%s-%s"\n' "${REPO}:v1" "${RUN_ID}" "${tag}" >"${WORK}/retain/Dockerfile"
    # The classic builder: BuildKit keeps the base image's creation time for a LABEL-only build.
    DOCKER_BUILDKIT=0 "${DOCKER}" build -q -t "${repo}:${tag}" "${WORK}/retain" >/dev/null
  done
  "${DOCKER}" tag "${REPO}:v1" "${RUN_ID}/other:old"
  "${DOCKER}" create --name "${RUN_ID}-holder" "${repo}:p-container" >/dev/null
  # shellcheck disable=SC2034 # STATE_DIR is read by the lib/deploy.sh functions called below
  STATE_DIR="${WORK}/state-r" LEDGER="${WORK}/state-r/releases.jsonl"
  ledger_append tag p-prev outcome ok
  ledger_append tag p-live outcome ok
  load_env t
  run_script cleanup-images.sh --env r --dry-run
  expect_eq "cleanup --dry-run lists 3 deletions" 3 "$(grep -c 'would delete' "${LAST_LOG}")"
  expect_eq "cleanup --dry-run deletes nothing" 13 "$("${DOCKER}" images -q "${repo}" | wc -l)"
  run_script cleanup-images.sh --env r
  expect_eq "cleanup exits 0" 0 "${LAST_RC}"
  expect_eq "every deletion is logged" 3 "$(grep -c 'deleting ' "${LAST_LOG}")"
  expect_eq "the 5 newest unprotected images remain" "r4 r5 r6 r7 r8" \
    "$("${DOCKER}" images --format '{{.Tag}}' "${repo}" | grep '^r' | sort | tr '\n' ' ' | sed 's/ $//')"
  expect_eq "protected images survive (latest, semver, in use, live, previous)" "1.2.3 latest p-container p-live p-prev" \
    "$("${DOCKER}" images --format '{{.Tag}}' "${repo}" | grep -v '^r' | sort | tr '\n' ' ' | sed 's/ $//')"
  expect_eq "another repository is untouched" 1 "$("${DOCKER}" images -q "${RUN_ID}/other" | wc -l)"
  run_script cleanup-images.sh --env r
  expect_eq "a second run deletes nothing (timer-safe)" 0 "$(grep -c 'deleting ' "${LAST_LOG}")"
}

print_metrics() {
  [[ -s "${METRICS}" ]] || return 0
  printf '\n%-30s %9s %8s %8s %10s %9s %9s %10s %9s %9s %7s %8s\n' scenario requests non-2xx errors in-window p50-ms p99-ms steady-p99 wall-s switch-s gate-s watch-s
  awk -F'\t' '{printf "%-30s %9s %8s %8s %10s %9s %9s %10s %9s %9s %7s %8s\n", $1, $2, $3, $4, $5, $6, $7, ($10 == "" ? "-" : $10), ($8 == "" ? "-" : $8), ($11 == "" ? "-" : $11), $9, ($12 == "" ? "-" : $12)}' "${METRICS}"
  printf '(in-window: requests between switch start and the old slot stopped; steady-p99: before the switch; rate %s req/s)\n\n' "${RATE}"
  [[ -n "${DEPLOY_TEST_METRICS:-}" ]] && cp "${METRICS}" "${DEPLOY_TEST_METRICS}"
  return 0
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unknown argument '$1'" "see --help" 2 ;;
  esac
  case "${DEPLOY_TEST_ONLY:-}" in
    "" | load | timed) ;;
    *) die "DEPLOY_TEST_ONLY=${DEPLOY_TEST_ONLY}: want load, timed or nothing (every check)" "see --help" 2 ;;
  esac
  trap cleanup EXIT
  local start
  start=$(date +%s)
  setup
  test_first_deploy
  test_deploy_v2_under_load
  test_rollback_under_load
  if [[ "${DEPLOY_TEST_ONLY:-}" != timed ]]; then
    test_failed_deploy v3 'unhealthy|not ready'
    test_failed_deploy v4 'exited|instead of running'
    test_release_list
    test_failed_migration
    test_warm_up_gate
    test_watch_reverts
    test_restart_after_rotation
  fi
  if [[ -z "${DEPLOY_TEST_ONLY:-}" ]]; then
    test_fault_injection
    test_concurrency
    test_bad_input
    test_proxy_restart
    test_proxy_rebind
    test_proxy_handover_lone_host
    test_ledger_failure_after_switch
    test_retention
  fi
  print_metrics
  log "test-deploy took $(($(date +%s) - start))s"
  summary
}

main "$@"
