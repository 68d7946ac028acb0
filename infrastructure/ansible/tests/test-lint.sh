#!/usr/bin/env bash
# Static checks of infrastructure/ansible: ansible-lint (production profile)
# passes and would catch a bad task, every playbook passes --syntax-check with
# each inventory, the environments' address ranges match Terraform's, the CI
# runner role's own checks refuse what they must, and
# infrastructure/tools/ansible.sh refuses bad input before touching a host.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../tools/lib/common.sh
source "${HERE}/../../tools/lib/common.sh"
# shellcheck source=../../tools/lib/testing.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/testing.sh"
export RM_LOG_TAG="test-ansible-lint"

ANSIBLE_DIR="${RM_REPO_ROOT}/infrastructure/ansible"
ANSIBLE_SH="${RM_REPO_ROOT}/infrastructure/tools/ansible.sh"
WORK=""

usage() {
  cat <<USAGE
Usage: $(basename "$0")

ansible-lint (production profile), --syntax-check of every playbook with every
inventory, group_vars consistent with Terraform, the ci_runner role's checks
(run on this machine, no host) and ansible.sh's refusals.
USAGE
}

cleanup() { [[ -z "${WORK}" ]] || rm -rf "${WORK}"; }

test_lint() {
  local out rc=0
  out=$(cd "${ANSIBLE_DIR}" && ansible-lint --strict 2>&1) || rc=$?
  if ((rc == 0)) && grep -q "Profile 'production' was required, and it passed" <<<"${out}"; then
    pass "ansible-lint --strict: production profile passes"
  else
    fail "ansible-lint --strict: production profile passes" "$(grep -vE 'WARNING|DEPRECATION|Alternatives' <<<"${out}" | tail -n 15)"
  fi
  # The linter must be able to fail: a copy with a short module name, a
  # shell task without changed_when and a world-writable file.
  cp -a "${ANSIBLE_DIR}/." "${WORK}/copy"
  cat >>"${WORK}/copy/roles/docker_host/tasks/main.yml" <<'EOF'

- name: bad task
  shell: echo hello > /tmp/x
- name: Write a file anyone can change
  copy:
    content: x
    dest: /tmp/y
EOF
  out=$(cd "${WORK}/copy" && ansible-lint --strict 2>&1) && rc=0 || rc=$?
  if ((rc != 0)) && grep -q 'fqcn' <<<"${out}" && grep -q 'no-changed-when' <<<"${out}"; then
    pass "ansible-lint rejects a role with short module names and unguarded shell tasks"
  else
    fail "ansible-lint rejects a role with short module names and unguarded shell tasks" "exit ${rc}"
  fi
}

