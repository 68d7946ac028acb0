#!/usr/bin/env bash
# The deploy engine in seconds, without Docker: lib/deploy.sh and deploy.sh run
# against tests/fake-docker, which records every docker call and answers from
# canned responses (see its header). Proves:
#   - builders: the exact argv of every *_cmd (golden text below), Flyway forced
#     on in a candidate that migrates and off otherwise, secrets only as a
#     read-only mount;
#   - run_cmd runs exactly what a builder prints;
#   - proxy_set: HAProxy's answers ("", "No such server.", unreachable);
#   - live_slot from `show stat` and container states; proxy_drift;
#   - the deploy lock (stale, live, other host, release) and the jq ledger;
#   - engine_step / attempt under errexit;
#   - deploy.sh end to end on the fake: a good deploy, a refused switch, and a
#     ledger that cannot be written after a good switch.
# The slow end-to-end proof with real containers is test-deploy.sh.
# Everything lives in a temp dir removed on exit. Prints "N passed, N failed".
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Before lib/deploy.sh reads it: every docker call of this suite goes to the fake.
export DOCKER="${HERE}/fake-docker"
# The engine's own code only (this suite ships with it and sources nothing else).
# shellcheck source=../lib/core.sh
source "${HERE}/../lib/core.sh"
# shellcheck source=assert.sh
source "${HERE}/assert.sh"
# shellcheck source=../lib/deploy.sh
source "${HERE}/../lib/deploy.sh"
export RM_LOG_TAG="test-engine"

SCRIPTS="$(cd "${HERE}/.." && pwd)"
# A copy of the engine folder with nothing around it (set up in setup).
UNIT=""
ENV_NAME=engine
# The proxy image the builders and proxy_drift expect.
export PROXY_IMAGE="restomarket/proxy:test"
export DEPLOY_ACTOR="test-engine"
# An IP the fake gives the candidate slot.
SLOT_IP=172.30.0.5
# HAProxy 2.6's answer to "set server api/SLOT addr IP port P" when it holds
# that address and port already (taken from the real proxy image).
ADDR_HELD_REPLY="no need to change the addr, no need to change the port by 'stats socket command'"
WORK=""
BG_PIDS=()
RC=0

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Runs the deploy engine's fast checks (a few seconds, no Docker): the command
builders, run_cmd, the HAProxy runtime-API error handling, live_slot,
proxy_drift, the deploy lock, the release ledger, engine_step/attempt, and
deploy.sh itself against a fake docker CLI (tests/fake-docker).
Needs jq, flock and timeout (the engine's own requirements).
USAGE
}

cleanup() {
  local pid
  for pid in "${BG_PIDS[@]}"; do kill "${pid}" 2>/dev/null || true; done
  [[ -n "${WORK}" ]] && rm -rf "${WORK}"
  return 0
}

# setup - temp WORK with an env file (local.env plus fixed test values, so the
# golden text does not depend on local.env), ENV_DIR, STATE_DIR and a fake curl.
setup() {
  # The engine's own needs; `make test-engine` installs them first, as Ansible does on hosts.
  require_tools
  # Engine settings the caller's environment could carry into load_env or the builders.
  unset RESTOMARKET_ENV_DIR RESTOMARKET_STATE_DIR RESTOMARKET_HOST_ENV_DIR DEPLOY_ENV DEPLOY_LOCK_WAIT DEPLOY_PAUSE_AFTER \
    HEALTH_START_PERIOD SLOT_MEMORY PIDS_LIMIT PROXY_MEMORY WARMUP_TIMEOUT WARMUP_PATHS WARMUP_ROUNDS \
    WATCH_SECONDS WATCH_MAX_5XX_PERCENT WATCH_MIN_REQUESTS WATCH_MAX_ERRORS PROXY_KEEPALIVE_TIMEOUT STANDBY_SECONDS
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/test-engine.XXXXXX")
  export FAKE_DOCKER_DIR="${WORK}/fake"
  mkdir -p "${FAKE_DOCKER_DIR}" "${WORK}/envs" "${WORK}/envdir/secrets" "${WORK}/state" "${WORK}/bin" "${WORK}/host"
  {
    cat "${SCRIPTS}/env/local.env"
    cat <<EOF

# test-engine overrides (later assignments win)
IMAGE_REPO=rmengine/api
STACK_NAME=rmengine
PROXY_PORT=3999
PROXY_BIND=127.0.0.1
APP_PORT=3000
HEALTH_PATH=/health
VERSION_PATH=/version
# One second more than the probe's wait (GATE_PROBE_WAIT, 5): a first probe
# that starts in the next second still waits 5 s (the calls checked below).
GATE_TIMEOUT=6
HEALTH_INTERVAL=2s
DRAIN_TIMEOUT=2
STOP_GRACE=30
LOCK_TTL=1800
KEEP_RELEASES=5
SLOT_MEMORY=
WATCH_SECONDS=0
WARMUP_ROUNDS=1
# The flows below stop the old slot; test_flow_standby keeps it (--standby).
STANDBY_SECONDS=0
ENV_DIR=${WORK}/envdir
STATE_DIR=${WORK}/state
EOF
  } >"${WORK}/envs/${ENV_NAME}.env"
  printf 'DATABASE_URL=jdbc:postgresql://db:5432/restomarket\nFLYWAY_ENABLED=false\n' >"${WORK}/envdir/api.env"
  printf 'db-secret-%s' "$$" >"${WORK}/envdir/secrets/DATABASE_PASSWORD"
  printf 'redis-secret-%s' "$$" >"${WORK}/envdir/secrets/REDIS_PASSWORD"
  printf 'token-secret-%s' "$$" >"${WORK}/envdir/secrets/API_WRITE_TOKEN"
  # deploy.sh checks the proxy with curl on the host: this one answers from curl.body.
  cat >"${WORK}/bin/curl" <<'CURL'
#!/usr/bin/env bash
printf '%s\n' "$*" >>"${0%/*}/curl.calls"
cat "${0%/*}/curl.body"
CURL
  chmod +x "${WORK}/bin/curl"
  export RESTOMARKET_DEPLOY_ENVS="${WORK}/envs"
  # Never this machine's /etc/restomarket: a host's own settings live in WORK/host.
  export RESTOMARKET_HOST_ENV_DIR="${WORK}/host"
  # shellcheck disable=SC2034 # both read by load_env in lib/deploy.sh
  DEPLOY_ENVS_DIR="${WORK}/envs" DEPLOY_HOST_ENV_DIR="${WORK}/host"
  UNIT="${WORK}/unit/engine"
  mkdir -p "${WORK}/unit"
  cp -a "${SCRIPTS}" "${UNIT}"
  load_env "${ENV_NAME}"
}

# ---- the fake docker ---------------------------------------------------------------

# fake_reset - no rules, no recorded calls, no canned answers; no container in
# the engine's look at its stack (stack_rule), a rule that comes first.
fake_reset() {
  rm -rf "${FAKE_DOCKER_DIR}"
  mkdir -p "${FAKE_DOCKER_DIR}/stack.d"
  : >"${FAKE_DOCKER_DIR}/stack"
  rule 0 stack "container inspect -f {{.Name}}* ${PROXY} rmengine-blue rmengine-green"
}

# rule RC FILE GLOB... - append an answer rule (see fake-docker's header).
rule() { printf '%s %s %s\n' "$1" "$2" "${*:3}" >>"${FAKE_DOCKER_DIR}/rules"; }

# answer NAME [TEXT] - a canned stdout, TEXT plus a newline, or stdin.
answer() {
  if (($# >= 2)); then printf '%s\n' "$2" >"${FAKE_DOCKER_DIR}/$1"; else cat >"${FAKE_DOCKER_DIR}/$1"; fi
}

# api_rule RC FILE COMMAND - a rule for one HAProxy runtime API command.
api_rule() { rule "$1" "$2" "exec ${PROXY} timeout 5 bash -c * _ ${PROXY_API_PORT} $3"; }

# The engine reads containers with container_facts_cmd: the proxy and both
# slots in one call (load_facts; stack_rule answers it), or one container alone
# (the candidate during the gate, any container outside that look; alone_rule).

# facts_line NAME STATUS [FIELD=VALUE...] - a line as container_facts_cmd prints
# it (FIELD: one of FACT_FIELDS); exit code 0, ID id-NAME and image
# sha256:image-NAME unless given, other fields empty.
facts_line() {
  local name="$1" status="$2" kv field out=()
  local -A value=([name]="/${name}" [status]="${status}" [exit_code]=0 [id]="id-${name}" [image]="sha256:image-${name}")
  shift 2
  for kv in "$@"; do value[${kv%%=*}]="${kv#*=}"; done
  for field in "${FACT_FIELDS[@]}"; do out+=("${value[${field}]:-}"); done
  (IFS='|'; printf '%s\n' "${out[*]}")
}

# stack_rule NAME STATE [FIELD=VALUE...] - NAME in the one look at the stack
# (absent: not in it). Like rules, the first word on a container counts.
stack_rule() {
  local file="${FAKE_DOCKER_DIR}/stack.d/$1"
  [[ -e "${file}" ]] && return 0
  if [[ "$2" == absent ]]; then : >"${file}"; else facts_line "$@" >"${file}"; fi
  cat "${FAKE_DOCKER_DIR}/stack.d/"* >"${FAKE_DOCKER_DIR}/stack"
}

# alone_rule NAME STATE [FIELD=VALUE...] - NAME read alone (absent: no such
# container). The first word on a container counts.
alone_rule() {
  [[ -e "${FAKE_DOCKER_DIR}/alone-$1" ]] && return 0
  if [[ "$2" == absent ]]; then
    : >"${FAKE_DOCKER_DIR}/alone-$1"
    rule 1 - "container inspect -f {{.Name}}* $1"
  else
    facts_line "$@" >"${FAKE_DOCKER_DIR}/alone-$1"
    rule 0 "alone-$1" "container inspect -f {{.Name}}* $1"
  fi
}

# state_rule NAME STATE [FIELD=VALUE...] - NAME, read either way.
state_rule() {
  stack_rule "$@"
  alone_rule "$@"
}

# calls - the recorded docker calls, one a line, arguments joined by spaces.
calls() { [[ -r "${FAKE_DOCKER_DIR}/calls" ]] && jq -r 'join(" ")' "${FAKE_DOCKER_DIR}/calls"; }

# stat_row PXNAME SVNAME SCUR STATUS - one `show stat` line in HAProxy's real
# column layout: 1 pxname, 2 svname, 5 scur, 8 stot, 18 status, 44 hrsp_5xx.
stat_row() {
  local f=() i
  for ((i = 0; i < 51; i++)); do f[i]=""; done
  f[0]="$1" f[1]="$2" f[2]=0 f[3]=0 f[4]="$3" f[5]=4 f[7]=120 f[8]=5120 f[9]=40960 f[13]=0 f[14]=0
  f[17]="$4" f[18]=1 f[19]=1 f[20]=0 f[43]=0
  (IFS=,; printf '%s\n' "${f[*]}")
}

# show_stat FILE BLUE_STATUS GREEN_STATUS [BLUE_SCUR GREEN_SCUR] - a canned `show stat`.
show_stat() {
  {
    echo '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,'
    stat_row http FRONTEND 0 OPEN
    stat_row api blue "${4:-0}" "$2"
    stat_row api green "${5:-0}" "$3"
    stat_row api BACKEND 0 UP
    echo
  } >"${FAKE_DOCKER_DIR}/$1"
}

# ---- helpers -----------------------------------------------------------------------

# golden - stdin with @DOCKER@, @WORK@ and @SPEC@ replaced.
golden() {
  local text
  text=$(cat)
  text="${text//@DOCKER@/${DOCKER}}"
  text="${text//@WORK@/${WORK}}"
  text="${text//@SPEC@/${GOLDEN_SPEC_ID:-}}"
  printf '%s' "${text}"
}

# expect_text NAME EXPECTED ACTUAL - like expect_eq, with a diff when they differ.
expect_text() {
  if [[ "$2" == "$3" ]]; then
    pass "$1"
  else
    fail "$1" "$(diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | head -n 20 | sed '2,$s/^/        /')"
  fi
}

# line_of VALUE TEXT - the first line number of TEXT that is exactly VALUE (0: none).
line_of() { awk -v v="$1" '$0 == v {print NR; found = 1; exit} END {if (!found) print 0}' <<<"$2"; }

# file_has NAME REGEX FILE - expect_match on a file's content.
file_has() { expect_match "$1" "$2" "$(cat "$3" 2>/dev/null)"; }

# ---- builders ------------------------------------------------------------------------

HARDENING_GOLDEN='--cap-drop
ALL
--security-opt
no-new-privileges
--read-only
--tmpfs
/tmp:rw,nosuid,nodev,size=64m
--pids-limit
512'

test_builders() {
  local spec
  expect_text "network_create_cmd argv" "$(golden <<'EOF'
@DOCKER@
network
create
--label
com.restomarket.stack=rmengine
rmengine
EOF
)" "$(network_create_cmd)"

  spec=$(golden <<EOF
-p
127.0.0.1:3999:8080
-v
@WORK@/state/proxy:/usr/local/etc/haproxy:ro
--memory
256m
${HARDENING_GOLDEN}
--log-opt
max-size=10m
--log-opt
max-file=3
restomarket/proxy:test
EOF
)
  # The label hashes the spec lines, the keep-alive setting and the config
  # template, so a change to any of them shows in proxy_drift.
  GOLDEN_SPEC_ID=$({ printf '%s\n' "${spec}" "keep-alive 75"; cat "${PROXY_TEMPLATE}"; } | sha256sum | cut -c1-12)
  expect_text "proxy_run_cmd argv (spec label = hash of spec, keep-alive and template)" "$(golden <<EOF
@DOCKER@
run
-d
--name
rmengine-proxy
--restart
unless-stopped
--network
rmengine
--label
com.restomarket.stack=rmengine
--label
com.restomarket.role=proxy
--label
com.restomarket.proxy-spec=@SPEC@
${spec}
EOF
)" "$(proxy_run_cmd)"

  local slot
  slot=$(slot_run_cmd blue rmengine/api:v2 v2 off) || true
  expect_text "slot_run_cmd argv (migrations off, no SLOT_MEMORY, no HEALTH_START_PERIOD)" "$(golden <<EOF
@DOCKER@
run
-d
--name
rmengine-blue
--network
rmengine
--label
com.restomarket.stack=rmengine
--label
com.restomarket.role=slot
--label
com.restomarket.slot=blue
--label
com.restomarket.release=v2
${HARDENING_GOLDEN}
--env-file
@WORK@/envdir/api.env
-v
@WORK@/envdir/secrets:/run/secrets:ro
-e
FLYWAY_ENABLED=false
--health-interval
2s
--stop-timeout
30
--log-opt
max-size=10m
--log-opt
max-file=3
rmengine/api:v2
EOF
)" "${slot}"
  expect_eq "slot_run_cmd, migrations off: -e FLYWAY_ENABLED=false" "-e FLYWAY_ENABLED=false" \
    "$(grep -x -B1 FLYWAY_ENABLED=false <<<"${slot}" | paste -sd ' ')"

  local migrating
  migrating=$(SLOT_MEMORY=768m HEALTH_START_PERIOD=90s slot_run_cmd green rmengine/api:v3 v3 on) || true
  expect_text "slot_run_cmd argv, migrations on, with SLOT_MEMORY=768m and HEALTH_START_PERIOD=90s" "$(golden <<EOF
