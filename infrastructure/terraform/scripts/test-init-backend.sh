#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Test init-backend.sh against a local S3-compatible server (moto) that this
# script starts on 127.0.0.1 and stops again: creation, versioning, a second
# run that changes nothing, the error paths, and each environment's real
# backend.tf storing and locking state in the bucket.
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../tools/lib/common.sh
source "${SCRIPT_DIR}/../../tools/lib/common.sh"
# shellcheck source=../../tools/lib/testing.sh
source "${SCRIPT_DIR}/../../tools/lib/testing.sh"
export RM_LOG_TAG="test-init-backend"

INIT_BACKEND="${SCRIPT_DIR}/init-backend.sh"
ENV_DIR="${SCRIPT_DIR}/../environments"
BUCKET="restomarket-state-test"
MOTO_PID=""
WORK_DIR=""

usage() {
  cat <<USAGE
Usage: $(basename "$0") [-h|--help]

Starts a moto S3 server on a free 127.0.0.1 port, runs init-backend.sh
against it (twice, plus the error paths), checks the bucket and its
versioning with the AWS CLI, then points each environment's backend.tf at
the bucket (endpoint and path-style overridden for the local server) and
checks that Terraform stores state there and honours the lock file. Stops
the server and prints "N passed, N failed".
The Python tools come from python-tools.sh s3 (cached venv).
USAGE
}

parse_args() {
  case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) usage >&2; die "unknown argument: $1" "run with --help" ;;
  esac
}

prepare_tools() {
  VENV="$("${RM_REPO_ROOT}/infrastructure/tools/bootstrap/python-tools.sh" s3 | tail -n1)"
  WORK_DIR="$(mktemp -d)"
  # init-backend.sh must find the same client a fresh machine would.
  export PATH="${VENV}/bin:${PATH}"
}

free_port() {
  "${VENV}/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start_s3_server() {
  local port
  port="$(free_port)"
  ENDPOINT="http://127.0.0.1:${port}"
  "${VENV}/bin/moto_server" -H 127.0.0.1 -p "${port}" >"${WORK_DIR}/moto.log" 2>&1 &
  MOTO_PID=$!
  wait_until 30 "moto S3 server on ${ENDPOINT}" curl -sf "${ENDPOINT}/" \
    || die "moto did not start: $(tail -n 5 "${WORK_DIR}/moto.log")" "check ${WORK_DIR}/moto.log"
}

stop_s3_server() {
  if [[ -n "${MOTO_PID}" ]] && kill -0 "${MOTO_PID}" 2>/dev/null; then
    kill "${MOTO_PID}"
    wait "${MOTO_PID}" 2>/dev/null || true
  fi
  [[ -n "${WORK_DIR}" ]] && rm -rf "${WORK_DIR}"
  return 0
}

with_test_credentials() {
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "$@"
}

s3api() {
  with_test_credentials aws --endpoint-url "${ENDPOINT}" --region us-east-1 --output text s3api "$@"
}

run_init_backend() {
  with_test_credentials "${INIT_BACKEND}" --endpoint "${ENDPOINT}" --bucket "${BUCKET}" 2>&1
}

test_help() {
  local out
  out="$("${INIT_BACKEND}" --help)"
  expect_match "--help prints usage" '^Usage: init-backend.sh' "${out}"
}

test_missing_credentials() {
  local out rc=0
  out="$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u SPACES_ACCESS_KEY_ID -u SPACES_SECRET_ACCESS_KEY \
    "${INIT_BACKEND}" --endpoint "${ENDPOINT}" --bucket "${BUCKET}" 2>&1)" || rc=$?
  expect_eq "missing credentials exit non-zero" 1 "${rc}"
  expect_match "missing credentials name the variables" 'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set' "${out}"
}

test_unknown_argument() {
  check_fails "unknown argument is rejected" "${INIT_BACKEND}" --bogus
}

test_first_run_creates_versioned_bucket() {
  local out
  out="$(run_init_backend)" || { fail "first run succeeds" "${out}"; return 0; }
  pass "first run succeeds"
  expect_match "first run creates the bucket" 'created bucket restomarket-state-test' "${out}"
  expect_match "first run enables versioning" 'enabled versioning on restomarket-state-test' "${out}"
  check "bucket exists" s3api head-bucket --bucket "${BUCKET}"
  expect_eq "versioning is Enabled" "Enabled" "$(s3api get-bucket-versioning --bucket "${BUCKET}" --query Status)"
}

