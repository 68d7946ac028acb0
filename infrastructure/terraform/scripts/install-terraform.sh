#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Provide Terraform on a machine that lacks it (a fresh build machine, a
# GitHub-hosted ubuntu-24.04 runner), built from the Go module proxy.
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../tools/lib/common.sh
source "${SCRIPT_DIR}/../../tools/lib/common.sh"
export RM_LOG_TAG="tf-install"

TERRAFORM_MODULE="github.com/hashicorp/terraform"
TERRAFORM_VERSION="v1.11.4"
INSTALL_DIR="${RM_BIN_DIR}/terraform-${TERRAFORM_VERSION}"
BUILD_LOG="${RM_CACHE_DIR}/terraform-build.log"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [-h|--help]

Prints a directory to put first on PATH that holds terraform ${TERRAFORM_VERSION#v}.
When terraform is already on PATH, prints its directory and builds nothing.
Otherwise builds ${TERRAFORM_MODULE}@${TERRAFORM_VERSION} once from the Go module
proxy into ${INSTALL_DIR} (no Terraform release download is reachable from
the build machines; about 3 minutes on 2 cores).

Environment:
  RESTOMARKET_CACHE_DIR  cache root (default: ~/.cache/restomarket)
USAGE
}

build_terraform() {
  have go || die "terraform is not installed and go is not either" \
    "install Terraform ${TERRAFORM_VERSION#v} (or Go, to build it from the Go module proxy) and re-run"
  local moddir
  log "downloading ${TERRAFORM_MODULE}@${TERRAFORM_VERSION} from the Go module proxy"
  moddir="$(go mod download -json "${TERRAFORM_MODULE}@${TERRAFORM_VERSION}" | jq -r '.Dir // empty')" || true
  [[ -n "${moddir}" && -d "${moddir}" ]] || die "go mod download ${TERRAFORM_MODULE}@${TERRAFORM_VERSION} failed" \
    "check that the Go module proxy is reachable (GOPROXY=$(go env GOPROXY))"
  mkdir -p "${INSTALL_DIR}"
  log "compiling Terraform (log: ${BUILD_LOG})"
  # go install refuses the module (its go.mod has replace directives), so
  # build from inside the downloaded module directory.
  if ! (cd "${moddir}" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags '-s -w' \
    -o "${INSTALL_DIR}/terraform.tmp" .) >"${BUILD_LOG}" 2>&1; then
    tail -n 5 "${BUILD_LOG}" >&2
    rm -f "${INSTALL_DIR}/terraform.tmp"
    die "go build of Terraform failed (log: ${BUILD_LOG})" "read the log; a Go older than Terraform's go.mod asks for is the usual cause"
  fi
  mv -f "${INSTALL_DIR}/terraform.tmp" "${INSTALL_DIR}/terraform"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unknown argument: $1" "run with --help" ;;
  esac
  if have terraform; then
    dirname "$(command -v terraform)"
    return 0
  fi
  if [[ ! -x "${INSTALL_DIR}/terraform" ]]; then
    ensure_apt_packages jq
    step build-terraform build_terraform
  fi
  log "$("${INSTALL_DIR}/terraform" version | head -n1) in ${INSTALL_DIR}"
  printf '%s\n' "${INSTALL_DIR}"
}

main "$@"
