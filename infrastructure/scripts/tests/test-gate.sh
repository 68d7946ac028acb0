#!/usr/bin/env bash
# The deploy account's SSH gate (ssh-gate.sh) in seconds, without Docker or
# network. The gate runs from a copy of the engine folder whose deploy.sh and
# rollback.sh are stubs recording their argv and DEPLOY_ACTOR, with a fake curl
# (answers from files) and a fake logger (records the audit lines) first on
# PATH. Proves:
#   - the accepted commands reach the engine with exactly the validated argv,
#     the actor the ledger records, and the engine's exit code passed through;
#   - everything else is refused (exit 2, a "refused:" line and the accepted
#     forms) and runs nothing: other commands, shell syntax, bad or repeated
#     options, bad tags, unknown environments, missing or extra words;
#   - check: this host's proxy must answer health 200 and the tag on /version;
#   - every command is audited, and a broken syslog blocks nothing.
# Everything lives in a temp dir removed on exit. Prints "N passed, N failed".
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/core.sh
source "${HERE}/../lib/core.sh"
# shellcheck source=assert.sh
source "${HERE}/assert.sh"
export RM_LOG_TAG="test-gate"

SCRIPTS="$(cd "${HERE}/.." && pwd)"
WORK=""
# The copy of the engine folder and its gate (set up in setup).
UNIT=""
GATE=""
RC=0
DIGEST="sha256:$(printf '0123456789abcdef%.0s' 1 2 3 4)"
# The copy's hint line, checked on every refusal.
HINT_REGEX='hint: accepted: deploy .* \| rollback --env ENV .* \| check ENV TAG$'

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Runs the SSH gate's fast checks (a few seconds, no Docker, no network):
ssh-gate.sh from a copy of the engine folder with stub deploy.sh/rollback.sh,
a fake curl and a fake logger. Needs jq for the check cases (skipped without).
USAGE
}

cleanup() {
  [[ -n "${WORK}" ]] && rm -rf "${WORK}"
  return 0
}

# write_engine_stub NAME - the copy's NAME records its name, one argument a
# line and DEPLOY_ACTOR in WORK/engine.out, and exits with WORK/engine.rc (0).
write_engine_stub() {
  cat >"${UNIT}/$1" <<'STUB'
#!/usr/bin/env bash
work="${0%/*}/.."
{
  basename "$0"
  printf '%s\n' "$@"
  printf 'DEPLOY_ACTOR=%s\n' "${DEPLOY_ACTOR-unset}"
} >"${work}/engine.out"
exit "$(cat "${work}/engine.rc" 2>/dev/null || echo 0)"
STUB
  chmod 0755 "${UNIT}/$1"
}