@DOCKER@
run
-d
--name
rmengine-green
--network
rmengine
--label
com.restomarket.stack=rmengine
--label
com.restomarket.role=slot
--label
com.restomarket.slot=green
--label
com.restomarket.release=v3
${HARDENING_GOLDEN}
--memory
768m
-e
JAVA_TOOL_OPTIONS=-Xmx422m -Xms140m -XX:MaxMetaspaceSize=128m -XX:ReservedCodeCacheSize=64m -XX:MaxDirectMemorySize=32m
--env-file
@WORK@/envdir/api.env
-v
@WORK@/envdir/secrets:/run/secrets:ro
-e
FLYWAY_ENABLED=true
-e
SPRING_FLYWAY_CONNECT_RETRIES=10
-e
SPRING_FLYWAY_CONNECT_RETRIES_INTERVAL=5s
--health-interval
2s
--stop-timeout
30
--log-opt
max-size=10m
--log-opt
max-file=3
--health-start-period
90s
rmengine/api:v3
EOF
)" "${migrating}"
  if (($(line_of FLYWAY_ENABLED=true "${migrating}") > $(line_of --env-file "${migrating}"))) &&
    (($(line_of --env-file "${migrating}") > 0)); then
    pass "slot_run_cmd, migrations on: -e FLYWAY_ENABLED=true comes after --env-file (api.env may say false)"
  else
    fail "slot_run_cmd, migrations on: -e FLYWAY_ENABLED=true comes after --env-file (api.env may say false)" "${migrating}"
  fi

  test_secrets_as_files "slot_run_cmd, migrations on" "${migrating}"
  test_secrets_as_files "slot_run_cmd" "${slot}"

  expect_text "slot_stop_cmd argv" "$(golden <<'EOF'
@DOCKER@
stop
-t
30
rmengine-green
EOF
)" "$(slot_stop_cmd green)"
  expect_text "slot_keep_running_cmd argv" "$(golden <<'EOF'
@DOCKER@
update
--restart
unless-stopped
rmengine-blue
EOF
)" "$(slot_keep_running_cmd blue)"
  expect_text "container_remove_cmd argv" "$(golden <<'EOF'
@DOCKER@
rm
-f
rmengine-blue
EOF
)" "$(container_remove_cmd rmengine-blue)"
  expect_text "http_probe_cmd argv (one script argument, the wait and the paths after it)" "$(golden <<'EOF'
