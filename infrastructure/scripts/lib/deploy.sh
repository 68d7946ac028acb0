# shellcheck shell=bash
# The deploy engine's shared code, sourced by deploy.sh, rollback.sh and
# cleanup-images.sh (after lib/core.sh). As in Kamal, two kinds of functions:
#   *_cmd      only print a docker command line, one argument per line, and
#              decide nothing (run them with run_cmd);
#   the rest   read state (slots, proxy, lock, ledger) for the flows in the
#              scripts, which decide what happens when.
# Settings come from env/ENV.env in the engine's folder, then from the host's
# own ENV.env in DEPLOY_HOST_ENV_DIR when it exists (load_env).
#
# The engine is this folder (infrastructure/scripts/) and nothing else: it ships
# to hosts as one unit, sources nothing outside it and installs nothing.

ENGINE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPLOY_ENVS_DIR="${RESTOMARKET_DEPLOY_ENVS:-${ENGINE_DIR}/env}"
# Settings of this host, written by Ansible (PROXY_BIND, PROXY_PORT, PROXY_IMAGE, ...).
DEPLOY_HOST_ENV_DIR="${RESTOMARKET_HOST_ENV_DIR:-/etc/restomarket}"
PROXY_TEMPLATE="${ENGINE_DIR}/proxy/haproxy.cfg.tmpl"
# The docker CLI; tests point DOCKER at a fake that records every call.
DOCKER="${DOCKER:-/usr/bin/docker}"
[[ -x "${DOCKER}" ]] || DOCKER=docker
TAG_PATTERN='^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'
ENV_PATTERN='^[a-z0-9][a-z0-9_-]{0,31}$'
# Inside the proxy container only: the HAProxy runtime API and the listener.
PROXY_API_PORT=9999
PROXY_LISTEN_PORT=8080
LABEL_STACK=com.restomarket.stack
LABEL_ROLE=com.restomarket.role
LABEL_RELEASE=com.restomarket.release
LABEL_PROXY_SPEC=com.restomarket.proxy-spec
# Limits of the containers the engine starts (the env file may override them).
PROXY_MEMORY_DEFAULT=256m
PROXY_KEEPALIVE_TIMEOUT_DEFAULT=75
PIDS_LIMIT_DEFAULT=512
STANDBY_SECONDS_DEFAULT=900

# ---- settings ----------------------------------------------------------------

