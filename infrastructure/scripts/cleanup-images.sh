#!/usr/bin/env bash
# Image retention for one repository (restomarket/api by default): keep the N
# newest images by creation time and delete the older ones, except protected
# images, which are never deleted and do not count towards N:
#   - tagged latest, stable or a semantic version (1.2.3, v1.2.3, 1.2.3-rc.1);
#   - used by any container, running or stopped (the live slot, the stopped
#     previous slot kept for rollback, anything else on the host);
#   - the live and the previous release of the environment's ledger.
# Only tags of the chosen repository are removed (docker rmi REPO:TAG), so an
# image shared with another repository just loses this repository's tag.
# Safe from a timer: idempotent, and every deletion is logged. It holds the
# environment's deploy lock while it works, so it never deletes an image that a
# deploy or rollback is about to start; deploy.sh, which holds the lock already,
# says so with RM_DEPLOY_LOCK_PID.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/core.sh
source "${HERE}/lib/core.sh"
# shellcheck source=lib/deploy.sh
source "${HERE}/lib/deploy.sh"
export RM_LOG_TAG="cleanup-images"

SEMVER_PATTERN='^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$'
REPO_PATTERN='^([A-Za-z0-9.-]+:[0-9]+/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$'

usage() {
  cat <<EOF
Usage: $(basename "$0") [--dry-run] [--keep N] [--repo REPO] [--env ENV]

Deletes all but the N newest unprotected images of REPO (see the header of
this script for what is protected).

Options:
  --keep N      images to keep besides the protected ones (default 5)
  --repo REPO   repository (default: IMAGE_REPO of the environment, restomarket/api)
  --env ENV     environment whose ledger names the live and previous release
                (default: local, or DEPLOY_ENV; known: $(known_envs))
  --lock-wait SECONDS
                wait this long for a running deploy's lock (default 600)
  --dry-run     print what would be deleted, delete nothing
  -h, --help    show this help
EOF
}

# container_image_ids - image IDs used by any container.
container_image_ids() {
  local ids
  ids=$(run_cmd containers_all_cmd)
  [[ -n "${ids}" ]] || return 0
  # shellcheck disable=SC2086 # one container ID per word
  run_cmd containers_image_cmd ${ids} 2>/dev/null || true
}

# release_tags - the live and the previous release of the ledger (the last two
# distinct successful tags).
release_tags() {
  local tags
  tags=$(ledger_ok_tags)
  tac <<<"${tags}" | awk '$0 != "" && !seen[$0]++ && n++ < 2'
}

# repo_images REPO - "ID CREATED_NS TAG" per tag of REPO.
repo_images() {
  local id tag
  while read -r id tag; do
    [[ "${tag}" == "<none>" ]] && continue
    # Nanoseconds since the epoch: RFC 3339 strings with trimmed fractions do not sort.
    printf '%s %s %s\n' "${id}" "$(date -d "$(run_cmd image_created_cmd "$1:${tag}")" +%s%N)" "${tag}"
  done < <(run_cmd repo_images_cmd "$1")
}

# take_lock SECONDS - the environment's deploy lock, unless the deploy that
# called this script holds it (RM_DEPLOY_LOCK_PID is its pid and the lock's owner).
take_lock() {
  if [[ -n "${RM_DEPLOY_LOCK_PID:-}" && "$(lock_owner_field pid)" == "${RM_DEPLOY_LOCK_PID}" ]] &&
    kill -0 "${RM_DEPLOY_LOCK_PID}" 2>/dev/null; then
    return 0
  fi
  trap release_lock EXIT
  acquire_lock "(image cleanup)" "$1"
}

main() {
  local dry_run="" keep=5 repo="" env="${DEPLOY_ENV:-local}" lock_wait=600
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --dry-run) dry_run=1 ;;
      --keep) keep=$(option_value "$@") || exit 2; shift ;;
      --repo) repo=$(option_value "$@") || exit 2; shift ;;
      --env) env=$(option_value "$@") || exit 2; shift ;;
      --lock-wait) lock_wait=$(option_value "$@") || exit 2; shift ;;
      *) usage >&2; die "unknown argument '$1'" "see --help" 2 ;;
    esac
    shift
  done
  [[ "${keep}" =~ ^[0-9]+$ ]] || die "--keep wants a number, got '${keep}'" "" 2
  [[ "${lock_wait}" =~ ^[0-9]+$ ]] || die "--lock-wait wants seconds, got '${lock_wait}'" "" 2
  load_env "${env}"
  require_tools
  repo="${repo:-${IMAGE_REPO}}"
  [[ "${repo}" =~ ${REPO_PATTERN} ]] || die "invalid repository '${repo}'" "e.g. restomarket/api" 2
  require_docker
  [[ -n "${dry_run}" ]] || take_lock "${lock_wait}"

  local -A protect_id=() protect_reason=() tags_of=() created_of=()
  local id created tag reason
  while read -r id; do [[ -n "${id}" ]] && protect_id[${id}]=1 && protect_reason[${id}]="used by a container"; done < <(container_image_ids)
  local releases
  releases=" $(release_tags | tr '\n' ' ') "
  while read -r id created tag; do
    tags_of[${id}]+="${tag} "
    created_of[${id}]="${created}"
    reason=""
    if [[ "${tag}" == latest || "${tag}" == stable || "${tag}" =~ ${SEMVER_PATTERN} ]]; then
      reason="tagged ${tag}"
    elif [[ "${releases}" == *" ${tag} "* ]]; then
      reason="live or previous release of ${DEPLOY_ENV}"
    fi
    if [[ -n "${reason}" ]]; then
      protect_id[${id}]=1
      protect_reason[${id}]="${reason}"
    fi
  done < <(repo_images "${repo}")

  local candidates=() kept=0 deleted=0 protected=0
  for id in "${!tags_of[@]}"; do
    if [[ -n "${protect_id[${id}]:-}" ]]; then
      protected=$((protected + 1))
      log "keep ${repo} ${tags_of[${id}]% } (${id:7:12}): protected, ${protect_reason[${id}]}"
    else
      candidates+=("${created_of[${id}]} ${id}")
    fi
  done
  while read -r created id; do
    [[ -n "${id}" ]] || continue
    if ((kept < keep)); then
      kept=$((kept + 1))
      continue
    fi
    for tag in ${tags_of[${id}]}; do
      if [[ -n "${dry_run}" ]]; then
        log "would delete ${repo}:${tag} (${id:7:12}, created $(date -u -d "@${created:0:10}" +%FT%TZ))"
      else
        log "deleting ${repo}:${tag} (${id:7:12}, created $(date -u -d "@${created:0:10}" +%FT%TZ))"
        run_cmd image_remove_cmd "${repo}:${tag}" >/dev/null || warn "could not delete ${repo}:${tag}"
      fi
    done
    deleted=$((deleted + 1))
  done < <(printf '%s\n' "${candidates[@]:-}" | sort -r)
  log "${repo}: ${kept} kept, ${protected} protected, ${deleted} ${dry_run:+would be }deleted (keep ${keep})"
}

main "$@"
