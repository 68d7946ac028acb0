#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Create the DigitalOcean Spaces bucket that holds Terraform state, with
# versioning, so every environment's backend.tf can use it. Safe to re-run.
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../tools/lib/common.sh
source "${SCRIPT_DIR}/../../tools/lib/common.sh"
export RM_LOG_TAG="init-backend"

BUCKET="restomarket-terraform-state"
SPACES_REGION="fra1"
ENDPOINT=""

usage() {
  cat <<USAGE
Usage: $(basename "$0") [--bucket NAME] [--region SLUG] [--endpoint URL]

Creates the Terraform state bucket in DigitalOcean Spaces if it does not
exist and turns on object versioning, so an overwritten or deleted state can
be restored. Running it again changes nothing. Locking needs no extra table:
the backends use S3 lock files (use_lockfile = true).

Options:
  --bucket NAME    bucket name (default: ${BUCKET}; must match backend.tf)
  --region SLUG    Spaces region (default: ${SPACES_REGION}); sets the endpoint
                   https://SLUG.digitaloceanspaces.com
  --endpoint URL   any S3-compatible endpoint instead (tests use a local one)
  -h, --help       show this help

Credentials (environment only, never arguments or files in the repo):
  AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY  a Spaces access key
  (SPACES_ACCESS_KEY_ID / SPACES_SECRET_ACCESS_KEY are accepted too).
  Create one under API > Spaces Keys in the DigitalOcean control panel.

The S3 client is 'aws' from PATH, or else the project's venv built by
infrastructure/tools/bootstrap/python-tools.sh s3.
USAGE
}

parse_args() {
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --bucket) BUCKET="${2:?--bucket needs a name}"; shift 2 ;;
      --region) SPACES_REGION="${2:?--region needs a slug}"; shift 2 ;;
      --endpoint) ENDPOINT="${2:?--endpoint needs a URL}"; shift 2 ;;
      *) usage >&2; die "unknown argument: $1" "run with --help" ;;
    esac
  done
  [[ "${BUCKET}" =~ ^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$ ]] \
    || die "invalid bucket name: ${BUCKET}" "use 3-63 lowercase letters, digits and dashes"
  [[ "${SPACES_REGION}" =~ ^[a-z]{3}[0-9]$ ]] \
    || die "invalid Spaces region: ${SPACES_REGION}" "use a slug such as fra1, ams3, nyc3, sgp1"
  ENDPOINT="${ENDPOINT:-https://${SPACES_REGION}.digitaloceanspaces.com}"
}

load_credentials() {
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-${SPACES_ACCESS_KEY_ID:-}}"
  export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-${SPACES_SECRET_ACCESS_KEY:-}}"
  if [[ -z "${AWS_ACCESS_KEY_ID}" || -z "${AWS_SECRET_ACCESS_KEY}" ]]; then
    die "no Spaces credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set" \
      "create a Spaces access key (control panel > API > Spaces Keys) and export both variables"
  fi
  # Spaces ignores the region in the signature but the client needs one.
  export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
}

find_s3_client() {
  if have aws; then
    AWS_BIN="$(command -v aws)"
  else
    local venv
    venv="$("${RM_REPO_ROOT}/infrastructure/tools/bootstrap/python-tools.sh" s3 | tail -n1)"
    AWS_BIN="${venv}/bin/aws"
  fi
  log "S3 client: ${AWS_BIN}, endpoint: ${ENDPOINT}"
}

s3api() {
  "${AWS_BIN}" --endpoint-url "${ENDPOINT}" --output text s3api "$@"
}

ensure_bucket() {
  local err
  if err=$(s3api head-bucket --bucket "${BUCKET}" 2>&1); then
    log "bucket ${BUCKET} already exists"
    return 0
  fi
  case "${err}" in
    *403* | *Forbidden*)
      die "bucket ${BUCKET} exists but these credentials may not use it" \
        "bucket names are global in a Spaces region; pick another with --bucket and update backend.tf"
      ;;
    *404* | *"Not Found"* | *NoSuchBucket*) ;;
    *) die "cannot reach ${ENDPOINT}: ${err}" "check the endpoint, the network and the credentials" ;;
  esac
  s3api create-bucket --bucket "${BUCKET}" >/dev/null
  log "created bucket ${BUCKET}"
}

enable_versioning() {
  local status
  status=$(s3api get-bucket-versioning --bucket "${BUCKET}" --query Status)
  if [[ "${status}" == "Enabled" ]]; then
    log "versioning already enabled on ${BUCKET}"
    return 0
  fi
  s3api put-bucket-versioning --bucket "${BUCKET}" --versioning-configuration Status=Enabled
  status=$(s3api get-bucket-versioning --bucket "${BUCKET}" --query Status)
  [[ "${status}" == "Enabled" ]] || die "versioning on ${BUCKET} reads '${status}' after enabling it" "check the bucket in the control panel"
  log "enabled versioning on ${BUCKET}"
}

print_next_steps() {
  log "state bucket ready: ${BUCKET} at ${ENDPOINT}"
  log "next: cd infrastructure/terraform/environments/<env> && terraform init"
}

main() {
  parse_args "$@"
  load_credentials
  find_s3_client
  step bucket ensure_bucket
  step versioning enable_versioning
  print_next_steps
}

main "$@"
