#!/usr/bin/env bash
# Zero-downtime blue-green deploy of restomarket/api:TAG to one environment.
#
# Every host (a droplet in dev/staging, this machine for ENV=local) runs an
# HAProxy container (STACK-proxy) that owns the public port and two API slots,
# STACK-blue and STACK-green, on a private network. A deploy starts the release
# in the idle slot, gates it, moves traffic, drains and stops the old slot (kept
# for rollback) and records the release. Ansible and GitHub Actions call this
# script; they never re-implement these steps.
#
# Why HAProxy and its runtime API: traffic moves with two commands on the
# admin socket ("set server api/green state ready; set server api/blue state
# maint") inside the running process. Nothing reloads, so client keep-alive
# connections to the proxy stay open and in-flight requests on the old slot
# finish; an nginx reload closes idle client keep-alive connections and clients
# that do not retry see socket errors (measured on this engine's first design).
# The runtime API listens on 127.0.0.1 inside the proxy container only and is
# reached with `docker exec` + bash's /dev/tcp (no socat in the image). After a
# switch the configuration file is rewritten, without a reload, so that a
# restarted proxy comes up pointing at the live slot.
#
# Migrations run once per deploy, before the switch: the candidate applies them
# (Flyway) while it starts, before it reports ready, under the deploy lock and
# while the old release still serves; no second JVM starts just for them. So
# every migration must be
# backward compatible with the release before it (expand/contract: add columns
# and tables first, remove or rename only in a later release once no live code
# uses them). That is also what makes a rollback safe without down-migrations.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/core.sh
source "${HERE}/lib/core.sh"
# shellcheck source=lib/deploy.sh
source "${HERE}/lib/deploy.sh"
export RM_LOG_TAG="deploy"

usage() {
  cat <<EOF
Usage: $(basename "$0") [OPTIONS] IMAGE_TAG [ENV]
       $(basename "$0") [OPTIONS] --previous [ENV]

Deploys IMAGE_REPO:IMAGE_TAG (IMAGE_REPO from the environment file; with
--digest exactly IMAGE_REPO@DIGEST, whatever the tag points to now) to ENV
(default: local; known: $(known_envs)) without dropping a request:
  lock -> pull -> start the candidate in the idle slot, which applies pending
  migrations before it reports ready -> gate (GET HEALTH_PATH 200 and GET
  VERSION_PATH reports IMAGE_TAG, polled on the candidate; GATE_TIMEOUT covers
  the migrations) -> warm up (WARMUP_ROUNDS rounds of real reads on the candidate)
  -> switch the proxy -> verify through the proxy -> the old slot out of
  rotation, kept running as the warm standby for STANDBY_SECONDS (0: drained
  and stopped, kept for rollback) -> record in the ledger -> prune old images.
When IMAGE_TAG is the warm standby, pull, start (so migrations) and warm-up are
skipped: the deploy (a rollback, usually) is the gate and a switch.
A failure before the switch removes the candidate, leaves the live release
untouched and exits 1. Deploying the live release again changes nothing.

Options:
  --digest sha256:HEX  the image's registry digest (the pipeline's build): pulled
                       and run by digest, recorded in the ledger (empty: by tag)
  --timeout SECONDS    gate timeout (default GATE_TIMEOUT of the env file)
  --lock-wait SECONDS  wait this long for another deploy's lock (default DEPLOY_LOCK_WAIT,
                       else 0: refuse at once)
  --skip-migrations    the candidate starts with Flyway off (rollback.sh: an
                       earlier release's migrations are already applied)
  --previous           instead of IMAGE_TAG: the newest good release in the
                       ledger other than the live one, found under the lock
                       (rollback.sh --previous)
  --watch SECONDS      after the switch, keep the previous slot ready this long
                       and switch back if the new one fails real requests
                       (default WATCH_SECONDS of the env file, else 60; 0: off)
  --restart            start IMAGE_TAG again even when it is live (the same path:
                       a new container in the idle slot, gate, switch), so the API
                       reads changed secrets or settings; never the warm standby
  --standby SECONDS    keep the previous release running, out of rotation, this
                       long after the switch (default STANDBY_SECONDS of the env
                       file, else 900; 0: stop it at once)
  -h, --help           show this help

Files: infrastructure/scripts/env/ENV.env (settings, no secrets); on the host
ENV_DIR/api.env and ENV_DIR/secrets/ (see infrastructure/docs/deploy-engine.md);
STATE_DIR holds the lock, releases.jsonl (the ledger) and the proxy config.
Environment: RESTOMARKET_ENV_DIR, RESTOMARKET_STATE_DIR override ENV_DIR and
STATE_DIR; DEPLOY_ACTOR names who deploys in the ledger.
Exit: 0 deployed (or already live), 1 failed (or reverted by the watch: the
ledger says "reverted"), 2 bad usage, 3 locked.
EOF
}