@DOCKER@
exec
rmengine-proxy
timeout
11
bash
-c
h=$1 p=$2 end=$((${EPOCHREALTIME//[^0-9]/} + $3 * 1000000)) first=1 out=""; shift 3; get() { exec 3<>"/dev/tcp/$1/$2" || exit; printf "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" "$3" "$1" >&3; s=""; read -r _ s _ <&3; while IFS= read -r l <&3 && ((${#l} > 1)); do :; done; echo "${s//[^0-9]/} $(tr -d "\r\n" <&3)"; }; for path in "$@"; do if [[ $out == unreachable ]]; then echo unreachable; continue; fi; while :; do t=${EPOCHREALTIME//[^0-9]/}; out=unreachable; if timeout 1 bash -c ": 3<>/dev/tcp/$h/$p" 2>/dev/null; then out=$(timeout 4 bash -c "$(declare -f get); get \"\$@\"" _ "$h" "$p" "$path" 2>/dev/null); out=${out:-unreachable}; fi; if [[ $out == unreachable ]] && ((${EPOCHREALTIME//[^0-9]/} - t > 500000)); then break; fi; if ((first && ${EPOCHREALTIME//[^0-9]/} < end)) && [[ $out == unreachable || $out == *OUT_OF_SERVICE* ]]; then sleep 0.1; continue; fi; break; done; first=0; echo "$out"; done
_
172.30.0.5
3000
2
/health
/version
EOF
)" "$(http_probe_cmd 172.30.0.5 3000 2 /health /version)"
  expect_text "warm_up_cmd argv (one script argument, the rounds, clients and paths after it)" "$(golden <<'EOF'
@DOCKER@
exec
rmengine-proxy
timeout
120
bash
-c
h=$1 p=$2 n=$3 c=$4; shift 4; get() { local s=""; if exec 3<>"/dev/tcp/$h/$p"; then printf "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" "$1" "$h" >&3; read -r _ s _ <&3 || s=""; read -r -d "" _ <&3; exec 3<&-; fi; [[ $s == 2?? ]] || echo "failed: GET $1: ${s:-no answer}"; }; client() { local i path w=$1; shift; for ((i = w; i < n; i += c)); do for path in "$@"; do get "$path"; done; done; }; mapfile -t bad < <(for ((w = 0; w < c; w++)); do client "$w" "$@" & done; wait); ((${#bad[@]} == 0)) || printf "%s\n" "${bad[@]}"; echo "warm-up: $((n * $#)) requests, ${#bad[@]} not 2xx"; ((${#bad[@]} == 0))
_
172.30.0.5
3000
200
4
/version
/api/v1/restaurants?page=0&size=20
EOF
)" "$(warm_up_cmd 172.30.0.5 3000 200 4 /version '/api/v1/restaurants?page=0&size=20')"
  expect_text "proxy_api_cmd argv" "$(golden <<'EOF'
@DOCKER@
exec
rmengine-proxy
timeout
5
bash
-c
exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1; printf "%s\n" "$2" >&3; cat <&3
_
9999
set server api/blue state ready; set server api/green state maint
EOF
)" "$(proxy_api_cmd "set server api/blue state ready; set server api/green state maint")"
}

# argv_of BUILDER ARGS... - the builder's argv on one line, arguments joined by
# " | ", the docker CLI as @DOCKER@.
argv_of() {
  local out
  out=$("$@" | sed "s#^${DOCKER}\$#@DOCKER@#" | sed ':a;N;$!ba;s/\n/ | /g')
  printf '%s' "${out}"
}

# The builders of every other docker call: state reads, pulls, logs, retention.
test_more_builders() {
  local name want
  local -a call
  while IFS=$'\t' read -r name want; do
    [[ -z "${name}" ]] && continue
    read -r -a call <<<"${name}"
    expect_text "${call[0]} argv" "${want}" "$(argv_of "${call[@]}")"
  done <<'EOF'
docker_version_cmd	@DOCKER@ | version | -f | {{.Server.Version}}
network_inspect_cmd	@DOCKER@ | network | inspect | rmengine
image_pull_cmd rmengine/api:v2	@DOCKER@ | pull | rmengine/api:v2
image_remove_cmd rmengine/api:v1	@DOCKER@ | rmi | rmengine/api:v1
container_start_cmd rmengine-proxy	@DOCKER@ | start | rmengine-proxy
container_logs_cmd rmengine-green 15	@DOCKER@ | logs | --tail | 15 | rmengine-green
container_rename_cmd rmengine-proxy rmengine-proxy-retiring	@DOCKER@ | rename | rmengine-proxy | rmengine-proxy-retiring
proxy_stop_cmd rmengine-proxy-retiring	@DOCKER@ | stop | -t | 2 | rmengine-proxy-retiring
container_facts_cmd rmengine-proxy rmengine-blue	@DOCKER@ | container | inspect | -f | {{.Name}}|{{.State.Status}}|{{if .State.Health}}{{.State.Health.Status}}{{end}}|{{.State.ExitCode}}|{{.ID}}|{{.Image}}|{{index .Config.Labels "com.restomarket.release"}}|{{with index .NetworkSettings.Networks "rmengine"}}{{.IPAddress}}{{end}}|{{range $p, $b := .HostConfig.PortBindings}}{{range $b}}{{.HostIP}}:{{.HostPort}} {{end}}{{end}}|{{.Config.Image}}|{{index .Config.Labels "com.restomarket.proxy-spec"}} | rmengine-proxy | rmengine-blue
image_facts_cmd rmengine/api:v2	@DOCKER@ | image | inspect | -f | {{.Id}}|{{range .RepoDigests}}{{.}} {{end}} | rmengine/api:v2
image_created_cmd rmengine/api:v2	@DOCKER@ | image | inspect | -f | {{.Created}} | rmengine/api:v2
containers_all_cmd	@DOCKER@ | ps | -aq | --no-trunc
containers_image_cmd c1 c2	@DOCKER@ | inspect | -f | {{.Image}} | c1 | c2
repo_images_cmd rmengine/api	@DOCKER@ | images | --no-trunc | --format | {{.ID}} {{.Tag}} | rmengine/api
EOF
}

# test_secrets_as_files BUILDER ARGV - secrets reach the container as a
# read-only mount at /run/secrets, never as -e/--env and never by value.
test_secrets_as_files() {
  local name="$1" argv="$2" f secret bad=""
  expect_match "${name}: secrets mounted read-only at /run/secrets" \
    $'(^|\n)-v\n'"${WORK}/envdir/secrets:/run/secrets:ro"$'(\n|$)' "${argv}"
  for f in "${WORK}/envdir/secrets/"*; do
    secret=$(cat "${f}")
    grep -qF -- "${secret}" <<<"${argv}" && bad+="value of $(basename "${f}") "
    grep -A1 -xE -- '-e|--env' <<<"${argv}" | grep -q "^$(basename "${f}")=" && bad+="-e $(basename "${f}") "
  done
  expect_eq "${name}: no secret as -e or by value" "" "${bad}"
}

# ---- run_cmd ---------------------------------------------------------------------------

# probe_server MODE - a local HTTP server for the gate's probe and warm-up
# scripts, on a free 127.0.0.1 port (printed). /count: how many other requests
# it served; /version: v2; /health: UP ("up"), OUT_OF_SERVICE for 1 s then UP
# ("ready"), OUT_OF_SERVICE ("starting"), DOWN ("down"), DOWN after 2.5 s
# ("slow-down": readiness waiting out its database connection). "hang" answers
# everything after 6 s (like an address that is gone). HTTP/1.0, one request
# per connection, like the scripts.
probe_server() {
  exec python3 -u - "$1" <<'PY'
import http.server, sys, time
mode, began, served = sys.argv[1], time.monotonic(), [0]
class Probe(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if mode == "hang":
            time.sleep(6)
        if mode == "slow-down" and self.path == "/health":
            time.sleep(2.5)
        if self.path == "/count":
            code, body = 200, str(served[0])
        elif self.path == "/version":
            code, body = 200, '{"version":"v2"}'
        elif mode in ("down", "slow-down"):
            code, body = 503, '{"status":"DOWN"}'
        elif mode == "up" or (mode == "ready" and time.monotonic() - began > 1):
            code, body = 200, '{"status":"UP"}'
        else:
            code, body = 503, '{"status":"OUT_OF_SERVICE"}'
        served[0] += self.path != "/count"
        self.send_response(code)
        self.end_headers()
        self.wfile.write(body.encode())
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Probe)
print(server.server_port, flush=True)
server.serve_forever()
PY
}

# probe_case NAME MODE WAIT WANT MIN_S MAX_S - the gate's probe script (what
# http_probe_cmd runs inside the proxy) run here with bash against
# probe_server MODE: its output must be WANT and take MIN_S to MAX_S seconds.
probe_case() {
  local name="$1" mode="$2" wait="$3" want="$4" min="$5" max="$6" argv=() port="" pid="" fd start out took
  if [[ "${mode}" == closed ]]; then
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  else
    exec {fd}< <(probe_server "${mode}")
    pid=$!
    BG_PIDS+=("${pid}")
    read -r -t 10 port <&"${fd}" || true
  fi
  mapfile -t argv < <(http_probe_cmd 127.0.0.1 "${port}" "${wait}" /health /version)
  start=$(date +%s%N)
  out=$(bash -c "${argv[7]}" "${argv[@]:8}" 2>/dev/null | tr '\n' '|')
  took=$((($(date +%s%N) - start) / 1000000))
  if [[ -n "${pid}" ]]; then
    kill "${pid}" 2>/dev/null
    exec {fd}<&-
  fi
  expect_eq "probe script, ${name}: what it prints" "${want}" "${out}"
  if ((took >= min * 1000 && took <= max * 1000)); then
    pass "probe script, ${name}: answers in ${min}-${max} s (${took} ms)"
  else
    fail "probe script, ${name}: answers in ${min}-${max} s" "took ${took} ms"
  fi
}

# The gate's probe script for real: a start-up under way is asked again inside
# the one exec until it is ready or WAIT runs out; any other answer returns at once.
test_probe_script() {
  if ! have python3; then
    skip "probe script against a local server (no python3 on this machine)"
    return 0
  fi
  probe_case "ready after 1 s, wait 4" ready 4 '200 {"status":"UP"}|200 {"version":"v2"}|' 1 3
  probe_case "still starting, wait 1" starting 1 '503 {"status":"OUT_OF_SERVICE"}|200 {"version":"v2"}|' 1 2
  probe_case "down, wait 4" down 4 '503 {"status":"DOWN"}|200 {"version":"v2"}|' 0 1
  probe_case "port closed, wait 1" closed 1 'unreachable|unreachable|' 1 2
  probe_case "port closed, wait 0" closed 0 'unreachable|unreachable|' 0 1
  probe_case "no answer in 4 s, wait 4" hang 4 'unreachable|unreachable|' 4 5
  probe_case "DOWN after 2.5 s, wait 0" slow-down 0 '503 {"status":"DOWN"}|200 {"version":"v2"}|' 2 3
  warm_up_case "all answer" up 0 '^warm-up: 21 requests, 0 not 2xx$'
  warm_up_case "health DOWN" down 1 '^(failed: GET /health: 503\|){7}warm-up: 21 requests, 7 not 2xx$'
}

# warm_up_case NAME MODE RC REGEX - the warm-up script (what warm_up_cmd runs
# inside the proxy) run here with bash, 7 rounds of /version /health /version
# shared by 3 clients, against probe_server MODE: exit RC and its output (lines
# joined by "|") matching REGEX.
warm_up_case() {
  local name="$1" mode="$2" rc="$3" regex="$4" argv=() port="" pid fd out got=0
  exec {fd}< <(probe_server "${mode}")
  pid=$!
  BG_PIDS+=("${pid}")
  read -r -t 10 port <&"${fd}" || true
  mapfile -t argv < <(warm_up_cmd 127.0.0.1 "${port}" 7 3 /version /health /version)
  out=$(bash -c "${argv[7]}" "${argv[@]:8}" 2>/dev/null | tr '\n' '|') || got=$?
  expect_eq "warm-up script, ${name}: 21 requests reached the server" 21 "$(curl -s -m 5 "http://127.0.0.1:${port}/count")"
  kill "${pid}" 2>/dev/null
  exec {fd}<&-
  expect_eq "warm-up script, ${name}: exit status" "${rc}" "${got}"
  expect_match "warm-up script, ${name}: the failures and the count" "${regex}" "${out%|}"
}


test_run_cmd() {
  local want
  fake_reset
  rule 0 - "run -d --name rmengine-blue *"
  rule 7 - "stop -t 30 rmengine-green"
  rule 0 - "exec rmengine-proxy timeout 5 bash -c *"
  run_cmd slot_run_cmd blue rmengine/api:v2 v2 on >/dev/null 2>&1 || true
  want=$(slot_run_cmd blue rmengine/api:v2 v2 on | tail -n +2) || true
  expect_text "run_cmd slot_run_cmd: docker gets exactly the builder's argv" "${want}" \
    "$(tail -n 1 "${FAKE_DOCKER_DIR}/calls" | jq -r '.[]')"
  run_cmd http_probe_cmd "${SLOT_IP}" 3000 2 /health /version >/dev/null 2>&1 || true
  expect_eq "run_cmd http_probe_cmd: the bash -c script stays one argument (13 in all)" \
    "13 $(http_probe_cmd "${SLOT_IP}" 3000 2 /health /version | sed -n 8p)" \
    "$(tail -n 1 "${FAKE_DOCKER_DIR}/calls" | jq -r '"\(length) \(.[6])"')"
  RC=0
  run_cmd slot_stop_cmd green 2>/dev/null || RC=$?
  expect_eq "run_cmd returns docker's exit status" 7 "${RC}"
  expect_eq "run_cmd: one docker call per run, nothing else" 3 "$(wc -l <"${FAKE_DOCKER_DIR}/calls")"

  # What load_facts read serves every look until a command that is not a read.
  fake_reset
  state_rule rmengine-green running release=v1
  rule 0 - "update --restart no rmengine-green"
  api_rule 0 - "show stat"
  expect_eq "load_facts: the stack in one docker call, then no more for its containers" "running v1 running v1 1" \
    "$({ load_facts && container_state rmengine-green && slot_release green && proxy_api "show stat" >/dev/null &&
      container_state rmengine-green && slot_release green && grep -c '^\["container"' "${FAKE_DOCKER_DIR}/calls"; } | paste -sd ' ')"
  : >"${FAKE_DOCKER_DIR}/calls"
  expect_eq "run_cmd of a command that is not a read forgets them: the next look asks Docker" "running 2" \
    "$({ load_facts && run_cmd slot_standby_cmd green && container_state rmengine-green &&
      grep -c '^\["container"' "${FAKE_DOCKER_DIR}/calls"; } | paste -sd ' ')"
  : >"${FAKE_DOCKER_DIR}/calls"
  expect_eq "... and attempt after its subshell" "2" \
    "$(load_facts && attempt noop true 2>/dev/null && container_state rmengine-green >/dev/null &&
      grep -c '^\["container"' "${FAKE_DOCKER_DIR}/calls")"
}

# ---- proxy_set -------------------------------------------------------------------------

test_proxy_set() {
  fake_reset
  api_rule 0 - "set server api/blue state ready"
  answer no-such-server <<<$'No such server.\n'
  api_rule 0 no-such-server "set server api/purple state ready"
  answer require <<<$'Require \'backend/server\'.\n'
  api_rule 0 require "set server blue state ready"
  answer refused-connect.stderr <<<'bash: connect: Connection refused'
  : >"${FAKE_DOCKER_DIR}/refused-connect"
  api_rule 1 refused-connect "set server api/green state maint"

  RC=0
  proxy_set "set server api/blue state ready" || RC=$?
  expect_eq "proxy_set: an empty answer is success" "0 ''" "${RC} '${PROXY_ERROR}'"

  RC=0
  proxy_set "set server api/purple state ready" || RC=$?
  expect_eq "proxy_set: 'No such server.' is a failure, named in PROXY_ERROR" \
    "1 runtime API refused 'set server api/purple state ready': No such server." "${RC} ${PROXY_ERROR}"

  RC=0
  proxy_set "set server blue state ready" || RC=$?
  expect_eq "proxy_set: \"Require 'backend/server'.\" is a failure, named in PROXY_ERROR" \
    "1 runtime API refused 'set server blue state ready': Require 'backend/server'." "${RC} ${PROXY_ERROR}"

  RC=0
  proxy_set "set server api/green state maint" || RC=$?
  expect_match "proxy_set: runtime API unreachable (exec fails) is a failure" \
    "^1 runtime API unreachable for 'set server api/green state maint': .*Connection refused" "${RC} ${PROXY_ERROR}"

  # An address set with the switch: HAProxy 2.6's answers, word for word.
  local switch="set server api/blue addr 172.30.0.5 port 3000; set server api/blue state ready" text
  proxy_set_answer_case "changed: success" "${switch}" \
    "IP changed from '172.30.0.9' to '172.30.0.5', port changed from '8080' to '3000' by 'stats socket command'" ""
  proxy_set_answer_case "held: success" "${switch}" "${ADDR_HELD_REPLY}" ""
  text="IP changed from '172.30.0.9' to '172.30.0.50', no need to change the port by 'stats socket command'"
  proxy_set_answer_case "another IP: a failure" "${switch}" "${text}" "runtime API refused '${switch}': ${text}"
  text="no need to change the addr, port changed from '3000' to '30000' by 'stats socket command'"
  proxy_set_answer_case "another port: a failure" "${switch}" "${text}" "runtime API refused '${switch}': ${text}"
  proxy_set_answer_case "an answer to an address not asked: a failure" "set server api/blue state ready" \
    "${ADDR_HELD_REPLY}" "runtime API refused 'set server api/blue state ready': ${ADDR_HELD_REPLY}"
}

