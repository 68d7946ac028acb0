#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Builds the pinned Go command-line tools of the CI checks (gitleaks,
# actionlint, trivy) and of the security audit (syft, for the image's SBOM)
# from the Go module proxy into RM_BIN_DIR, once per version.
# GitHub is unreachable from the build machines, so release downloads are not
# an option; the module proxy is, and `go install M@V` verifies every module
# against the checksum database.
set -Eeuo pipefail

# shellcheck source=../lib/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib/common.sh"
export RM_LOG_TAG="ci-tools"

# name -> module path of the main package and pinned version. The versions are
# the ones the workflows pin too (see .github/workflows/ci-cd.yml); syft runs
# only in make audit / make test-audit.
declare -A TOOL_PACKAGE=(
  [gitleaks]="github.com/zricethezav/gitleaks/v8"
  [actionlint]="github.com/rhysd/actionlint/cmd/actionlint"
  [trivy]="github.com/aquasecurity/trivy/cmd/trivy"
  [syft]="github.com/anchore/syft/cmd/syft"
)
declare -A TOOL_VERSION=(
  [gitleaks]="v8.30.1"
  [actionlint]="v1.7.12"
  [trivy]="v0.74.0"
  [syft]="v1.57.2"
)
# Extra build settings a tool's own release build uses. trivy needs the
# encoding/json/v2 experiment and reports its version from a linker variable.
declare -A TOOL_GOEXPERIMENT=(
  [trivy]="jsonv2"
)
declare -A TOOL_LDFLAGS=(
  [trivy]="-s -w -X github.com/aquasecurity/trivy/pkg/version/app.ver=0.74.0"
)

usage() {
  cat <<USAGE
Usage: $(basename "$0") NAME

Prints the path of the pinned NAME binary (known: ${!TOOL_PACKAGE[*]}),
building it first with 'go install' from the Go module proxy into
\${RM_BIN_DIR} (${RM_BIN_DIR}) as NAME-VERSION when it is not there yet.
The last line on stdout is the binary's path.

Environment:
  RESTOMARKET_CACHE_DIR  cache root (default: ~/.cache/restomarket)
  GO                     go command (default: go on PATH, else /usr/local/go/bin/go)
USAGE
}

parse_args() {
  case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") usage >&2; die "missing tool NAME" "pass one of: ${!TOOL_PACKAGE[*]}" ;;
  esac
  [[ $# -eq 1 ]] || die "expected exactly one NAME, got $#" "run with --help"
  TOOL="$1"
  [[ -n "${TOOL_PACKAGE[${TOOL}]:-}" ]] || die "unknown tool '${TOOL}'" "pass one of: ${!TOOL_PACKAGE[*]}"
}

find_go() {
  GO_BIN="${GO:-}"
  [[ -n "${GO_BIN}" ]] || GO_BIN=$(command -v go || true)
  [[ -n "${GO_BIN}" ]] || { [[ -x /usr/local/go/bin/go ]] && GO_BIN=/usr/local/go/bin/go; }
  [[ -n "${GO_BIN}" ]] || die "go not found" "install Go 1.24 or newer (apt-get install golang-go is too old on Debian 12; use the go.dev tarball) or set GO"
}

# build_tool - go install into a private GOBIN, then move it to its versioned name.
build_tool() {
  local gobin
  gobin=$(mktemp -d)
  # -p 1 keeps the build to one package at a time: these machines are shared.
  if ! GOBIN="${gobin}" GOFLAGS="-p=1 -trimpath" CGO_ENABLED=0 GOEXPERIMENT="${TOOL_GOEXPERIMENT[${TOOL}]:-}" \
    "${GO_BIN}" install -ldflags "${TOOL_LDFLAGS[${TOOL}]:-}" "${TOOL_PACKAGE[${TOOL}]}@${TOOL_VERSION[${TOOL}]}" >&2; then
    rm -rf "${gobin}"
    die "could not build ${TOOL} ${TOOL_VERSION[${TOOL}]}" "check that https://proxy.golang.org is reachable (GOPROXY)"
  fi
  mkdir -p "${RM_BIN_DIR}"
  mv "${gobin}/${TOOL}" "${BIN_PATH}"
  rm -rf "${gobin}"
}

main() {
  parse_args "$@"
  BIN_PATH="${RM_BIN_DIR}/${TOOL}-${TOOL_VERSION[${TOOL}]}"
  if [[ ! -x "${BIN_PATH}" ]]; then
    find_go
    step "build-${TOOL}" build_tool
  fi
  printf '%s\n' "${BIN_PATH}"
}

main "$@"
