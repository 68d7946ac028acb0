#!/usr/bin/env bash
# Install what the deploy engine calls on its host (curl, jq, flock, timeout),
# as Ansible's deploy_engine role does on droplets: the engine itself installs
# nothing. Used before the engine runs on this machine (ENV=local, its tests).
set -Eeuo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
export RM_LOG_TAG="bootstrap-engine-tools"

# Debian packages: curl, jq, util-linux (flock), coreutils (timeout).
PACKAGES=(curl jq util-linux coreutils)

usage() {
  cat <<USAGE
Usage: $(basename "$0") [-h|--help]

Installs the deploy engine's host tools when one is missing: ${PACKAGES[*]}
(Debian packages; needs root on Debian, else says what to install).
USAGE
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unknown argument '$1'" "see --help" 2 ;;
  esac
  ensure_apt_packages "${PACKAGES[@]}"
  local tool
  for tool in curl jq flock timeout; do
    have "${tool}" || die "${tool} is still missing after installing ${PACKAGES[*]}" "install it by hand and re-run"
  done
}

main "$@"