known_envs() {
  local f names=()
  for f in "${DEPLOY_ENVS_DIR}"/*.env; do [[ -e "${f}" ]] && names+=("$(basename "${f}" .env)"); done
  echo "${names[*]:-none}"
}

valid_tag() { [[ "$1" =~ ${TAG_PATTERN} ]]; }

# option_value OPTION ARGS... - the value after OPTION, or a usage error.
option_value() {
  [[ $# -ge 2 && "$2" != -* ]] || die "$1 needs a value" "see --help" 2
  echo "$2"
}

# load_env ENV - read the environment file and derive names and paths.
load_env() {
  local env="$1" file key
  [[ "${env}" =~ ${ENV_PATTERN} ]] || die "invalid environment name '${env}'" "use one of: $(known_envs)"
  file="${DEPLOY_ENVS_DIR}/${env}.env"
  [[ -r "${file}" ]] || die "unknown environment '${env}' (no ${file})" "use one of: $(known_envs)"
  # shellcheck source=/dev/null
  source "${file}"
  if [[ -e "${DEPLOY_HOST_ENV_DIR}/${env}.env" ]]; then
    [[ -r "${DEPLOY_HOST_ENV_DIR}/${env}.env" ]] || die "cannot read this host's settings ${DEPLOY_HOST_ENV_DIR}/${env}.env" \
      "run as the deploy user, or fix its permissions (Ansible's deploy_engine role writes it 0644)"
    # shellcheck source=/dev/null
    source "${DEPLOY_HOST_ENV_DIR}/${env}.env"
  fi
  DEPLOY_ENV="${env}"
  ENV_DIR="${RESTOMARKET_ENV_DIR:-${ENV_DIR:-}}"
  STATE_DIR="${RESTOMARKET_STATE_DIR:-${STATE_DIR:-}}"
  [[ -n "${PROXY_IMAGE:-}" ]] || die "PROXY_IMAGE is not set (the HAProxy image of ${env})" \
    "hosts get it from Ansible (${DEPLOY_HOST_ENV_DIR}/${env}.env); locally the make targets export it from infrastructure/docker/images.env"
  for key in IMAGE_REPO STACK_NAME PROXY_PORT PROXY_BIND APP_PORT HEALTH_PATH VERSION_PATH GATE_TIMEOUT \
    HEALTH_INTERVAL DRAIN_TIMEOUT STOP_GRACE LOCK_TTL KEEP_RELEASES ENV_DIR STATE_DIR; do
    [[ -n "${!key:-}" ]] || die "${file} does not set ${key}" "add ${key}=... (compare with ${DEPLOY_ENVS_DIR}/local.env)"
  done
  # The post-switch watch (deploy.sh --watch): optional in the env file.
  WATCH_SECONDS="${WATCH_SECONDS:-60}"
  WATCH_MAX_5XX_PERCENT="${WATCH_MAX_5XX_PERCENT:-5}"
  WATCH_MIN_REQUESTS="${WATCH_MIN_REQUESTS:-100}"
  WATCH_MAX_ERRORS="${WATCH_MAX_ERRORS:-0}"
  # Seconds a load balancer needs to take this host out of rotation (0: none in front).
  PROXY_HANDOVER_WAIT="${PROXY_HANDOVER_WAIT:-0}"
  # Seconds the proxy keeps an idle client connection open. Longer than the
  # load balancer's idle timeout (DigitalOcean: 60 s), so the balancer always
  # closes first and never sends a request down a connection being closed.
  PROXY_KEEPALIVE_TIMEOUT="${PROXY_KEEPALIVE_TIMEOUT:-${PROXY_KEEPALIVE_TIMEOUT_DEFAULT}}"
  # Seconds the previous release stays running, out of rotation, after a
  # switch (warm standby: a rollback to it is a switch, no JVM start); 0: it
  # is stopped at once. See deploy-engine.md for the memory it takes.
  STANDBY_SECONDS="${STANDBY_SECONDS:-${STANDBY_SECONDS_DEFAULT}}"
  for key in WATCH_SECONDS WATCH_MAX_5XX_PERCENT WATCH_MIN_REQUESTS WATCH_MAX_ERRORS PROXY_HANDOVER_WAIT \
    PROXY_KEEPALIVE_TIMEOUT STANDBY_SECONDS; do
    [[ "${!key}" =~ ^[0-9]+$ ]] || die "${file}: ${key}=${!key} is not a whole number" \
      "fix it or remove it (defaults: 60, 5, 100, 0, 0, ${PROXY_KEEPALIVE_TIMEOUT_DEFAULT}, ${STANDBY_SECONDS_DEFAULT})"
  done
  ((PROXY_KEEPALIVE_TIMEOUT > 0)) || die "${file}: PROXY_KEEPALIVE_TIMEOUT must be at least 1 second" \
    "set it above the load balancer's idle timeout, or remove it (default ${PROXY_KEEPALIVE_TIMEOUT_DEFAULT})"
  if [[ -n "${SLOT_MEMORY:-}" ]] && ! memory_mb "${SLOT_MEMORY}" >/dev/null; then
    die "${file}: SLOT_MEMORY=${SLOT_MEMORY} is not a size like 768m or 1g" "fix it, or leave it empty for no limit"
  fi
  NETWORK="${STACK_NAME}"
  PROXY="${STACK_NAME}-proxy"
  LEDGER="${STATE_DIR}/releases.jsonl"
  LOCK_FILE="${STATE_DIR}/deploy.lock"
  ACTIVE_FILE="${STATE_DIR}/active-slot"
  STANDBY_FILE="${STATE_DIR}/standby"
  PROXY_CONF_DIR="${STATE_DIR}/proxy"
}

# require_env_dir - the host's settings file and secrets directory exist.
require_env_dir() {
  [[ -d "${ENV_DIR}" ]] || die "environment directory ${ENV_DIR} does not exist" \
    "create it with api.env (settings) and secrets/ (one file per secret); see infrastructure/docs/deploy-engine.md"
  [[ -r "${ENV_DIR}/api.env" ]] || die "settings file ${ENV_DIR}/api.env is missing or unreadable" \
    "create it (KEY=value lines: DATABASE_URL, DATABASE_USERNAME, REDIS_HOST, ...); see infrastructure/docs/deploy-engine.md"
  [[ -d "${ENV_DIR}/secrets" ]] || die "secrets directory ${ENV_DIR}/secrets is missing" \
    "create it with one file per secret (DATABASE_PASSWORD, REDIS_PASSWORD, API_WRITE_TOKEN), readable by uid 1001"
}

# require_tools - the engine installs nothing: Ansible's deploy_engine role (and
# local-host.sh for ENV=local) put these on the host.
# missing_tools - the host tools the engine calls that are not installed, one line.
missing_tools() {
  local tool missing=()
  for tool in curl jq flock timeout; do have "${tool}" || missing+=("${tool}"); done
  echo "${missing[*]}"
}

require_tools() {
  local missing
  missing=$(missing_tools)
  [[ -z "${missing}" ]] || die "missing on this host: ${missing}" \
    "install them with the host's package manager (Ansible's deploy_engine role does: make ansible-setup ENV=...; for ENV=local, make deploy does)"
}

require_docker() {
  docker_answers || die "no Docker engine answers" "start Docker (on hosts Ansible installs it: make ansible-setup ENV=...; locally: make docker)"
}

# docker_answers - the Docker engine answers (asked once per run: DOCKER_ANSWERS).
DOCKER_ANSWERS=""
docker_answers() {
  [[ -n "${DOCKER_ANSWERS}" ]] || { run_cmd docker_version_cmd >/dev/null 2>&1 && DOCKER_ANSWERS=1; }
}

# proxy_image - the HAProxy image (PROXY_IMAGE: on hosts from Ansible, which
# reads infrastructure/docker/images.env; locally from the caller's environment).
proxy_image() { echo "${PROXY_IMAGE}"; }

# proxy_address - where this host reaches its own proxy: the bind address, or
# loopback when the proxy listens on every interface.
proxy_address() {
  case "${PROXY_BIND}" in
    0.0.0.0 | "" | "::") echo 127.0.0.1 ;;
    *) echo "${PROXY_BIND}" ;;
  esac
}

# ---- command builders (print a command line, run nothing) ---------------------

slot_container() { echo "${STACK_NAME}-$1"; }
other_slot() { if [[ "$1" == blue ]]; then echo green; else echo blue; fi; }

network_create_cmd() {
  printf '%s\n' "${DOCKER}" network create --label "${LABEL_STACK}=${STACK_NAME}" "${NETWORK}"
}

# hardening_args - for every container the engine starts: no capabilities, no
# privilege gain, a read-only root with a small /tmp, a bounded process count.
hardening_args() {
  printf '%s\n' --cap-drop ALL --security-opt no-new-privileges --read-only \
    --tmpfs /tmp:rw,nosuid,nodev,size=64m --pids-limit "${PIDS_LIMIT:-${PIDS_LIMIT_DEFAULT}}"
}

# memory_mb SIZE - docker's memory syntax (768m, 1g, 512M) in MiB.
memory_mb() {
  local size="${1,,}"
  [[ "${size}" =~ ^([0-9]+)([mg])$ ]] && ((BASH_REMATCH[1] > 0)) || return 1
  if [[ "${BASH_REMATCH[2]}" == g ]]; then echo $((BASH_REMATCH[1] * 1024)); else echo "${BASH_REMATCH[1]}"; fi
}

# jvm_memory_args - with SLOT_MEMORY set: that limit, and JVM sizes that fit in
# it (heap 55 %, metaspace 128 MiB, code cache 64 MiB, direct buffers 32 MiB;
# the rest is threads, GC and the JVM itself). -Xmx wins over the image's
# -XX:MaxRAMPercentage. The heap starts at a third of -Xmx: left to the JVM it
# starts at 1/64 of the limit (12 MiB of 768m), and the API's start then runs
# about 15 collections, two of them concurrent marking cycles, growing it.
jvm_memory_args() {
  [[ -n "${SLOT_MEMORY:-}" ]] || return 0
  local mb heap
  mb=$(memory_mb "${SLOT_MEMORY}") || die "SLOT_MEMORY=${SLOT_MEMORY} is not a size like 768m or 1g" "fix the env file"
  heap=$((mb * 55 / 100))
  printf '%s\n' --memory "${SLOT_MEMORY}" -e "JAVA_TOOL_OPTIONS=-Xmx${heap}m -Xms$((heap / 3))m -XX:MaxMetaspaceSize=128m -XX:ReservedCodeCacheSize=64m -XX:MaxDirectMemorySize=32m"
}

# proxy_spec - what defines the proxy container besides its name and labels,
# image last. Its hash (with the configuration template and the settings
# rendered into it) labels the container, so a change is noticed.
proxy_spec() {
  printf '%s\n' -p "${PROXY_BIND}:${PROXY_PORT}:${PROXY_LISTEN_PORT}" \
    -v "${PROXY_CONF_DIR}:/usr/local/etc/haproxy:ro" --memory "${PROXY_MEMORY:-${PROXY_MEMORY_DEFAULT}}"
  hardening_args
  printf '%s\n' --log-opt max-size=10m --log-opt max-file=3 "$(proxy_image)"
}

proxy_spec_id() {
  { proxy_spec; printf 'keep-alive %s\n' "${PROXY_KEEPALIVE_TIMEOUT}"; cat "${PROXY_TEMPLATE}"; } | sha256sum | cut -c1-12
}

proxy_run_cmd() {
  printf '%s\n' "${DOCKER}" run -d --name "${PROXY}" --restart unless-stopped --network "${NETWORK}" \
    --label "${LABEL_STACK}=${STACK_NAME}" --label "${LABEL_ROLE}=proxy" --label "${LABEL_PROXY_SPEC}=$(proxy_spec_id)"
  proxy_spec
}

# Settings and secrets every API container gets: non-secret KEY=value lines
# from api.env, secrets as files (a config tree), never as -e values, so they
# stay out of `docker inspect`.
api_settings_args() {
  printf '%s\n' --env-file "${ENV_DIR}/api.env" -v "${ENV_DIR}/secrets:/run/secrets:ro"
}

# slot_run_cmd SLOT IMAGE TAG MIGRATIONS - the candidate: no restart policy until
# it is live (a crash-looping candidate must show as exited). MIGRATIONS "on":
# Flyway applies pending migrations during the start-up, before the API reports
# ready, so no second JVM starts just for them; its -e comes after api.env, so
# FLYWAY_ENABLED=false there cannot turn them into a silent no-op, and a
# database that answers late (a first TLS connection slower than the pool's
# 2 s on a busy host) is tried again every 5 s at most, 10 times. "off"
# (rollback.sh): an earlier release's migrations are already applied.
slot_run_cmd() {
  local slot="$1" image="$2" tag="$3" migrations="${4:?slot_run_cmd: MIGRATIONS (on or off) missing}"
  printf '%s\n' "${DOCKER}" run -d --name "$(slot_container "${slot}")" --network "${NETWORK}" \
    --label "${LABEL_STACK}=${STACK_NAME}" --label "${LABEL_ROLE}=slot" \
    --label "com.restomarket.slot=${slot}" --label "${LABEL_RELEASE}=${tag}"
  hardening_args
  jvm_memory_args
  api_settings_args
  if [[ "${migrations}" == on ]]; then
    printf '%s\n' -e FLYWAY_ENABLED=true -e SPRING_FLYWAY_CONNECT_RETRIES=10 -e SPRING_FLYWAY_CONNECT_RETRIES_INTERVAL=5s
  else
    printf '%s\n' -e FLYWAY_ENABLED=false
  fi
  printf '%s\n' --health-interval "${HEALTH_INTERVAL}" --stop-timeout "${STOP_GRACE}" \
    --log-opt max-size=10m --log-opt max-file=3
  [[ -n "${HEALTH_START_PERIOD:-}" ]] && printf '%s\n' --health-start-period "${HEALTH_START_PERIOD}"
  printf '%s\n' "${image}"
}

slot_keep_running_cmd() { printf '%s\n' "${DOCKER}" update --restart unless-stopped "$(slot_container "$1")"; }
slot_stop_cmd() { printf '%s\n' "${DOCKER}" stop -t "${STOP_GRACE}" "$(slot_container "$1")"; }
# slot_standby_cmd SLOT - a warm standby does not come back after a host reboot
# (nothing would end its standby then).
slot_standby_cmd() { printf '%s\n' "${DOCKER}" update --restart no "$(slot_container "$1")"; }
# proxy_stop_cmd NAME - HAProxy's soft stop (the image's stop signal is SIGUSR1):
# it stops listening, finishes the requests in flight, closes idle connections.
proxy_stop_cmd() { printf '%s\n' "${DOCKER}" stop -t "${DRAIN_TIMEOUT}" "$1"; }
container_remove_cmd() { printf '%s\n' "${DOCKER}" rm -f "$1"; }

# http_probe_cmd HOST PORT WAIT PATH... - a GET of each PATH from inside the
# proxy container (bash's /dev/tcp: neither image has curl), so it takes the
# path the proxy takes, all in one exec; prints one line per PATH: "STATUS BODY"
# (the body's line breaks removed), or "unreachable" when no connection opened.
# While the first PATH is refused or answers OUT_OF_SERVICE (a start-up under
# way) it is asked again every 0.1 s for up to WAIT seconds, inside that one
# exec: a docker exec costs a busy host far more CPU than a GET, and that CPU
# is the starting candidate's. A connection to the address of a candidate that
# exited hangs for seconds, so each GET first needs a connection within 1 s,
# then has 4 s (more than a readiness check waiting out its database, 2 s).
# One that fails slowly ends the wait, and after an unreachable PATH the
# others are not tried.
# Builders print one argument per line: the scripts passed to bash -c are one line.
http_probe_cmd() {
  # shellcheck disable=SC2016 # expanded by the bash inside the container
  printf '%s\n' "${DOCKER}" exec "${PROXY}" timeout "$(($3 + 9))" bash -c \
    'h=$1 p=$2 end=$((${EPOCHREALTIME//[^0-9]/} + $3 * 1000000)) first=1 out=""; shift 3; get() { exec 3<>"/dev/tcp/$1/$2" || exit; printf "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" "$3" "$1" >&3; s=""; read -r _ s _ <&3; while IFS= read -r l <&3 && ((${#l} > 1)); do :; done; echo "${s//[^0-9]/} $(tr -d "\r\n" <&3)"; }; for path in "$@"; do if [[ $out == unreachable ]]; then echo unreachable; continue; fi; while :; do t=${EPOCHREALTIME//[^0-9]/}; out=unreachable; if timeout 1 bash -c ": 3<>/dev/tcp/$h/$p" 2>/dev/null; then out=$(timeout 4 bash -c "$(declare -f get); get \"\$@\"" _ "$h" "$p" "$path" 2>/dev/null); out=${out:-unreachable}; fi; if [[ $out == unreachable ]] && ((${EPOCHREALTIME//[^0-9]/} - t > 500000)); then break; fi; if ((first && ${EPOCHREALTIME//[^0-9]/} < end)) && [[ $out == unreachable || $out == *OUT_OF_SERVICE* ]]; then sleep 0.1; continue; fi; break; done; first=0; echo "$out"; done' \
    _ "$@"
}

# warm_up_cmd HOST PORT COUNT CLIENTS PATH... - COUNT rounds of a GET on every
# PATH, shared by CLIENTS concurrent clients, from inside the proxy container
# in one exec; prints "warm-up: N requests, M not 2xx" and, for each failure,
# its path and status line.
warm_up_cmd() {
  # One line: builders print one argument per line.
  # shellcheck disable=SC2016 # expanded by the bash inside the container
  printf '%s\n' "${DOCKER}" exec "${PROXY}" timeout "${WARMUP_TIMEOUT:-120}" bash -c \
    'h=$1 p=$2 n=$3 c=$4; shift 4; get() { local s=""; if exec 3<>"/dev/tcp/$h/$p"; then printf "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" "$1" "$h" >&3; read -r _ s _ <&3 || s=""; read -r -d "" _ <&3; exec 3<&-; fi; [[ $s == 2?? ]] || echo "failed: GET $1: ${s:-no answer}"; }; client() { local i path w=$1; shift; for ((i = w; i < n; i += c)); do for path in "$@"; do get "$path"; done; done; }; mapfile -t bad < <(for ((w = 0; w < c; w++)); do client "$w" "$@" & done; wait); ((${#bad[@]} == 0)) || printf "%s\n" "${bad[@]}"; echo "warm-up: $((n * $#)) requests, ${#bad[@]} not 2xx"; ((${#bad[@]} == 0))' \
    _ "$@"
}

# proxy_api_cmd COMMAND - one HAProxy runtime API command (several joined by ';').
proxy_api_cmd() {
  # shellcheck disable=SC2016 # expanded by the bash inside the container
  printf '%s\n' "${DOCKER}" exec "${PROXY}" timeout 5 bash -c \
    'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1; printf "%s\n" "$2" >&3; cat <&3' \
    _ "${PROXY_API_PORT}" "$1"
}

# Every other docker call of the engine, one builder each (state reads included,
# so the fast suite pins their argv too).
# docker_version_cmd - the engine's version: the cheapest call that needs the
# engine to answer (`docker info` also counts every container and image).
docker_version_cmd() { printf '%s\n' "${DOCKER}" version -f '{{.Server.Version}}'; }
network_inspect_cmd() { printf '%s\n' "${DOCKER}" network inspect "${NETWORK}"; }
image_pull_cmd() { printf '%s\n' "${DOCKER}" pull "$1"; }
image_remove_cmd() { printf '%s\n' "${DOCKER}" rmi "$1"; }
container_start_cmd() { printf '%s\n' "${DOCKER}" start "$1"; }
# container_logs_cmd NAME LINES - the last LINES lines of NAME's output.
container_logs_cmd() { printf '%s\n' "${DOCKER}" logs --tail "$2" "$1"; }
container_rename_cmd() { printf '%s\n' "${DOCKER}" rename "$1" "$2"; }
# container_facts_cmd NAME... - what the engine reads of a container, one line
# per NAME that exists (docker prints those and fails for the others), fields
# in the order of FACT_FIELDS, separated by "|": /NAME (Docker's leading
# slash), status, health (empty without a health check), exit code, ID, image
# ID, release label, IP address on NETWORK, host port bindings, image as given,
# proxy spec label. The names are Docker's Go fields (ID, HostIP), not its JSON
# keys (Id, HostIp): a template that fails on the Go value is run again on the
# JSON, where a container without a health check has no State.Health at all.
container_facts_cmd() {
  printf '%s\n' "${DOCKER}" container inspect -f \
    "{{.Name}}|{{.State.Status}}|{{if .State.Health}}{{.State.Health.Status}}{{end}}|{{.State.ExitCode}}|{{.ID}}|{{.Image}}|{{index .Config.Labels \"${LABEL_RELEASE}\"}}|{{with index .NetworkSettings.Networks \"${NETWORK}\"}}{{.IPAddress}}{{end}}|{{range \$p, \$b := .HostConfig.PortBindings}}{{range \$b}}{{.HostIP}}:{{.HostPort}} {{end}}{{end}}|{{.Config.Image}}|{{index .Config.Labels \"${LABEL_PROXY_SPEC}\"}}" \
    "$@"
}
# image_facts_cmd IMAGE - "ID|DIGEST..." (its registry digests, when it came from one).
image_facts_cmd() { printf '%s\n' "${DOCKER}" image inspect -f '{{.Id}}|{{range .RepoDigests}}{{.}} {{end}}' "$1"; }
image_created_cmd() { printf '%s\n' "${DOCKER}" image inspect -f '{{.Created}}' "$1"; }
# Image retention (cleanup-images.sh): every container, the images they use,
# and the images of one repository.
containers_all_cmd() { printf '%s\n' "${DOCKER}" ps -aq --no-trunc; }
containers_image_cmd() { printf '%s\n' "${DOCKER}" inspect -f '{{.Image}}' "$@"; }
repo_images_cmd() { printf '%s\n' "${DOCKER}" images --no-trunc --format '{{.ID}} {{.Tag}}' "$1"; }

# run_cmd BUILDER ARGS... - run the command line a builder prints. A command
# that is not a read may change what the engine read before (see load_facts):
# that is forgotten first.
run_cmd() {
  local cmd=()
  mapfile -t cmd < <("$@")
  case "$1" in
    container_facts_cmd | image_facts_cmd | image_created_cmd | network_inspect_cmd | docker_version_cmd | \
      containers_all_cmd | containers_image_cmd | repo_images_cmd | container_logs_cmd | http_probe_cmd | warm_up_cmd) ;;
    proxy_api_cmd) [[ "$2" == "show "* ]] || PROXY_VIEW="" ;;
    image_pull_cmd | image_remove_cmd) IMAGE_FACTS=() ;;
    *) forget_facts ;;
  esac
  "${cmd[@]}"
}

# ---- reading state -----------------------------------------------------------
# Each docker call costs 50-150 ms on a busy host, and a switch to the warm
# standby is little else; so a run of the engine reads its own containers (the
# proxy and both slots) with one call and keeps what it read (load_facts),
# likewise the proxy's servers (read_proxy_view) and the image it deploys
# (load_image_facts), until something may have changed them: run_cmd forgets
# before any command that is not a read, proxy_set before a state change,
# attempt after its subshell, pause_point after a pause, the gate before each
# new poll and finish() before it cleans up. Without load_facts (the
# scripts' other readers, the tests) every read asks Docker.

FACT_FIELDS=(name status health exit_code id image release ip bindings config_image spec)
declare -gA FACT_INDEX=()
for _i in "${!FACT_FIELDS[@]}"; do FACT_INDEX[${FACT_FIELDS[_i]}]=${_i}; done
unset _i
# NAME -> its facts line ("" when it does not exist), while FACTS_LOADED.
declare -gA FACTS=()
FACTS_LOADED=""
# The proxy's answer to "show servers state api; show stat", while read.
PROXY_VIEW=""
# IMAGE -> "ID|DIGEST..." ("" when absent), once read.
declare -gA IMAGE_FACTS=()

# facts_lines NAME... - the facts lines of the NAMEs that exist, without Docker's slash.
facts_lines() {
  local line
  while IFS= read -r line; do
    [[ "${line}" == */*"|"* ]] && printf '%s\n' "${line#/}"
  done < <(run_cmd container_facts_cmd "$@" 2>/dev/null || true)
}