# setup - WORK with the engine copy (stubs, env/gtest.env, this host's
# settings for gtest) and WORK/bin with the fakes.
setup() {
  # Settings the caller's environment could carry into the gate or the engine.
  unset SSH_ORIGINAL_COMMAND SSH_CLIENT SSH_CONNECTION DEPLOY_ACTOR GATE_CHECK_SECONDS DEPLOY_ENV \
    RESTOMARKET_DEPLOY_ENVS RESTOMARKET_ENV_DIR RESTOMARKET_STATE_DIR
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/test-gate.XXXXXX")
  UNIT="${WORK}/engine"
  GATE="${UNIT}/ssh-gate.sh"
  cp -a "${SCRIPTS}" "${UNIT}"
  write_engine_stub deploy.sh
  write_engine_stub rollback.sh
  mkdir -p "${WORK}/bin" "${WORK}/host"
  {
    cat "${SCRIPTS}/env/local.env"
    cat <<EOF

# test-gate overrides (later assignments win)
STACK_NAME=rmgate
PROXY_BIND=0.0.0.0
PROXY_PORT=3998
HEALTH_PATH=/health
VERSION_PATH=/version
ENV_DIR=${WORK}/envdir
STATE_DIR=${WORK}/state
EOF
  } >"${UNIT}/env/gtest.env"
  # As on a host, PROXY_IMAGE comes from this host's settings (load_env needs it).
  printf 'PROXY_IMAGE=restomarket/proxy:test\n' >"${WORK}/host/gtest.env"
  export RESTOMARKET_HOST_ENV_DIR="${WORK}/host"
  # curl answers a GET from NAME.status and NAME.body (NAME: the URL's last
  # segment; status 000: no answer, exit 7) and honours -w '...%{http_code}'.
  cat >"${WORK}/bin/curl" <<'CURL'
#!/usr/bin/env bash
dir="${0%/*}"
printf '%s\n' "$*" >>"${dir}/curl.calls"
format="" url=""
while (($#)); do
  case "$1" in
    -w) format="$2"; shift ;;
    --max-time | --noproxy) shift ;;
    http://*) url="$1" ;;
  esac
  shift
done
name="${url##*/}"
status=$(cat "${dir}/${name}.status" 2>/dev/null || echo 000)
[[ "${status}" == 000 ]] || cat "${dir}/${name}.body" 2>/dev/null
printf '%b' "${format//%\{http_code\}/${status}}"
[[ "${status}" != 000 ]] || exit 7
CURL
  # logger records its arguments; logger.mode "fail" exits 1, "hang" never returns.
  cat >"${WORK}/bin/logger" <<'LOGGER'
#!/usr/bin/env bash
dir="${0%/*}"
printf '%s\n' "$*" >>"${dir}/logger.calls"
case "$(cat "${dir}/logger.mode" 2>/dev/null)" in
  fail) exit 1 ;;
  hang) exec sleep 30 ;;
esac
LOGGER
  chmod 0755 "${WORK}/bin/curl" "${WORK}/bin/logger"
}

# ---- running the gate ------------------------------------------------------------

# run_gate COMMAND... - run COMMAND (the gate, maybe under env) with the fakes
# first on PATH: RC, WORK/gate.out, WORK/gate.err; WORK/engine.out only if the
# stub engine ran.
run_gate() {
  RC=0
  rm -f "${WORK}/engine.out"
  PATH="${WORK}/bin:${PATH}" timeout 30 "$@" >"${WORK}/gate.out" 2>"${WORK}/gate.err" || RC=$?
}

# ssh_gate TEXT [NAME=VALUE...] - as sshd runs it: the client's command line
# in SSH_ORIGINAL_COMMAND, no arguments.
ssh_gate() { run_gate env "${@:2}" SSH_ORIGINAL_COMMAND="$1" "${GATE}"; }

engine_out() { cat "${WORK}/engine.out" 2>/dev/null || echo "(engine not run)"; }

# expect_run NAME RC LINES - the gate's exit code and what the stub engine
# recorded (its name, one argument a line, DEPLOY_ACTOR=...).
expect_run() {
  local want got
  want="exit $2"$'\n'"$3"
  got="exit ${RC}"$'\n'"$(engine_out)"
  if [[ "${got}" == "${want}" ]]; then
    pass "$1"
  else
    fail "$1" "$(diff <(printf '%s\n' "${want}") <(printf '%s\n' "${got}") | sed '2,$s/^/        /'; tail -n 3 "${WORK}/gate.err")"
  fi
}

