#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Every offline check of the Terraform code: shellcheck, fmt, checkov, trivy,
# init+validate, terraform test (mocked provider), plans, the staging guard
# and the init-backend test. Ends with "N passed, N failed"; exits non-zero
# when anything failed.
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../tools/lib/common.sh
source "${SCRIPT_DIR}/../../tools/lib/common.sh"
# shellcheck source=../../tools/lib/testing.sh
source "${SCRIPT_DIR}/../../tools/lib/testing.sh"
export RM_LOG_TAG="tf-check"

TF_ROOT="${RM_REPO_ROOT}/infrastructure/terraform"
TF_HOME="${RM_CACHE_DIR}/terraform"
# Terraform runs in a copy so init never writes .terraform/ or lock files
# into the work tree; one per run, so that two runs (make test and a person)
# never share a copy or a plugin cache. Set by copy_tree, removed on exit.
WORK_DIR=""
# One line per passed `terraform test` file with its count of passed runs;
# a file because check() runs each check in a subshell.
TEST_RUNS_FILE=""
PROVIDER_SOURCE=""
PROVIDER_VERSION=""
# --plan ENV: only print the offline plan of that environment.
PLAN_ENV=""
# The PostgreSQL major the compose stacks, tests and CI run (POSTGRES_IMAGE in
# infrastructure/docker/images.env): the plans must create the same one.
PG_MAJOR=""
PLACEHOLDER_VARS=(
  -var 'ssh_key_fingerprints=["00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff"]'
)

