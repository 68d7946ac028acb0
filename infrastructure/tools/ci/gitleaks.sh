#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# gitleaks with the project's rules (.gitleaks.toml: the defaults plus the
# example files' documented dummy values), over the whole history or over the
# staged changes (the pre-commit hook). The pinned CLI comes from tools.sh.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/common.sh
source "${HERE}/../lib/common.sh"
export RM_LOG_TAG="gitleaks"

usage() {
  cat <<USAGE
Usage: $(basename "$0") history|staged [REPO_DIR]

  history   scan every commit of every branch of REPO_DIR (default: this repository)
  staged    scan what is staged for the next commit (the pre-commit hook);
            REPO_DIR defaults to the current git work tree
Findings are printed with the secret redacted; exit 1 when there is one.
The rules are REPO_DIR/.gitleaks.toml (this repository's when REPO_DIR has none).
USAGE
}

main() {
  local mode="${1:-}" dir config bin
  case "${mode}" in
    -h | --help) usage; return 0 ;;
    history | staged) ;;
    "") usage >&2; die "no mode given" "use history or staged" ;;
    *) usage >&2; die "unknown mode '${mode}'" "use history or staged" ;;
  esac
  if [[ -n "${2:-}" ]]; then dir="$2"
  elif [[ "${mode}" == staged ]]; then dir=$(git rev-parse --show-toplevel)
  else dir="${RM_REPO_ROOT}"; fi
  config="${dir}/.gitleaks.toml"
  [[ -f "${config}" ]] || config="${RM_REPO_ROOT}/.gitleaks.toml"
  bin=$("${HERE}/tools.sh" gitleaks | tail -n1)
  if [[ "${mode}" == history ]]; then
    "${bin}" git --no-banner --verbose --redact --config "${config}" --log-opts="--all" "${dir}"
  else
    "${bin}" git --no-banner --verbose --redact --config "${config}" --staged "${dir}"
  fi
}

main "$@"