# load_facts - read the proxy's and both slots' facts, unless already read.
load_facts() {
  [[ -z "${FACTS_LOADED}" ]] || return 0
  local name line
  FACTS=()
  for name in "${PROXY}" "$(slot_container blue)" "$(slot_container green)"; do FACTS[${name}]=""; done
  while IFS= read -r line; do
    name="${line%%|*}"
    [[ -z "${FACTS[${name}]+known}" ]] || FACTS[${name}]="${line}"
  done < <(facts_lines "${!FACTS[@]}")
  FACTS_LOADED=1
}

forget_facts() {
  FACTS=()
  FACTS_LOADED=""
  PROXY_VIEW=""
}

# container_facts NAME - container NAME's facts line (from what load_facts read
# when it read NAME, else asked now); status 1 when NAME does not exist.
container_facts() {
  local line
  if [[ -n "${FACTS_LOADED}" && -n "${FACTS[$1]+known}" ]]; then
    line="${FACTS[$1]}"
  else
    line=$(facts_lines "$1" | awk -F'|' -v n="$1" '$1 == n')
  fi
  [[ -n "${line}" ]] || return 1
  printf '%s\n' "${line}"
}

# fact FIELD LINE - FIELD (one of FACT_FIELDS) of a facts line.
fact() {
  local fields=()
  IFS='|' read -r -a fields <<<"$2"
  printf '%s\n' "${fields[FACT_INDEX[$1]]:-}"
}