# Set by the flow; read by finish() when the script exits.
TAG=""
IMAGE=""
# The registry digest given with --digest (empty: deploy by tag).
DIGEST=""
STARTED_AT=${EPOCHSECONDS}
LIVE=""
LIVE_TAG=""
CANDIDATE=""
PHASE="validate"
FAIL_REASON=""
RECORDED=""
WATCH_SECONDS_ARG=""
SWITCHED_AT=0
SWITCHED_BACK=""
OUTCOME_ON_FAILURE="failed"
# Set when the candidate is the warm standby (already running: nothing started).
WARM=""
# Set when this deploy pulled its image (rollback.sh exports it when it did).
PULLED="${DEPLOY_PULLED:-}"
STANDBY_TAG=""
# Seconds between the gate's looks at the candidate (a docker inspect and one
# probe exec), and how long one probe exec keeps asking a candidate that is
# still starting (see http_probe_cmd): its readiness is polled every 0.1 s, and
# Docker is asked about it between two execs. One exec usually covers a start
# (3-4 s under load); each new one costs about 0.3 s (the pause, the inspect,
# the exec's own start). A candidate that exits is not waited for: its address
# vanishes and the exec gives up within about a second.
GATE_POLL=0.25
GATE_PROBE_WAIT=5
# Concurrent clients of the warm-up: one at a time leaves a core idle.
WARMUP_CLIENTS=4
# The candidate's address on NETWORK, as the gate found it answering there.
CANDIDATE_IP=""

# ---- steps --------------------------------------------------------------------

# resolve_previous - TAG and IMAGE: the newest good release in the ledger other
# than LIVE_TAG (deploy.sh --previous). The ledger is read whole before it is
# filtered: an early-closing reader would kill jq with SIGPIPE.
resolve_previous() {
  local ok_tags
  ok_tags=$(ledger_ok_tags)
  TAG=$(tac <<<"${ok_tags}" | awk -v live="${LIVE_TAG}" '$0 != "" && $0 != live && !found {print; found = 1}')
  if [[ -z "${TAG}" ]]; then
    FAIL_REASON="no earlier good release of ${DEPLOY_ENV} to roll back to (live: ${LIVE_TAG:-nothing}); see rollback.sh --list --env ${DEPLOY_ENV}"
    return 1
  fi
  IMAGE="${IMAGE_REPO}:${TAG}"
  log "previous good release of ${DEPLOY_ENV}: ${TAG}"
}
# Each runs under engine_step or attempt, with errexit in force: an unexpected
# failure ends the deploy through finish(); an expected one returns non-zero
# with FAIL_REASON set.

prepare_host() {
  load_facts
  # A running proxy on the network shows that the network exists.
  if [[ "$(container_state "${PROXY}")" != running || -z "$(container_fact "${PROXY}" ip)" ]] &&
    ! run_cmd network_inspect_cmd >/dev/null 2>&1; then
    log "creating network ${NETWORK}"
    run_cmd network_create_cmd >/dev/null || { FAIL_REASON="cannot create network ${NETWORK}"; return 1; }
  fi
  local drift
  drift=$(proxy_drift)
  if [[ -n "${drift}" ]]; then
    replace_proxy "${drift}" || return 1
  fi
  case "$(container_state "${PROXY}")" in
    running) ;;
    absent) start_proxy || return 1 ;;
    *) run_cmd container_start_cmd "${PROXY}" >/dev/null || { FAIL_REASON="cannot start the proxy ${PROXY}"; return 1; } ;;
  esac
  proxy_answers || return 1
}

# start_proxy - a new proxy container, pointing at the live slot (the
# active-slot file, when that slot runs).
start_proxy() {
  local active
  active=$(cat "${ACTIVE_FILE}" 2>/dev/null || true)
  [[ -n "${active}" && "$(container_state "$(slot_container "${active}")")" == running ]] || active=""
  render_proxy_config "${active}"
  log "starting proxy ${PROXY} on ${PROXY_BIND}:${PROXY_PORT} (live slot: ${active:-none})"
  run_cmd proxy_run_cmd >/dev/null || { FAIL_REASON="cannot start the proxy ${PROXY}"; return 1; }
}

# proxy_answers - the runtime API answers; what it said is kept (read_proxy_view).
proxy_answers() {
  wait_until 30 "proxy runtime API" read_proxy_view ||
    { FAIL_REASON="proxy ${PROXY} does not answer on its runtime API: $(run_cmd container_logs_cmd "${PROXY}" 5 2>&1)"; return 1; }
}

