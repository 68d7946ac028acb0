#!/usr/bin/env bash
# PID 1 of the fresh-machine container (see Dockerfile beside this file):
# makes the cgroup v1 mounts writable, so the Docker engine that the project's
# bootstrap installs in here can create cgroups, then idles; the test runs its
# commands with docker exec.
set -Eeuo pipefail

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Entry point of the fresh-machine test image; takes no arguments.
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
  writable_cgroups
  trap 'exit 0' TERM INT
  sleep infinity &
  wait
}

main "$@"
