#!/usr/bin/env bash
# Roll an environment back to a release it ran before, through deploy.sh: the
# same zero-downtime path and gate as any deploy, minus migrations (that
# release's migrations are already applied, and under the expand/contract rule
# the schema stays compatible with it). Lists the release ledger otherwise.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/core.sh
source "${HERE}/lib/core.sh"
# shellcheck source=lib/deploy.sh
source "${HERE}/lib/deploy.sh"
export RM_LOG_TAG="rollback"

LIST_LIMIT=20

usage() {
  cat <<EOF
Usage: $(basename "$0") [--env ENV] [--list]
       $(basename "$0") [--env ENV] [--timeout SECONDS] [--lock-wait SECONDS] [--watch SECONDS]
                 [--standby SECONDS] --previous | TAG

  (no argument), --list   recent releases of ENV, newest first: time, action,
                          tag, outcome, duration, actor; the live one is marked
  --previous              roll back to the last good release before the live one
  TAG                     roll back to TAG; it must have been deployed to ENV
                          successfully and its image must still be on the host
                          (or pullable)
  --env ENV               environment (default: DEPLOY_ENV, else local;
                          known: $(known_envs))
  --timeout SECONDS       gate timeout passed to deploy.sh
  --lock-wait SECONDS     wait this long for another deploy's lock (passed to
                          deploy.sh; default DEPLOY_LOCK_WAIT, else 0)
  --watch SECONDS         post-switch watch (deploy.sh --watch); default 0: the
                          release rolled back to already served well
  --standby SECONDS       keep the release rolled back from running, out of
                          rotation, this long (deploy.sh --standby; default
                          STANDBY_SECONDS of the env file)
  -h, --help              show this help

The rollback itself is deploy.sh TAG ENV --skip-migrations (with --previous:
deploy.sh --previous ENV, which finds the release under its deploy lock from
what it reads of the host anyway, so this script asks Docker nothing); its
exit code is this script's. When TAG is the warm standby (the previous release, kept
running after the last deploy for STANDBY_SECONDS), it is a gate and a
switch: no container starts. Ledger: STATE_DIR/releases.jsonl of the environment.
EOF
}

# live_tag - the release the proxy serves now (the ledger's last good one when
# the host cannot tell).
live_tag() {
  local slot
  if docker_answers; then
    load_facts
    slot=$(live_slot)
    [[ -n "${slot}" ]] && { slot_release "${slot}"; return 0; }
  fi
  ledger_ok_tags | tail -n 1
}

list_releases() {
  if [[ ! -s "${LEDGER}" ]]; then
    log "no releases recorded for ${DEPLOY_ENV} yet (${LEDGER})"
    return 0
  fi
  local live
  live=$(live_tag)
  printf '%-20s  %-8s  %-24s  %-7s  %8s  %s\n' TIME ACTION TAG OUTCOME DURATION ACTOR
  ledger_entries | tail -n "${LIST_LIMIT}" | tac | jq -r --arg live "${live}" '
    [.time, .action, .tag, .outcome, ((.duration_s | tostring) + "s"), .actor,
     (if .outcome == "ok" and .tag == $live then "<- live" else "" end)] | @tsv' |
    awk -F'\t' '{ mark = $7; if (mark != "" && marked) mark = ""; if (mark != "") marked = 1
                  printf "%-20s  %-8s  %-24s  %-7s  %8s  %s %s\n", $1, $2, $3, $4, $5, $6, mark }'
}

# require_rollback_target TAG - TAG went live on this environment before and its
# image is here or can be pulled.
require_rollback_target() {
  local tag="$1" ok_tags
  ok_tags=$(ledger_ok_tags)
  valid_tag "${tag}" || die "invalid image tag '${tag}'" "see $(basename "$0") --list --env ${DEPLOY_ENV}" 2
  grep -qxF -- "${tag}" <<<"${ok_tags}" ||
    die "${tag} was never deployed successfully to ${DEPLOY_ENV}; refusing to roll back to it" \
      "pick a tag from $(basename "$0") --list --env ${DEPLOY_ENV} (or deploy it normally with deploy.sh)"
  require_docker
  image_id "${IMAGE_REPO}:${tag}" >/dev/null && return 0
  run_cmd image_pull_cmd "${IMAGE_REPO}:${tag}" >/dev/null 2>&1 ||
    die "image ${IMAGE_REPO}:${tag} is no longer on this host and cannot be pulled" \
      "rebuild or push it (build-image.sh ${tag}), or pick another release from --list"
  # A new image on the host: deploy.sh's image cleanup runs after the switch.
  export DEPLOY_PULLED=1
}

main() {
  local env="${DEPLOY_ENV:-local}" mode="list" tag="" timeout=() lock_wait=() watch=0 standby=()
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --env) env=$(option_value "$@") || exit 2; shift ;;
      --list) mode="list" ;;
      --previous) mode="previous" ;;
      --timeout) timeout=(--timeout "$(option_value "$@")") || exit 2; shift ;;
      --lock-wait) lock_wait=(--lock-wait "$(option_value "$@")") || exit 2; shift ;;
      --watch) watch=$(option_value "$@") || exit 2; shift ;;
      --standby) standby=(--standby "$(option_value "$@")") || exit 2; shift ;;
      -*) usage >&2; die "unknown option '$1'" "see --help" 2 ;;
      *) [[ -z "${tag}" ]] || die "only one TAG, got '${tag}' and '$1'" "see --help" 2; tag="$1"; mode="tag" ;;
    esac
    shift
  done
  load_env "${env}"
  require_tools
  [[ "${mode}" == list ]] && { list_releases; return 0; }
  local target=()
  if [[ "${mode}" == previous ]]; then
    # The fast path, the one people take under pressure: deploy.sh tells the
    # live release from the previous one with what it reads of the host anyway.
    [[ -n "$(ledger_ok_tags)" ]] || die "no release of ${DEPLOY_ENV} recorded yet, nothing to roll back to" "see $(basename "$0") --list --env ${DEPLOY_ENV}"
    log "rolling ${DEPLOY_ENV} back to the previous good release"
    target=(--previous)
  else
    require_rollback_target "${tag}"
    log "rolling ${DEPLOY_ENV} back to ${tag}"
    target=("${tag}")
  fi
  DEPLOY_ACTION=rollback exec "${HERE}/deploy.sh" --skip-migrations "${timeout[@]}" "${lock_wait[@]}" "${standby[@]}" --watch "${watch}" "${target[@]}" "${DEPLOY_ENV}"
}

main "$@"
