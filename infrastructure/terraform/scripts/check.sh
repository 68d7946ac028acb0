#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Every offline check of the Terraform code: shellcheck, fmt, init+validate,
# terraform test (mocked provider), plans, checkov and the init-backend test.
# Ends with "N passed, N failed"; exits non-zero when anything failed.
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/lib/common.sh
source "${SCRIPT_DIR}/../../scripts/lib/common.sh"
# shellcheck source=../../scripts/lib/testing.sh
source "${SCRIPT_DIR}/../../scripts/lib/testing.sh"
export RM_LOG_TAG="tf-check"

TF_ROOT="${RM_REPO_ROOT}/infrastructure/terraform"
TF_HOME="${RM_CACHE_DIR}/terraform"
# Terraform runs in a copy so init never writes .terraform/ or lock files
# into the work tree.
WORK_DIR="${TF_HOME}/check"
PROVIDER_READY=""
PROVIDER_MISSING_REASON=""
PLACEHOLDER_VARS=(
  -var 'ssh_key_fingerprints=["00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff"]'
  -var 'deploy_ssh_public_keys=["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlaceholderKeyForOfflinePlan check@restomarket"]'
)

usage() {
  cat <<USAGE
Usage: $(basename "$0") [-h|--help]

Runs all offline checks of infrastructure/terraform and prints each result:
  shellcheck of the Terraform and bootstrap scripts, terraform fmt, checkov,
  the terraform-docs tables in the module READMEs, the provider build
  (build-provider.sh), init -backend=false + validate of every module,
  example and environment, terraform test of every module and environment
  (mock_provider), a plan of each environment with placeholder credentials,
  the staging droplet-count guard, and the init-backend.sh test against a
  local moto S3 server.

Terraform works in a copy under ${WORK_DIR}, with the CLI config
from build-provider.sh, so the repository stays clean. Installs shellcheck
(apt) and the checkov/moto venvs (python-tools.sh) when missing.
USAGE
}

parse_args() {
  case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) usage >&2; die "unknown argument: $1" "run with --help" ;;
  esac
}

# run_check NAME COMMAND... - announce a check, then record its result.
run_check() {
  log "check: $1"
  check "$@"
}

# provider_check NAME COMMAND... - a check that needs the provider binary.
provider_check() {
  if [[ -z "${PROVIDER_READY}" ]]; then
    skip "$1" "${PROVIDER_MISSING_REASON}"
    return 0
  fi
  run_check "$@"
}

ensure_tools() {
  have terraform || die "terraform not found on PATH" \
    "install Terraform 1.11 (/usr/local/bin/terraform on the build machines); it cannot be downloaded from here"
  ensure_apt_packages shellcheck curl
  CHECKOV_BIN="$("${RM_REPO_ROOT}/infrastructure/scripts/bootstrap/python-tools.sh" checkov | tail -n1)/bin/checkov"
}

copy_tree() {
  rm -rf "${WORK_DIR}"
  mkdir -p "${WORK_DIR}" "${TF_HOME}/plugin-cache"
  tar -C "${TF_ROOT}" --exclude=.terraform --exclude=.terraform.lock.hcl --exclude='*.tfstate*' -cf - . \
    | tar -C "${WORK_DIR}" -xf -
}

configure_terraform() {
  export TF_CLI_CONFIG_FILE="${TF_HOME}/terraformrc"
  # Link the ~100 MB provider from one cache instead of copying it per directory.
  export TF_PLUGIN_CACHE_DIR="${TF_HOME}/plugin-cache"
  export TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE=true
  export TF_IN_AUTOMATION=1 TF_INPUT=0
  unset DIGITALOCEAN_TOKEN DIGITALOCEAN_ACCESS_TOKEN
}

# Not through check(): that runs in a subshell, and PROVIDER_READY must stick.
build_provider() {
  local name="build-provider: digitalocean/digitalocean in the filesystem mirror" out
  log "check: ${name}"
  # shellcheck source=../provider/versions.env
  if [[ -z "$(source "${SCRIPT_DIR}/../provider/versions.env" && echo "${GO_MODULE_VERSION}")" ]]; then
    PROVIDER_MISSING_REASON="not run: no v2.99.x version of the provider is pinned (provider/versions.env); the Go module proxy reachable here refuses every version query for it"
    skip "${name}" "${PROVIDER_MISSING_REASON}"
    return 0
  fi
  PROVIDER_MISSING_REASON="not run: the provider build failed (see the build-provider check)"
  if out="$("${SCRIPT_DIR}/build-provider.sh" 2>&1)"; then
    PROVIDER_READY=1
    pass "${name}"
  else
    fail "${name}" "$(tail -n 3 <<<"${out}")"
  fi
}

