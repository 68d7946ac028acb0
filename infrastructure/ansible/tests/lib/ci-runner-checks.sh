# shellcheck shell=bash
# The CI runner's setup (playbooks/setup-runner.yml, roles/ci_runner) on a test
# host, for tests/test-hosts.sh: it sources this file and calls
# `test_ci_runner HOST` once setup-api.yml has converged HOST, which then
# carries the runner beside the API (the play logs in as admin).
#
# GitHub is out of reach from here, so ci_runner_fake_release builds a
# stand-in release whose config.sh checks a registration's arguments as the
# real one needs them, and this machine serves it to the host over HTTP.
#
# Uses test-hosts.sh's helpers and variables: on, run_ansible, recap,
# ansible_errors, check, check_fails, expect_eq, expect_match, pass, fail,
# WORK, IP, SUBNET_PREFIX; and stub_start/stub_stop of tools/lib/testing.sh.

CI_RUNNER_REPO_URL=https://github.com/acme/restomarket
CI_RUNNER_VERSION=9.9.9
# The longest the release server lives if nobody stops it.
CI_RUNNER_SERVE_SECONDS=900

# ci_runner_fake_release DIR VERSION - DIR/actions-runner-linux-x64-VERSION.tar.gz:
# config.sh (refuses root, checks --unattended, --url, --token, --name,
# --labels, --work; writes .runner with what it got) and run.sh (refuses an
# unregistered folder, writes its uid to heartbeat, stays up). Prints its sha256.
ci_runner_fake_release() {
  local dir="$1" version="$2" src="$1/src"
  rm -rf "${src}"
  mkdir -p "${src}/bin"
  cat >"${src}/config.sh" <<'EOF'
#!/usr/bin/env bash
# Test stand-in for the GitHub Actions runner's config.sh.
set -euo pipefail
[[ "$(id -u)" -ne 0 ]] || { echo "Must not run with sudo" >&2; exit 1; }
unattended="" url="" token="" name="" labels="" work="" replace="" noupdate=""
while (($# > 0)); do
  case "$1" in
    --unattended) unattended=1 ;;
    --replace) replace=1 ;;
    --disableupdate) noupdate=1 ;;
    --url | --token | --name | --labels | --work)
      [[ $# -ge 2 && -n "$2" ]] || { echo "config.sh: $1 needs a value" >&2; exit 2; }
      printf -v "${1#--}" '%s' "$2"
      shift ;;
    *) echo "config.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
[[ -n "${unattended}" ]] || { echo "config.sh: would prompt: --unattended is missing" >&2; exit 2; }
for arg in url token name labels work; do
  [[ -n "${!arg}" ]] || { echo "config.sh: --${arg} is missing" >&2; exit 2; }
done
[[ "${url}" =~ ^https://github\.com/[^/]+/[^/]+$ ]] || { echo "config.sh: invalid --url ${url}" >&2; exit 2; }
cd "$(dirname "$0")"
jq -n --arg name "${name}" --arg labels "${labels}" --arg url "${url}" --arg work "${work}" \
  --argjson replace "${replace:-0}" --argjson noupdate "${noupdate:-0}" \
  '{agentName: $name, labels: ($labels | split(",")), gitHubUrl: $url, workFolder: $work,
    replace: ($replace == 1), disableUpdate: ($noupdate == 1)}' >.runner
echo "Runner ${name} registered"
EOF
  cat >"${src}/run.sh" <<'EOF'
#!/usr/bin/env bash
# Test stand-in for the GitHub Actions runner's run.sh.
set -euo pipefail
cd "$(dirname "$0")"
[[ -f .runner ]] || { echo "run.sh: not configured (no .runner)" >&2; exit 1; }
printf 'uid=%s\n' "$(id -u)" >heartbeat
exec sleep infinity
EOF
  printf 'fake runner %s\n' "${version}" >"${src}/bin/VERSION"
  chmod 0755 "${src}/config.sh" "${src}/run.sh"
  tar -C "${src}" -czf "${dir}/actions-runner-linux-x64-${version}.tar.gz" .
  sha256sum "${dir}/actions-runner-linux-x64-${version}.tar.gz" | cut -d' ' -f1
}

# ci_runner_serve DIR - serve DIR over HTTP on this machine's address in the test
# network (the gateway, SUBNET_PREFIX.1), for at most CI_RUNNER_SERVE_SECONDS;
# sets CI_RUNNER_SERVER (http://ADDRESS:PORT). Stop it with stub_stop.
ci_runner_serve() {
  local address="${SUBNET_PREFIX}.1"
  stub_start ci-runner-release -c '
import functools, http.server, sys, threading
folder, address, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=folder)
server = http.server.ThreadingHTTPServer((address, 0), handler)
print(server.server_address[1], flush=True)
threading.Timer(seconds, server.shutdown).start()
server.serve_forever()
' "$1" "${address}" "${CI_RUNNER_SERVE_SECONDS}"
  CI_RUNNER_SERVER="http://${address}:${STUB_URL##*:}"
}