test_second_run_changes_nothing() {
  local before after out
  s3api put-object --bucket "${BUCKET}" --key probe/object --body "${INIT_BACKEND}" >/dev/null
  before="$(s3api list-object-versions --bucket "${BUCKET}" --query 'Versions[].VersionId')"
  out="$(run_init_backend)" || { fail "second run succeeds" "${out}"; return 0; }
  pass "second run succeeds"
  expect_match "second run finds the bucket" 'bucket restomarket-state-test already exists' "${out}"
  expect_match "second run finds versioning on" 'versioning already enabled' "${out}"
  if [[ "${out}" =~ created\ bucket|enabled\ versioning\ on ]]; then
    fail "second run makes no change" "${out}"
  else
    pass "second run makes no change"
  fi
  after="$(s3api list-object-versions --bucket "${BUCKET}" --query 'Versions[].VersionId')"
  expect_eq "stored state versions are untouched" "${before}" "${after}"
  expect_eq "versioning is still Enabled" "Enabled" "$(s3api get-bucket-versioning --bucket "${BUCKET}" --query Status)"
}

test_bad_bucket_name() {
  check_fails "invalid bucket name is rejected" \
    with_test_credentials "${INIT_BACKEND}" --endpoint "${ENDPOINT}" --bucket "Bad_Name"
}

# Everything of backend.tf is used as committed except the endpoint and the
# addressing style (Spaces uses virtual hosts; a server on 127.0.0.1 cannot).
terraform_with_backend() {
  local dir="$1"
  shift
  (cd "${dir}" && with_test_credentials env TF_CLI_CONFIG_FILE=/dev/null TF_IN_AUTOMATION=1 terraform "$@" -no-color)
}

test_environment_backend() {
  local env="$1" dir="${WORK_DIR}/backend-$1" out
  mkdir -p "${dir}"
  cp "${ENV_DIR}/${env}/backend.tf" "${dir}/"
  printf 'resource "terraform_data" "probe" {\n  input = "%s"\n}\n' "${env}" >"${dir}/main.tf"
  if ! out="$(terraform_with_backend "${dir}" init -input=false -backend-config="bucket=${BUCKET}" \
    -backend-config="endpoints={s3=\"${ENDPOINT}\"}" -backend-config=use_path_style=true 2>&1)"; then
    fail "${env} backend.tf initialises against the bucket" "$(tail -n 5 <<<"${out}")"
    return 0
  fi
  pass "${env} backend.tf initialises against the bucket"
  check "${env} state is written to ${env}/terraform.tfstate" terraform_with_backend "${dir}" apply -auto-approve -input=false
  check "${env} state object exists in the bucket" s3api head-object --bucket "${BUCKET}" --key "${env}/terraform.tfstate"
  printf '{"ID":"held-by-test"}' >"${WORK_DIR}/lock.json"
  s3api put-object --bucket "${BUCKET}" --key "${env}/terraform.tfstate.tflock" --body "${WORK_DIR}/lock.json" >/dev/null
  out="$(terraform_with_backend "${dir}" plan -input=false -lock-timeout=0s 2>&1)" || true
  expect_match "${env} plan refuses a state locked by another run" 'Error acquiring the state lock' "${out}"
  s3api delete-object --bucket "${BUCKET}" --key "${env}/terraform.tfstate.tflock" >/dev/null
}

main() {
  parse_args "$@"
  ensure_apt_packages curl
  prepare_tools
  trap stop_s3_server EXIT
  start_s3_server
  printf 'init-backend.sh against moto at %s\n' "${ENDPOINT}"
  test_help
  test_unknown_argument
  test_missing_credentials
  test_bad_bucket_name
  test_first_run_creates_versioned_bucket
  test_second_run_changes_nothing
  if have terraform; then
    test_environment_backend dev
    test_environment_backend staging
  else
    fail "environment backends store and lock state" "terraform not found on PATH"
  fi
  summary
}

main "$@"