shellcheck_scripts() {
  shellcheck -x "$@"
}

tf_validate() {
  local dir="${WORK_DIR}/$1"
  terraform -chdir="${dir}" init -backend=false -input=false -no-color >/dev/null
  terraform -chdir="${dir}" validate -no-color
}

tf_test() {
  local dir="${WORK_DIR}/$1"
  terraform -chdir="${dir}" init -backend=false -input=false -no-color >/dev/null
  terraform -chdir="${dir}" test -no-color
}

# Plans an environment against a local backend: no Spaces, and a placeholder
# token, because planning only new resources makes no API calls.
tf_plan_env() {
  local env="$1" dir="${WORK_DIR}/environments/$1" out
  shift
  printf 'terraform {\n  backend "local" {\n    path = "%s/%s.tfstate"\n  }\n}\n' "${WORK_DIR}" "${env}" \
    >"${dir}/backend_override.tf"
  terraform -chdir="${dir}" init -reconfigure -input=false -no-color >/dev/null
  out="$(DIGITALOCEAN_TOKEN=offline-placeholder terraform -chdir="${dir}" plan -refresh=false -lock=false \
    -input=false -no-color "${PLACEHOLDER_VARS[@]}")"
  printf '%s\n' "${out}"
  local resource
  for resource in "$@"; do
    grep -Eq "# [^ ]*${resource}\.[a-z_]+(\[[^]]*\])? will be created" <<<"${out}" \
      || { printf 'plan of %s shows no %s\n' "${env}" "${resource}"; return 1; }
  done
}

# The staging guard must stop a one-droplet plan with its own message.
staging_rejects_one_droplet() {
  local out
  if out="$(DIGITALOCEAN_TOKEN=offline-placeholder terraform -chdir="${WORK_DIR}/environments/staging" plan \
    -refresh=false -lock=false -input=false -no-color "${PLACEHOLDER_VARS[@]}" -var droplet_count=1 2>&1)"; then
    printf 'plan with droplet_count=1 succeeded\n'
    return 1
  fi
  grep -q "Staging needs at least 2 API droplets" <<<"${out}" || { printf '%s\n' "${out}"; return 1; }
}

run_checkov() {
  (cd "${TF_ROOT}" && "${CHECKOV_BIN}" --config-file .checkov.yaml -d .)
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
  run_check "shellcheck terraform and bootstrap scripts" shellcheck_scripts \
    "${TF_ROOT}"/scripts/*.sh "${RM_REPO_ROOT}/infrastructure/scripts/bootstrap/python-tools.sh"
  run_check "terraform fmt -check -recursive" terraform -chdir="${TF_ROOT}" fmt -check -recursive -no-color
  run_check "checkov: 0 failed checks (skips only in .checkov.yaml)" run_checkov
  run_check "module READMEs match terraform-docs" "${SCRIPT_DIR}/docs.sh" --check
}

run_provider_checks() {
  build_provider
  local dir
  while read -r dir; do
    provider_check "init -backend=false + validate ${dir}" tf_validate "${dir}"
  done < <(terraform_dirs)
  while read -r dir; do
    provider_check "terraform test ${dir}" tf_test "${dir}"
  done < <(tested_dirs)
  provider_check "plan environments/dev offline" tf_plan_env dev digitalocean_droplet digitalocean_database_cluster
  provider_check "plan environments/staging offline shows the LB and alerts" tf_plan_env staging \
    digitalocean_loadbalancer digitalocean_monitor_alert digitalocean_uptime_alert
  provider_check "staging rejects droplet_count=1 with its validation message" staging_rejects_one_droplet
}

run_backend_test() {
  run_check "init-backend.sh against a local moto S3 server" "${SCRIPT_DIR}/test-init-backend.sh"
}

main() {
  parse_args "$@"
  local start
  start=$(date +%s)
  step tools ensure_tools
  step copy copy_tree
  configure_terraform
  run_static_checks
  run_provider_checks
  run_backend_test
  log "all checks took $(($(date +%s) - start))s"
  summary
}

main "$@"
