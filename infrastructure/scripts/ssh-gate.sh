#!/usr/bin/env bash
# The deploy account's SSH forced command. Every key of that account is bound
# to this script in authorized_keys, so whatever a client asks for arrives here
# as text in SSH_ORIGINAL_COMMAND, and the gate runs only the deploy engine's
# own commands (deploy, rollback, check) with arguments it has validated word by
# word; everything else is refused. Ansible's raw module sends these commands
# as they are (playbooks/update-api.yml), so this grammar is the playbook's.
#
# Why no shell ever sees the client's text: the command is split on blanks with
# `read -a` (no eval, no expansion, globbing off), a word may contain only
# [A-Za-z0-9_.:@=/+-] (no quoting, redirection, substitution or separator can
# survive that), and the engine's argv is built from the validated values, not
# from the input string. An interactive login (no command) is refused too.
set -Eeuo pipefail
# The client's words are data: no pathname expansion anywhere in the gate.
set -f
# Byte-wise character ranges whatever locale the client sends (sshd accepts
# LANG and LC_* from clients): [a-z] must mean ASCII a to z.
export LC_ALL=C

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/core.sh
source "${HERE}/lib/core.sh"
# shellcheck source=lib/deploy.sh
source "${HERE}/lib/deploy.sh"
export RM_LOG_TAG="ssh-gate"

# The longest real command is about 350 characters; longer input is not a
# command of the engine, and refusing it keeps the audit log short.
MAX_COMMAND_CHARS=1024
WORD_PATTERN='^[A-Za-z0-9_.:@=/+-]+$'
GATE_TAG_PATTERN='^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'
GATE_ENV_PATTERN='^[a-z][a-z0-9-]{0,31}$'
ACTOR_PATTERN='^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$'
DIGEST_PATTERN='^sha256:[0-9a-f]{64}$'
# No sign, no leading zero (the engine's arithmetic would read 010 as octal).
SECONDS_PATTERN='^(0|[1-9][0-9]{0,3})$'
MAX_SECONDS=3600
ACCEPTED_FORMS="deploy [--watch N] [--lock-wait N] [--digest sha256:HEX] [--restart] [--actor NAME] TAG ENV | rollback --env ENV (--previous | --list | TAG) [--lock-wait N] [--actor NAME] | check ENV TAG"

# The command as received (audit log and messages, shortened) and its words.
COMMAND_TEXT=""
WORDS=()
# The words after the command name: options (a flag's value is 1) and the rest.
declare -A OPTS=()
ARGS=()
# What the last look at the proxy saw (check), and the last GET's answer.
CHECK_SEEN="nothing yet"
BASE_URL=""
HTTP_STATUS=""
HTTP_BODY=""

usage() {
  cat <<EOF
Usage: $(basename "$0") COMMAND...        (by hand, or the tests)
       SSH_ORIGINAL_COMMAND='COMMAND...'  (set by sshd: the forced command)

The deploy account's forced command: runs only these commands of the deploy
engine, with validated arguments, and refuses everything else.

  deploy [--watch N] [--lock-wait N] [--digest sha256:HEX] [--restart] [--actor NAME] TAG ENV
      deploy.sh [--watch N] [--lock-wait N] [--digest sha256:HEX] [--restart] TAG ENV
  rollback --env ENV (--previous | --list | TAG) [--lock-wait N] [--actor NAME]
      rollback.sh --env ENV (--previous | --list | TAG) [--lock-wait N]
  check ENV TAG
      this host's proxy (PROXY_BIND:PROXY_PORT of ENV; 127.0.0.1 for 0.0.0.0)
      answers 200 on HEALTH_PATH and 200 with {"version":"TAG"} on
      VERSION_PATH; retried for GATE_CHECK_SECONDS (default 10) seconds

Words are split on blanks and may contain only A-Z a-z 0-9 _ . : @ = / + -
(no quotes, no shell syntax); options may come in any order, each at most
once. N: whole seconds 0..3600. TAG: ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\$.
ENV: ^[a-z][a-z0-9-]{0,31}\$ with an env/ENV.env in this folder.
NAME: ^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}\$; it is the ledger's actor
(DEPLOY_ACTOR); without --actor, "ssh:" and the client's address (SSH_CLIENT).

authorized_keys of the deploy account, one line per key:
  command="/opt/restomarket/engine/ssh-gate.sh",restrict ssh-ed25519 AAAA... ci@example

