#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Build the DigitalOcean Terraform provider from the Go module proxy into a
# local filesystem mirror, and write the Terraform CLI config that uses it.
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../scripts/lib/common.sh
source "${SCRIPT_DIR}/../../scripts/lib/common.sh"
export RM_LOG_TAG="tf-providers"

PROVIDER_SRC_DIR="${RM_REPO_ROOT}/infrastructure/terraform/provider"
UPSTREAM_MODULE="github.com/digitalocean/terraform-provider-digitalocean"
PROVIDER_ADDRESS="registry.terraform.io/digitalocean/digitalocean"
TF_HOME="${RM_CACHE_DIR}/terraform"
MIRROR_DIR="${TF_HOME}/mirror"
CLI_CONFIG="${TF_HOME}/terraformrc"
BUILD_DIR="${TF_HOME}/provider-build"
# Outside the mirror: Terraform treats any file there named terraform-provider-* as a plugin.
STAMP_FILE="${TF_HOME}/provider.stamp"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [-h|--help]

Builds ${PROVIDER_ADDRESS} from the Go module proxy with the
project's wrapper module (infrastructure/terraform/provider) and installs it as

  ${MIRROR_DIR}/${PROVIDER_ADDRESS}/<VERSION>/linux_amd64/terraform-provider-digitalocean_v<VERSION>

then writes the Terraform CLI config ${CLI_CONFIG}
(filesystem mirror for the DigitalOcean provider, no registry download for it).
Use it with:  export TF_CLI_CONFIG_FILE=${CLI_CONFIG}

Idempotent: a binary built from the same pins and wrapper source is reused, so
a second run takes about a second. The versions come from
infrastructure/terraform/provider/versions.env; DO_PROVIDER_GO_VERSION in the
environment overrides GO_MODULE_VERSION there.

Environment:
  RESTOMARKET_CACHE_DIR  cache root (default: ~/.cache/restomarket)
  DO_PROVIDER_GO_VERSION Go pseudo-version of the upstream commit to build
USAGE
}

parse_args() {
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown argument: $1" "run with --help" ;;
    esac
  done
}

load_pins() {
  local pins="${PROVIDER_SRC_DIR}/versions.env"
  [[ -f "${pins}" ]] || die "missing ${pins}" "restore it from git"
  # shellcheck source=../provider/versions.env
  source "${pins}"
  TF_PROVIDER_VERSION="${TF_PROVIDER_VERSION:?versions.env must set TF_PROVIDER_VERSION}"
  GO_MODULE_VERSION="${DO_PROVIDER_GO_VERSION:-${GO_MODULE_VERSION:-}}"
  PLATFORM_DIR="${MIRROR_DIR}/${PROVIDER_ADDRESS}/${TF_PROVIDER_VERSION}/linux_amd64"
  BINARY="${PLATFORM_DIR}/terraform-provider-digitalocean_v${TF_PROVIDER_VERSION}"
  log "provider ${PROVIDER_ADDRESS} ${TF_PROVIDER_VERSION} from ${UPSTREAM_MODULE}@${GO_MODULE_VERSION:-<unpinned>}"
}

check_toolchain() {
  [[ "$(uname -s)/$(uname -m)" == "Linux/x86_64" ]] \
    || die "only linux_amd64 is supported, this is $(uname -s)/$(uname -m)" "run on the project's Debian build machine"
  have go || die "go not found" "install Go 1.24 or newer (the build machines have it at /usr/local/go/bin)"
  have terraform || die "terraform not found on PATH" \
    "install Terraform 1.11 (the build machines have /usr/local/bin/terraform); it cannot be downloaded from here"
  log "$(go version), $(terraform version 2>/dev/null | head -n1)"
}

# The stamp ties a binary to everything it was built from.
build_stamp() {
  printf '%s\n' "${TF_PROVIDER_VERSION}" "${GO_MODULE_VERSION}" "$(go env GOVERSION)" \
    "$(cat "${PROVIDER_SRC_DIR}/go.mod" "${PROVIDER_SRC_DIR}/main.go" | sha256sum | cut -d' ' -f1)"
}

binary_is_current() {
  [[ -x "${BINARY}" && -f "${STAMP_FILE}" && "$(cat "${STAMP_FILE}")" == "$(build_stamp)" ]]
}

require_pin() {
  [[ -n "${GO_MODULE_VERSION}" ]] && return 0
  die "no Go module version pinned for ${UPSTREAM_MODULE} ${TF_PROVIDER_VERSION}" \
    "set GO_MODULE_VERSION in infrastructure/terraform/provider/versions.env to the pseudo-version of the commit tagged v${TF_PROVIDER_VERSION} (go mod download -json ${UPSTREAM_MODULE}@<commit> prints it on a machine whose proxy resolves commits)"
}

prepare_build_dir() {
  rm -rf "${BUILD_DIR}"
  mkdir -p "${BUILD_DIR}"
  cp "${PROVIDER_SRC_DIR}/go.mod" "${PROVIDER_SRC_DIR}/main.go" "${BUILD_DIR}/"
  (cd "${BUILD_DIR}" && go mod edit -require="${UPSTREAM_MODULE}@${GO_MODULE_VERSION}")
}

compile_provider() {
  local tmp="${BINARY}.tmp"
  mkdir -p "${PLATFORM_DIR}"
  # -mod=mod lets go resolve the provider's own dependencies into go.sum.
  # The proxy's checksum-database endpoint answers 404 for the provider module
  # (its dependencies verify normally), so only that module skips the lookup.
  if ! (cd "${BUILD_DIR}" && GOFLAGS="${GOFLAGS:-} -mod=mod" CGO_ENABLED=0 \
    GONOSUMDB="${GONOSUMDB:+${GONOSUMDB},}${UPSTREAM_MODULE}" \
    go build -trimpath -ldflags "-s -w" -o "${tmp}" .); then
    rm -f "${tmp}"
    die "go build of ${UPSTREAM_MODULE}@${GO_MODULE_VERSION} failed" \
      "check that the Go module proxy serves that exact version (go mod download -json ${UPSTREAM_MODULE}@${GO_MODULE_VERSION})"
  fi
  mv -f "${tmp}" "${BINARY}"
  build_stamp >"${STAMP_FILE}"
  log "installed $(du -h "${BINARY}" | cut -f1) binary at ${BINARY}"
}

build_provider() {
  if binary_is_current; then
    log "provider binary is up to date: ${BINARY}"
    return 0
  fi
  require_pin
  prepare_build_dir
  compile_provider
}

write_cli_config() {
  local content
  content=$(
    cat <<HCL
# Written by infrastructure/terraform/scripts/build-provider.sh; do not edit.
provider_installation {
  filesystem_mirror {
    path    = "${MIRROR_DIR}"
    include = ["${PROVIDER_ADDRESS}"]
  }
  direct {
    exclude = ["${PROVIDER_ADDRESS}"]
  }
}
HCL
  )
  mkdir -p "${TF_HOME}"
  if [[ -f "${CLI_CONFIG}" && "$(cat "${CLI_CONFIG}")" == "${content}" ]]; then
    log "CLI config is up to date: ${CLI_CONFIG}"
    return 0
  fi
  printf '%s\n' "${content}" >"${CLI_CONFIG}"
  log "wrote CLI config ${CLI_CONFIG}"
}

main() {
  parse_args "$@"
  step load-pins load_pins
  step toolchain check_toolchain
  step build-provider build_provider
  step cli-config write_cli_config
  log "use it with: export TF_CLI_CONFIG_FILE=${CLI_CONFIG}"
}

main "$@"
