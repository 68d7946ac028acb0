#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Regenerate (or, with --check, verify) the inputs/outputs tables between the
# terraform-docs markers in every module README.
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../tools/lib/common.sh
source "${SCRIPT_DIR}/../../tools/lib/common.sh"
export RM_LOG_TAG="tf-docs"

TF_ROOT="${RM_REPO_ROOT}/infrastructure/terraform"
TFDOCS_MODULE="github.com/terraform-docs/terraform-docs"
TFDOCS_VERSION="v0.20.0"
TFDOCS_BIN="${RM_BIN_DIR}/terraform-docs-${TFDOCS_VERSION}"
MODE="inject"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [--check] [-h|--help]

Writes terraform-docs tables (requirements, providers, resources, inputs,
outputs) between <!-- BEGIN_TF_DOCS --> and <!-- END_TF_DOCS --> in each
infrastructure/terraform/modules/*/README.md.

  --check   change nothing; exit non-zero if a README is out of date

terraform-docs ${TFDOCS_VERSION} is built once from the Go module proxy into
${TFDOCS_BIN}.
USAGE
}

parse_args() {
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --check) MODE="check"; shift ;;
      *) usage >&2; die "unknown argument: $1" "run with --help" ;;
    esac
  done
}

# `go install` cannot be used: the proxy refuses the version list it asks
# for, so build the main package from a throwaway module that requires it.
build_terraform_docs() {
  if [[ -x "${TFDOCS_BIN}" ]]; then
    log "terraform-docs ${TFDOCS_VERSION} already built"
    return 0
  fi
  have go || die "go not found" "install Go 1.24 or newer"
  local build_dir="${RM_CACHE_DIR}/build/terraform-docs"
  rm -rf "${build_dir}"
  mkdir -p "${build_dir}" "${RM_BIN_DIR}"
  printf 'module restomarket.invalid/tools/terraform-docs\n\ngo 1.24\n\nrequire %s %s\n' \
    "${TFDOCS_MODULE}" "${TFDOCS_VERSION}" >"${build_dir}/go.mod"
  (cd "${build_dir}" && GOFLAGS="${GOFLAGS:-} -mod=mod" go build -trimpath -o "${TFDOCS_BIN}.tmp" "${TFDOCS_MODULE}")
  mv -f "${TFDOCS_BIN}.tmp" "${TFDOCS_BIN}"
  log "built ${TFDOCS_BIN}"
}

render_module() {
  local dir="$1"
  if [[ "${MODE}" == "check" ]]; then
    "${TFDOCS_BIN}" markdown table --output-file README.md --output-mode inject --output-check "${dir}" >/dev/null
  else
    "${TFDOCS_BIN}" markdown table --output-file README.md --output-mode inject "${dir}" >/dev/null
  fi
}

render_all() {
  local dir failed=0
  for dir in "${TF_ROOT}"/modules/*/; do
    if render_module "${dir%/}"; then
      log "${MODE}: ${dir#"${TF_ROOT}"/}README.md"
    else
      warn "${dir#"${TF_ROOT}"/}README.md is out of date; run $(basename "$0")"
      failed=1
    fi
  done
  return "${failed}"
}

main() {
  parse_args "$@"
  step build-terraform-docs build_terraform_docs
  step "docs-${MODE}" render_all
}

main "$@"