Every accepted and refused command is logged to syslog (tag restomarket-gate).
Exit: 0 ok, otherwise the engine's exit code (deploy.sh, rollback.sh; check: 1
when the host does not serve TAG), 2 refused.
EOF
}

# shown TEXT [MAX] - TEXT for a message or the audit log: control and non-ASCII
# bytes as '?', at most MAX (200) characters, so input is never echoed at length.
shown() {
  local text="${1//[^[:print:]]/?}" max="${2:-200}"
  if ((${#text} > max)); then printf '%s...' "${text:0:max}"; else printf '%s' "${text}"; fi
}

# client_address - the SSH client's address (first field of SSH_CLIENT), or nothing.
client_address() {
  local address="${SSH_CLIENT:-}"
  address="${address%% *}"
  [[ "${address}" =~ ^[0-9A-Za-z.:%]{1,64}$ ]] || address=""
  printf '%s' "${address}"
}

# client - who asks, for the audit log.
client() {
  local address
  address=$(client_address)
  if [[ -n "${address}" ]]; then echo "ssh:${address}"; else echo "local:$(id -un 2>/dev/null || echo unknown)"; fi
}

# audit MESSAGE - to syslog when logger exists; a slow or broken syslog must
# not block or fail the command, so it is bounded and its errors ignored.
audit() {
  have logger || return 0
  local cmd=(logger -t restomarket-gate -- "$1")
  if have timeout; then cmd=(timeout 2 "${cmd[@]}"); fi
  "${cmd[@]}" >/dev/null 2>&1 || true
}

# refuse REASON - log and refuse: exit 2, with the accepted forms as the hint.
refuse() {
  audit "refused $(client): $1; command: '$(shown "${COMMAND_TEXT}")'"
  die "refused: $1" "accepted: ${ACCEPTED_FORMS}" 2
}

# read_words ARG... - WORDS from SSH_ORIGINAL_COMMAND when it is set (a client
# over SSH: its command line, even empty), else from ARG... (an admin running
# the gate by hand; an interactive SSH login has neither and is refused).
read_words() {
  local word bad
  if [[ -n "${SSH_ORIGINAL_COMMAND+set}" ]]; then
    COMMAND_TEXT="${SSH_ORIGINAL_COMMAND}"
  else
    COMMAND_TEXT="$*"
  fi
  ((${#COMMAND_TEXT} <= MAX_COMMAND_CHARS)) || refuse "the command is longer than ${MAX_COMMAND_CHARS} characters"
  [[ "${COMMAND_TEXT}" != *$'\n'* ]] || refuse "the command spans several lines"
  if [[ -n "${SSH_ORIGINAL_COMMAND+set}" ]]; then
    IFS=$' \t' read -r -a WORDS <<<"${COMMAND_TEXT}"
  else
    WORDS=("$@")
  fi
  ((${#WORDS[@]} > 0)) || refuse "no command (this account has no shell; it runs the deploy engine's commands only)"
  for word in "${WORDS[@]}"; do
    [[ -n "${word}" ]] || refuse "an empty word"
    if [[ ! "${word}" =~ ${WORD_PATTERN} ]]; then
      bad="${word//[A-Za-z0-9_.:@=\/+-]/}"
      refuse "character '$(shown "${bad:0:1}")' in '$(shown "${word}" 64)' (words use only A-Z a-z 0-9 _ . : @ = / + -)"
    fi
  done
}

valid_seconds() { [[ "$1" =~ ${SECONDS_PATTERN} ]] && ((10#$1 <= MAX_SECONDS)); }

check_tag() {
  [[ "$1" =~ ${GATE_TAG_PATTERN} ]] ||
    refuse "invalid TAG '$(shown "$1" 64)' (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')"
}

# check_env ENV - a valid name, and the engine has a settings file for it.
check_env() {
  [[ "$1" =~ ${GATE_ENV_PATTERN} ]] ||
    refuse "invalid ENV '$(shown "$1" 64)' (lowercase letters, digits and '-', starting with a letter; at most 32)"
  [[ -f "${HERE}/env/$1.env" ]] || refuse "unknown ENV '$1' (the engine has no env/$1.env)"
}

# check_value OPTION VALUE - VALUE is one OPTION takes, or refuse.
check_value() {
  local option="$1" value="$2"
  case "${option}" in
    --watch | --lock-wait)
      valid_seconds "${value}" || refuse "${option} wants whole seconds 0..${MAX_SECONDS}, got '$(shown "${value}" 64)'"
      ;;
    --digest)
      [[ "${value}" =~ ${DIGEST_PATTERN} ]] ||
        refuse "--digest wants sha256: and 64 lowercase hex digits, got '$(shown "${value}" 80)'"
      ;;
    --actor)
      [[ "${value}" =~ ${ACTOR_PATTERN} ]] ||
        refuse "--actor wants a name of letters, digits, '_', '.', '@', '-' (at most 64), got '$(shown "${value}" 64)'"
      ;;
    --env) check_env "${value}" ;;
    *) refuse "no rule for option '$(shown "${option}" 64)'" ;;
  esac
}

# parse_words COMMAND "OPTION..." "FLAG..." WORD... - WORD... into OPTS (options
# with a value, flags without) and ARGS (the other words). Refuses unknown and
# repeated options and invalid values. A value never starts with '-' (no
# pattern allows it), so an option cannot swallow the next option.
parse_words() {
  local command="$1" options=" $2 " flags=" $3 " word
  shift 3
  while (($#)); do
    word="$1"
    shift
    if [[ "${word}" != -* ]]; then
      ARGS+=("${word}")
      continue
    fi
    if [[ "${options}" != *" ${word} "* && "${flags}" != *" ${word} "* ]]; then
      refuse "${command} does not take '$(shown "${word}" 64)'"
    fi
    [[ -z "${OPTS[${word}]+set}" ]] || refuse "${word} given twice"
    if [[ "${flags}" == *" ${word} "* ]]; then
      OPTS[${word}]=1
      continue
    fi
    (($# > 0)) || refuse "${word} needs a value"
    check_value "${word}" "$1"
    OPTS[${word}]="$1"
    shift
  done
}

has_opt() { [[ -n "${OPTS[$1]+set}" ]]; }

# run_engine SCRIPT ARG... - hand over to the engine: its exit code is the
# gate's. The ledger's actor: --actor, else the SSH client, else the engine's
# own default (DEPLOY_ACTOR left as it is).
run_engine() {
  local script="$1" address
  shift
  address=$(client_address)
  if has_opt --actor; then
    export DEPLOY_ACTOR="${OPTS[--actor]}"
  elif [[ -n "${address}" ]]; then
    export DEPLOY_ACTOR="ssh:${address}"
  fi
  audit "accepted $(client): ${script} $* (actor ${DEPLOY_ACTOR:-engine default})"
  log "running ${script} $* (actor ${DEPLOY_ACTOR:-engine default})"
  exec "${HERE}/${script}" "$@"
}

gate_deploy() {
  local option argv=()
  parse_words deploy "--watch --lock-wait --digest --actor" "--restart" "$@"
  ((${#ARGS[@]} >= 2)) || refuse "deploy needs TAG and ENV"
  ((${#ARGS[@]} == 2)) || refuse "deploy takes only TAG and ENV, got more: '$(shown "${ARGS[2]}" 64)'"
  check_tag "${ARGS[0]}"
  check_env "${ARGS[1]}"
  for option in --watch --lock-wait --digest; do
    if has_opt "${option}"; then argv+=("${option}" "${OPTS[${option}]}"); fi
  done
  if has_opt --restart; then argv+=(--restart); fi
  run_engine deploy.sh "${argv[@]}" "${ARGS[0]}" "${ARGS[1]}"
}

# rollback.sh takes --lock-wait with --list too (and ignores it there), so the
# gate passes it on either way.
gate_rollback() {
  local targets argv=()
  parse_words rollback "--env --lock-wait --actor" "--previous --list" "$@"
  has_opt --env || refuse "rollback needs --env ENV"
  targets=$((${#ARGS[@]} + ${OPTS[--previous]:-0} + ${OPTS[--list]:-0}))
  ((targets > 0)) || refuse "rollback needs one of --previous, --list or TAG"
  ((targets == 1)) || refuse "rollback takes only one of --previous, --list or TAG, got ${targets}"
  argv=(--env "${OPTS[--env]}")
  if has_opt --previous; then
    argv+=(--previous)
  elif has_opt --list; then
    argv+=(--list)
  else
    check_tag "${ARGS[0]}"
    argv+=("${ARGS[0]}")
  fi
  if has_opt --lock-wait; then argv+=(--lock-wait "${OPTS[--lock-wait]}"); fi
  run_engine rollback.sh "${argv[@]}"
}

# http_get URL - one GET: HTTP_STATUS (000: no answer) and HTTP_BODY. curl's
# own settings file (-q) and proxy variables must not apply: the gate asks
# this host's proxy directly.
http_get() {
  local out
  out=$(curl -q -sS --noproxy '*' --max-time 5 -w '\n%{http_code}' "$1" 2>/dev/null) || true
  HTTP_STATUS="${out##*$'\n'}"
  HTTP_BODY="${out%$'\n'*}"
  [[ "${HTTP_STATUS}" =~ ^[0-9]{3}$ ]] || HTTP_STATUS=000
}

# probe_release TAG - one look through the proxy: 0 when HEALTH_PATH answers
# 200 and VERSION_PATH 200 with version TAG. CHECK_SEEN says what was seen.
probe_release() {
  local tag="$1" health version=""
  http_get "${BASE_URL}${HEALTH_PATH}"
  health="${HTTP_STATUS}"
  http_get "${BASE_URL}${VERSION_PATH}"
  if [[ "${HTTP_STATUS}" == 200 ]]; then
    version=$(jq -r 'if type == "object" and (.version | type) == "string" then .version else empty end' \
      <<<"${HTTP_BODY}" 2>/dev/null) || version=""
  fi
  CHECK_SEEN="${HEALTH_PATH} answered ${health/#000/000 (no answer)}, ${VERSION_PATH} answered ${HTTP_STATUS/#000/000 (no answer)}"
  CHECK_SEEN+=" with version '$(shown "${version:-none}" 64)'"
  [[ "${health}" == 200 && "${HTTP_STATUS}" == 200 && "${version}" == "${tag}" ]]
}

# check_release ENV TAG - this host serves TAG through its own proxy, within
# GATE_CHECK_SECONDS (a deploy just switched, or the proxy is restarting).
check_release() {
  local env="$1" tag="$2" seconds="${GATE_CHECK_SECONDS:-10}" address
  valid_seconds "${seconds}" || die "GATE_CHECK_SECONDS must be whole seconds 0..${MAX_SECONDS}, got '$(shown "${seconds}" 64)'" "" 2
  if ! have curl || ! have jq; then
    die "check needs curl and jq on this host" "Ansible's deploy_engine role installs them (make ansible-setup ENV=...)"
  fi
  load_env "${env}"
  address=$(proxy_address)
  # An IPv6 bind address needs brackets in a URL.
  [[ "${address}" != *:* ]] || address="[${address}]"
  BASE_URL="http://${address}:${PROXY_PORT}"
  wait_until "${seconds}" "${env} serves ${tag} through ${BASE_URL}" probe_release "${tag}" ||
    die "check failed: ${BASE_URL} does not serve ${tag} after ${seconds}s: ${CHECK_SEEN}" \
      "see what this host runs with: rollback --env ${env} --list" 1
  echo "ok: ${env} serves ${tag} through ${BASE_URL} (${HEALTH_PATH} 200, ${VERSION_PATH} version ${tag})"
}

gate_check() {
  parse_words check "" "" "$@"
  ((${#ARGS[@]} >= 2)) || refuse "check needs ENV and TAG"
  ((${#ARGS[@]} == 2)) || refuse "check takes only ENV and TAG, got more: '$(shown "${ARGS[2]}" 64)'"
  check_env "${ARGS[0]}"
  check_tag "${ARGS[1]}"
  audit "accepted $(client): check ${ARGS[0]} ${ARGS[1]}"
  check_release "${ARGS[0]}" "${ARGS[1]}"
}

main() {
  if [[ -z "${SSH_ORIGINAL_COMMAND+set}" && $# -eq 1 && ("$1" == -h || "$1" == --help) ]]; then
    usage
    return 0
  fi
  read_words "$@"
  case "${WORDS[0]}" in
    deploy) gate_deploy "${WORDS[@]:1}" ;;
    rollback) gate_rollback "${WORDS[@]:1}" ;;
    check) gate_check "${WORDS[@]:1}" ;;
    *) refuse "unknown command '$(shown "${WORDS[0]}" 64)'" ;;
  esac
}

main "$@"