# proxy_set_answer_case NAME COMMAND TEXT ERROR - proxy_set COMMAND while the
# proxy answers TEXT (then nothing to each further change): success when ERROR
# is empty, else a failure with ERROR in PROXY_ERROR.
proxy_set_answer_case() {
  local name="$1" command="$2" text="$3" error="$4" rc=0
  fake_reset
  printf '%s\n\n\n' "${text}" >"${FAKE_DOCKER_DIR}/addr-answer"
  api_rule 0 addr-answer "set server api/blue*"
  proxy_set "${command}" || rc=$?
  expect_eq "proxy_set with an address (${name})" "$([[ -n "${error}" ]] && echo 1 || echo 0) ${error}" "${rc} ${PROXY_ERROR}"
}

# ---- the proxy configuration ------------------------------------------------------------------

# config_sections FILE - "SECTION NAME: LINE" for every non-comment line, so the
# structure HAProxy will parse can be checked without HAProxy.
config_sections() {
  awk '/^[a-z]/ {sec = $1 " " $2; next} /^[[:space:]]+[a-z]/ {sub(/^[[:space:]]+/, ""); print sec ": " $0}' "$1"
}

test_proxy_config() {
  local saved="${PROXY_CONF_DIR}" out
  PROXY_CONF_DIR="${WORK}/render"
  render_proxy_config green
  out=$(config_sections "${WORK}/render/haproxy.cfg")
  PROXY_CONF_DIR="${saved}"
  expect_eq "proxy config: each section once (global, resolvers, defaults, frontend http, backends writes, handover and api)" \
    "backend api|backend handover|backend writes|defaults |frontend http|global |resolvers docker" \
    "$(grep -E '^[a-z]' "${WORK}/render/haproxy.cfg" | awk '{print $1 " " $2}' | sort | paste -sd '|')"
  expect_match "proxy config: the frontend sends traffic to backend api" $'(^|\n)frontend http: default_backend api(\n|$)' "${out}"
  expect_match "proxy config: the handover flag answers 503 on the health path only while raised" \
    $'(^|\n)frontend http: http-request return status 503 [^\n]* if \\{ path /health \\} \\{ nbsrv\\(handover\\) gt 0 \\}' "${out}"
  expect_match "proxy config: the flag is a server of backend handover, down until the engine raises it" \
    $'(^|\n)backend handover: server flag 127.0.0.1:9 disabled(\n|$)' "${out}"
  expect_match "proxy config: green (the live slot) in rotation, blue in maintenance" \
    $'backend api: server blue rmengine-blue:3000 disabled\nbackend api: server green rmengine-green:3000 *(\n|$)' "${out}"
  expect_eq "proxy config: every server line is in a backend" "" "$(grep -E '^(frontend|defaults|global|resolvers)[^:]*: server ' <<<"${out}" || true)"
  expect_eq "proxy config: no placeholder left" "" "$(grep -v '^[[:space:]]*#' "${WORK}/render/haproxy.cfg" | grep -o '@[A-Z_]*@' || true)"
  expect_match "proxy config: idle client connections kept ${PROXY_KEEPALIVE_TIMEOUT_DEFAULT} s by default (the load balancer closes first)" \
    $'(^|\n)defaults : timeout http-keep-alive '"${PROXY_KEEPALIVE_TIMEOUT_DEFAULT}"$'s(\n|$)' "${out}"
}

# The edge's write rate limit and response headers (issue #17): writes only,
# per client address (the load balancer's last X-Forwarded-For hop, believed
# from private peers only), 429 over the limit; defaults in the template.
test_proxy_edge_limits() {
  local out
  out=$(config_sections "${WORK}/render/haproxy.cfg")
  expect_match "proxy config: write rate limit defaults to 20 per 10 s (PROXY_WRITE_RATE_LIMIT, PROXY_WRITE_RATE_PERIOD)" \
    $'(^|\n)global : presetenv PROXY_WRITE_RATE_LIMIT 20\nglobal : presetenv PROXY_WRITE_RATE_PERIOD 10s(\n|$)' "${out}"
  expect_match "proxy config: writes are POST, PUT, PATCH and DELETE (never reads)" \
    $'(^|\n)frontend http: acl write method POST PUT PATCH DELETE(\n|$)' "${out}"
  expect_eq "proxy config: only writes are tracked and refused with 429" \
    "http-request track-sc0 var(txn.client) table writes if write|http-request deny deny_status 429 if write { sc_http_req_rate(0),sub(\"\${PROXY_WRITE_RATE_LIMIT}\") gt 0 }" \
    "$(sed -n 's/^frontend http: \(.*\(track-sc\|deny\).*\)/\1/p' <<<"${out}" | paste -sd '|')"
  expect_match "proxy config: the client is the last X-Forwarded-For hop from a private peer, else the source" \
    $'frontend http: http-request set-var\\(txn.client\\) req.hdr_ip\\(x-forwarded-for,-1\\) if from_private [^\n]*\nfrontend http: http-request set-var\\(txn.client\\) src unless' "${out}"
  expect_match "proxy config: X-Forwarded-Proto overwritten for public peers" \
    $'(^|\n)frontend http: http-request set-header X-Forwarded-Proto http unless from_private(\n|$)' "${out}"
  expect_match "proxy config: the rate table keeps a per-address rate over the period" \
    $'(^|\n)backend writes: stick-table type ip [^\n]* store "http_req_rate\\(\\$\\{PROXY_WRITE_RATE_PERIOD\\}\\)"(\n|$)' "${out}"
  expect_match "proxy config: nosniff on every answer, the proxy's own included (http-after-response)" \
    $'(^|\n)frontend http: http-after-response set-header X-Content-Type-Options nosniff(\n|$)' "${out}"
  expect_match "proxy config: HSTS on every answer to a client that came over TLS, where the API set none" \
    $'(^|\n)frontend http: http-after-response set-header Strict-Transport-Security "max-age=31536000; includeSubDomains" if \\{ var\\(txn.proto\\) -m str https \\} ![{] res.hdr\\(strict-transport-security\\) -m found \\}(\n|$)' "${out}"
}

# PROXY_KEEPALIVE_TIMEOUT: seconds, rendered into the configuration and part of
# the proxy's spec label, so a changed value recreates the proxy.
test_proxy_keepalive() {
  local file="${WORK}/envs/keepalive.env" spec_default spec_long value out
  expect_eq "PROXY_KEEPALIVE_TIMEOUT defaults to 75 s, above DigitalOcean's 60 s load balancer idle timeout" \
    75 "${PROXY_KEEPALIVE_TIMEOUT}"
  spec_default=$(proxy_spec_id)
  { cat "${WORK}/envs/${ENV_NAME}.env"; echo PROXY_KEEPALIVE_TIMEOUT=900; } >"${file}"
  out=$(load_env keepalive && PROXY_CONF_DIR="${WORK}/render-ka" && render_proxy_config blue &&
    grep -o 'timeout http-keep-alive .*' "${WORK}/render-ka/haproxy.cfg" && proxy_spec_id)
  spec_long=$(tail -n 1 <<<"${out}")
  expect_eq "PROXY_KEEPALIVE_TIMEOUT=900 is rendered as 900s" "timeout http-keep-alive 900s" "$(head -n 1 <<<"${out}")"
  expect_eq "a changed keep-alive changes the proxy's spec label (the proxy is recreated)" changed \
    "$([[ -n "${spec_long}" && "${spec_long}" != "${spec_default}" ]] && echo changed || echo "same: ${spec_default}")"
  for value in 0 abc 75s -1; do
    { cat "${WORK}/envs/${ENV_NAME}.env"; echo "PROXY_KEEPALIVE_TIMEOUT=${value}"; } >"${file}"
    RC=0
    (load_env keepalive) 2>"${WORK}/keepalive.err" || RC=$?
    expect_eq "load_env refuses PROXY_KEEPALIVE_TIMEOUT=${value} and names it" "1 1" \
      "${RC} $(grep -c "PROXY_KEEPALIVE_TIMEOUT" "${WORK}/keepalive.err")"
  done
}

# ---- live_slot and proxy_drift -------------------------------------------------------------

# live_case NAME WANT PROXY_STATE BLUE GREEN BLUE_STATE GREEN_STATE ACTIVE_FILE
# - live_slot with the proxy in PROXY_STATE, `show stat` saying BLUE/GREEN for
# the servers, the slot containers in BLUE_STATE/GREEN_STATE and the
# active-slot file holding ACTIVE_FILE ("-": no file); asking Docker and the
# proxy each time, then from what a deploy reads first (load_facts: one docker
# call; read_proxy_view: servers and statistics in one runtime-API session).
live_case() {
  local name="$1" want="$2"
  fake_reset
  state_rule rmengine-proxy "$3"
  show_stat stat "$4" "$5"
  api_rule 0 stat "show stat"
  servers_answer servers "${SLOT_IP}"
  cat "${FAKE_DOCKER_DIR}/servers" "${FAKE_DOCKER_DIR}/stat" >"${FAKE_DOCKER_DIR}/view"
  api_rule 0 view "show servers state api; show stat"
  state_rule rmengine-blue "$6"
  state_rule rmengine-green "$7"
  rm -f "${ACTIVE_FILE}"
  [[ "$8" == - ]] || printf '%s\n' "$8" >"${ACTIVE_FILE}"
  expect_eq "live_slot: ${name}" "${want}" "$(live_slot)"
  : >"${FAKE_DOCKER_DIR}/calls"
  expect_eq "live_slot: ${name} (from what a deploy read first)" "${want}" \
    "$(load_facts && { ! proxy_running || read_proxy_view; } && live_slot)"
  expect_eq "live_slot: ${name}: one docker call, one more for the proxy's view when it runs" \
    "$(if [[ "$3" == running ]]; then echo 2; else echo 1; fi)" "$(wc -l <"${FAKE_DOCKER_DIR}/calls")"
}

test_live_slot() {
  live_case "blue in rotation (no check), green MAINT: blue, whatever the file says" blue \
    running "no check" MAINT running running green
  live_case "green UP, blue MAINT: green" green running MAINT UP running running -
  live_case "both MAINT: nothing" "" running MAINT MAINT running running blue
  live_case "both in rotation: the active-slot file decides (green)" green \
    running "no check" "no check" running running green
  live_case "both in rotation: the active-slot file decides (blue)" blue \
    running "no check" DRAIN running running blue
  live_case "in rotation but its container exited: not live" "" \
    running "no check" MAINT exited running green
  live_case "proxy not running: the active-slot file" green exited "no check" MAINT running running green
  live_case "no proxy and no active-slot file: nothing" "" absent "no check" MAINT running running -
}