usage() {
  cat <<USAGE
Usage: $(basename "$0") [-h|--help]
       $(basename "$0") --plan ENV

Runs all offline checks of infrastructure/terraform and prints each result:
  shellcheck of the Terraform and bootstrap scripts, terraform fmt, checkov,
  trivy's Terraform misconfiguration scan, the terraform-docs tables in the
  module READMEs, the provider build (build-provider.sh), that every
  versions.tf pins the built provider version, init -backend=false + validate
  of every module, example and environment (the environments against their
  committed lock files), terraform test of every module and environment
  (mock_provider), an offline plan of each environment with placeholder
  credentials checked through terraform show -json, the agreement of those
  plans with the Ansible inventory and group_vars, the staging droplet-count
  guard, a real-provider plan proving that rotating root's SSH keys replaces
  no droplet, and the init-backend.sh test against a local moto S3 server.

Terraform works in a fresh copy under ${TF_HOME}/check.*, with the CLI config
from build-provider.sh, so the repository stays clean. Installs shellcheck
and jq (apt), the checkov/moto venvs (python-tools.sh), trivy
(infrastructure/tools/ci/tools.sh) and Terraform (install-terraform.sh)
when missing.

--plan ENV plans infrastructure/terraform/environments/ENV the same offline
way and prints only \`terraform show -json\` of that plan (for tools that must
read what Terraform configures, e.g. the staging rehearsal's load balancer).

Environment:
  RESTOMARKET_CACHE_DIR   cache root (default: ~/.cache/restomarket)
  RESTOMARKET_VENDOR_DIR  folder of the vendored provider source (see build-provider.sh)
USAGE
}

parse_args() {
  case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    --plan)
      [[ -n "${2:-}" && -d "${TF_ROOT}/environments/${2:-}" && "${2:-}" =~ ^[a-z0-9_-]+$ ]] ||
        die "--plan needs an environment: one of $(tf_envs)" "run with --help" 2
      PLAN_ENV="$2"
      [[ $# -eq 2 ]] || die "unexpected argument after --plan $2: $3" "run with --help" 2
      ;;
    "") ;;
    *) usage >&2; die "unknown argument: $1" "run with --help" 2 ;;
  esac
}

# run_check NAME COMMAND... - announce a check, then record its result.
run_check() {
  log "check: $1"
  check "$@"
}

ensure_tools() {
  ensure_apt_packages shellcheck curl jq
  # A GitHub-hosted ubuntu-24.04 runner has no Terraform; build one then.
  PATH="$("${SCRIPT_DIR}/install-terraform.sh" | tail -n1):${PATH}"
  CHECKOV_BIN="$("${RM_REPO_ROOT}/infrastructure/tools/bootstrap/python-tools.sh" checkov | tail -n1)/bin/checkov"
  TRIVY_BIN="$("${RM_REPO_ROOT}/infrastructure/tools/ci/tools.sh" trivy | tail -n1)"
  PROVIDER_VERSION="$("${SCRIPT_DIR}/build-provider.sh" --print-version)"
  PG_MAJOR="$(sed -n 's/^POSTGRES_IMAGE=postgres:\([0-9][0-9]*\).*/\1/p' "${RM_REPO_ROOT}/infrastructure/docker/images.env")"
  [[ -n "${PG_MAJOR}" ]] || die "no POSTGRES_IMAGE=postgres:MAJOR... in infrastructure/docker/images.env"
}

remove_work_dir() {
  [[ -z "${WORK_DIR}" ]] || rm -rf "${WORK_DIR}"
}

copy_tree() {
  mkdir -p "${TF_HOME}"
  WORK_DIR="$(mktemp -d "${TF_HOME}/check.XXXXXX")"
  trap remove_work_dir EXIT
  TEST_RUNS_FILE="${WORK_DIR}/.test-runs"
  mkdir -p "${WORK_DIR}/.plugin-cache"
  : >"${TEST_RUNS_FILE}"
  # The committed lock files come along: init checks the provider against them.
  tar -C "${TF_ROOT}" --exclude=.terraform --exclude='*.tfstate*' -cf - . | tar -C "${WORK_DIR}" -xf -
}

configure_terraform() {
  export TF_CLI_CONFIG_FILE="${TF_HOME}/terraformrc"
  # Link the ~26 MB provider from one cache instead of copying it per
  # directory; per run, because Terraform's plugin cache is not safe for
  # concurrent inits.
  export TF_PLUGIN_CACHE_DIR="${WORK_DIR}/.plugin-cache"
  # Modules and examples have no committed lock file; let init fill theirs
  # from the cache. The environments' committed ones are enforced below.
  export TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE=true
  export TF_IN_AUTOMATION=1 TF_INPUT=0
  unset DIGITALOCEAN_TOKEN DIGITALOCEAN_ACCESS_TOKEN
}

# Not through check(): that runs in a subshell, and PROVIDER_SOURCE must stick.
build_provider() {
  local name="build-provider: digitalocean/digitalocean ${PROVIDER_VERSION}" out log_file="${TF_HOME}/check-build-provider.log"
  log "check: ${name}"
  mkdir -p "${TF_HOME}"
  if out="$("${SCRIPT_DIR}/build-provider.sh" 2>"${log_file}")"; then
    PROVIDER_SOURCE="$(tail -n1 <<<"${out}")"
    pass "${name} (${PROVIDER_SOURCE})"
  else
    fail "${name}" "$(tail -n 3 "${log_file}")"
  fi
}

# Every required_providers block pins exactly the version build-provider.sh
# builds, so the mirror's one version satisfies all of them.
versions_pin_the_provider() {
  local f bad=0
  while IFS= read -r -d '' f; do
    if ! grep -Eq "^[[:space:]]+version[[:space:]]*=[[:space:]]*\"${PROVIDER_VERSION//./\\.}\"$" "${f}"; then
      printf '%s does not pin digitalocean/digitalocean to "%s"\n' "${f#"${TF_ROOT}"/}" "${PROVIDER_VERSION}"
      bad=1
    fi
  done < <(find "${TF_ROOT}/modules" "${TF_ROOT}/environments" -name versions.tf -not -path '*/.terraform/*' -print0)
  return "${bad}"
}

has_committed_lock() { [[ -f "${TF_ROOT}/$1/.terraform.lock.hcl" ]]; }

# tf_init DIR [ARGS...] - init in the copy. A committed lock file must already
# hold the hash of the provider installed here (-lockfile=readonly). With the
# registry as source, the registry's signed hashes are added to the copy first.
tf_init() {
  local rel="$1" dir="${WORK_DIR}/$1"
  shift
  local args=(-input=false -no-color "$@")
  if has_committed_lock "${rel}"; then
    if [[ "${PROVIDER_SOURCE}" == "registry" ]]; then
      terraform -chdir="${dir}" providers lock -platform=linux_amd64 -no-color >/dev/null || return 1
    fi
    args+=(-lockfile=readonly)
  fi
  terraform -chdir="${dir}" init "${args[@]}" >/dev/null
}

# The functions below run inside check(), in a condition, where errexit is
# off: each step that may fail returns explicitly.
tf_validate() {
  tf_init "$1" -backend=false || return 1
  terraform -chdir="${WORK_DIR}/$1" validate -no-color
}

# Records the number of passed runs of one directory for the summary.
tf_test() {
  local out runs
  tf_init "$1" -backend=false || return 1
  out="$(terraform -chdir="${WORK_DIR}/$1" test -no-color)" || { printf '%s\n' "${out}"; return 1; }
  printf '%s\n' "${out}"
  runs="$(sed -n 's/^Success! \([0-9][0-9]*\) passed, 0 failed\.$/\1/p' <<<"${out}")"
  [[ -n "${runs}" ]] || { printf 'no "Success! N passed, 0 failed." line in the output\n'; return 1; }
  printf '%s %s\n' "$1" "${runs}" >>"${TEST_RUNS_FILE}"
}

test_run_total() {
  awk '{ n += $2 } END { print n + 0 }' "${TEST_RUNS_FILE}"
}

# plan_json ENV [ARGS...] - plan an environment against a local backend with a
# placeholder token (planning only new resources makes no API calls) and
# print the plan as JSON.
plan_json() {
  local env="$1" dir="${WORK_DIR}/environments/$1"
  shift
  printf 'terraform {\n  backend "local" {\n    path = "%s/%s.tfstate"\n  }\n}\n' "${WORK_DIR}" "${env}" \
    >"${dir}/backend_override.tf"
  tf_init "environments/${env}" -reconfigure || return 1
  DIGITALOCEAN_TOKEN=offline-placeholder terraform -chdir="${dir}" plan -refresh=false -lock=false \
    -input=false -no-color -out="${env}.tfplan" "${PLACEHOLDER_VARS[@]}" "$@" >&2 || return 1
  terraform -chdir="${dir}" show -no-color -json "${env}.tfplan"
}

# What each environment's plan must create, as jq checks over the plan JSON:
# each prints a line per problem and nothing when the plan is right.
# shellcheck disable=SC2016 # jq programs, not shell expansions
JQ_PLAN_HELPERS='
  def created($t): [.resource_changes[] | select(.type == $t and .change.actions == ["create"]) | .change.after];
  def expect($what; $ok): if $ok then empty else "plan: expected \($what)" end;
'
# shellcheck disable=SC2016
JQ_DEV_PLAN='
  (created("digitalocean_droplet") as $d
    | expect("1 API droplet on debian-12-x64, got \($d | map(.image))"; ($d | length) == 1 and all($d[]; .image == "debian-12-x64"))),
  (created("digitalocean_database_cluster") | map(select(.engine == "pg")) as $pg
    | expect("a 1-node PostgreSQL \($pg_major), got \($pg | map({version, node_count}))"; ($pg | length) == 1 and $pg[0].node_count == 1 and $pg[0].version == $pg_major)),
  (created("digitalocean_database_cluster") | map(select(.engine == "valkey"))
    | expect("a Valkey cluster"; length == 1)),
  expect("no load balancer in dev"; (created("digitalocean_loadbalancer") | length) == 0)
'
# shellcheck disable=SC2016
JQ_STAGING_PLAN='
  (created("digitalocean_loadbalancer") as $lb
    | expect("1 load balancer forwarding 443 to 3001, got \($lb | length)";
        ($lb | length) == 1 and any($lb[0].forwarding_rule[]; .entry_port == 443 and .target_port == 3001))),
  (created("digitalocean_droplet") as $d
    | [$d[] | select(any(.tags[]; . == "restomarket-staging-api"))] as $api
    | [$d[] | select(any(.tags[]; . == "restomarket-staging-ci-runner"))] as $runner
    | expect("2 API droplets on debian-12-x64, got \($api | map(.image))"; ($api | length) == 2 and all($api[]; .image == "debian-12-x64")),
      expect("1 CI runner droplet on debian-12-x64, got \($runner | map(.image))"; ($runner | length) == 1 and all($runner[]; .image == "debian-12-x64")),
      expect("no droplets but the API droplets and the CI runner, got \($d | map(.name))"; ($d | length) == ($api | length) + ($runner | length))),
  (created("digitalocean_database_cluster") | map(select(.engine == "pg")) as $pg
    | expect("a 2-node PostgreSQL \($pg_major), got \($pg | map({version, node_count}))"; ($pg | length) == 1 and $pg[0].node_count == 2 and $pg[0].version == $pg_major)),
  (created("digitalocean_monitor_alert") as $a
    | expect("CPU, memory, disk and load-balancer alerts, got \($a | map(.type))";
        ([$a[].type] | sort) == (["v1/insights/droplet/cpu", "v1/insights/droplet/disk_utilization_percent",
          "v1/insights/droplet/memory_utilization_percent", "v1/insights/lbaas/droplet_health"] | sort))),
  expect("an uptime check and its down alert";
    (created("digitalocean_uptime_check") | length) == 1 and (created("digitalocean_uptime_alert") | map(select(.type == "down")) | length) == 1)
'

# plan_creates ENV JQ_PROGRAM - the plan of ENV passes the jq checks; its JSON
# is kept in WORK_DIR/plans for the Terraform-Ansible agreement check.
plan_creates() {
  local env="$1" program="$2" json problems
  json="$(plan_json "${env}")" || return 1
  mkdir -p "${WORK_DIR}/plans"
  printf '%s\n' "${json}" >"${WORK_DIR}/plans/${env}.json"
  problems="$(jq -r --arg pg_major "${PG_MAJOR}" "${JQ_PLAN_HELPERS} ${program}" <<<"${json}")"
  [[ -z "${problems}" ]] || { printf '%s\n' "${problems}"; return 1; }
  jq -r '[.resource_changes[] | select(.change.actions == ["create"])] | "plan of '"${env}"': \(length) resources to create"' <<<"${json}"
}

# The staging guard must stop a one-droplet plan with its own message.
staging_rejects_one_droplet() {
  local out
  if out="$(plan_json staging -var droplet_count=1 2>&1)"; then
    printf 'plan with droplet_count=1 succeeded\n'
    return 1
  fi
  grep -q "Staging needs at least 2 API droplets" <<<"${out}" || { printf '%s\n' "${out}"; return 1; }
}

# A state in which everything a plan would create exists, built from the
# plan's JSON, so that a second plan shows what the real provider would do to
# existing resources. No API is involved: plans here never refresh.
# shellcheck disable=SC2016
JQ_STATE_FROM_PLAN='
  def resources_of($m): ($m.resources // []) + ([($m.child_modules // [])[] | resources_of(.)] | add // []);
  {
    version: 4, terraform_version: .terraform_version, serial: 1,
    lineage: "00000000-0000-0000-0000-000000000000", outputs: {},
    resources: [
      resources_of(.planned_values.root_module) | to_entries[] | .key as $n | .value
      | select(.mode == "managed")
      | {
          module: (.address | capture("^(?<m>(module\\.[^.]+\\.)*)").m | rtrimstr(".") | select(. != "")),
          mode, type, name,
          provider: "provider[\"registry.terraform.io/digitalocean/digitalocean\"]",
          instances: [{schema_version, attributes: (.values + {id: "existing-\($n)"})}
            + (if .index != null then {index_key: .index} else {} end)]
        }
    ] | group_by([.module, .type, .name]) | map(.[0] + {instances: [.[].instances[]]})
  }
'

# Rotating root's SSH keys must not replace API droplets. Proven with the real
# provider (mock_provider does not replace on ssh_keys): plan the api-cluster
# example, treat that plan as applied, plan again with another key.
key_rotation_replaces_no_droplet() {
  local dir="${WORK_DIR}/modules/api-cluster/examples/basic" replaced
  local vars=(-var vpc_id=vpc-placeholder)
  tf_init modules/api-cluster/examples/basic -backend=false || return 1
  DIGITALOCEAN_TOKEN=offline-placeholder terraform -chdir="${dir}" plan -refresh=false -lock=false -input=false \
    -no-color "${vars[@]}" -var ssh_key_fingerprint=00:11:22:33 -out=first.tfplan >/dev/null || return 1
  terraform -chdir="${dir}" show -no-color -json first.tfplan | jq "${JQ_STATE_FROM_PLAN}" >"${dir}/terraform.tfstate" \
    || return 1
  DIGITALOCEAN_TOKEN=offline-placeholder terraform -chdir="${dir}" plan -refresh=false -lock=false -input=false \
    -no-color "${vars[@]}" -var ssh_key_fingerprint=44:55:66:77 -out=rotated.tfplan >/dev/null || return 1
  replaced="$(terraform -chdir="${dir}" show -no-color -json rotated.tfplan | jq -r '
    [.resource_changes[] | select(.type == "digitalocean_droplet")] as $d
    | if ($d | length) == 0 then "no droplet in the plan"
      else ($d[] | select(.change.actions | index("delete")) | "\(.address) would be replaced (\(.action_reason))") end')" || return 1
  [[ -z "${replaced}" ]] || { printf '%s\n' "${replaced}"; return 1; }
}

run_checkov() {
  (cd "${TF_ROOT}" && "${CHECKOV_BIN}" --config-file .checkov.yaml -d .)
}

# trivy's built-in Terraform checks are compiled into the binary; with
# --skip-check-update it never fetches a newer bundle. Accepted findings live,
# each with its reason, in .trivyignore.yaml.
run_trivy() {
  (cd "${TF_ROOT}" && "${TRIVY_BIN}" config --quiet --skip-check-update --misconfig-scanners terraform \
    --severity HIGH,CRITICAL --exit-code 1 --ignorefile .trivyignore.yaml \
    --skip-dirs '**/.terraform' .)
}

terraform_dirs() {
  local d
  for d in "${TF_ROOT}"/modules/*/ "${TF_ROOT}"/modules/*/examples/*/ "${TF_ROOT}"/environments/*/; do
    d="${d%/}"
    printf '%s\n' "${d#"${TF_ROOT}"/}"
  done
}

tested_dirs() {
  local d
  for d in "${TF_ROOT}"/modules/*/ "${TF_ROOT}"/environments/*/; do
    [[ -d "${d}tests" ]] || continue
    d="${d%/}"
    printf '%s\n' "${d#"${TF_ROOT}"/}"
  done
}

run_static_checks() {
  run_check "shellcheck terraform and bootstrap scripts" shellcheck -x \
    "${TF_ROOT}"/scripts/*.sh "${RM_REPO_ROOT}/infrastructure/tools/bootstrap/python-tools.sh"
  run_check "terraform fmt -check -recursive" terraform -chdir="${TF_ROOT}" fmt -check -recursive -no-color
  run_check "checkov: 0 failed checks (skips only in .checkov.yaml)" run_checkov
  run_check "trivy config: 0 HIGH/CRITICAL (accepted only in .trivyignore.yaml)" run_trivy
  run_check "module READMEs match terraform-docs" "${SCRIPT_DIR}/docs.sh" --check
  run_check "every versions.tf pins digitalocean/digitalocean ${PROVIDER_VERSION}" versions_pin_the_provider
}

run_provider_checks() {
  build_provider
  local dir
  while read -r dir; do
    run_check "init -backend=false + validate ${dir}" tf_validate "${dir}"
  done < <(terraform_dirs)
  while read -r dir; do
    run_check "terraform test ${dir}" tf_test "${dir}"
  done < <(tested_dirs)
  run_check "plan environments/dev offline: 1 droplet, 1-node PostgreSQL ${PG_MAJOR}, Valkey" \
    plan_creates dev "${JQ_DEV_PLAN}"
  run_check "plan environments/staging offline: LB, 2 API droplets, CI runner, 2-node PostgreSQL ${PG_MAJOR}, alerts" \
    plan_creates staging "${JQ_STAGING_PLAN}"
  run_check "Terraform and Ansible agree: inventory, firewalls, CI runner, ports, health path, proxy bind, drain time, droplet memory (test-terraform-agreement.sh)" \
    "${RM_REPO_ROOT}/infrastructure/ansible/tests/test-terraform-agreement.sh" --plans "${WORK_DIR}/plans"
  run_check "staging rejects droplet_count=1 with its validation message" staging_rejects_one_droplet
  run_check "rotating root's SSH keys replaces no droplet (plan with the real provider)" \
    key_rotation_replaces_no_droplet
}

# plan_only ENV - the offline plan of ENV as JSON on stdout; logs on stderr.
plan_only() {
  local out
  PATH="$("${SCRIPT_DIR}/install-terraform.sh" | tail -n1):${PATH}"
  copy_tree
  configure_terraform
  out="$("${SCRIPT_DIR}/build-provider.sh")" || die "building the DigitalOcean provider failed" "see the messages above"
  PROVIDER_SOURCE="$(tail -n1 <<<"${out}")"
  plan_json "$1" || die "the offline plan of environments/$1 failed" "see terraform's messages above"
}

run_backend_test() {
  run_check "init-backend.sh against a local moto S3 server" "${SCRIPT_DIR}/test-init-backend.sh"
}

main() {
  parse_args "$@"
  if [[ -n "${PLAN_ENV}" ]]; then
    plan_only "${PLAN_ENV}"
    return 0
  fi
  local start
  start=$(date +%s)
  step tools ensure_tools
  step copy copy_tree
  configure_terraform
  run_static_checks
  run_provider_checks
  run_backend_test
  log "all checks took $(($(date +%s) - start))s"
  printf 'terraform test: %d runs passed in %d directories\n' "$(test_run_total)" "$(wc -l <"${TEST_RUNS_FILE}")"
  summary
}

main "$@"
