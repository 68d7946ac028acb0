#!/usr/bin/env bash
# Make the HTTP load generator vegeta available in ${RM_BIN_DIR}, built from
# the Go module proxy (no GitHub release downloads on these machines). Used by
# the deploy engine's test and benchmark: constant request rate (open loop),
# keep-alive, and per-request JSON results with headers. Prints the binary path.
set -Eeuo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
export RM_LOG_TAG="bootstrap-load-tool"

VEGETA_MODULE="github.com/tsenart/vegeta/v12"
VEGETA_VERSION="v12.13.0"
VEGETA_BIN="${RM_BIN_DIR}/vegeta-${VEGETA_VERSION}"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [-h|--help]

Builds vegeta ${VEGETA_VERSION} with 'go install' from the Go module proxy into
${VEGETA_BIN} (once; about 10 s) and prints that path.
Needs Go >= 1.22 (installs Debian's golang-go when Go is missing, as root).
USAGE
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unknown argument '$1'" "see --help" 2 ;;
  esac
  if [[ ! -x "${VEGETA_BIN}" ]]; then
    have go || ensure_apt_packages golang-go
    mkdir -p "${RM_BIN_DIR}"
    local gobin
    gobin=$(mktemp -d)
    log "building vegeta ${VEGETA_VERSION} from the Go module proxy"
    GOBIN="${gobin}" CGO_ENABLED=0 go install "${VEGETA_MODULE}@${VEGETA_VERSION}" >&2 ||
      { rm -rf "${gobin}"; die "go install ${VEGETA_MODULE}@${VEGETA_VERSION} failed" "check that the Go module proxy is reachable (GOPROXY=$(go env GOPROXY))"; }
    mv "${gobin}/vegeta" "${VEGETA_BIN}"
    rm -rf "${gobin}"
  fi
  echo "${VEGETA_BIN}"
}

main "$@"