# replace_proxy DRIFT - hand the host port to a new proxy container (its bind
# address, image or limits changed; only a new container takes them):
#   1. behind a load balancer (PROXY_HANDOVER_WAIT > 0) the old proxy first
#      fails the balancer's health checks (503 on HEALTH_PATH, everything else
#      still served) for PROXY_HANDOVER_WAIT seconds, until the balancer sends
#      no new connections here;
#   2. the old proxy soft-stops: it stops listening, finishes the requests in
#      flight (up to DRAIN_TIMEOUT) and closes idle keep-alive connections;
#   3. the new proxy starts on the live slot;
#   4. behind a load balancer, the engine waits PROXY_HANDOVER_WAIT seconds
#      more, until the balancer counts this host healthy again (its healthy
#      threshold × interval, which tf's agreement test keeps within that
#      time): on a multi-host roll the next host must not leave rotation
#      while this one is still out.
# Without a load balancer, connections that arrive between 2 and 3 (about a
# second) are refused. If the new proxy does not come up, the old one returns.
replace_proxy() {
  local drift="$1" retiring="${PROXY}-retiring" started
  warn "the proxy ${PROXY} differs from its settings (${drift}): handing over to a new one"
  # One left by a deploy killed mid-handover.
  run_cmd container_remove_cmd "${retiring}" >/dev/null 2>&1 || true
  if ((PROXY_HANDOVER_WAIT > 0)) && proxy_running; then
    if proxy_set "set server handover/flag state ready"; then
      log "proxy handover: ${HEALTH_PATH} answers 503 now; waiting ${PROXY_HANDOVER_WAIT}s for the load balancer to take this host out"
      sleep "${PROXY_HANDOVER_WAIT}"
    else
      warn "proxy handover: cannot take this host out of the load balancer (${PROXY_ERROR}); replacing the proxy at once"
    fi
  fi
  run_cmd container_rename_cmd "${PROXY}" "${retiring}" >/dev/null ||
    { FAIL_REASON="cannot rename the proxy ${PROXY} to ${retiring}"; return 1; }
  started=$(date +%s%N)
  log "proxy handover: stopping the old proxy softly (requests in flight finish, up to ${DRAIN_TIMEOUT}s)"
  run_cmd proxy_stop_cmd "${retiring}" >/dev/null 2>&1 || true
  if start_proxy && proxy_answers; then
    run_cmd container_remove_cmd "${retiring}" >/dev/null 2>&1 || true
    log "proxy handover: done; the port had no listener for $((($(date +%s%N) - started) / 1000000)) ms at most"
    if ((PROXY_HANDOVER_WAIT > 0)); then
      log "proxy handover: ${HEALTH_PATH} answers 200 again; waiting ${PROXY_HANDOVER_WAIT}s for the load balancer to put this host back"
      sleep "${PROXY_HANDOVER_WAIT}"
    fi
    return 0
  fi
  warn "proxy handover: the new proxy did not come up (${FAIL_REASON}); starting the old one again"
  run_cmd container_remove_cmd "${PROXY}" >/dev/null 2>&1 || true
  if run_cmd container_rename_cmd "${retiring}" "${PROXY}" >/dev/null && run_cmd container_start_cmd "${PROXY}" >/dev/null; then
    FAIL_REASON="the proxy with the new settings did not come up (${FAIL_REASON}); the old proxy serves again"
  else
    FAIL_REASON="the proxy with the new settings did not come up (${FAIL_REASON}) and the old one (${retiring}) did not restart"
  fi
  return 1
}

pull_image() {
  if image_id "${IMAGE}" >/dev/null; then
    log "image ${IMAGE} is present locally; not pulling"
    return 0
  fi
  run_cmd image_pull_cmd "${IMAGE}" >/dev/null 2>&1 ||
    { FAIL_REASON="image ${IMAGE} not found locally and cannot be pulled (unknown tag, or no registry access)"; return 1; }
  PULLED=1
}

# start_candidate MIGRATIONS - the release in the idle slot; MIGRATIONS "on":
# it applies pending migrations during its start-up (see slot_run_cmd).
start_candidate() {
  local name
  name=$(slot_container "${CANDIDATE}")
  load_facts
  if [[ "$(container_state "${name}")" != absent ]]; then
    log "removing the idle slot's previous container ${name} ($(slot_release "${CANDIDATE}"))"
    run_cmd container_remove_cmd "${name}" >/dev/null
  fi
  PHASE="candidate"
  run_cmd slot_run_cmd "${CANDIDATE}" "${IMAGE}" "${TAG}" "$1" >/dev/null ||
    { FAIL_REASON="cannot start ${name}"; return 1; }
}

# probe_candidate IP WAIT - HEALTH_PROBE and VERSION_PROBE: "STATUS BODY" of a
# GET of HEALTH_PATH and of VERSION_PATH on the candidate at IP, from inside
# the proxy, in one docker exec ("unreachable" when it cannot connect), waiting
# up to WAIT seconds for a candidate still starting.
HEALTH_PROBE=""
VERSION_PROBE=""
probe_candidate() {
  local out=()
  mapfile -t out < <(run_cmd http_probe_cmd "$1" "${APP_PORT}" "$2" "${HEALTH_PATH}" "${VERSION_PATH}" 2>/dev/null || true)
  HEALTH_PROBE="${out[0]:-unreachable}"
  VERSION_PROBE="${out[1]:-unreachable}"
}

gate_candidate() {
  local name deadline facts state health code polls=0 wait_s
  name=$(slot_container "${CANDIDATE}")
  deadline=$((EPOCHSECONDS + GATE_TIMEOUT))
  while :; do
    # The first look may use what this run read already (the warm standby:
    # nothing changed since); every later one asks Docker about the candidate.
    ((polls++ == 0)) || forget_facts
    facts=$(container_facts "${name}") || facts=""
    state=$(fact status "${facts}")
    state="${state:-absent}"
    health=$(fact health "${facts}")
    case "${state}" in
      running) ;;
      *)
        code=$(fact exit_code "${facts}")
        FAIL_REASON="candidate ${name} is ${state} (exit code ${code:-?}) instead of running (its start-up failed, migrations included: see its last log lines)"
        return 1
        ;;
    esac
    # The engine asks the candidate itself (every 0.1 s while it starts, see
    # http_probe_cmd): Docker says "healthy" only at its next check, up to
    # HEALTH_INTERVAL later, and its verdict lags and can be wrong on a busy
    # host (an exec with a 3 s timeout). "unhealthy" ends the gate only when the candidate answers that
    # it is not ready for a reason other than starting: a start-up still under
    # way (migrations, a slow host) can outlive the image's start period, with
    # its port not open yet, then readiness OUT_OF_SERVICE until the start-up
    # has finished; GATE_TIMEOUT bounds it.
    wait_s=$((deadline - EPOCHSECONDS))
    ((wait_s <= GATE_PROBE_WAIT)) || wait_s=${GATE_PROBE_WAIT}
    ((wait_s >= 0)) || wait_s=0
    probe_candidate "$(fact ip "${facts}")" "${wait_s}"
    if [[ "${HEALTH_PROBE}" == "200 "* ]]; then
      if [[ "${VERSION_PROBE}" == "200 "*"\"version\":\"${TAG}\""* ]]; then
        CANDIDATE_IP=$(fact ip "${facts}")
        log "candidate ${name} passed the gate: ${HEALTH_PATH} 200, ${VERSION_PATH} reports ${TAG} (Docker health: ${health:-no check})"
        return 0
      fi
    elif [[ "${health}" == unhealthy && "${HEALTH_PROBE}" != unreachable && "${HEALTH_PROBE}" != *OUT_OF_SERVICE* ]]; then
      FAIL_REASON="candidate ${name} is unhealthy (Docker health check); ${HEALTH_PATH}: ${HEALTH_PROBE:0:200}"
      return 1
    fi
    if ((EPOCHSECONDS >= deadline)); then
      FAIL_REASON="candidate ${name} not ready after ${GATE_TIMEOUT}s: docker health '${health:-none}', ${HEALTH_PATH} '${HEALTH_PROBE:0:120}', ${VERSION_PATH} '${VERSION_PROBE:0:120}' (want version ${TAG})"
      return 1
    fi
    sleep "${GATE_POLL}"
  done
}

