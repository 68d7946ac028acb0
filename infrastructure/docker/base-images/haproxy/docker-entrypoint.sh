#!/bin/sh
# Entry point of the air-gapped HAProxy image. Like the official image: options
# go to haproxy, and haproxy runs master-worker (-W) in the foreground (-db).
set -eu

case "${1:-}" in
  -*) set -- haproxy "$@" ;;
esac
if [ "${1:-}" = haproxy ]; then
  shift
  set -- haproxy -W -db "$@"
fi
exec "$@"