test_syntax() {
  local inv playbook
  for inv in "${ANSIBLE_DIR}"/inventory/*.yml; do
    for playbook in "${ANSIBLE_DIR}"/playbooks/*.yml; do
      check "syntax-check $(basename "${playbook}") with inventory/$(basename "${inv}")" \
        bash -c "cd '${ANSIBLE_DIR}' && ansible-playbook --syntax-check -i '${inv}' '${playbook}'"
    done
  done
}

# runner_preflight NAME TOKEN REGEX [ANSIBLE ARGS...] - the ci_runner role's own
# checks (tasks/preflight.yml) on this machine, no host, with RUNNER_TOKEN=TOKEN
# and the runner folder WORK/runner: passes when they succeed (REGEX empty) or
# fail with a message matching REGEX.
runner_preflight() {
  local name="$1" token="$2" regex="$3" out rc=0
  shift 3
  out=$(cd "${ANSIBLE_DIR}" && RUNNER_TOKEN="${token}" ansible localhost -c local -m ansible.builtin.include_role \
    -a 'name=ci_runner tasks_from=preflight' -e "ci_runner_dir=${WORK}/runner" \
    -e ci_runner_repo_url=https://github.com/acme/restomarket "$@" 2>&1) || rc=$?
  if [[ -z "${regex}" ]] && ((rc == 0)); then
    pass "ci_runner checks: ${name}"
  elif [[ -n "${regex}" ]] && ((rc != 0)) && [[ "$(tr '\n' ' ' <<<"${out}")" =~ ${regex} ]]; then
    pass "ci_runner checks: ${name}"
  else
    fail "ci_runner checks: ${name}" "exit ${rc}: $(grep -E 'msg|ERROR' <<<"${out}" | head -n 3)"
  fi
}

test_runner_checks() {
  mkdir -p "${WORK}/runner"
  runner_preflight "a first registration without RUNNER_TOKEN is refused, saying how to get one" "" \
    'no registered runner yet.*gh api -X POST repos/OWNER/NAME/actions/runners/registration-token --jq \.token'
  runner_preflight "a first registration with a token passes" registration-token ""
  runner_preflight "a release without its checksum is refused" registration-token \
    'ci_runner_sha256 the 64.*SHA-256 Checksums' -e ci_runner_sha256=
  runner_preflight "a repository outside github.com is refused" registration-token \
    "ci_runner_repo_url must be https://github.com/OWNER/NAME, got 'https://gitlab.com/acme/restomarket'" \
    -e ci_runner_repo_url=https://gitlab.com/acme/restomarket
  touch "${WORK}/runner/.runner"
  runner_preflight "a registered runner needs no token" "" ""
}

test_matches_terraform() {
  local env vars
  for env in dev staging; do
    vars=$(cd "${ANSIBLE_DIR}" && ansible-inventory -i "inventory/${env}.yml" --host "${env}-api-1" 2>/dev/null) || {
      fail "${env}: inventory has ${env}-api-1"
      continue
    }
    expect_eq "${env}: restomarket_env names the deploy environment" "${env}" "$(jq -r .restomarket_env <<<"${vars}")"
    check "${env}: infrastructure/scripts/env/${env}.env exists for it" test -r "${RM_REPO_ROOT}/infrastructure/scripts/env/${env}.env"
    expect_eq "${env}: VPC range equals Terraform's vpc_ip_range" "$(tf_var "${env}" vpc_ip_range)" \
      "$(jq -r .vpc_ip_range <<<"${vars}")"
    expect_eq "${env}: admin CIDRs equal Terraform's admin_cidrs" "$(tf_var "${env}" admin_cidrs)" \
      "$(jq -r '.admin_cidrs | join(",")' <<<"${vars}")"
  done
}

# refused NAME REGEX ARGS... - ansible.sh ARGS exits non-zero with a message matching REGEX.
refused() {
  local name="$1" regex="$2" out rc=0
  shift 2
  out=$("${ANSIBLE_SH}" "$@" 2>&1) || rc=$?
  if ((rc != 0)) && [[ "${out}" =~ ${regex} ]]; then pass "ansible.sh refuses ${name}"; else
    fail "ansible.sh refuses ${name}" "exit ${rc}: $(tail -n 2 <<<"${out}")"
  fi
}

test_wrapper_refusals() {
  refused "an unknown environment" "unknown environment 'prod'.*use one of: dev staging" setup prod
  refused "update without a tag" 'pass --tag TAG' update staging
  refused "an invalid tag" "invalid tag 'v1;rm'" update staging --tag 'v1;rm'
  refused "an --lb-url with a path" 'invalid --lb-url' update staging --tag v1 --lb-url http://lb/health
  refused "--lb-url on setup" 'belong to update and rollback' setup staging --lb-url http://lb
  refused "--tag on setup-runner" 'belong to update and rollback' setup-runner staging --tag v1
  refused "rollback without a tag" 'pass --tag TAG' rollback staging
  refused "a digest on rollback" '--digest belongs to update' rollback staging --tag v1 --digest "sha256:$(printf '%064d' 0)"
  refused "a missing inventory" 'does not exist' setup --inventory /nonexistent/hosts.yml
  mkdir -p "${WORK}/vaulted/group_vars/ci"
  printf 'all: {}\n' >"${WORK}/vaulted/hosts.yml"
  printf '%s\n' "\$ANSIBLE_VAULT;1.1;AES256" 3132 >"${WORK}/vaulted/group_vars/ci/vault.yml"
  refused "a vault without ANSIBLE_VAULT_PASSWORD_FILE" 'ANSIBLE_VAULT_PASSWORD_FILE is not set' \
    setup --inventory "${WORK}/vaulted/hosts.yml"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unknown argument '$1'" "see --help" 2 ;;
  esac
  trap cleanup EXIT
  WORK=$(mktemp -d)
  have jq || ensure_apt_packages jq
  local venv
  venv=$("${ANSIBLE_SH}" venv 2>/dev/null | tail -n1)
  export PATH="${venv}/bin:${PATH}" ANSIBLE_CONFIG="${ANSIBLE_DIR}/ansible.cfg" ANSIBLE_NOCOLOR=1
  test_lint
  test_syntax
  test_runner_checks
  test_matches_terraform
  test_wrapper_refusals
  summary
}

main "$@"