# ci_runner_inventory HOST - an inventory beside test-hosts.sh's (same group_vars,
# vault included) with HOST in the group ci_runner; prints its path.
ci_runner_inventory() {
  local host="$1" inv="${WORK}/inventory/ci-runner.yml"
  printf 'all:\n  children:\n    ci:\n      children:\n        ci_runner:\n          hosts:\n            %s:\n              public_ip: %s\n              private_ip: %s\n' \
    "${host}" "${IP[${host}]}" "${PRIVATE_IP[${host}]}" >"${inv}"
  printf '%s\n' "${inv}"
}

# ci_runner_converge NAME TOKEN [ANSIBLE ARGS...] - setup-runner.yml with the
# fake release and RUNNER_TOKEN=TOKEN; output in WORK/NAME.log, its exit code.
# HOST keeps its deploy login: setup-runner.yml would allow admin alone, but
# this host serves the API as well.
ci_runner_converge() {
  local name="$1" token="$2"
  shift 2
  RUNNER_TOKEN="${token}" run_ansible "${name}" setup-runner --inventory "${CI_RUNNER_INVENTORY}" -- \
    -e "ci_runner_version=${CI_RUNNER_VERSION}" -e "ci_runner_sha256=${CI_RUNNER_SHA256}" \
    -e "ci_runner_url=${CI_RUNNER_SERVER}/actions-runner-linux-x64-${CI_RUNNER_VERSION}.tar.gz" \
    -e "ci_runner_repo_url=${CI_RUNNER_REPO_URL}" -e '{"ssh_hardening_allow_users": ["admin", "deploy"]}' "$@"
}

# ci_runner_labels - the role's ci_runner_labels (the one source the workflow's
# runs-on is checked against), comma-separated as the runner records them.
ci_runner_labels() {
  "${VENV}/bin/python" -c 'import sys, yaml; print(",".join(yaml.safe_load(open(sys.argv[1]))["ci_runner_labels"]))' \
    "${RM_REPO_ROOT}/infrastructure/ansible/roles/ci_runner/defaults/main.yml"
}

# ci_runner_pid HOST - the main process of HOST's runner service (0: none).
ci_runner_pid() { on "$1" 'systemctl show -p MainPID --value actions-runner'; }