# container_fact NAME FIELD - FIELD of container NAME; status 1 when NAME does not exist.
container_fact() {
  local line
  line=$(container_facts "$1") || return 1
  fact "$2" "${line}"
}

# container_state NAME - running, exited, created, restarting, ... or absent.
container_state() {
  local state
  state=$(container_fact "$1" status) || state=""
  echo "${state:-absent}"
}

# slot_release SLOT - the release tag a slot's container was started with.
slot_release() { container_fact "$(slot_container "$1")" release || true; }

slot_image_id() { container_fact "$(slot_container "$1")" image || true; }

# load_image_facts IMAGE - read IMAGE's ID and digests once (image_id, image_digest).
load_image_facts() {
  [[ -z "${IMAGE_FACTS[$1]+known}" ]] || return 0
  IMAGE_FACTS[$1]=$(run_cmd image_facts_cmd "$1" 2>/dev/null) || IMAGE_FACTS[$1]=""
}

# image_fact IMAGE N - field N of IMAGE's facts (1 ID, 2 digests); status 1 when absent.
image_fact() {
  local facts
  if [[ -n "${IMAGE_FACTS[$1]+known}" ]]; then facts="${IMAGE_FACTS[$1]}"; else facts=$(run_cmd image_facts_cmd "$1" 2>/dev/null) || facts=""; fi
  [[ -n "${facts}" ]] || return 1
  cut -d'|' -f "$2" <<<"${facts}"
}