# expect_refused NAME [REASON_REGEX] - the last run was refused: exit 2, one
# "refused:" line (matching REASON_REGEX), the accepted forms, no engine.
expect_refused() {
  local name="refused: $1" reason="${2:-}" problems=()
  ((RC == 2)) || problems+=("exit ${RC}, want 2")
  [[ ! -e "${WORK}/engine.out" ]] || problems+=("the engine ran: $(paste -sd ' ' "${WORK}/engine.out")")
  (($(grep -c 'ERROR: refused: ' "${WORK}/gate.err") == 1)) || problems+=("not one 'refused:' line")
  [[ -z "${reason}" ]] || grep -qE -- "ERROR: refused: .*${reason}" "${WORK}/gate.err" || problems+=("reason not /${reason}/")
  grep -qE -- "${HINT_REGEX}" "${WORK}/gate.err" || problems+=("no hint with the accepted forms")
  if ((${#problems[@]} == 0)); then
    pass "${name}"
  else
    fail "${name}" "$(IFS=';' && echo "${problems[*]}") | stderr: $(head -c 400 "${WORK}/gate.err")"
  fi
}

# refused_over_ssh NAME TEXT [REASON_REGEX] - TEXT sent as the client's command is refused.
refused_over_ssh() {
  ssh_gate "$2"
  expect_refused "$1" "${3:-}"
}

# ---- cases -----------------------------------------------------------------------

test_usage() {
  check "ssh-gate.sh is executable" test -x "${SCRIPTS}/ssh-gate.sh"
  run_gate "${GATE}" --help
  expect_eq "--help: exit 0, usage with the three commands and the forced-command line" "0 1 1 1 1" \
    "${RC} $(grep -c '^Usage: ssh-gate.sh' "${WORK}/gate.out") $(grep -c '^  deploy \[--watch N\]' "${WORK}/gate.out") \
$(grep -c '^  rollback --env ENV' "${WORK}/gate.out") \
$(grep -cF 'command="/opt/restomarket/engine/ssh-gate.sh",restrict ssh-ed25519' "${WORK}/gate.out")"
  run_gate "${GATE}" --no-such-option
  expect_refused "an unknown option by hand (--no-such-option)" "unknown command '--no-such-option'"
  ssh_gate "--help"
  expect_refused "--help over SSH is not a command" "unknown command '--help'"
}

test_accepted() {
  ssh_gate "deploy v2 gtest"
  expect_run "deploy v2 gtest -> deploy.sh v2 gtest (no client address: the engine's default actor)" 0 \
    $'deploy.sh\nv2\ngtest\nDEPLOY_ACTOR=unset'
  ssh_gate "deploy --watch 60 --lock-wait 600 --digest ${DIGEST} --actor github-actions v2 gtest"
  expect_run "deploy with every option -> the exact argv, --actor as DEPLOY_ACTOR" 0 \
    "deploy.sh
--watch
60
--lock-wait
600
--digest
${DIGEST}
v2
gtest
DEPLOY_ACTOR=github-actions"
  ssh_gate "deploy --restart --actor ops v2 gtest"
  expect_run "deploy --restart (the live release again, after a secret changed) -> deploy.sh --restart" 0 \
    $'deploy.sh\n--restart\nv2\ngtest\nDEPLOY_ACTOR=ops'
  ssh_gate "deploy v2 --actor ci --digest ${DIGEST} gtest --watch 0"
  expect_run "deploy: options in any order reach deploy.sh in its own order" 0 \
    $'deploy.sh\n--watch\n0\n--digest\n'"${DIGEST}"$'\nv2\ngtest\nDEPLOY_ACTOR=ci'
  # The playbook's folded command without a digest has a double blank.
  ssh_gate $'deploy --lock-wait 600 --watch 10  --actor ci\tv2 gtest'
  expect_run "deploy: repeated blanks and tabs separate words" 0 \
    $'deploy.sh\n--watch\n10\n--lock-wait\n600\nv2\ngtest\nDEPLOY_ACTOR=ci'
  ssh_gate "rollback --env gtest --previous"
  expect_run "rollback --env gtest --previous -> rollback.sh --env gtest --previous" 0 \
    $'rollback.sh\n--env\ngtest\n--previous\nDEPLOY_ACTOR=unset'
  ssh_gate "rollback --env gtest --list"
  expect_run "rollback --env gtest --list -> rollback.sh --env gtest --list" 0 \
    $'rollback.sh\n--env\ngtest\n--list\nDEPLOY_ACTOR=unset'
  ssh_gate "rollback --env gtest v1"
  expect_run "rollback --env gtest v1 -> rollback.sh --env gtest v1" 0 \
    $'rollback.sh\n--env\ngtest\nv1\nDEPLOY_ACTOR=unset'
  ssh_gate "rollback --actor ci --lock-wait 30 --previous --env gtest"
  expect_run "rollback: options in any order, --lock-wait passed on, --actor as DEPLOY_ACTOR" 0 \
    $'rollback.sh\n--env\ngtest\n--previous\n--lock-wait\n30\nDEPLOY_ACTOR=ci'

  echo 1 >"${WORK}/engine.rc"
  ssh_gate "deploy v2 gtest"
  expect_run "the engine's exit code is the gate's (deploy.sh exits 1)" 1 $'deploy.sh\nv2\ngtest\nDEPLOY_ACTOR=unset'
  echo 3 >"${WORK}/engine.rc"
  ssh_gate "rollback --env gtest --previous"
  expect_run "the engine's exit code is the gate's (rollback.sh exits 3: locked)" 3 \
    $'rollback.sh\n--env\ngtest\n--previous\nDEPLOY_ACTOR=unset'
  rm -f "${WORK}/engine.rc"

  ssh_gate "deploy v2 gtest" SSH_CLIENT="203.0.113.9 51234 22"
  expect_run "without --actor, SSH_CLIENT names the actor (ssh:ADDRESS)" 0 \
    $'deploy.sh\nv2\ngtest\nDEPLOY_ACTOR=ssh:203.0.113.9'
  ssh_gate "deploy --actor github-actions v2 gtest" SSH_CLIENT="203.0.113.9 51234 22"
  expect_run "--actor wins over SSH_CLIENT" 0 $'deploy.sh\nv2\ngtest\nDEPLOY_ACTOR=github-actions'

  run_gate "${GATE}" deploy --watch 5 v2 gtest
  expect_run "without SSH_ORIGINAL_COMMAND the words are the gate's arguments (by hand)" 0 \
    $'deploy.sh\n--watch\n5\nv2\ngtest\nDEPLOY_ACTOR=unset'
}

test_refused() {
  local long_tag
  ssh_gate ""
  expect_refused "SSH_ORIGINAL_COMMAND set but empty" "no command"
  run_gate "${GATE}"
  expect_refused "no command at all (an interactive login)" "no command"
  refused_over_ssh "id" "id" "unknown command 'id'"
  refused_over_ssh "bash" "bash" "unknown command 'bash'"
  refused_over_ssh "sh -c id" "sh -c id" "unknown command 'sh'"
  refused_over_ssh "scp -t /tmp" "scp -t /tmp" "unknown command 'scp'"
  refused_over_ssh "rsync --server ." "rsync --server ." "unknown command 'rsync'"
  refused_over_ssh "deploy v2;id gtest" "deploy v2;id gtest" "character ';' in 'v2;id'"
  refused_over_ssh "deploy v2 gtest;id" "deploy v2 gtest;id" "character ';'"
  # shellcheck disable=SC2016 # the literal text is what a client would send
  refused_over_ssh 'deploy $(id) gtest' 'deploy $(id) gtest' "character '\\$'"
  # shellcheck disable=SC2016 # the literal text is what a client would send
  refused_over_ssh 'deploy `id` gtest' 'deploy `id` gtest' "character '\`'"
  refused_over_ssh "deploy v2 gtest && id" "deploy v2 gtest && id" "character '&'"
  refused_over_ssh "deploy v2 gtest | id" "deploy v2 gtest | id" "character '\\|'"
  refused_over_ssh "deploy v2 gtest > /tmp/x" "deploy v2 gtest > /tmp/x" "character '>'"
  refused_over_ssh "a command with an embedded newline" $'deploy v2 gtest\nid' "spans several lines"
  refused_over_ssh "a carriage return" $'deploy v2 gtest\r' "character '\\?'"
  refused_over_ssh "a non-ASCII character" "deploy v2é gtest" "character '\\?'"
  # Assembled, so that the engine's boundary check (no "../" twice) does not match this file.
  refused_over_ssh "deploy v2 ../""../etc" "deploy v2 ../""../etc" "invalid ENV"
  refused_over_ssh "deploy v2 nosuchenv" "deploy v2 nosuchenv" "unknown ENV 'nosuchenv'"
  refused_over_ssh "deploy v2 Gtest (ENV is lowercase)" "deploy v2 Gtest" "invalid ENV 'Gtest'"
  refused_over_ssh "deploy v2 (no ENV)" "deploy v2" "deploy needs TAG and ENV"
  refused_over_ssh "deploy (nothing)" "deploy" "deploy needs TAG and ENV"
  refused_over_ssh "deploy v2 gtest extra" "deploy v2 gtest extra" "only TAG and ENV, got more: 'extra'"
  refused_over_ssh "deploy --watch -1 v2 gtest" "deploy --watch -1 v2 gtest" "--watch wants whole seconds"
  refused_over_ssh "deploy --watch 99999 v2 gtest" "deploy --watch 99999 v2 gtest" "--watch wants whole seconds 0..3600"
  refused_over_ssh "deploy --watch 3601 v2 gtest" "deploy --watch 3601 v2 gtest" "--watch wants whole seconds"
  refused_over_ssh "deploy --watch +5 v2 gtest" "deploy --watch +5 v2 gtest" "--watch wants whole seconds"
  refused_over_ssh "deploy --lock-wait 010 v2 gtest (a leading zero)" "deploy --lock-wait 010 v2 gtest" "--lock-wait wants"
  refused_over_ssh "deploy --watch 5 --watch 6 v2 gtest" "deploy --watch 5 --watch 6 v2 gtest" "--watch given twice"
  refused_over_ssh "deploy v2 gtest --watch (no value)" "deploy v2 gtest --watch" "--watch needs a value"
  refused_over_ssh "deploy --digest sha256:abc v2 gtest" "deploy --digest sha256:abc v2 gtest" "--digest wants sha256:"
  refused_over_ssh "deploy --digest with uppercase hex" "deploy --digest ${DIGEST^^} v2 gtest" "--digest wants"
  refused_over_ssh "deploy --timeout 1 v2 gtest (not allowed)" "deploy --timeout 1 v2 gtest" "deploy does not take '--timeout'"
  refused_over_ssh "deploy --restart --restart v2 gtest" "deploy --restart --restart v2 gtest" "--restart given twice"
  refused_over_ssh "deploy --skip-migrations v2 gtest (not allowed)" "deploy --skip-migrations v2 gtest" "does not take"
  refused_over_ssh "deploy --watch=5 v2 gtest" "deploy --watch=5 v2 gtest" "does not take '--watch=5'"
  refused_over_ssh "deploy -rf gtest (a tag starting with '-')" "deploy -rf gtest" "deploy does not take '-rf'"
  refused_over_ssh "deploy .v2 gtest" "deploy .v2 gtest" "invalid TAG '.v2'"
  long_tag=$(printf 'a%.0s' {1..200})
  refused_over_ssh "a 200-character tag" "deploy ${long_tag} gtest" "invalid TAG 'a{64}\\.\\.\\.'"
  check_fails "... and the message does not echo the whole tag back" grep -qF "${long_tag}" "${WORK}/gate.err"
  refused_over_ssh "deploy --actor 'a b' v2 gtest" "deploy --actor 'a b' v2 gtest" "character '''"
  run_gate "${GATE}" deploy --actor 'a b' v2 gtest
  expect_refused "--actor 'a b' by hand (one word with a blank)" "character ' ' in 'a b'"
  refused_over_ssh "deploy --actor -x v2 gtest" "deploy --actor -x v2 gtest" "--actor wants a name"
  refused_over_ssh "deploy --actor .x v2 gtest" "deploy --actor .x v2 gtest" "--actor wants a name"
  refused_over_ssh "rollback --env gtest (no target)" "rollback --env gtest" "needs one of --previous, --list or TAG"
  refused_over_ssh "rollback --env gtest --previous v1 (two targets)" "rollback --env gtest --previous v1" "only one of"
  refused_over_ssh "rollback --env gtest --list --previous" "rollback --env gtest --list --previous" "only one of"
  refused_over_ssh "rollback --env gtest v1 v2" "rollback --env gtest v1 v2" "only one of"
  refused_over_ssh "rollback --previous (no env)" "rollback --previous" "rollback needs --env ENV"
  refused_over_ssh "rollback --env nosuchenv --list" "rollback --env nosuchenv --list" "unknown ENV"
  refused_over_ssh "rollback --env gtest --list --list" "rollback --env gtest --list --list" "--list given twice"
  refused_over_ssh "rollback --env gtest --watch 0 v1 (not allowed)" "rollback --env gtest --watch 0 v1" "does not take '--watch'"
  refused_over_ssh "rollback --env gtest -- v1" "rollback --env gtest -- v1" "does not take '--'"
  refused_over_ssh "check gtest (no tag)" "check gtest" "check needs ENV and TAG"
  refused_over_ssh "check gtest v2 extra" "check gtest v2 extra" "only ENV and TAG"
  refused_over_ssh "check --actor ci gtest v2 (no options)" "check --actor ci gtest v2" "check does not take '--actor'"
  refused_over_ssh "a command longer than 1024 characters" "deploy $(printf 'b%.0s' {1..1100}) gtest" "longer than 1024"
  check_fails "... and no line of the message echoes more than 200 characters of it" grep -q 'b\{201\}' "${WORK}/gate.err"
  run_gate env SSH_ORIGINAL_COMMAND="id" "${GATE}" deploy v2 gtest
  expect_refused "SSH_ORIGINAL_COMMAND wins over the gate's arguments" "unknown command 'id'"
  # Injection attempts that would leave a file behind if any shell ran them.
  ssh_gate "deploy v2 gtest;touch ${WORK}/pwned"
  # shellcheck disable=SC2016 # the literal text is what a client would send
  ssh_gate 'deploy $(touch '"${WORK}"'/pwned) gtest'
  ssh_gate "deploy v2 gtest"$'\n'"touch ${WORK}/pwned"
  run_gate "${GATE}" deploy 'v2;touch' "${WORK}/pwned"
  check_fails "no injected command ran (no WORK/pwned)" test -e "${WORK}/pwned"
}

test_audit() {
  local calls="${WORK}/bin/logger.calls"
  rm -f "${calls}"
  ssh_gate "id" SSH_CLIENT="198.51.100.4 40000 22"
  expect_eq "a refusal is audited in syslog (tag restomarket-gate, client, reason, command)" \
    "-t restomarket-gate -- refused ssh:198.51.100.4: unknown command 'id'; command: 'id'" "$(tail -n 1 "${calls}" 2>&1)"
  ssh_gate "deploy --actor ci v2 gtest" SSH_CLIENT="198.51.100.4 40000 22"
  expect_eq "an accepted command is audited with what the engine runs and the actor" \
    "-t restomarket-gate -- accepted ssh:198.51.100.4: deploy.sh v2 gtest (actor ci)" "$(tail -n 1 "${calls}" 2>&1)"
  echo fail >"${WORK}/bin/logger.mode"
  ssh_gate "deploy v2 gtest"
  expect_run "a failing logger does not block the command" 0 $'deploy.sh\nv2\ngtest\nDEPLOY_ACTOR=unset'
  echo hang >"${WORK}/bin/logger.mode"
  local started=${SECONDS}
  ssh_gate "deploy v2 gtest"
  expect_run "a hanging logger does not block the command" 0 $'deploy.sh\nv2\ngtest\nDEPLOY_ACTOR=unset'
  if ((SECONDS - started < 10)); then pass "... it is cut off after a moment"; else
    fail "... it is cut off after a moment" "took $((SECONDS - started)) s"; fi
  rm -f "${WORK}/bin/logger.mode"
}

# answer_http NAME STATUS [BODY] - what the fake curl answers for .../NAME.
answer_http() {
  printf '%s\n' "$2" >"${WORK}/bin/$1.status"
  printf '%s' "${3:-}" >"${WORK}/bin/$1.body"
}

test_check() {
  if ! have jq; then
    skip "check: the gate's check cases" "jq is not installed (the gate's check needs it, as the engine does)"
    return 0
  fi
  rm -f "${WORK}/bin/curl.calls"
  answer_http health 200 '{"status":"UP"}'
  answer_http version 200 '{"version":"v2","commit":"abc"}'
  ssh_gate "check gtest v2"
  expect_eq "check gtest v2 with health 200 and version v2: exit 0, one line" \
    "0 ok: gtest serves v2 through http://127.0.0.1:3998 (/health 200, /version version v2)" \
    "${RC} $(cat "${WORK}/gate.out")"
  check_fails "check runs no engine script" test -e "${WORK}/engine.out"
  expect_match "check asks 127.0.0.1 for PROXY_BIND 0.0.0.0, with --max-time 5" \
    $'(^|\n)-q -sS --noproxy \\* --max-time 5 -w \\\\n%\\{http_code\\} http://127\\.0\\.0\\.1:3998/health\n' \
    "$(cat "${WORK}/bin/curl.calls" 2>&1)"

  answer_http version 200 '{"version":"v1","commit":"abc"}'
  ssh_gate "check gtest v2" GATE_CHECK_SECONDS=1
  expect_eq "check gtest v2 while v1 is served: exit 1" 1 "${RC}"
  expect_match "... naming both versions" "does not serve v2 after 1s: .*/version answered 200 with version 'v1'" \
    "$(cat "${WORK}/gate.err")"

  answer_http version 200 '{"version":"v2"}'
  answer_http health 503 '{"status":"DOWN"}'
  ssh_gate "check gtest v2" GATE_CHECK_SECONDS=1
  expect_eq "check with health 503: exit 1" 1 "${RC}"
  expect_match "... naming the status" "/health answered 503" "$(cat "${WORK}/gate.err")"

  answer_http health 000
  answer_http version 000
  ssh_gate "check gtest v2" GATE_CHECK_SECONDS=0
  expect_match "check with no proxy answering: exit 1, 'no answer'" "^1 .*/health answered 000 \(no answer\)" \
    "${RC} $(cat "${WORK}/gate.err")"

  answer_http health 200 '{"status":"UP"}'
  answer_http version 200 'not json'
  ssh_gate "check gtest v2" GATE_CHECK_SECONDS=0
  expect_match "check with a version body that is not JSON: exit 1" "^1 .*with version 'none'" \
    "${RC} $(cat "${WORK}/gate.err")"

  # A release that comes up during the check window passes.
  answer_http version 200 '{"version":"v1"}'
  (sleep 1 && answer_http version 200 '{"version":"v2"}') &
  local flipper=$!
  ssh_gate "check gtest v2" GATE_CHECK_SECONDS=5
  wait "${flipper}" || true
  expect_eq "check retries: v2 appearing after 1 s passes" 0 "${RC}"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unknown argument '$1'" "see --help" 2 ;;
  esac
  trap cleanup EXIT
  setup
  test_usage
  test_accepted
  test_refused
  test_audit
  test_check
  summary
}

main "$@"