# test_ci_runner HOST - the runner's setup on HOST (which setup-api.yml converged):
# a first registration without a token is refused before the role changes
# anything; with a token the runner registers with the host's name and the
# workflow's labels and runs as github-runner, an account without sudo or
# docker; a second run changes nothing and needs no token; a release whose
# checksum differs is refused and the running runner is left alone.
test_ci_runner() {
  local host="$1" dir="${WORK}/ci-runner" pid wrong
  mkdir -p "${dir}"
  CI_RUNNER_SHA256=$(ci_runner_fake_release "${dir}" "${CI_RUNNER_VERSION}")
  CI_RUNNER_INVENTORY=$(ci_runner_inventory "${host}")
  ci_runner_serve "${dir}"

  # The refusals need the runner's role only (--tags ci_runner): quicker.
  if step "setup-runner without a token" ci_runner_converge runner-no-token "" --tags ci_runner; then
    fail "setup-runner: a first registration without RUNNER_TOKEN fails"
  else
    expect_match "setup-runner: a first registration without RUNNER_TOKEN fails, saying how to get one" \
      'no registered runner yet.*gh api -X POST repos/OWNER/NAME/actions/runners/registration-token' \
      "$(tr '\n' ' ' <"${WORK}/runner-no-token.log")"
    check_fails "${host}: nothing of the runner was installed without a token" on "${host}" 'test -e /opt/actions-runner'
  fi

  if step "setup-runner first run" ci_runner_converge runner-first test-registration-token; then
    pass "setup-runner.yml registers and starts the runner on ${host}"
  else
    fail "setup-runner.yml registers and starts the runner on ${host}" "$(ansible_errors runner-first)"
    stub_stop
    return 0
  fi
  wait_until 20 "the runner's heartbeat on ${host}" on "${host}" 'sudo test -s /opt/actions-runner/heartbeat' || true
  expect_eq "${host}: actions-runner.service is active and enabled" "active enabled" \
    "$(on "${host}" 'systemctl is-active actions-runner; systemctl is-enabled actions-runner' | tr '\n' ' ' | sed 's/ $//')"
  pid=$(ci_runner_pid "${host}")
  expect_eq "${host}: the runner's process runs as github-runner" github-runner "$(on "${host}" "stat -c %U /proc/${pid}")"
  expect_eq "${host}: run.sh ran with github-runner's uid" "uid=$(on "${host}" 'id -u github-runner')" \
    "$(on "${host}" 'sudo cat /opt/actions-runner/heartbeat')"
  expect_match "${host}: the runner cannot gain privileges (NoNewPrivs)" 'NoNewPrivs:[[:space:]]+1' \
    "$(on "${host}" "grep NoNewPrivs /proc/${pid}/status")"
  expect_eq "${host}: registered with its name, the workflow's labels, the repository, without self-update" \
    "${host} $(ci_runner_labels) ${CI_RUNNER_REPO_URL} _work true" \
    "$(on "${host}" "sudo jq -r '[.agentName, (.labels | join(\",\")), .gitHubUrl, .workFolder, (.disableUpdate | tostring)] | join(\" \")' /opt/actions-runner/.runner")"
  expect_eq "${host}: github-runner is in its own group only (no sudo, no docker)" github-runner \
    "$(on "${host}" 'id -nG github-runner')"
  expect_match "${host}: github-runner may not sudo" 'is not allowed to run sudo' \
    "$(on "${host}" 'sudo -n -l -U github-runner' 2>&1)"

  check "setup-runner second run succeeds without a token" step "setup-runner second run" ci_runner_converge runner-second ""
  expect_eq "setup-runner second run: changed=0 on ${host}" 0 "$(recap "${WORK}/runner-second.log" "${host}" changed)"
  expect_eq "${host}: the second run left the runner running (same process)" "${pid}" "$(ci_runner_pid "${host}")"

  wrong=$(printf 'not the release' | sha256sum | cut -d' ' -f1)
  if step "setup-runner with a wrong checksum" ci_runner_converge runner-wrong-sha "" --tags ci_runner \
    -e "ci_runner_sha256=${wrong}"; then
    fail "setup-runner: a release with another checksum is refused"
  else
    expect_match "setup-runner: a release with another checksum is refused by get_url" \
      "The checksum for [^ ]+ did not match ${wrong}; it was ${CI_RUNNER_SHA256}" \
      "$(tr '\n' ' ' <"${WORK}/runner-wrong-sha.log")"
  fi
  expect_eq "${host}: after the refused release the runner still runs (same process, active)" "${pid} active" \
    "$(ci_runner_pid "${host}") $(on "${host}" 'systemctl is-active actions-runner')"
  stub_stop
}
