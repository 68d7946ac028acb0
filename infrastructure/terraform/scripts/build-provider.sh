#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Build the DigitalOcean Terraform provider from the vendored source archive
# into a local filesystem mirror, and write the Terraform CLI config that uses
# it. Without the archive, fall back to the Terraform registry when it answers.
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../tools/lib/common.sh
source "${SCRIPT_DIR}/../../tools/lib/common.sh"
export RM_LOG_TAG="tf-providers"

# The one source of the provider version: every versions.tf pins exactly this
# (check.sh verifies it) and the environments' lock files record it.
TF_PROVIDER_VERSION="2.99.1"
# A Go binary is bit-for-bit repeatable only with the same toolchain, and the
# environments' lock files hold the hash of this build; pinning the toolchain
# keeps that hash the same on every linux_amd64 machine.
GO_TOOLCHAIN="go1.26.8"
PROVIDER_ADDRESS="registry.terraform.io/digitalocean/digitalocean"
ARCHIVE_NAME="terraform-provider-digitalocean-${TF_PROVIDER_VERSION}-src.tar.gz"
ARCHIVE_TOP="terraform-provider-digitalocean-${TF_PROVIDER_VERSION}"
REGISTRY_PROBE="https://registry.terraform.io/.well-known/terraform.json"

VENDOR_DIR="${RESTOMARKET_VENDOR_DIR:-${RM_REPO_ROOT}/../shared/vendor}"
TF_HOME="${RM_CACHE_DIR}/terraform"
MIRROR_DIR="${TF_HOME}/mirror"
CLI_CONFIG="${TF_HOME}/terraformrc"
SRC_ROOT="${TF_HOME}/provider-src"
BUILD_LOG="${TF_HOME}/provider-build.log"
PLATFORM_DIR="${MIRROR_DIR}/${PROVIDER_ADDRESS}/${TF_PROVIDER_VERSION}/linux_amd64"
BINARY="${PLATFORM_DIR}/terraform-provider-digitalocean_v${TF_PROVIDER_VERSION}"
# Outside the mirror: Terraform treats any file there named terraform-provider-* as a plugin.
STAMP_FILE="${TF_HOME}/provider.stamp"
BUILD_FLAGS=(-trimpath -buildvcs=false -ldflags "-s -w -buildid=")

usage() {
  cat <<USAGE
Usage: $(basename "$0") [--print-version] [-h|--help]

Makes ${PROVIDER_ADDRESS} ${TF_PROVIDER_VERSION} available
to Terraform on a machine that cannot reach the Terraform registry.

With the vendored source archive (${VENDOR_DIR}/${ARCHIVE_NAME}):
  verifies it against SHA256SUMS beside it, extracts it under ${SRC_ROOT},
  builds it offline (GOFLAGS=-mod=vendor GOPROXY=off CGO_ENABLED=0 go build
  ${BUILD_FLAGS[*]}, toolchain ${GO_TOOLCHAIN}) and installs
    ${BINARY}
  then writes the CLI config ${CLI_CONFIG}
  (filesystem mirror for this provider, no registry download for it).
  A stamp of the archive's hash and the toolchain makes a re-run a no-op.

Without the archive, when ${REGISTRY_PROBE} answers (a CI runner with
internet access): writes a CLI config with no mirror, so terraform init
downloads the signed release from the registry. Otherwise it stops.

Prints the provider source on stdout ("vendored" or "registry"); logs go to stderr.
Use the result with:  export TF_CLI_CONFIG_FILE=${CLI_CONFIG}

Options:
  --print-version   print ${TF_PROVIDER_VERSION} and exit

Environment:
  RESTOMARKET_CACHE_DIR   cache root (default: ~/.cache/restomarket)
  RESTOMARKET_VENDOR_DIR  folder holding the archive and SHA256SUMS
                          (default: <repo>/../shared/vendor)
USAGE
}

parse_args() {
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --print-version) printf '%s\n' "${TF_PROVIDER_VERSION}"; exit 0 ;;
      *) usage >&2; die "unknown argument: $1" "run with --help" ;;
    esac
  done
}

check_platform() {
  [[ "$(uname -s)/$(uname -m)" == "Linux/x86_64" ]] \
    || die "only linux_amd64 is supported, this is $(uname -s)/$(uname -m)" "run on the project's Debian build machine"
}

archive_path() { printf '%s/%s' "${VENDOR_DIR}" "${ARCHIVE_NAME}"; }

registry_answers() {
  have curl && curl -fsS --max-time 10 -o /dev/null "${REGISTRY_PROBE}" 2>/dev/null
}

# choose_source - "vendored" when the archive is there, "registry" when it is
# not but the registry answers; stops otherwise.
choose_source() {
  if [[ -f "$(archive_path)" ]]; then
    log "using the vendored source archive $(archive_path)"
    SOURCE="vendored"
    return 0
  fi
  if registry_answers; then
    log "no vendored archive at $(archive_path); registry.terraform.io answers, so terraform init will download ${TF_PROVIDER_VERSION} from it"
    SOURCE="registry"
    return 0
  fi
  die "the vendored provider archive $(archive_path) is missing and registry.terraform.io is unreachable" \
    "put the project's shared/ folder beside the repository (it holds vendor/${ARCHIVE_NAME} and SHA256SUMS) or set RESTOMARKET_VENDOR_DIR to the folder that holds them"
}

archive_sha256() {
  sha256sum "$(archive_path)" | cut -d' ' -f1
}

