#!/usr/bin/env bash
# PID 1 of a test host (infrastructure/ansible/tests/host/Dockerfile): makes
# the cgroup v1 mounts writable so the Docker engine inside can create cgroups,
# gives the host fresh SSH host keys and root the key in $AUTHORIZED_KEY, then
# hands over to systemd.
set -Eeuo pipefail

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Entry point of the test-host image; takes no arguments. Environment:
  AUTHORIZED_KEY  public key allowed to log in as root (required)
USAGE
}

writable_cgroups() {
  local mount_point
  while read -r mount_point; do
    mount -o remount,bind,rw "${mount_point}"
  done < <(awk '$3 == "cgroup" {print $2}' /proc/self/mounts)
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; echo "boot.sh: unexpected argument '$1'" >&2; return 2 ;;
  esac
  [[ -n "${AUTHORIZED_KEY:-}" ]] || { echo "boot.sh: AUTHORIZED_KEY is not set" >&2; return 2; }
  writable_cgroups
  ssh-keygen -A >/dev/null
  printf '%s\n' "${AUTHORIZED_KEY}" >/root/.ssh/authorized_keys
  chmod 0600 /root/.ssh/authorized_keys
  exec /lib/systemd/systemd
}

main "$@"