# drift_case NAME REGEX [BINDINGS IMAGE SPEC] - proxy_drift with the proxy
# container bound to BINDINGS, from IMAGE, labelled SPEC (none: no proxy container).
drift_case() {
  fake_reset
  if (($# >= 5)); then
    state_rule rmengine-proxy running "bindings=$3" "config_image=$4" "spec=$5"
  else
    state_rule rmengine-proxy absent
  fi
  expect_match "proxy_drift: $1" "$2" "$(proxy_drift)"
}

test_proxy_drift() {
  local spec
  spec=$(proxy_spec_id) || true
  drift_case "same binding, image and spec: nothing" '^$' "127.0.0.1:3999 " "${PROXY_IMAGE}" "${spec}"
  drift_case "other binding: names both" 'binding 0\.0\.0\.0:3999, want 127\.0\.0\.1:3999' \
    "0.0.0.0:3999 " "${PROXY_IMAGE}" "${spec}"
  drift_case "other image: names both" "image haproxy:old, want ${PROXY_IMAGE}" "127.0.0.1:3999 " haproxy:old "${spec}"
  drift_case "other limits (spec label): says so" "spec 0123456789ab, want ${spec}" \
    "127.0.0.1:3999 " "${PROXY_IMAGE}" 0123456789ab
  drift_case "no proxy container: nothing" '^$'
}

# ---- lock ---------------------------------------------------------------------------------

# write_lock PID START HOST EXPIRES - a lock file as another deploy leaves it.
write_lock() {
  mkdir -p "${STATE_DIR}"
  printf 'pid=%s\nstart=%s\nhost=%s\nsince=2026-01-01T00:00:00Z\nexpires=%s\ntag=v-other\nactor=someone\n' \
    "$1" "$2" "$3" "$4" >"${LOCK_FILE}"
}

# take_lock NAME WANT_RC - try_lock in this shell; stderr kept in WORK/lock.err.
take_lock() {
  RC=0
  try_lock "v-test" 2>"${WORK}/lock.err" || RC=$?
  expect_eq "$1" "$2" "${RC}"
}

test_lock() {
  local dead live later host
  host=$(hostname)
  later=$(($(date +%s) + 600))
  sh -c 'exit 0' &
  dead=$!
  wait "${dead}" || true
  sleep 60 &
  live=$!
  BG_PIDS+=("${live}")

  write_lock "${dead}" 12345 "${host}" "${later}"
  check "lock of a dead pid on this host is stale" lock_is_stale
  take_lock "a dead owner's lock is taken over" 0
  file_has "taking it over warns: recovering a stale lock" "WARNING: recovering a stale lock: pid ${dead} on ${host}" \
    "${WORK}/lock.err"
  expect_eq "the lock now names this shell" "$$ ${host} v-test" \
    "$(lock_owner_field pid) $(lock_owner_field host) $(lock_owner_field tag)"
  release_lock
  check_fails "release_lock removes its own lock" test -e "${LOCK_FILE}"

  write_lock "${live}" 12345 "${host}" "${later}"
  check "a live pid with another start time (pid reused) is stale" lock_is_stale

  write_lock "${live}" "$(proc_start_time "${live}")" "${host}" "${later}"
  check_fails "a live owner on this host is not stale" lock_is_stale
  take_lock "a live owner on this host is not displaced" 1
  expect_eq "its lock file is untouched" "${live}" "$(lock_owner_field pid)"
  RC=0
  (acquire_lock v-test 0) 2>"${WORK}/lock.err" || RC=$?
  expect_eq "acquire_lock with wait 0 against a live owner: exit 3" 3 "${RC}"
  file_has "the refusal names the owner" "locked by another deploy: pid ${live} on ${host}, deploying v-other for someone" \
    "${WORK}/lock.err"
  LOCK_HELD=1
  release_lock
  expect_eq "release_lock leaves another owner's lock alone" "${live}" "$(lock_owner_field pid)"
  kill "${live}" 2>/dev/null || true
  wait "${live}" 2>/dev/null || true

  write_lock 1 999 other-host.example "${later}"
  check_fails "an owner on another host is trusted until it expires" lock_is_stale
  take_lock "a live lock of another host is not taken" 1
  write_lock 1 999 other-host.example "$(($(date +%s) - 1))"
  check "an expired lock of another host is stale" lock_is_stale
  take_lock "an expired lock of another host is taken over" 0
  file_has "taking it over warns: recovering a stale lock" "recovering a stale lock: pid 1 on other-host.example" \
    "${WORK}/lock.err"
  # shellcheck disable=SC2034 # read by release_lock in lib/deploy.sh
  LOCK_HELD=""
  release_lock
  check "release_lock without holding it removes nothing" test -e "${LOCK_FILE}"
  write_lock 1 999 other-host.example "12:00"
  check "a lock of another host with a malformed expiry is stale (not live forever)" lock_is_stale
  # shellcheck disable=SC2016 # literally, as a hostile lock file would hold it
  write_lock 1 999 other-host.example 'a[$(touch x)]'
  check "... and an expiry that is no number at all does not abort" lock_is_stale
  rm -f "${LOCK_FILE}"
}

# ---- ledger -----------------------------------------------------------------------------------

test_ledger() {
  local weird got
  rm -rf "${STATE_DIR}"
  weird=$'quote " and \' back\\slash \\n literal\nreal newline\ttab, unicode é ✓ 🚀 and {"json":1}'
  RC=0
  ledger_append time 2026-01-01T00:00:00Z tag v1 outcome ok reason "${weird}" duration_s 12 actor "${weird}" || RC=$?
  ledger_append time 2026-01-01T00:01:00Z tag v2 outcome failed reason "gate" duration_s 3 || RC=$?
  ledger_append time 2026-01-01T00:02:00Z tag v3 outcome ok reason "" duration_s 0 || RC=$?
  expect_eq "ledger_append of 3 records: exit 0" 0 "${RC}"
  expect_eq "one line per record" 3 "$(wc -l <"${LEDGER}")"
  got=$(ledger_entries | jq -j 'select(.tag == "v1") | .reason') || true
  expect_eq "a value with quotes, backslashes, newline, tab and unicode round-trips" "${weird}" "${got}"
  expect_eq "the same value in another key round-trips too" "${weird}" \
    "$(ledger_entries | jq -j 'select(.tag == "v1") | .actor')"
  expect_eq "duration_s is a JSON number" "number 12" \
    "$(ledger_entries | jq -r 'select(.tag == "v1") | "\(.duration_s | type) \(.duration_s)"')"
  expect_eq "ledger_ok_tags: outcome ok only, oldest first" "v1 v3" "$(ledger_ok_tags | paste -sd ' ')"
  if ledger_append tag v9 outcome ok duration_s "12s" 2>/dev/null; then
    fail "a non-numeric duration_s is refused"
  else
    pass "a non-numeric duration_s is refused"
  fi
  expect_eq "a refused record writes nothing" 3 "$(wc -l <"${LEDGER}")"

  printf 'not json at all\n42\n{"tag":"v4","outcome":"ok","rea' >>"${LEDGER}"
  RC=0
  got=$(ledger_ok_tags 2>&1) || RC=$?
  expect_eq "garbage, a non-object and a truncated last line are skipped, not fatal" "0 v1 v3" \
    "${RC} $(paste -sd ' ' <<<"${got}")"
  expect_eq "ledger_entries still returns the 3 records" 3 "$(ledger_entries | wc -l)"
  ledger_append time 2026-01-01T00:03:00Z tag v5 outcome ok duration_s 1
  expect_eq "a record after a truncated last line starts on a line of its own" "v1 v3 v5" \
    "$(ledger_ok_tags | paste -sd ' ')"
  local i
  for ((i = 0; i < 3000; i++)); do printf '{"tag":"b%d","outcome":"ok"}\n' "${i}"; done >>"${LEDGER}"
  expect_eq "a 3000-release ledger: ledger_ok_tags reads it all" 3003 "$(ledger_ok_tags | wc -l)"
  rm -rf "${STATE_DIR}"
  RC=0
  got=$(ledger_ok_tags) || RC=$?
  expect_eq "no ledger file: no records, exit 0" "0 " "${RC} ${got}"
}

# SLOT_MEMORY: docker's size syntax with a positive number, else refused by load_env.
test_memory_sizes() {
  local size
  expect_eq "memory_mb 768m" 768 "$(memory_mb 768m)"
  expect_eq "memory_mb 2G" 2048 "$(memory_mb 2G)"
  for size in abcm xg 1.5g 0m 768 -1m; do
    check_fails "memory_mb refuses '${size}'" memory_mb "${size}"
  done
  local file="${WORK}/envs/badmem.env"
  sed 's/^SLOT_MEMORY=.*/SLOT_MEMORY=abcm/' "${WORK}/envs/${ENV_NAME}.env" >"${file}"
  RC=0
  (load_env badmem) 2>"${WORK}/badmem.err" || RC=$?
  expect_eq "load_env refuses SLOT_MEMORY=abcm with its own message" "1 SLOT_MEMORY=abcm is not a size" \
    "${RC} $(grep -o 'SLOT_MEMORY=abcm is not a size' "${WORK}/badmem.err")"
}

# ---- engine_step / attempt ------------------------------------------------------------------

# fails_midway - a failing command followed by one that would succeed.
fails_midway() {
  false
  touch "${WORK}/reached"
}

test_steps() {
  local rc
  rm -f "${WORK}/reached"
  ATTEMPT_RC=0
  attempt midway fails_midway 2>"${WORK}/attempt.err"
  expect_eq "attempt: errexit stops the function at the failing command (ATTEMPT_RC 1)" "1 absent" \
    "${ATTEMPT_RC} $([[ -e "${WORK}/reached" ]] && echo reached || echo absent)"
  pass "attempt: its caller goes on after a failure"
  file_has "attempt logs the failed step" "step midway: FAILED \(exit 1\)" "${WORK}/attempt.err"
  attempt fine true 2>/dev/null
  expect_eq "attempt of a command that succeeds: ATTEMPT_RC 0" 0 "${ATTEMPT_RC}"

  set +e
  (
    set -e
    trap 'report_failed_step $?' EXIT
    engine_step midway fails_midway
    touch "${WORK}/after-step"
  ) 2>"${WORK}/step.err"
  rc=$?
  set -e
  expect_eq "engine_step: a failing step ends the (sub)shell with its status" "1 absent absent" \
    "${rc} $([[ -e "${WORK}/reached" ]] && echo reached || echo absent) $([[ -e "${WORK}/after-step" ]] && echo reached || echo absent)"
  file_has "report_failed_step logs 'step NAME: FAILED'" "step midway: FAILED \(exit 1\)" "${WORK}/step.err"
  (engine_step fine true) 2>"${WORK}/step.err" || true
  file_has "engine_step of a good step logs done" "step fine: done in" "${WORK}/step.err"
}

# ---- deploy.sh on the fake -------------------------------------------------------------------------

# flow_rules STATE_DIR - a host where green serves v1 and a deploy of v2
# succeeds end to end: network and proxy exist (as the settings want them with
# STATE_DIR), the runtime API answers, blue (absent) becomes healthy and answers
# /health and /version with v2, green drains at once. Add rules before calling
# this to override an answer (the first match wins).
flow_rules() {
  local spec
  # The proxy spec names its config directory, which is in STATE_DIR.
  spec=$(PROXY_CONF_DIR="$1/proxy" proxy_spec_id) || true
  show_stat stat-live-green MAINT "no check"
  servers_answer servers "${SLOT_IP}"
  # What the engine reads first: both runtime-API answers in one session.
  cat "${FAKE_DOCKER_DIR}/servers" "${FAKE_DOCKER_DIR}/stat-live-green" >"${FAKE_DOCKER_DIR}/view"
  answer image-facts "sha256:0123456789abcdef|"
  answer container-id 4f1e2d3c4b5a
  printf '200 {"status":"UP"}\n200 {"version":"v2","commit":"test"}\n' >"${FAKE_DOCKER_DIR}/probe-v2"
  answer warm-up "warm-up: 3 requests, 0 not 2xx"
  printf '{"version":"v2","commit":"test"}\n' >"${WORK}/bin/curl.body"

  rule 0 - "version -f {{.Server.Version}}"
  rule 0 - network inspect rmengine
  # The stack as the deploy finds it: the proxy and green (v1, live) running,
  # no blue container; blue read alone is the candidate, once started.
  state_rule rmengine-proxy running "bindings=127.0.0.1:3999 " "config_image=${PROXY_IMAGE}" "spec=${spec}" ip=172.30.0.2
  state_rule rmengine-green running release=v1 id=9a8b7c6d5e4f ip=172.30.0.4
  stack_rule rmengine-blue absent
  alone_rule rmengine-blue running health=healthy release=v2 id=4f1e2d3c4b5a image=sha256:0123456789abcdef "ip=${SLOT_IP}"
  api_rule 0 view "show servers state api; show stat"
  api_rule 0 stat-live-green "show stat"
  api_rule 0 servers "show servers state api"
  # A new candidate's address goes with the switch (HAProxy's own words when
  # it held that address already, then one empty answer per state change).
  printf '%s\n\n\n\n' "${ADDR_HELD_REPLY}" >"${FAKE_DOCKER_DIR}/addr-held"
  api_rule 0 addr-held "set server api/blue addr ${SLOT_IP} port 3000; set server api/blue state ready*"
  api_rule 0 - "set server *"
  rule 0 image-facts "image inspect -f {{.Id}}|* rmengine/api:v2"
  rule 0 - "rm -f *"
  rule 0 container-id "run -d --name rmengine-blue *"
  rule 0 probe-v2 "exec rmengine-proxy timeout * bash -c * _ ${SLOT_IP} 3000 * /health /version"
  rule 0 warm-up "exec rmengine-proxy timeout * bash -c * _ ${SLOT_IP} 3000 *"
  rule 0 - "update --restart unless-stopped rmengine-blue"
  rule 0 - "stop -t 30 *"
  rule 0 - "logs *"
  rule 0 - "ps -aq --no-trunc"
  rule 0 - "images --no-trunc --format *"
}

# servers_answer FILE BLUE_ADDRESS - a canned `show servers state api`: blue at
# BLUE_ADDRESS, green at 172.30.0.4, both on port 3000.
servers_answer() {
  cat >"${FAKE_DOCKER_DIR}/$1" <<EOF
1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 api 1 blue $2 2 0 1 1 5 1 0 0 0 0 0 0 rmengine-blue 3000 - 0 0 - - 0
3 api 2 green 172.30.0.4 2 0 1 1 900 1 0 0 0 0 0 0 rmengine-green 3000 - 0 0 - - 0

EOF
}

# run_deploy STATE_DIR ARGS... - deploy.sh on the fake, run from a copy of the
# engine folder alone (UNIT), as a host has it; RC, WORK/deploy.out and .err.
run_deploy() {
  local state="$1"
  shift
  RC=0
  RESTOMARKET_STATE_DIR="${state}" PATH="${WORK}/bin:${PATH}" \
    timeout 60 "${UNIT}/deploy.sh" "$@" >"${WORK}/deploy.out" 2>"${WORK}/deploy.err" || RC=$?
}

# deploy_log_has NAME REGEX - the deploy's stderr matches (its tail is shown when not).
deploy_log_has() {
  if grep -qE -- "$2" "${WORK}/deploy.err"; then pass "$1"; else fail "$1" "$(tail -n 8 "${WORK}/deploy.err")"; fi
}

calls_have() { expect_match "$1" "$2" "$(calls)"; }

test_flow_good_deploy() {
  local state="${WORK}/flow-good"
  fake_reset
  flow_rules "${state}"
  run_deploy "${state}" v2 "${ENV_NAME}"
  expect_eq "deploy.sh on the fake: v1 -> v2 exits 0" 0 "${RC}"
  deploy_log_has "deploy.sh on the fake: deploy ok" "deploy ok: env=${ENV_NAME} tag=v2 slot=blue previous=v1"
  expect_eq "the ledger records v2 ok, previous v1, slot blue" "deploy v2 ok v1 blue number" \
    "$(jq -r '"\(.action) \(.tag) \(.outcome) \(.previous_tag) \(.slot) \(.duration_s | type)"' "${state}/releases.jsonl" 2>&1)"
  calls_have "the candidate applies the migrations: Flyway forced on in its start" $'(^|\n)run -d --name rmengine-blue [^\n]* -e FLYWAY_ENABLED=true [^\n]*rmengine/api:v2(\n|$)'
  expect_eq "no one-off migration container" 0 "$(call_line "run --name rmengine-migrate")"
  calls_have "one runtime API call gave the proxy blue's address and moved traffic from green to blue" \
    "bash -c [^"$'\n'"]* _ 9999 set server api/blue addr ${SLOT_IP} port 3000; set server api/blue state ready; set server api/green state maint"
  calls_have "the old slot was stopped with the grace period" $'(^|\n)stop -t 30 rmengine-green(\n|$)'
  expect_eq "the active-slot file names blue" blue "$(cat "${state}/active-slot" 2>&1)"
  check_fails "the lock is released" test -e "${state}/deploy.lock"
  if grep -q "differs from its settings" "${WORK}/deploy.err" || grep -qx "rm -f rmengine-proxy" <(calls); then
    fail "a proxy that matches its settings is kept" "$(grep -h -e "differs" -e "rm -f rmengine-proxy" "${WORK}/deploy.err" <(calls))"
  else
    pass "a proxy that matches its settings is kept"
  fi
  check_fails "every docker call was one the test expected" test -s "${FAKE_DOCKER_DIR}/unmatched"
}

test_flow_switch_refused() {
  local state="${WORK}/flow-refused"
  fake_reset
  printf '%s\n\nNo such server.\n\n\n' "${ADDR_HELD_REPLY}" >"${FAKE_DOCKER_DIR}/no-such-server"
  api_rule 0 no-such-server "set server api/blue addr ${SLOT_IP} port 3000; set server api/blue state ready; set server api/green state maint"
  flow_rules "${state}"
  run_deploy "${state}" v2 "${ENV_NAME}"
  expect_eq "refused switch: deploy.sh exits 1" 1 "${RC}"
  deploy_log_has "refused switch: the runtime API's answer is the reason (the address's answer is not)" \
    "ERROR: runtime API refused 'set server api/blue addr ${SLOT_IP//./\\.} port 3000; set server api/blue state ready; set server api/green state maint': No such server\.$"
  deploy_log_has "refused switch: deploy FAILED" "deploy FAILED: env=${ENV_NAME} tag=v2 live=v1"
  calls_have "refused switch: traffic is switched back to green" "_ 9999 set server api/green state ready; set server api/blue state maint"
  calls_have "refused switch: the candidate is removed" $'(^|\n)rm -f rmengine-blue(\n|$)'
  expect_eq "refused switch: the active-slot file names green" green "$(cat "${state}/active-slot" 2>&1)"
  expect_match "refused switch: the ledger records the failure and why" '^v2 failed .*No such server' \
    "$(jq -r '"\(.tag) \(.outcome) \(.reason)"' "${state}/releases.jsonl" 2>&1)"
}

# call_line REGEX - the number of the first recorded docker call matching REGEX (0: none).
call_line() {
  local all n
  all=$(calls)
  n=$(grep -nE -- "$1" <<<"${all}" | head -n 1 | cut -d: -f1) || true
  echo "${n:-0}"
}

# calls_in_order NAME REGEX... - each REGEX matches a recorded call after the previous one's.
calls_in_order() {
  local name="$1" previous=0 n regex all
  shift
  all=$(calls)
  for regex in "$@"; do
    n=$(awk -v from="${previous}" -v re="${regex}" 'NR > from && $0 ~ re && !n {n = NR} END {print n}' <<<"${all}")
    if [[ -z "${n}" ]]; then
      fail "${name}" "no call matching /${regex}/ after call ${previous}: $(tail -n +$((previous + 1)) <<<"${all}" | head -n 12)"
      return 0
    fi
    previous="${n}"
  done
  pass "${name}"
}

# --digest: the image is pulled and run as REPO:TAG@DIGEST, and the
# ledger records that digest; a malformed digest is refused before anything runs.
test_flow_digest() {
  local state="${WORK}/flow-digest" digest
  digest="sha256:$(printf 'ab%.0s' {1..32})"
  fake_reset
  rule 1 - "image inspect -f {{.Id}}|* rmengine/api:v2@${digest}"
  rule 0 - "pull rmengine/api:v2@${digest}"
  flow_rules "${state}"
  run_deploy "${state}" --digest "${digest}" v2 "${ENV_NAME}"
  expect_eq "deploy by digest: exits 0" 0 "${RC}"
  calls_in_order "deploy by digest: pulled and started by digest" \
    "^pull rmengine/api:v2@${digest}\$" "^run -d --name rmengine-blue .* rmengine/api:v2@${digest}\$"
  expect_eq "deploy by digest: the ledger records the image and its digest" "rmengine/api:v2@${digest} ${digest}" \
    "$(jq -r '"\(.image) \(.digest)"' "${state}/releases.jsonl" 2>&1)"
  fake_reset
  flow_rules "${WORK}/flow-digest-empty"
  run_deploy "${WORK}/flow-digest-empty" --digest "" v2 "${ENV_NAME}"
  expect_eq "an empty --digest (update-api.yml without one) deploys by tag" "0 0 1" \
    "${RC} $(call_line '@sha256:') $(calls | grep -c '^run -d --name rmengine-blue .* rmengine/api:v2$')"
  fake_reset
  flow_rules "${state}"
  run_deploy "${state}" --digest "sha256:1234" v2 "${ENV_NAME}"
  expect_eq "a malformed --digest is refused as bad usage (exit 2)" 2 "${RC}"
  deploy_log_has "... saying what a digest looks like" "invalid --digest 'sha256:1234'"
  deploy_log_has "... and what to give instead" "hint: give the registry digest as sha256: and 64 hex digits"
  expect_eq "... before any docker call" 0 "$(calls | wc -l)"
}

# The proxy's bind address changed (the fake proxy listens on 0.0.0.0): the
# host is behind a load balancer (host settings: PROXY_HANDOVER_WAIT=1).
test_flow_proxy_handover() {
  local state="${WORK}/flow-handover"
  fake_reset
  printf 'PROXY_HANDOVER_WAIT=1\n' >"${WORK}/host/${ENV_NAME}.env"
  state_rule rmengine-proxy running "bindings=0.0.0.0:3999 " "config_image=${PROXY_IMAGE}" spec=x
  rule 0 - "rename *"
  rule 0 - "stop -t 2 rmengine-proxy-retiring"
  rule 0 container-id "run -d --name rmengine-proxy *"
  flow_rules "${state}"
  run_deploy "${state}" v2 "${ENV_NAME}"
  rm -f "${WORK}/host/${ENV_NAME}.env"
  expect_eq "proxy handover: the deploy goes on and succeeds" 0 "${RC}"
  deploy_log_has "proxy handover: the drift is named" "differs from its settings \(binding 0.0.0.0:3999, want 127.0.0.1:3999\)"
  calls_in_order "proxy handover: flag for the load balancer, wait, rename, soft stop, new proxy, old one removed" \
    '_ 9999 set server handover/flag state ready$' '^rename rmengine-proxy rmengine-proxy-retiring$' \
    '^stop -t 2 rmengine-proxy-retiring$' '^run -d --name rmengine-proxy ' '^rm -f rmengine-proxy-retiring$'
  deploy_log_has "proxy handover: it waited PROXY_HANDOVER_WAIT (host settings) for the load balancer" \
    "answers 503 now; waiting 1s for the load balancer"
  deploy_log_has "proxy handover: then it waited as long for the load balancer to put the host back" \
    "answers 200 again; waiting 1s for the load balancer to put this host back"
  calls_have "proxy handover: the new proxy listens where the settings say" \
    $'(^|\n)run -d --name rmengine-proxy [^\n]*-p 127.0.0.1:3999:8080'
  if grep -qx "rm -f rmengine-proxy" <(calls); then
    fail "proxy handover: the old proxy is never killed outright (rm -f)"
  else
    pass "proxy handover: the old proxy is never killed outright (rm -f)"
  fi
  check_fails "proxy handover: every docker call was one the test expected" test -s "${FAKE_DOCKER_DIR}/unmatched"
}

# The gate asks the candidate itself: Docker's health status says "healthy"
# only at its next check and lags on a busy host, so "starting" or even
# "unhealthy" with the engine's own probes answering passes at once;
# "unhealthy" with a failing readiness probe stops the gate at once.
test_flow_docker_unhealthy() {
  local state health
  for health in starting unhealthy; do
    state="${WORK}/flow-${health}"
    fake_reset
    alone_rule rmengine-blue running "health=${health}" "ip=${SLOT_IP}"
    flow_rules "${state}"
    run_deploy "${state}" v2 "${ENV_NAME}"
    expect_eq "Docker health '${health}', probes 200: the gate passes on its own probes" 0 "${RC}"
    deploy_log_has "Docker health '${health}', probes 200: the log says what the gate saw" \
      "passed the gate: /health 200, /version reports v2 \\(Docker health: ${health}\\)"
  done

  state="${WORK}/flow-unhealthy-503"
  fake_reset
  alone_rule rmengine-blue running health=unhealthy "ip=${SLOT_IP}"
  printf '503 {"status":"DOWN"}\n503 {"status":"DOWN"}\n' >"${FAKE_DOCKER_DIR}/health-503"
  rule 0 health-503 "exec rmengine-proxy timeout * bash -c * _ ${SLOT_IP} 3000 * /health /version"
  flow_rules "${state}"
  local started=${SECONDS}
  run_deploy "${state}" v2 "${ENV_NAME}"
  expect_eq "unhealthy and /health 503: deploy.sh exits 1" 1 "${RC}"
  deploy_log_has "unhealthy and /health 503: the reason names both" \
    'candidate rmengine-blue is unhealthy \(Docker health check\); /health: 503 \{"status":"DOWN"\}'
  if ((SECONDS - started < 5)); then pass "unhealthy and /health 503: it stops before the gate timeout (5 s)"; else
    fail "unhealthy and /health 503: it stops before the gate timeout (5 s)" "took $((SECONDS - started)) s"; fi
  expect_eq "unhealthy and /health 503: no traffic moved" 0 "$(call_line 'set server api/blue state ready')"

  # Still starting (its migrations, a slow host) when Docker's start period
  # ends: the port not open yet, or open with readiness OUT_OF_SERVICE until
  # the start-up has finished. The gate waits, up to GATE_TIMEOUT.
  local probe what
  for probe in unreachable '503 {"status":"OUT_OF_SERVICE"}'; do
    what="unhealthy, still starting (${probe%% *})"
    state="${WORK}/flow-unhealthy-${probe%% *}"
    fake_reset
    alone_rule rmengine-blue running health=unhealthy "ip=${SLOT_IP}"
    printf '%s\n%s\n' "${probe}" "${probe}" >"${FAKE_DOCKER_DIR}/starting"
    rule 0 starting "exec rmengine-proxy timeout * bash -c * _ ${SLOT_IP} 3000 * /health /version"
    flow_rules "${state}"
    started=${SECONDS}
    run_deploy "${state}" v2 "${ENV_NAME}"
    expect_eq "${what}: deploy.sh exits 1 at the gate timeout" 1 "${RC}"
    deploy_log_has "${what}: the gate timed out" "not ready after 6s: docker health 'unhealthy'"
    if ((SECONDS - started >= 6)); then pass "${what}: the gate waited its timeout (6 s)"; else
      fail "${what}: the gate waited its timeout (6 s)" "took $((SECONDS - started)) s"; fi
  done
}

# Warm standby: with --standby the old slot leaves rotation but keeps running,
# with a timer (deploy.sh --end-standby, detached) that stops it later.
test_flow_standby() {
  local state="${WORK}/flow-standby" pid
  fake_reset
  state_rule rmengine-green running release=v1 id=9a8b7c6d5e4f ip=172.30.0.4
  rule 0 - "update --restart no rmengine-green"
  flow_rules "${state}"
  run_deploy "${state}" --standby 60 v2 "${ENV_NAME}"
  expect_eq "standby: deploy.sh exits 0" 0 "${RC}"
  calls_have "standby: the old slot leaves rotation in the switch" "set server api/blue state ready; set server api/green state maint"
  expect_eq "standby: the old slot is not stopped" 0 "$(call_line 'stop -t 30 rmengine-green')"
  calls_have "standby: it will not come back after a host reboot" $'(^|\n)update --restart no rmengine-green(\n|$)'
  expect_match "standby: the standby file names the slot, its container, release and timer" \
    '^slot=green container=9a8b7c6d5e4f tag=v1 until=[0-9]+ pid=[0-9]+$' "$(cat "${state}/standby" 2>&1)"
  pid=$(sed -n 's/.* pid=\([0-9]*\)$/\1/p' "${state}/standby" 2>/dev/null)
  expect_match "standby: its timer runs, detached (deploy.sh --end-standby green ID UNTIL ENV)" \
    "deploy.sh --end-standby green 9a8b7c6d5e4f [0-9]+ ${ENV_NAME}" "$(tr '\0' ' ' <"/proc/${pid:-0}/cmdline" 2>/dev/null)"
  deploy_log_has "standby: the log says until when a rollback is a switch" "slot green \\(v1\\) stays warm, out of rotation, until"
  # The next deploy cancels the timer: it decides about the slot itself.
  run_deploy "${state}" --standby 0 v2 "${ENV_NAME}"
  sleep 0.2
  # (A killed process nobody reaps yet has no command line left.)
  if [[ -n "${pid}" && -s "/proc/${pid}/cmdline" ]]; then
    grep -s '^State' "/proc/${pid}/status" >&2
    fail "standby: the next deploy stops the timer"
    kill "${pid}" 2>/dev/null || true
  else
    pass "standby: the next deploy stops the timer"
  fi
  check_fails "standby: ... and removes the standby file" test -e "${state}/standby"

  # The timer's own work, its time already up: green is still that container,
  # running, out of rotation (blue is live), so it is stopped.
  state="${WORK}/flow-standby-end"
  fake_reset
  state_rule rmengine-green running release=v1 id=9a8b7c6d5e4f ip=172.30.0.4
  show_stat stat-live-blue "no check" MAINT
  api_rule 0 stat-live-blue "show stat"
  state_rule rmengine-blue running
  flow_rules "${state}"
  mkdir -p "${state}"
  printf 'slot=green container=9a8b7c6d5e4f tag=v1 until=1 pid=1\n' >"${state}/standby"
  run_deploy "${state}" --end-standby green 9a8b7c6d5e4f 1 "${ENV_NAME}"
  expect_eq "end of standby: exits 0" 0 "${RC}"
  calls_have "end of standby: the standby slot is stopped with the grace period" $'(^|\n)stop -t 30 rmengine-green(\n|$)'
  check_fails "end of standby: the standby file is removed" test -e "${state}/standby"
  check_fails "end of standby: the lock is released" test -e "${state}/deploy.lock"
  # A container replaced since (another id): left alone.
  fake_reset
  state_rule rmengine-green running release=v1 id=9a8b7c6d5e4f ip=172.30.0.4
  flow_rules "${state}"
  run_deploy "${state}" --end-standby green 0000aaaa1111 1 "${ENV_NAME}"
  expect_eq "end of standby, container replaced since: nothing stopped" "0 0" "${RC} $(call_line 'stop -t 30 rmengine-green')"
}

# A deploy (a rollback, usually) of the release the warm standby runs: no
# pull, no migration, no new container, no warm-up; the gate, then the switch.
test_flow_warm_rollback() {
  local state="${WORK}/flow-warm"
  fake_reset
  # Blue: v2 from the image v2 names, out of rotation (show stat) at the
  # address the proxy holds for it (show servers state).
  state_rule rmengine-blue running release=v2 image=sha256:0123456789abcdef "ip=${SLOT_IP}"
  rule 0 - "update --restart no rmengine-green"
  flow_rules "${state}"
  run_deploy "${state}" --skip-migrations --standby 60 v2 "${ENV_NAME}"
  local timer
  timer=$(sed -n 's/.* pid=\([0-9]*\)$/\1/p' "${state}/standby" 2>/dev/null) || true
  [[ -z "${timer}" ]] || BG_PIDS+=("${timer}")
  expect_eq "warm: deploy.sh exits 0" 0 "${RC}"
  # Each docker call costs 50-150 ms on a busy host: the warm path's are
  # counted. What it read once serves every later look until something
  # changed: the stack, the proxy's view of its servers (blue already at its
  # address: no "set server ... addr"), the image; the gate's two GETs are one
  # exec, the switch one runtime-API call; the old slot is read afresh after
  # the switch, then kept warm.
  expect_text "warm: the docker calls, each needed once" "$(cat <<'EOF'
version -f {{.Server.Version}}
container inspect -f FORMAT rmengine-proxy rmengine-blue rmengine-green
exec rmengine-proxy timeout 5 bash -c SCRIPT _ 9999 show servers state api; show stat
image inspect -f FORMAT rmengine/api:v2
exec rmengine-proxy timeout 14 bash -c SCRIPT _ 172.30.0.5 3000 5 /health /version
update --restart unless-stopped rmengine-blue
exec rmengine-proxy timeout 5 bash -c SCRIPT _ 9999 set server api/blue state ready; set server api/green state maint
container inspect -f FORMAT rmengine-proxy rmengine-blue rmengine-green
update --restart no rmengine-green
EOF
)" "$(calls | sed 's/ -f .*}} / -f FORMAT /; s/ bash -c .* _ / bash -c SCRIPT _ /')"
  deploy_log_has "warm: the log says the standby is used" "v2 is the warm standby in slot blue: no pull, no migrations"
  local what
  for what in "pull " "run -d --name rmengine-blue" "rm -f rmengine-blue"; do
    expect_eq "warm: no '${what% }'" 0 "$(call_line "${what}")"
  done
  deploy_log_has "warm: no warm-up (it served until its last switch)" "warm-up not needed: v2 is the warm standby"
  calls_in_order "warm: gate on its own probes, then one switch" ' 3000 5 /health /version$' \
    '_ 9999 set server api/blue state ready; set server api/green state maint$'
  check_fails "warm: every docker call was one the test expected" test -s "${FAKE_DOCKER_DIR}/unmatched"
}

# rollback.sh --previous to the warm standby: rollback.sh asks Docker nothing
# (deploy.sh finds the previous release under its lock, from what it reads
# anyway), so the whole rollback makes the warm deploy's nine calls. Without
# an earlier release, deploy.sh --previous fails before it changes anything.
test_flow_warm_rollback_previous() {
  local state="${WORK}/flow-warm-previous" timer
  fake_reset
  state_rule rmengine-blue running release=v2 image=sha256:0123456789abcdef "ip=${SLOT_IP}"
  rule 0 - "update --restart no rmengine-green"
  flow_rules "${state}"
  mkdir -p "${state}"
  (
    LEDGER="${state}/releases.jsonl"
    ledger_append time 2026-01-01T00:00:00Z tag v2 outcome ok duration_s 9
    ledger_append time 2026-01-01T00:01:00Z tag v3 outcome failed duration_s 9
    ledger_append time 2026-01-01T00:02:00Z tag v1 outcome ok duration_s 9
  )
  RC=0
  RESTOMARKET_STATE_DIR="${state}" PATH="${WORK}/bin:${PATH}" \
    timeout 60 "${UNIT}/rollback.sh" --env "${ENV_NAME}" --standby 60 --previous >"${WORK}/deploy.out" 2>"${WORK}/deploy.err" || RC=$?
  timer=$(sed -n 's/.* pid=\([0-9]*\)$/\1/p' "${state}/standby" 2>/dev/null) || true
  [[ -z "${timer}" ]] || BG_PIDS+=("${timer}")
  expect_eq "rollback --previous (warm): exits 0" 0 "${RC}"
  deploy_log_has "rollback --previous (warm): deploy.sh found v2, the good release before the live v1" "previous good release of ${ENV_NAME}: v2"
  expect_eq "rollback --previous (warm): nine docker calls in all, none by rollback.sh" 9 "$(calls | wc -l)"
  expect_eq "rollback --previous (warm): recorded as a rollback to v2 from v1" "rollback v2 ok v1" \
    "$(tail -n 1 "${state}/releases.jsonl" | jq -r '"\(.action) \(.tag) \(.outcome) \(.previous_tag)"' 2>&1)"

  state="${WORK}/flow-previous-none"
  fake_reset
  flow_rules "${state}"
  run_deploy "${state}" --previous "${ENV_NAME}"
  expect_eq "deploy.sh --previous without an earlier release: exits 1" 1 "${RC}"
  deploy_log_has "deploy.sh --previous without an earlier release: says so" "no earlier good release of ${ENV_NAME} to roll back to"
  check_fails "deploy.sh --previous without an earlier release: nothing recorded" test -s "${state}/releases.jsonl"
  expect_eq "deploy.sh --previous without an earlier release: nothing started" 0 "$(call_line '^run ')"
}

# The proxy holds another address for the standby than Docker gives its
# container: the engine sets the address in the runtime-API call that
# switches, and takes HAProxy's answer to it for what it is.
test_flow_warm_new_address() {
  local state="${WORK}/flow-warm-address" switch
  fake_reset
  state_rule rmengine-blue running release=v2 image=sha256:0123456789abcdef "ip=${SLOT_IP}"
  servers_answer servers-old 172.30.0.9
  show_stat stat-old MAINT "no check"
  cat "${FAKE_DOCKER_DIR}/servers-old" "${FAKE_DOCKER_DIR}/stat-old" >"${FAKE_DOCKER_DIR}/view-old"
  api_rule 0 view-old "show servers state api; show stat"
  switch="set server api/blue addr ${SLOT_IP} port 3000; set server api/blue state ready; set server api/green state maint"
  printf "IP changed from '172.30.0.9' to '%s', no need to change the port by 'stats socket command'\n\n\n\n" "${SLOT_IP}" >"${FAKE_DOCKER_DIR}/addr-changed"
  api_rule 0 addr-changed "${switch}"
  flow_rules "${state}"
  run_deploy "${state}" --skip-migrations v2 "${ENV_NAME}"
  expect_eq "warm, another address in the proxy: deploy.sh exits 0" 0 "${RC}"
  calls_in_order "warm, another address in the proxy: the address set in the call that switches" \
    ' 3000 5 /health /version$' "_ 9999 ${switch}\$"
  expect_eq "warm, another address in the proxy: one runtime-API call changes it, none reads it again" \
    "1 0" "$(calls | grep -c 'set server') $(calls | grep -c '_ 9999 show servers state api$')"
}

# --restart: the live release again, through the whole path (a new container
# that reads changed secrets); without it, the same command changes nothing.
test_flow_restart() {
  local state="${WORK}/flow-restart" mode
  for mode in plain restart; do
    fake_reset
    state_rule rmengine-green running release=v2 image=sha256:0123456789abcdef ip=172.30.0.4
    flow_rules "${state}-${mode}"
    if [[ "${mode}" == restart ]]; then
      run_deploy "${state}-${mode}" --restart v2 "${ENV_NAME}"
      expect_eq "restart: deploy.sh exits 0" 0 "${RC}"
      deploy_log_has "restart: the log says the live release starts again" "restart: v2 starts again in a new container \\(live: v2\\)"
      calls_in_order "restart: a new container in the idle slot, gated, then the switch" '^run -d --name rmengine-blue ' \
        ' 3000 5 /health /version$' "_ 9999 set server api/blue addr ${SLOT_IP} port 3000; set server api/blue state ready; set server api/green state maint\$"
    else
      run_deploy "${state}-${mode}" v2 "${ENV_NAME}"
      expect_eq "the live release without --restart: nothing is started" "0 0" "${RC} $(call_line 'run -d --name rmengine-blue')"
      deploy_log_has "... and the log says it is already live" "v2 is already live on ${ENV_NAME}"
    fi
  done
}

# The new proxy cannot start: the old one comes back and the deploy stops there.
test_flow_proxy_handover_fails() {
  local state="${WORK}/flow-handover-fails"
  fake_reset
  state_rule rmengine-proxy running "bindings=127.0.0.1:3999 " config_image=registry.example/haproxy:old spec=x
  answer run-error "docker: Error response from daemon: driver failed programming external connectivity"
  rule 0 - "rename *"
  rule 0 - "stop -t 2 rmengine-proxy-retiring"
  rule 0 - "start rmengine-proxy"
  rule 125 run-error "run -d --name rmengine-proxy *"
  flow_rules "${state}"
  run_deploy "${state}" v2 "${ENV_NAME}"
  expect_eq "failed handover: deploy.sh exits 1" 1 "${RC}"
  deploy_log_has "failed handover: the reason says the old proxy serves again" "did not come up .*the old proxy serves again"
  calls_in_order "failed handover: no flag without a load balancer; soft stop, failed start, old proxy renamed back and started" \
    '^rename rmengine-proxy rmengine-proxy-retiring$' '^stop -t 2 rmengine-proxy-retiring$' '^run -d --name rmengine-proxy ' \
    '^rm -f rmengine-proxy$' '^rename rmengine-proxy-retiring rmengine-proxy$' '^start rmengine-proxy$'
  expect_eq "failed handover: without a load balancer nothing is flagged" 0 "$(call_line 'set server handover/flag')"
  expect_eq "failed handover: no release was started" 0 "$(call_line '^run (-d )?--name rmengine-(blue|migrate) ')"
}

test_flow_ledger_unwritable() {
  local state="${WORK}/flow-ledger"
  fake_reset
  flow_rules "${state}"
  # A directory where the ledger file should be: every append fails.
  mkdir -p "${state}/releases.jsonl"
  run_deploy "${state}" v2 "${ENV_NAME}"
  expect_eq "ledger unwritable after a good switch: deploy.sh still exits 0" 0 "${RC}"
  deploy_log_has "ledger unwritable: WARNING that v2 is live but not recorded" \
    "WARNING: v2 is live but not recorded in ${state}/releases.jsonl"
  if grep -q "deploy FAILED" "${WORK}/deploy.err"; then
    fail "ledger unwritable: no 'deploy FAILED'" "$(grep "deploy FAILED" "${WORK}/deploy.err")"
  else
    pass "ledger unwritable: no 'deploy FAILED'"
  fi
  calls_have "ledger unwritable: traffic did move to blue" "_ 9999 set server api/blue addr ${SLOT_IP} port 3000; set server api/blue state ready; set server api/green state maint"
  if grep -q "set server api/green state ready" <(calls); then
    fail "ledger unwritable: no switch back to green" "$(calls | grep 'set server api/green state ready')"
  else
    pass "ledger unwritable: no switch back to green"
  fi
  expect_eq "ledger unwritable: the active-slot file names blue" blue "$(cat "${state}/active-slot" 2>&1)"
}

# ---- the boundary: the engine folder ships alone -----------------------------------------

# outside_references DIR - lines of DIR's files that reach outside the engine:
# the tooling folder or its scripts, the repository around it, or a package
# install. The patterns are assembled so that this file does not match itself.
outside_references() {
  local tooling="infrastructure/""tools" install="apt""-get|apt ""install|dpkg ""-i|pip3? ""install|apk ""add|ensure""_apt"
  grep -rnE -- "${tooling}|\.\./\.\./|RM_REPO""_ROOT|(compose|common|testing)""\.sh|boot""strap/|${install}" "$1" || true
}

# docker_bypasses DIR - lines of the engine's scripts and library in DIR that call
# the docker CLI other than in a builder (which prints its command line).
docker_bypasses() {
  # shellcheck disable=SC2016 # the literal text ${DOCKER} is what is searched for
  (cd "$1" && grep -nF '"${DOCKER}"' deploy.sh rollback.sh cleanup-images.sh lib/*.sh) |
    grep -vF "printf '%s\n' \"\${DOCKER}\"" | grep -vF '|| DOCKER=docker' || true
}

test_boundary() {
  local found
  found=$(outside_references "${SCRIPTS}")
  expect_eq "no file of the engine references the tooling, the repository around it or a package install" "" "${found}"
  # shellcheck disable=SC2016 # the line is written for the copy, not expanded here
  printf '\nsource "${HERE}/../%s/lib/%s"\n' "tools" "common"".sh" >>"${UNIT}/lib/core.sh"
  found=$(outside_references "${UNIT}")
  expect_match "... and the check finds such a reference when one is added" "lib/core.sh:.*common" "${found}"
  cp -a "${SCRIPTS}/lib/core.sh" "${UNIT}/lib/core.sh"
  found=$(docker_bypasses "${SCRIPTS}")
  expect_eq "every docker call of the engine goes through a builder (*_cmd)" "" "${found}"
  # shellcheck disable=SC2016 # the line is written for the copy, not expanded here
  printf '\nquick_peek() { "${DOCKER}" ps -q; }\n' >>"${UNIT}/lib/deploy.sh"
  expect_match "... and the check finds a docker call that bypasses them" "lib/deploy.sh:.*quick_peek" \
    "$(docker_bypasses "${UNIT}")"
  cp -a "${SCRIPTS}/lib/deploy.sh" "${UNIT}/lib/deploy.sh"
  RC=0
  "${UNIT}/deploy.sh" --help >"${WORK}/unit.out" 2>&1 || RC=$?
  expect_eq "a copy of the engine folder alone runs (deploy.sh --help)" "0 1" \
    "${RC} $(grep -c '^Usage: deploy.sh' "${WORK}/unit.out")"
}

# The host's own settings (Ansible writes DEPLOY_HOST_ENV_DIR/ENV.env) win over the
# engine's env file; PROXY_IMAGE must come from one of them or the environment.
test_host_settings() {
  local out
  printf 'PROXY_PORT=4111\nPROXY_BIND=10.10.0.7\nPROXY_IMAGE=registry.example/haproxy:host\n' >"${WORK}/host/${ENV_NAME}.env"
  out=$(load_env "${ENV_NAME}" && echo "${PROXY_PORT} ${PROXY_BIND} $(proxy_image) ${IMAGE_REPO}")
  expect_eq "the host's settings file overrides the engine's env file, key by key" \
    "4111 10.10.0.7 registry.example/haproxy:host rmengine/api" "${out}"
  rm -f "${WORK}/host/${ENV_NAME}.env"
  RC=0
  (unset PROXY_IMAGE && load_env "${ENV_NAME}") 2>"${WORK}/noimage.err" || RC=$?
  expect_eq "no PROXY_IMAGE anywhere: load_env refuses with its own message" "1 PROXY_IMAGE is not set" \
    "${RC} $(grep -o 'PROXY_IMAGE is not set' "${WORK}/noimage.err")"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unknown argument '$1'" "see --help" 2 ;;
  esac
  trap cleanup EXIT
  setup
  test_boundary
  test_host_settings
  test_builders
  test_more_builders
  test_run_cmd
  test_probe_script
  test_proxy_config
  test_proxy_edge_limits
  test_proxy_keepalive
  test_proxy_set
  test_live_slot
  test_proxy_drift
  test_lock
  test_ledger
  test_memory_sizes
  test_steps
  test_flow_good_deploy
  test_flow_switch_refused
  test_flow_digest
  test_flow_proxy_handover
  test_flow_proxy_handover_fails
  test_flow_docker_unhealthy
  test_flow_standby
  test_flow_warm_rollback
  test_flow_warm_rollback_previous
  test_flow_warm_new_address
  test_flow_restart
  test_flow_ledger_unwritable
  summary
}

main "$@"
