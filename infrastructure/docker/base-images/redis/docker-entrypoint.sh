#!/usr/bin/env bash
# Entry point of the air-gapped Redis image. Like the official image: options
# or a *.conf first argument go to redis-server, which runs as user redis, and
# protected mode is off unless a config file says otherwise (the official
# build compiles that default in; Debian's binary does not).
set -Eeuo pipefail

main() {
  if [[ "${1:-}" == -* || "${1:-}" == *.conf ]]; then
    set -- redis-server "$@"
  fi
  if [[ "${1:-}" != redis-server ]]; then
    exec "$@"
  fi
  if [[ $(id -u) == 0 ]]; then
    chown -R redis:redis /data 2>/dev/null || true
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
  fi
  shift
  if [[ "${1:-}" == *.conf ]]; then
    exec redis-server "$@"
  fi
  exec redis-server --protected-mode no "$@"
}

main "$@"