verify_archive() {
  local sums="${VENDOR_DIR}/SHA256SUMS" expected actual
  [[ -f "${sums}" ]] || die "${sums} is missing, so $(archive_path) cannot be verified" \
    "restore SHA256SUMS from the shared folder; never build from an unverified archive"
  expected="$(awk -v f="${ARCHIVE_NAME}" '$2 == f || $2 == "*" f { print $1 }' "${sums}")"
  [[ -n "${expected}" ]] || die "${sums} has no line for ${ARCHIVE_NAME}" \
    "restore the shared folder; its SHA256SUMS must list the archive"
  actual="$(archive_sha256)"
  [[ "${actual}" == "${expected}" ]] || die "checksum mismatch for $(archive_path): SHA256SUMS says ${expected}, the file is ${actual}" \
    "the archive is corrupt or was replaced; restore it from the shared folder and do not build from it"
  ARCHIVE_SHA256="${actual}"
  log "archive verified: sha256 ${actual}"
}

check_toolchain() {
  have go || die "go not found" "install Go (the build machines have ${GO_TOOLCHAIN} at /usr/local/go/bin)"
  local current
  current="$(go env GOVERSION)"
  if [[ "${current}" != "${GO_TOOLCHAIN}" ]]; then
    # The go command fetches golang.org/toolchain from the Go module proxy.
    log "Go here is ${current}; fetching the pinned ${GO_TOOLCHAIN} so the binary matches the lock files"
    GOTOOLCHAIN="${GO_TOOLCHAIN}" go version >/dev/null \
      || die "could not get Go toolchain ${GO_TOOLCHAIN} (go ${current} here)" \
        "install ${GO_TOOLCHAIN} or let the Go module proxy serve golang.org/toolchain, then re-run"
  fi
  log "toolchain ${GO_TOOLCHAIN}"
}

# The stamp ties a binary to everything it was built from.
build_stamp() {
  printf '%s\n' "${ARCHIVE_SHA256}" "${GO_TOOLCHAIN}" "${BUILD_FLAGS[*]}"
}

binary_is_current() {
  [[ -x "${BINARY}" && -f "${STAMP_FILE}" && "$(cat "${STAMP_FILE}")" == "$(build_stamp)" ]]
}

extract_source() {
  rm -rf "${SRC_ROOT}"
  mkdir -p "${SRC_ROOT}"
  tar -xzf "$(archive_path)" -C "${SRC_ROOT}" \
    || die "could not extract $(archive_path) into ${SRC_ROOT}" "check free space in ${RM_CACHE_DIR} and re-run"
  [[ -f "${SRC_ROOT}/${ARCHIVE_TOP}/main.go" ]] \
    || die "$(archive_path) has no ${ARCHIVE_TOP}/main.go" "the archive is not the provider source; restore it from the shared folder"
}

compile_provider() {
  local tmp="${BINARY}.tmp"
  mkdir -p "${PLATFORM_DIR}"
  log "compiling (cold: about a minute on 2 cores; log: ${BUILD_LOG})"
  if ! (
    cd "${SRC_ROOT}/${ARCHIVE_TOP}"
    GOTOOLCHAIN="${GO_TOOLCHAIN}" GOFLAGS=-mod=vendor GOPROXY=off CGO_ENABLED=0 \
      go build "${BUILD_FLAGS[@]}" -o "${tmp}" .
  ) >"${BUILD_LOG}" 2>&1; then
    tail -n 5 "${BUILD_LOG}" >&2
    rm -f "${tmp}"
    die "go build of the provider failed (log: ${BUILD_LOG})" \
      "the vendored build needs no network; read the log, fix the toolchain, and re-run"
  fi
  mv -f "${tmp}" "${BINARY}"
  build_stamp >"${STAMP_FILE}"
  # The source is only needed for the build.
  rm -rf "${SRC_ROOT}"
  log "installed $(du -h "${BINARY}" | cut -f1) binary, sha256 $(sha256sum "${BINARY}" | cut -d' ' -f1)"
}

build_provider() {
  verify_archive
  if binary_is_current; then
    log "provider binary is up to date: ${BINARY}"
    return 0
  fi
  check_toolchain
  extract_source
  compile_provider
}

cli_config() {
  echo "# Written by infrastructure/terraform/scripts/build-provider.sh; do not edit."
  if [[ "${SOURCE}" == "vendored" ]]; then
    cat <<HCL
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
  else
    cat <<HCL
provider_installation {
  direct {}
}
HCL
  fi
}

write_cli_config() {
  local content
  content="$(cli_config)"
  mkdir -p "${TF_HOME}"
  if [[ -f "${CLI_CONFIG}" && "$(cat "${CLI_CONFIG}")" == "${content}" ]]; then
    log "CLI config is up to date: ${CLI_CONFIG}"
    return 0
  fi
  printf '%s\n' "${content}" >"${CLI_CONFIG}.tmp"
  mv -f "${CLI_CONFIG}.tmp" "${CLI_CONFIG}"
  log "wrote CLI config ${CLI_CONFIG} (${SOURCE})"
}

main() {
  parse_args "$@"
  SOURCE=""
  ARCHIVE_SHA256=""
  check_platform
  choose_source
  if [[ "${SOURCE}" == "vendored" ]]; then
    step build-provider build_provider
  fi
  write_cli_config
  log "use it with: export TF_CLI_CONFIG_FILE=${CLI_CONFIG}"
  printf '%s\n' "${SOURCE}"
}

main "$@"
