#!/usr/bin/env bash
# Make a test tool written in Go available in ${RM_BIN_DIR}, built from the Go
# module proxy (no GitHub release downloads on these machines), and print its
# path. Each tool is pinned to one version below:
#   vegeta    HTTP load at a constant rate (open loop), keep-alive, per-request
#             JSON results: the deploy tests and benchmark;
#   registry  CNCF distribution, the OCI registry server that stands in for
#             GHCR and Docker Hub in tests (TLS, credentials, digests).
set -Eeuo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
export RM_LOG_TAG="bootstrap-go-tools"

# name -> the command's package path@version (go install).
declare -A PACKAGE=(
  [vegeta]="github.com/tsenart/vegeta/v12@v12.13.0"
  [registry]="github.com/distribution/distribution/v3/cmd/registry@v3.1.2"
)

usage() {
  cat <<USAGE
Usage: $(basename "$0") vegeta|registry
       $(basename "$0") -h|--help

Builds the tool with 'go install' from the Go module proxy into
${RM_BIN_DIR}/NAME-VERSION (once: vegeta about 10 s, registry about 3 min on
a new machine) and prints that path.
  vegeta    ${PACKAGE[vegeta]}
  registry  ${PACKAGE[registry]}
Needs Go >= 1.24 (installs Debian's golang-go when Go is missing, as root).
USAGE
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    vegeta | registry) [[ $# -eq 1 ]] || { usage >&2; die "one tool at a time" "see --help" 2; } ;;
    "") usage >&2; die "no tool named" "name one: vegeta or registry" 2 ;;
    *) usage >&2; die "unknown tool '$1'" "name one: vegeta or registry" 2 ;;
  esac
  local name="$1" pkg="${PACKAGE[$1]}"
  local bin="${RM_BIN_DIR}/${name}-${pkg##*@}"
  if [[ ! -x "${bin}" ]]; then
    have go || ensure_apt_packages golang-go
    mkdir -p "${RM_BIN_DIR}"
    local gobin
    gobin=$(mktemp -d)
    log "building ${name} (${pkg}) from the Go module proxy"
    GOBIN="${gobin}" CGO_ENABLED=0 go install "${pkg}" >&2 ||
      { rm -rf "${gobin}"; die "go install ${pkg} failed" "check that the Go module proxy is reachable (GOPROXY=$(go env GOPROXY))"; }
    # The binary is named after the package path's last element, or the one
    # before a major-version suffix (github.com/tsenart/vegeta/v12: vegeta).
    local path="${pkg%@*}"
    [[ "${path##*/}" =~ ^v[0-9]+$ ]] && path="${path%/*}"
    mv "${gobin}/${path##*/}" "${bin}"
    rm -rf "${gobin}"
  fi
  echo "${bin}"
}

main "$@"
