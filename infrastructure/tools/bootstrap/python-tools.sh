#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Create or refresh a Python virtualenv for one of the project's tool sets.
set -Eeuo pipefail

# shellcheck source=../lib/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib/common.sh"
export RM_LOG_TAG="python-tools"

REQUIREMENTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../python" && pwd)"

usage() {
  cat <<USAGE
Usage: $(basename "$0") NAME

Creates (or updates) the virtualenv \${RM_CACHE_DIR}/venvs/NAME from the pinned
file infrastructure/python/requirements-NAME.txt. Packages are
reinstalled only when that file changed since the last run (a sha256 stamp in
the venv), so a second run takes well under a second.

The last line on stdout is the venv path; callers use "\$(... | tail -n1)/bin".

Environment:
  RESTOMARKET_CACHE_DIR  cache root (default: ~/.cache/restomarket)
  PYTHON                 interpreter to build the venv with (default: python3)

Example:
  venv=\$($(basename "$0") checkov | tail -n1); "\${venv}/bin/checkov" --version
USAGE
}

parse_args() {
  case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") usage >&2; die "missing tool-set NAME" "pass the NAME of an existing requirements-NAME.txt" ;;
  esac
  TOOLSET="$1"
  REQUIREMENTS="${REQUIREMENTS_DIR}/requirements-${TOOLSET}.txt"
  VENV_DIR="${RM_CACHE_DIR}/venvs/${TOOLSET}"
  [[ -f "${REQUIREMENTS}" ]] || die "no requirements file ${REQUIREMENTS}" \
    "create it with pinned versions (name==version per line), or pick one of: $(list_toolsets)"
}

list_toolsets() {
  local f names=()
  for f in "${REQUIREMENTS_DIR}"/requirements-*.txt; do
    f="${f##*/requirements-}"
    names+=("${f%.txt}")
  done
  printf '%s' "${names[*]}"
}

requirements_hash() {
  sha256sum "${REQUIREMENTS}" | cut -d' ' -f1
}

ensure_python() {
  local python="${PYTHON:-python3}"
  have "${python}" || die "${python} not found" "install Python 3 (apt-get install python3 python3-venv) or set PYTHON"
  if ! "${python}" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    ensure_apt_packages python3-venv
  fi
  PYTHON_BIN="${python}"
}

create_venv() {
  [[ -x "${VENV_DIR}/bin/python" ]] && return 0
  log "creating venv ${VENV_DIR}"
  mkdir -p "$(dirname "${VENV_DIR}")"
  "${PYTHON_BIN}" -m venv "${VENV_DIR}"
}

install_requirements() {
  local stamp="${VENV_DIR}/.requirements.sha256" want
  want="$(requirements_hash)"
  if [[ -f "${stamp}" && "$(cat "${stamp}")" == "${want}" ]]; then
    log "venv ${TOOLSET} is up to date"
    return 0
  fi
  log "installing ${REQUIREMENTS##*/} into ${VENV_DIR}"
  "${VENV_DIR}/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "${VENV_DIR}/bin/python" -m pip install --quiet --disable-pip-version-check -r "${REQUIREMENTS}"
  printf '%s\n' "${want}" >"${stamp}"
}

main() {
  parse_args "$@"
  ensure_python
  step "venv-${TOOLSET}" create_venv
  step "requirements-${TOOLSET}" install_requirements
  printf '%s\n' "${VENV_DIR}"
}

main "$@"