image_id() { image_fact "$1" 1; }

# image_digest IMAGE - the registry digest when the image came from one, else its ID.
image_digest() {
  local digest
  digest=$(image_fact "$1" 2 | awk '{print $1}')
  if [[ -n "${digest}" ]]; then echo "${digest#*@}"; else image_id "$1"; fi
}

proxy_api() { run_cmd proxy_api_cmd "$1"; }

# read_proxy_view - the proxy's servers and statistics, in one runtime-API
# session, kept in PROXY_VIEW (see load_facts); status 1 when it does not answer.
read_proxy_view() {
  local view
  view=$(proxy_api "show servers state api; show stat") || return 1
  PROXY_VIEW="${view}"
}

# proxy_set COMMAND - state changes on the runtime API ("set server api/blue
# state ready; ..."): HAProxy answers a change that worked with nothing and one
# that did not with a message ("No such server.", "Require 'backend/server'."),
# always with exit status 0. Any text in the answer is a failure, in PROXY_ERROR,
# but what HAProxy says when a "set server B/S addr IP port P" in COMMAND worked:
# that the address (and port) changed to IP (P), or that they needed no change.
# shellcheck disable=SC2034 # read by the scripts that source this file
PROXY_ERROR=""
# shellcheck disable=SC2034
proxy_set() {
  local out line ok="" rest=""
  PROXY_ERROR=""
  PROXY_VIEW=""
  if ! out=$(proxy_api "$1" 2>&1); then
    PROXY_ERROR="runtime API unreachable for '$1': $(tr '\n' ' ' <<<"${out}")"
    return 1
  fi
  if [[ "$1" =~ set\ server\ [^\ ]+\ addr\ ([^\ ]+)\ port\ ([0-9]+) ]]; then
    ok="^(IP changed from '[^']*' to '${BASH_REMATCH[1]//./\\.}'|no need to change the addr), "
    ok+="(port changed from '[^']*' to '${BASH_REMATCH[2]}'|no need to change the port) by 'stats socket command'$"
  fi
  while IFS= read -r line; do
    [[ -n "${ok}" && "${line}" =~ ${ok} ]] || rest+="${line} "
  done <<<"${out}"
  rest=$(tr -s '[:space:]' ' ' <<<"${rest}")
  rest="${rest# }"
  rest="${rest% }"
  [[ -z "${rest}" ]] && return 0
  PROXY_ERROR="runtime API refused '$1': ${rest}"
  return 1
}