# warm_up_candidate - before it gets traffic, the candidate answers WARMUP_ROUNDS
# rounds of real reads (WARMUP_PATHS, default: the version, health and a page of
# the restaurant list) on its own address: the first requests to a new JVM are
# the slow ones (class loading, JIT), and they should not be a user's. A read
# that fails is a failed gate: nothing was switched yet. Default 20 rounds:
# with the image's AOT cache a fresh API answers as fast as it will after 8 to
# 12 (see deploy-engine.md); every round after that only costs time while the
# deploy lock is held.
warm_up_candidate() {
  local rounds="${WARMUP_ROUNDS:-20}" paths out
  ((rounds > 0)) || { log "warm-up off (WARMUP_ROUNDS=0)"; return 0; }
  [[ -z "${WARM}" ]] || { log "warm-up not needed: ${TAG} is the warm standby (it served until its last switch)"; return 0; }
  read -r -a paths <<<"${WARMUP_PATHS:-${VERSION_PATH} ${HEALTH_PATH} /api/v1/restaurants?page=0&size=20}"
  if ! out=$(run_cmd warm_up_cmd "${CANDIDATE_IP}" "${APP_PORT}" "${rounds}" "${WARMUP_CLIENTS}" "${paths[@]}" 2>&1); then
    FAIL_REASON="candidate failed its warm-up reads: $(tail -n 4 <<<"${out}" | tr '\n' ' ')"
    return 1
  fi
  log "$(tail -n 1 <<<"${out}") (${rounds} rounds of ${paths[*]}, ${WARMUP_CLIENTS} clients at once)"
}

# switch_traffic - candidate in rotation and the live slot out in one runtime
# API call: no reload, so no client connection closes; in-flight requests on
# the old slot finish (maintenance does not cut sessions). The same call gives
# the proxy the candidate's address first, unless this run saw the proxy hold
# it already (the warm standby, which served from there): a new container's
# address is usually resolved by the proxy through Docker's DNS by then, but
# asking would be one more docker exec while the lock is held, and setting an
# address the proxy holds already changes nothing (proxy_set accepts both
# answers).
switch_traffic() {
  local ip="${CANDIDATE_IP}" change=""
  if [[ -z "${PROXY_VIEW}" ]] || ! test_proxy_addr "${CANDIDATE}" "${ip}"; then
    change="set server api/${CANDIDATE} addr ${ip} port ${APP_PORT}; "
  fi
  run_cmd slot_keep_running_cmd "${CANDIDATE}" >/dev/null
  change+="set server api/${CANDIDATE} state ready"
  [[ -n "${LIVE}" ]] && change+="; set server api/${LIVE} state maint"
  emit_event switch-start "slot=${CANDIDATE} tag=${TAG}"
  # From here on a failure may have moved traffic: finish() switches back.
  PHASE="switched"
  proxy_set "${change}" || { FAIL_REASON="${PROXY_ERROR}"; return 1; }
  SWITCHED_AT=${EPOCHSECONDS}
  emit_event switch-complete "slot=${CANDIDATE} tag=${TAG} previous=${LIVE_TAG:-none}"
  persist_active_slot "${CANDIDATE}"
}

test_proxy_addr() { [[ "$(proxy_server_addr "$1")" == "$2 ${APP_PORT}" ]]; }

proxy_version() {
  curl -fsS -m 5 "http://$(proxy_address):${PROXY_PORT}${VERSION_PATH}" 2>/dev/null | grep -qF "\"version\":\"$1\""
}

verify_through_proxy() {
  wait_until 15 "${VERSION_PATH} through the proxy ($(proxy_address):${PROXY_PORT}) reports ${TAG}" proxy_version "${TAG}" && return 0
  FAIL_REASON="the proxy on $(proxy_address):${PROXY_PORT} does not serve ${TAG} after the switch"
  return 1
}

# server_counters SLOT - "requests 5xx connection-errors response-errors" of the
# slot's server in the proxy (show stat: stot, hrsp_5xx, econ, eresp).
server_counters() {
  proxy_api "show stat" | awk -F, -v s="$1" '$1 == "api" && $2 == s {print $8 + 0, $44 + 0, $14 + 0, $15 + 0}'
}