proxy_running() { [[ "$(container_state "${PROXY}")" == running ]]; }

# proxy_drift - how the existing proxy container differs from what the
# settings ask for ("binding 0.0.0.0:3001, want 127.0.0.1:3001", "image X, want
# Y", or "settings (spec A, want B)" for limits and hardening), or nothing (also
# when there is no proxy). Such changes only take effect in a new container.
proxy_drift() {
  local binding image spec want_binding want_image want_spec out=""
  binding=$(container_fact "${PROXY}" bindings) || return 0
  image=$(container_fact "${PROXY}" config_image)
  spec=$(container_fact "${PROXY}" spec)
  binding="${binding% }"
  want_binding="${PROXY_BIND}:${PROXY_PORT}"
  want_image=$(proxy_image)
  want_spec=$(proxy_spec_id)
  [[ "${binding}" == "${want_binding}" ]] || out+="binding ${binding:-none}, want ${want_binding}; "
  [[ "${image}" == "${want_image}" ]] || out+="image ${image}, want ${want_image}; "
  [[ -n "${out}" || "${spec}" == "${want_spec}" ]] || out+="settings (spec ${spec:-none}, want ${want_spec}); "
  printf '%s' "${out%; }"
}

# proxy_server_field SLOT COLUMN - a column of `show stat` for backend api's server SLOT
# (5 = current sessions, 18 = status: "no check" when in rotation, MAINT, DRAIN).
proxy_server_field() {
  proxy_api "show stat" | awk -F, -v s="$1" -v c="$2" '$1 == "api" && $2 == s {print $c}'
}

# proxy_view COMMAND - what read_proxy_view read (it holds COMMAND's answer
# among others: each reader picks its own lines), else COMMAND's answer now.
proxy_view() {
  if [[ -n "${PROXY_VIEW}" ]]; then printf '%s\n' "${PROXY_VIEW}"; else proxy_api "$1"; fi
}

# proxy_server_addr SLOT - "ADDRESS PORT" of backend api's server SLOT.
proxy_server_addr() {
  proxy_view "show servers state api" | awk -v s="$1" '$2 == "api" && $4 == s && NF >= 19 {print $5, $19}'
}

# live_slot - the slot the proxy sends traffic to (its runtime state is the
# truth; the active-slot file when the proxy is not running), or nothing.
live_slot() {
  local slot stat live=()
  if proxy_running && stat=$(proxy_view "show stat"); then
    for slot in blue green; do
      if awk -F, -v s="${slot}" '$1 == "api" && $2 == s && $18 !~ /^MAINT/ {found = 1} END {exit !found}' <<<"${stat}" &&
        [[ "$(container_state "$(slot_container "${slot}")")" == running ]]; then
        live+=("${slot}")
      fi
    done
    if ((${#live[@]} == 2)); then cat "${ACTIVE_FILE}" 2>/dev/null || echo "${live[0]}"; else echo "${live[*]:-}"; fi
    return 0
  fi
  cat "${ACTIVE_FILE}" 2>/dev/null || true
}

# ---- proxy configuration -------------------------------------------------------

# render_proxy_config ACTIVE_SLOT - write haproxy.cfg with ACTIVE_SLOT (may be
# empty) in rotation. Read by HAProxy only when it (re)starts.
render_proxy_config() {
  local active="$1" blue=disabled green=disabled tmp
  [[ "${active}" == blue ]] && blue=""
  [[ "${active}" == green ]] && green=""
  mkdir -p "${PROXY_CONF_DIR}"
  chmod 0755 "${PROXY_CONF_DIR}"
  tmp="${PROXY_CONF_DIR}/.haproxy.cfg.$$"
  sed -e "s|@STACK_NAME@|${STACK_NAME}|g" -e "s|@APP_PORT@|${APP_PORT}|g" -e "s|@HEALTH_PATH@|${HEALTH_PATH}|g" \
    -e "s|@KEEPALIVE_TIMEOUT@|${PROXY_KEEPALIVE_TIMEOUT}s|" -e "s|@BLUE_STATE@|${blue}|" -e "s|@GREEN_STATE@|${green}|" "${PROXY_TEMPLATE}" >"${tmp}"
  chmod 0644 "${tmp}"
  mv -f "${tmp}" "${PROXY_CONF_DIR}/haproxy.cfg"
}

# persist_active_slot SLOT - so a restarted proxy comes up pointing at SLOT.
persist_active_slot() {
  render_proxy_config "$1"
  printf '%s\n' "$1" >"${ACTIVE_FILE}.tmp"
  mv -f "${ACTIVE_FILE}.tmp" "${ACTIVE_FILE}"
}

# ---- warm standby -------------------------------------------------------------
# STANDBY_FILE: "slot=S container=ID tag=T until=EPOCH pid=PID" while the
# previous release waits, running and out of rotation, until EPOCH; PID is the
# process that stops it then (deploy.sh --end-standby), which is the engine's own.

standby_field() {
  [[ -r "${STANDBY_FILE}" ]] || return 0
  tr ' ' '\n' <"${STANDBY_FILE}" | sed -n "s/^$1=//p"
}

# standby_timer_pid - the PID of STANDBY_FILE's timer while that process runs
# (a PID reused by another process is not it), else nothing.
standby_timer_pid() {
  local pid
  pid=$(standby_field pid)
  if [[ "${pid}" =~ ^[0-9]+$ ]] && tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -q -- '--end-standby'; then
    echo "${pid}"
  fi
  return 0
}

# cancel_standby_timer - a deploy or rollback is about to decide what happens
# to the standby slot itself: the timer that would stop it goes.
cancel_standby_timer() {
  local pid
  pid=$(standby_timer_pid)
  [[ -z "${pid}" ]] || kill "${pid}" 2>/dev/null || true
  rm -f "${STANDBY_FILE}"
}

# ---- lock ----------------------------------------------------------------------
# One deploy per environment. The lock file records its owner (pid, the pid's
# start time, host, expiry); checking and taking it happens under flock, so two
# deploys cannot both take it. An owner that died (SIGKILL) leaves a stale lock
# that the next deploy recovers; a live owner on this host is never displaced;
# an owner on another host (shared state directory) is trusted until it expires.

LOCK_HELD=""

proc_start_time() { sed -E 's/^.*\) //' "/proc/$1/stat" 2>/dev/null | awk '{print $20}'; }

lock_owner_field() { sed -n "s/^$1=//p" "${LOCK_FILE}" 2>/dev/null | head -n 1; }

# lock_is_stale - 0 when the recorded owner is gone (or, on another host, expired).
lock_is_stale() {
  local pid host start expires
  pid=$(lock_owner_field pid)
  host=$(lock_owner_field host)
  start=$(lock_owner_field start)
  expires=$(lock_owner_field expires)
  [[ -n "${pid}" && "${expires}" =~ ^[0-9]+$ ]] || return 0
  if [[ "${host}" == "$(hostname)" ]]; then
    [[ "$(proc_start_time "${pid}")" != "${start}" ]]
  else
    ((EPOCHSECONDS > expires))
  fi
}

lock_owner_summary() {
  printf 'pid %s on %s, deploying %s for %s since %s' "$(lock_owner_field pid)" "$(lock_owner_field host)" \
    "$(lock_owner_field tag)" "$(lock_owner_field actor)" "$(lock_owner_field since)"
}

# try_lock TAG - take the lock if free or stale; 1 when a live deploy holds it.
try_lock() {
  local tag="$1" guard now
  exec {guard}>"${STATE_DIR}/.lock-guard"
  flock -w 10 "${guard}" || { exec {guard}>&-; return 1; }
  if [[ -s "${LOCK_FILE}" ]] && ! lock_is_stale; then
    exec {guard}>&-
    return 1
  fi
  [[ -s "${LOCK_FILE}" ]] && warn "recovering a stale lock: $(lock_owner_summary) (that deploy is gone)"
  utc_now now
  {
    echo "pid=$$"
    echo "start=$(proc_start_time $$)"
    echo "host=$(hostname)"
    echo "since=${now}"
    echo "expires=$((EPOCHSECONDS + LOCK_TTL))"
    echo "tag=${tag}"
    echo "actor=$(deploy_actor)"
  } >"${LOCK_FILE}.tmp"
  mv -f "${LOCK_FILE}.tmp" "${LOCK_FILE}"
  exec {guard}>&-
  LOCK_HELD=1
}

# acquire_lock TAG WAIT_SECONDS - wait up to WAIT_SECONDS for a live lock, then refuse.
acquire_lock() {
  local tag="$1" deadline=$((EPOCHSECONDS + $2)) said=""
  mkdir -p "${STATE_DIR}"
  until try_lock "${tag}"; do
    if ((EPOCHSECONDS >= deadline)); then
      die "${DEPLOY_ENV} is locked by another deploy: $(lock_owner_summary)" \
        "wait for it to finish or retry with --lock-wait SECONDS; a killed deploy's lock is recovered automatically (${LOCK_FILE})" 3
    fi
    [[ -n "${said}" ]] || log "waiting for the deploy lock: $(lock_owner_summary)"
    said=1
    sleep 1
  done
}

release_lock() {
  [[ -n "${LOCK_HELD}" && "$(lock_owner_field pid)" == "$$" ]] && rm -f "${LOCK_FILE}"
  LOCK_HELD=""
}

# ---- release ledger --------------------------------------------------------------
# STATE_DIR/releases.jsonl: one JSON object per deploy attempt, appended, never
# rewritten: time, env, action, image, tag, digest, previous_tag, outcome (ok,
# failed), duration_s, actor, slot, reason.

deploy_actor() {
  local actor="${DEPLOY_ACTOR:-${GITHUB_ACTOR:-${SUDO_USER:-${USER:-$(id -un 2>/dev/null || echo unknown)}}}}"
  echo "${actor}"
}

# The ledger is read and written with jq only.

# ledger_append KEY VALUE ... - one JSON line; duration_s is a number. The line
# is built first and appended with one write, so a failure leaves no half line.
ledger_append() {
  local args=() line
  while (($# >= 2)); do
    if [[ "$1" == duration_s ]]; then args+=(--argjson "$1" "$2"); else args+=(--arg "$1" "$2"); fi
    shift 2
  done
  line=$(jq -cn "${args[@]}" '$ARGS.named') || return 1
  mkdir -p "${STATE_DIR}" || return 1
  # A last line cut short by a crash must not swallow this record.
  if [[ -s "${LEDGER}" && -n "$(tail -c 1 "${LEDGER}")" ]]; then line=$'\n'"${line}"; fi
  printf '%s\n' "${line}" >>"${LEDGER}"
}

# ledger_entries [FILTER] - the ledger's records, one JSON object per line (or
# what the jq FILTER makes of each, strings raw); a line that is not JSON (a
# write cut short by a crash) is skipped, not fatal. One jq: each start costs
# tens of ms on a busy host.
ledger_entries() {
  [[ -r "${LEDGER}" ]] || return 0
  jq -rcR "fromjson? // empty | select(type == \"object\") | ${1:-.}" "${LEDGER}"
}

# ledger_ok_tags - tags of successful releases, oldest first.
ledger_ok_tags() { ledger_entries 'select(.outcome == "ok") | .tag'; }

# ---- steps ---------------------------------------------------------------------

STEP_NAME=""
STEP_STARTED=0

# seconds_since VAR US - in VAR, the seconds (to a tenth) since US, microseconds
# as the digits of EPOCHREALTIME (whose separator follows the locale). No fork.
seconds_since() {
  local us=$((${EPOCHREALTIME//[!0-9]/} - $2))
  printf -v "$1" '%d.%d' $((us / 1000000)) $((us % 1000000 / 100000))
}

# engine_step NAME COMMAND... - one step of a flow, with errexit in force inside
# it. Never call it in a condition (bash ignores errexit there): a failing
# command ends the script through its EXIT trap, which calls report_failed_step.
engine_step() {
  local took
  STEP_NAME="$1"
  STEP_STARTED=${EPOCHREALTIME//[!0-9]/}
  shift
  log "step ${STEP_NAME}: start"
  "$@"
  seconds_since took "${STEP_STARTED}"
  log "step ${STEP_NAME}: done in ${took}s"
  STEP_NAME=""
}

# report_failed_step RC - for an EXIT trap: the step that was running failed.
report_failed_step() {
  [[ -n "${STEP_NAME}" ]] || return 0
  local took
  seconds_since took "${STEP_STARTED}"
  log "step ${STEP_NAME}: FAILED (exit $1) after ${took}s"
  STEP_NAME=""
}

# attempt NAME COMMAND... - a step whose failure must not end the flow (work
# after the switch): COMMAND runs in a subshell with errexit in force and its
# status lands in ATTEMPT_RC; attempt itself returns 0. Globals COMMAND sets
# are lost, and what the engine had read is forgotten (COMMAND may have changed
# it). Like engine_step, never call it in a condition.
ATTEMPT_RC=0
attempt() {
  local name="$1" start
  shift
  start=${EPOCHSECONDS}
  log "step ${name}: start"
  set +e
  (
    set -e
    "$@"
  )
  ATTEMPT_RC=$?
  set -e
  forget_facts
  if ((ATTEMPT_RC == 0)); then
    log "step ${name}: done in $((EPOCHSECONDS - start))s"
  else
    log "step ${name}: FAILED (exit ${ATTEMPT_RC}) after $((EPOCHSECONDS - start))s"
  fi
}

# ---- test hooks ------------------------------------------------------------------

# pause_point NAME - test-only: with DEPLOY_PAUSE_AFTER=NAME, create
# DEPLOY_PAUSE_DIR/paused-NAME and wait for DEPLOY_PAUSE_DIR/continue-NAME, so a
# test can kill the deploy at a known step.
pause_point() {
  [[ "${DEPLOY_PAUSE_AFTER:-}" == "$1" ]] || return 0
  local dir="${DEPLOY_PAUSE_DIR:-${STATE_DIR}}"
  touch "${dir}/paused-$1"
  log "test hook: paused after $1 (touch ${dir}/continue-$1 to go on)"
  # $$ is the script even inside attempt's subshell: stop waiting if it died.
  until [[ -e "${dir}/continue-$1" ]]; do
    kill -0 $$ 2>/dev/null || exit 1
    sleep 0.1
  done
  # The test may have changed containers meanwhile.
  forget_facts
}

# emit_event NAME KEY=VALUE... - a machine-readable log line with a ms timestamp.
emit_event() {
  local name="$1"
  shift
  # EPOCHREALTIME's separator follows the locale: keep the digits (microseconds).
  local us="${EPOCHREALTIME//[!0-9]/}"
  log "event=${name} epoch_ms=$((us / 1000)) $*"
}