# watch_release SECONDS - after the switch the previous slot stays running (out
# of rotation, ready to take traffic back) while the new one serves. The new
# slot fails the watch when, in HAProxy's counters since the switch, its 5xx
# answers reach WATCH_MAX_5XX_PERCENT of its requests (counted over at least
# WATCH_MIN_REQUESTS) or it has more than WATCH_MAX_ERRORS connection or
# response errors. finish() then switches traffic back.
watch_release() {
  local seconds="$1" base now req fivexx errs deadline elapsed
  PHASE="watching"
  read -r -a base < <(server_counters "${CANDIDATE}") || true
  ((${#base[@]} == 4)) || { FAIL_REASON="no proxy statistics for ${CANDIDATE}"; return 1; }
  deadline=$((EPOCHSECONDS + seconds))
  emit_event watch-start "slot=${CANDIDATE} seconds=${seconds}"
  while :; do
    sleep 1
    read -r -a now < <(server_counters "${CANDIDATE}") || true
    if ((${#now[@]} != 4)); then
      ((EPOCHSECONDS < deadline)) && continue
      FAIL_REASON="watch: no proxy statistics for ${CANDIDATE} at the end of the watch"
      return 1
    fi
    req=$((now[0] - base[0]))
    fivexx=$((now[1] - base[1]))
    errs=$((now[2] - base[2] + now[3] - base[3]))
    elapsed=$((EPOCHSECONDS - SWITCHED_AT))
    if ((errs > WATCH_MAX_ERRORS || fivexx * 100 >= WATCH_MAX_5XX_PERCENT * (req > WATCH_MIN_REQUESTS ? req : WATCH_MIN_REQUESTS))); then
      FAIL_REASON="watch: ${TAG} answered ${fivexx} of ${req} requests with 5xx and had ${errs} connection errors in the ${elapsed}s after the switch (limits ${WATCH_MAX_5XX_PERCENT}% 5xx, ${WATCH_MAX_ERRORS} errors): reverted to ${LIVE_TAG}"
      OUTCOME_ON_FAILURE="reverted"
      emit_event watch-revert "slot=${CANDIDATE} requests=${req} fivexx=${fivexx} errors=${errs} after_s=${elapsed}"
      return 1
    fi
    ((EPOCHSECONDS < deadline)) || break
  done
  log "watch: ${req} requests, ${fivexx} 5xx, ${errs} connection errors in ${seconds}s: ${TAG} holds"
  emit_event watch-end "slot=${CANDIDATE} requests=${req}"
}

# switch_back - the switch or the check after it failed: the old slot takes the
# traffic again (it was only taken out of rotation), the candidate goes.
switch_back() {
  if [[ -n "${LIVE}" && "$(container_state "$(slot_container "${LIVE}")")" == running ]]; then
    warn "switching traffic back to ${LIVE} (${LIVE_TAG})"
    proxy_set "set server api/${LIVE} state ready; set server api/${CANDIDATE} state maint" ||
      warn "switching back failed: ${PROXY_ERROR}"
    persist_active_slot "${LIVE}" || warn "could not record ${LIVE} as the live slot"
    SWITCHED_BACK=1
  else
    proxy_set "set server api/${CANDIDATE} state maint" || warn "taking ${CANDIDATE} out failed: ${PROXY_ERROR}"
    rm -f "${ACTIVE_FILE}"
    render_proxy_config "" || true
  fi
  PHASE="candidate"
}

slot_drained() { [[ "$(proxy_server_field "$1" 5)" == 0 ]]; }

# retire_slot SLOT [switched] - out of rotation (already, with "switched": the
# switch took it out); then, with STANDBY_SECONDS, it stays running as the
# warm standby (keep_standby); else wait for its in-flight requests and
# SIGTERM it with a grace period longer than the API's shutdown timeout. The
# container stays (stopped) for rollback.
retire_slot() {
  local slot="$1" switched="${2:-}" name
  name=$(slot_container "${slot}")
  load_facts
  [[ "$(container_state "${name}")" == running ]] || return 0
  if [[ -z "${switched}" ]]; then
    proxy_set "set server api/${slot} state maint" || { warn "${PROXY_ERROR}"; return 1; }
  fi
  if ((STANDBY_SECONDS > 0)); then
    keep_standby "${slot}" && return 0
    warn "could not keep slot ${slot} as the warm standby; stopping it"
  fi
  pause_point draining
  wait_until "${DRAIN_TIMEOUT}" "slot ${slot} drained" slot_drained "${slot}" ||
    warn "slot ${slot} still has sessions after ${DRAIN_TIMEOUT}s; stopping it anyway (SIGTERM lets them finish)"
  run_cmd slot_stop_cmd "${slot}" >/dev/null
  emit_event retired "slot=${slot} tag=$(slot_release "${slot}")"
}

# keep_standby SLOT - SLOT (out of rotation; its in-flight requests finish
# there) keeps running for STANDBY_SECONDS: a rollback to it in that time is a
# switch (see main). A detached deploy.sh --end-standby stops it then; any
# deploy or rollback before that cancels the timer and decides for itself.
keep_standby() {
  local slot="$1" id until pid tag
  id=$(container_fact "$(slot_container "${slot}")" id) || return 1
  tag=$(slot_release "${slot}")
  run_cmd slot_standby_cmd "${slot}" >/dev/null || return 1
  until=$((EPOCHSECONDS + STANDBY_SECONDS))
  cancel_standby_timer
  setsid "${HERE}/deploy.sh" --end-standby "${slot}" "${id}" "${until}" "${DEPLOY_ENV}" \
    </dev/null >>"${STATE_DIR}/standby.log" 2>&1 &
  pid=$!
  printf 'slot=%s container=%s tag=%s until=%s pid=%s\n' "${slot}" "${id}" "${tag}" "${until}" "${pid}" >"${STANDBY_FILE}"
  emit_event retired "slot=${slot} tag=${tag} standby_s=${STANDBY_SECONDS}"
  log "slot ${slot} (${tag}) stays warm, out of rotation, until $(date -u -d "@${until}" +%H:%M:%SZ): a rollback to ${tag} until then is a switch"
}

# end_standby SLOT CONTAINER_ID UNTIL - deploy.sh --end-standby: sleep until
# UNTIL, then, under the deploy lock, stop SLOT if it is still that container,
# running and out of rotation.
end_standby() {
  local slot="$1" id="$2" until="$3" name now sleeper=""
  name=$(slot_container "${slot}")
  trap '[[ -n "${sleeper}" ]] && kill "${sleeper}" 2>/dev/null; exit 0' TERM
  now=${EPOCHSECONDS}
  if ((until > now)); then
    sleep $((until - now)) &
    sleeper=$!
    wait "${sleeper}"
    sleeper=""
  fi
  trap release_lock EXIT
  acquire_lock "end-standby-${slot}" "${LOCK_TTL}"
  load_facts
  if [[ "$(container_fact "${name}" id)" != "${id}" || "$(container_state "${name}")" != running ]]; then
    log "standby of ${name} already ended (replaced or stopped)"
  elif [[ "$(live_slot)" == "${slot}" ]]; then
    log "${name} is live again: nothing to stop"
  else
    log "standby time of ${name} ($(slot_release "${slot}")) is over: stopping it"
    run_cmd slot_stop_cmd "${slot}" >/dev/null
    emit_event standby-ended "slot=${slot} tag=$(slot_release "${slot}")"
  fi
  [[ "$(standby_field container)" != "${id}" ]] || rm -f "${STANDBY_FILE}"
}

record_release() {
  local outcome="$1" reason="${2:-}"
  [[ -n "${RECORDED}" ]] && return 0
  RECORDED=1
  local now
  utc_now now
  ledger_append time "${now}" env "${DEPLOY_ENV}" action "${DEPLOY_ACTION:-deploy}" \
    image "${IMAGE}" tag "${TAG}" digest "${DIGEST:-$(image_digest "${IMAGE}" || true)}" previous_tag "${LIVE_TAG}" \
    outcome "${outcome}" duration_s "$((EPOCHSECONDS - STARTED_AT))" actor "$(deploy_actor)" \
    slot "${CANDIDATE}" reason "${reason}"
}

# record_live_release [REASON] - the release is live: record it, retrying a
# failed write; if the ledger still cannot be written the deploy stays a
# success (traffic already moved) and says how to record it later.
record_live_release() {
  local try
  for try in 1 2 3; do
    attempt record_release record_release ok "${1:-}"
    if ((ATTEMPT_RC == 0)); then
      RECORDED=1
      return 0
    fi
    warn "could not write the ledger ${LEDGER} (attempt ${try} of 3)"
    ((try == 3)) || sleep 1
  done
  warn "${TAG} is live but not recorded in ${LEDGER}: fix the state directory, then re-run deploy.sh ${TAG} ${DEPLOY_ENV} (it records a live release without redeploying)"
}

# The deploy holds the lock; cleanup-images.sh, which takes it otherwise, sees
# that its caller does.
prune_images() {
  RM_DEPLOY_LOCK_PID=$$ "${HERE}/cleanup-images.sh" --env "${DEPLOY_ENV}" --repo "${IMAGE_REPO}" --keep "${KEEP_RELEASES}"
}

# start_prune - once the release is live, the image cleanup runs beside the
# watch and the old slot's retirement (it deletes no image a container uses,
# so neither slot's); wait_prune waits for it, before the lock is released on
# every exit (finish). A switch to the warm standby brings no new image, nor
# does a rollback that pulled nothing: its release's image was kept by the
# cleanups before (a deploy's image may be new though not pulled: built here).
PRUNE_PID=""
PRUNE_STARTED=0
start_prune() {
  if [[ -n "${WARM}" ]]; then
    log "image cleanup skipped: a switch to the warm standby brought no new image"
    return 0
  fi
  if [[ "${DEPLOY_ACTION:-deploy}" == rollback && -z "${PULLED}" ]]; then
    log "image cleanup skipped: the rollback pulled no image"
    return 0
  fi
  log "step prune_images: start (beside what follows)"
  PRUNE_STARTED=${EPOCHSECONDS}
  prune_images &
  PRUNE_PID=$!
}

wait_prune() {
  [[ -n "${PRUNE_PID}" ]] || return 0
  local rc=0
  wait "${PRUNE_PID}" || rc=$?
  PRUNE_PID=""
  if ((rc == 0)); then
    log "step prune_images: done in $((EPOCHSECONDS - PRUNE_STARTED))s"
  else
    warn "image cleanup failed (exit ${rc}); the release is live, run cleanup-images.sh by hand"
  fi
}

# ---- flow --------------------------------------------------------------------------

# finish - on every exit: a failure before the switch removes the candidate and
# leaves the live slot alone; the lock is always released.
finish() {
  local rc=$?
  trap - EXIT
  set +e
  # Whatever failed may have changed containers or the proxy: read afresh.
  forget_facts
  ((rc == 0)) || report_failed_step "${rc}"
  if ((rc != 0)) && [[ "${PHASE}" != validate ]]; then
    [[ -n "${FAIL_REASON}" ]] || FAIL_REASON="interrupted or unexpected error (exit ${rc}) in phase ${PHASE}"
    [[ "${PHASE}" == switched || "${PHASE}" == watching ]] && switch_back
    if [[ "${PHASE}" == candidate && -n "${CANDIDATE}" ]]; then
      local name
      name=$(slot_container "${CANDIDATE}")
      # It served traffic: let its in-flight requests finish first.
      if [[ -n "${SWITCHED_BACK}" ]]; then
        wait_until "${DRAIN_TIMEOUT}" "slot ${CANDIDATE} drained" slot_drained "${CANDIDATE}" ||
          warn "slot ${CANDIDATE} still has sessions after ${DRAIN_TIMEOUT}s"
        run_cmd slot_stop_cmd "${CANDIDATE}" >/dev/null 2>&1
      fi
      log "candidate ${name}, last log lines:"
      run_cmd container_logs_cmd "${name}" 20 2>&1 | sed 's/^/    /' >&2 || true
      run_cmd container_remove_cmd "${name}" >/dev/null 2>&1 || true
      if [[ -n "${SWITCHED_BACK}" ]]; then
        log "removed ${name}; traffic is back on ${LIVE_TAG} (${LIVE})"
      else
        log "removed candidate ${name}; live release untouched: ${LIVE_TAG:-none} (${LIVE:-no slot})"
      fi
    fi
    [[ -z "${TAG}" ]] || record_release "${OUTCOME_ON_FAILURE}" "${FAIL_REASON}" 2>/dev/null || true
    log "ERROR: ${FAIL_REASON}"
    log "deploy FAILED: env=${DEPLOY_ENV:-?} tag=${TAG} live=${LIVE_TAG:-none} after $((EPOCHSECONDS - STARTED_AT))s"
    rc=1
  fi
  wait_prune 2>/dev/null || true
  release_lock 2>/dev/null || true
  exit "${rc}"
}

# warm_standby - the idle slot runs TAG, from the same image: the warm standby
# (or what a killed deploy left running there), ready to take traffic back.
warm_standby() {
  [[ -n "${LIVE}" && "$(container_state "$(slot_container "${CANDIDATE}")")" == running ]] || return 1
  [[ "$(slot_release "${CANDIDATE}")" == "${TAG}" ]] || return 1
  local want
  want=$(image_id "${IMAGE}") || return 1
  [[ "${want}" == "$(slot_image_id "${CANDIDATE}")" ]]
}

# converge_live - the requested release is already live: finish what a killed
# deploy may have left (old slot still running, release not recorded).
converge_live() {
  local other other_tag
  other=$(other_slot "${LIVE}")
  other_tag=$(slot_release "${other}")
  persist_active_slot "${LIVE}"
  if [[ "$(container_state "$(slot_container "${other}")")" == running ]]; then
    log "the other slot ${other} still runs (${other_tag}): retiring it"
    attempt retire_previous retire_slot "${other}"
    ((ATTEMPT_RC == 0)) || warn "could not retire slot ${other}"
  fi
  if [[ "$(ledger_ok_tags | tail -n 1)" != "${TAG}" ]]; then
    CANDIDATE="${LIVE}"
    LIVE_TAG="${other_tag}"
    record_live_release "completed by a re-run"
  fi
  log "${TAG} is already live on ${DEPLOY_ENV} (slot ${LIVE}): nothing to deploy"
  log "deploy ok: env=${DEPLOY_ENV} tag=${TAG} slot=${LIVE} (no change) in $((EPOCHSECONDS - STARTED_AT))s"
}

main() {
  local env="" timeout="" lock_wait="${DEPLOY_LOCK_WAIT:-0}" skip_migrations="" digest="" standby="" restart="" previous="" args=()
  if [[ "${1:-}" == --end-standby ]]; then
    (($# == 5)) || die "--end-standby SLOT CONTAINER_ID UNTIL ENV (started by deploy.sh itself)" "" 2
    load_env "$5"
    end_standby "$2" "$3" "$4"
    return 0
  fi
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --timeout) timeout=$(option_value "$@") || exit 2; shift ;;
      --digest) digest=$(option_value "$@") || exit 2; shift ;;
      --lock-wait) lock_wait=$(option_value "$@") || exit 2; shift ;;
      --skip-migrations) skip_migrations=1 ;;
      --restart) restart=1 ;;
      --previous) previous=1 ;;
      --watch) WATCH_SECONDS_ARG=$(option_value "$@") || exit 2; shift ;;
      --standby) standby=$(option_value "$@") || exit 2; shift ;;
      -*) usage >&2; die "unknown option '$1'" "see --help" 2 ;;
      *) args+=("$1") ;;
    esac
    shift
  done
  if [[ -n "${previous}" ]]; then
    ((${#args[@]} <= 1)) || { usage >&2; die "--previous takes no IMAGE_TAG, only [ENV]" "e.g. $(basename "$0") --previous staging" 2; }
    [[ -z "${digest}${restart}" ]] || die "--previous cannot be combined with --digest or --restart" "name the release instead: $(basename "$0") TAG ENV" 2
    env="${args[0]:-${DEPLOY_ENV:-local}}"
  else
    ((${#args[@]} >= 1 && ${#args[@]} <= 2)) || { usage >&2; die "expected IMAGE_TAG [ENV]" "e.g. $(basename "$0") v1.2.3 staging" 2; }
    TAG="${args[0]}"
    env="${args[1]:-${DEPLOY_ENV:-local}}"
    valid_tag "${TAG}" || die "invalid image tag '${TAG}'" "use letters, digits, '.', '_' or '-' (max 128), e.g. v1.2.3 or a git SHA" 2
  fi
  [[ -z "${timeout}" || "${timeout}" =~ ^[0-9]+$ ]] || die "--timeout wants seconds, got '${timeout}'" "" 2
  [[ -z "${digest}" || "${digest}" =~ ^sha256:[0-9a-f]{64}$ ]] ||
    die "invalid --digest '${digest}'" "give the registry digest as sha256: and 64 hex digits (docker buildx imagetools inspect REPO:TAG)" 2
  [[ "${lock_wait}" =~ ^[0-9]+$ ]] || die "--lock-wait wants seconds, got '${lock_wait}'" "" 2
  [[ -z "${WATCH_SECONDS_ARG}" || "${WATCH_SECONDS_ARG}" =~ ^[0-9]+$ ]] ||
    die "--watch wants seconds, got '${WATCH_SECONDS_ARG}'" "" 2
  [[ -z "${standby}" || "${standby}" =~ ^[0-9]+$ ]] || die "--standby wants seconds, got '${standby}'" "" 2
  load_env "${env}"
  [[ -n "${WATCH_SECONDS_ARG}" ]] && WATCH_SECONDS="${WATCH_SECONDS_ARG}"
  [[ -n "${standby}" ]] && STANDBY_SECONDS="${standby}"
  [[ -n "${timeout}" ]] && GATE_TIMEOUT="${timeout}"
  require_env_dir
  require_tools
  require_docker
  # With a digest, Docker pulls and runs exactly that image (the tag only names it).
  [[ -z "${TAG}" ]] || IMAGE="${IMAGE_REPO}:${TAG}${digest:+@${digest}}"
  DIGEST="${digest}"

  trap finish EXIT
  log "deploying ${IMAGE:-the previous good release} to ${DEPLOY_ENV} (stack ${STACK_NAME}, proxy port ${PROXY_PORT}, actor $(deploy_actor))"
  engine_step lock acquire_lock "${TAG:-previous}" "${lock_wait}"
  # This deploy decides what happens to the standby slot (see keep_standby).
  STANDBY_TAG=$(standby_field tag)
  cancel_standby_timer
  PHASE="prepare"
  engine_step prepare_host prepare_host
  LIVE=$(live_slot)
  LIVE_TAG=""
  [[ -n "${LIVE}" ]] && LIVE_TAG=$(slot_release "${LIVE}")
  log "live: ${LIVE_TAG:-nothing}${LIVE:+ in slot ${LIVE}}"
  [[ -z "${previous}" ]] || engine_step resolve_previous resolve_previous
  load_image_facts "${IMAGE}"
  if [[ -z "${restart}" && -n "${LIVE}" && "${LIVE_TAG}" == "${TAG}" ]] &&
    { ! image_id "${IMAGE}" >/dev/null || [[ "$(image_id "${IMAGE}")" == "$(slot_image_id "${LIVE}")" ]]; }; then
    converge_live
    return 0
  fi
  CANDIDATE=$(other_slot "${LIVE:-green}")
  [[ -z "${restart}" ]] || log "restart: ${TAG} starts again in a new container (live: ${LIVE_TAG:-nothing})"
  if [[ -z "${restart}" ]] && warm_standby; then
    WARM=1
    PHASE="candidate"
    log "${TAG} is the warm standby in slot ${CANDIDATE}: no pull, no migrations (applied when it was deployed), no start"
  else
    [[ -z "${STANDBY_TAG}" ]] || log "the standby (${STANDBY_TAG}) is not ${TAG}: it makes room for the candidate"
    engine_step pull_image pull_image
    pause_point pulled
    if [[ -n "${skip_migrations}" ]]; then
      log "migrations: skipped (--skip-migrations), the candidate starts with Flyway off"
      engine_step start_candidate start_candidate off
    else
      log "migrations: the candidate applies any pending ones before it reports ready"
      engine_step start_candidate start_candidate on
    fi
    pause_point candidate-started
  fi
  engine_step gate_candidate gate_candidate
  engine_step warm_up warm_up_candidate
  engine_step switch_traffic switch_traffic
  pause_point switched
  engine_step verify_through_proxy verify_through_proxy
  local switch_s=$((SWITCHED_AT - STARTED_AT))
  start_prune
  if [[ -n "${LIVE}" ]] && ((WATCH_SECONDS > 0)); then
    engine_step watch watch_release "${WATCH_SECONDS}"
  fi
  PHASE="live"
  if [[ -n "${LIVE}" ]]; then
    attempt retire_previous retire_slot "${LIVE}" switched
    ((ATTEMPT_RC == 0)) || warn "could not retire slot ${LIVE}; ${TAG} is live, stop $(slot_container "${LIVE}") by hand"
  fi
  record_live_release
  wait_prune
  log "deploy ok: env=${DEPLOY_ENV} tag=${TAG} slot=${CANDIDATE} previous=${LIVE_TAG:-none} in $((EPOCHSECONDS - STARTED_AT))s (switched after ${switch_s}s, watch ${WATCH_SECONDS}s)"
}

main "$@"
