#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Prints the protection regex of .github/workflows/image-cleanup.yml
# (registry-retention.sh --protect): the tags never deleted (latest, stable,
# semantic versions) plus the images every
# deployment environment runs now or would roll back to, i.e. the commits of
# its last successful GitHub Deployments. Fails closed: an API error, an
# unexpected answer or a malformed commit exits non-zero with nothing on
# stdout, so that the cleanup never runs with an incomplete protection list.
set -Eeuo pipefail
shopt -s inherit_errexit

# shellcheck source=../lib/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib/common.sh"
# shellcheck source=../lib/github.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/github.sh"
export RM_LOG_TAG="deployed-tags"

# Tags never deleted, whatever was deployed.
PERMANENT_TAGS='latest|stable|v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?'
# ci-cd.yml's docker-build tags an image with the commit's first 12
# characters, alone and after the branch name (tag=${GITHUB_SHA::12}).
SHA_TAG_LENGTH=12
BRANCH_PREFIX='([A-Za-z0-9._-]+-)?'
PER_PAGE=100
KEEP=2
REPO="${GITHUB_REPOSITORY:-}"
ENVIRONMENTS=()
DEPLOYED=()
SUCCEEDED=""

usage() {
  cat <<USAGE
Usage: $(basename "$0") [--repo OWNER/NAME] [--keep N]

Prints, on one line, the regex of the image tags the registry cleanup must
keep: latest, stable, semantic versions, and for every deployment environment
of the repository the last N distinct commits whose deployment succeeded (the
live release and the one a rollback returns to), as <sha12> and
<branch>-<sha12>. With no deployment it prints the permanent tags only:
  ^(${PERMANENT_TAGS})\$

A deployment succeeded when any of its statuses is "success" (GitHub marks
older successes "inactive" when a newer one succeeds). Reads
GET /repos/OWNER/NAME/environments, .../deployments?environment=ENV (newest
first) and .../deployments/ID/statuses, stopping once N are found.

Any failure (no answer, a non-2xx status, an unexpected body, a commit that is
not 40 hex characters) exits non-zero and prints nothing on stdout.

Options:
  --repo OWNER/NAME  repository (default: GITHUB_REPOSITORY, else the github.com remote 'origin')
  --keep N           successfully deployed commits kept per environment (default ${KEEP})
  -h, --help         show this help

Environment:
  GITHUB_TOKEN       token with Deployments: read and Actions: read (GitHub lists a repository's
                     environments under Actions); in a workflow, the job's token with
                     'deployments: read' and 'actions: read'; required
  GITHUB_API_URL     API root (default https://api.github.com)
USAGE
}

parse_args() {
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --repo) [[ $# -ge 2 ]] || die "--repo needs OWNER/NAME" "run with --help"; REPO="$2"; shift ;;
      --keep) [[ $# -ge 2 ]] || die "--keep needs a number" "run with --help"; KEEP="$2"; shift ;;
      *) usage >&2; die "unknown argument: $1" "run with --help" ;;
    esac
    shift
  done
}

validate_inputs() {
  github_require_repo
  [[ "${KEEP}" =~ ^[1-9][0-9]*$ ]] ||
    die "--keep must be a whole number of at least 1 (got '${KEEP}')" "keep at least the live release: --keep 1"
  GITHUB_API_HINT="401/403/404: the token needs Deployments: read and Actions: read on ${REPO}"
  [[ -n "${GITHUB_TOKEN:-}" ]] ||
    die "GITHUB_TOKEN is not set" "export a token with Deployments: read and Actions: read on ${REPO}"
}

# read_json PATH WHAT SHAPE FILTER - GET PATH; dies unless the answer is
# exactly one JSON value (an empty body is none) for which the jq expression
# SHAPE holds, then prints jq -r FILTER of it.
read_json() {
  local path="$1" what="$2" shape="$3" filter="$4" body
  body=$(github_api GET "${path}")
  jq -rs "if length == 1 and (.[0] | ${shape}) then (.[0] | ${filter}) else error(\"unexpected answer\") end" \
    <<<"${body}" 2>/dev/null ||
    die "GET ${path}: the answer is not ${what}: $(head -c 300 <<<"${body}")" \
      "check GITHUB_API_URL; nothing is deleted while this fails"
}

# list_environments - every deployment environment of REPO, into ENVIRONMENTS.
list_environments() {
  local page=1 rows count
  while :; do
    rows=$(read_json "/repos/${REPO}/environments?per_page=${PER_PAGE}&page=${page}" "a list of environments" \
      '.environments | type == "array" and all(.[]; .name | type == "string" and test("^[^\n]+$"))' \
      '(.environments | length), .environments[].name')
    count=$(head -n1 <<<"${rows}")
    ((count == 0)) || mapfile -t -O "${#ENVIRONMENTS[@]}" ENVIRONMENTS < <(tail -n +2 <<<"${rows}")
    ((count == PER_PAGE)) || break
    page=$((page + 1))
  done
}

# check_success ID - SUCCEEDED=1 when any status of deployment ID is "success".
check_success() {
  local id="$1" page=1 row count success
  SUCCEEDED=""
  while :; do
    row=$(read_json "/repos/${REPO}/deployments/${id}/statuses?per_page=${PER_PAGE}&page=${page}" \
      "a list of deployment statuses" 'type == "array" and all(.[]; .state | type == "string")' \
      '"\(length) \(any(.[]; .state == "success"))"')
    read -r count success <<<"${row}"
    if [[ "${success}" == true ]]; then
      SUCCEEDED=1
      return 0
    fi
    ((count == PER_PAGE)) || return 0
    page=$((page + 1))
  done
}

# collect_deployed ENV - the last KEEP distinct commits successfully deployed
# to ENV, newest first, appended to DEPLOYED. Statuses are read only for
# deployments of commits not found yet.
collect_deployed() {
  local env="$1" page=1 rows id sha count found=()
  while ((${#found[@]} < KEEP)); do
    rows=$(read_json "/repos/${REPO}/deployments?environment=$(jq -rn --arg e "${env}" '$e | @uri')&per_page=${PER_PAGE}&page=${page}" \
      "a list of deployments" 'type == "array" and all(.[]; (.id | type == "number") and (.sha | type == "string"))' \
      'length, (.[] | "\(.id) \(.sha)")')
    count=$(head -n1 <<<"${rows}")
    while read -r id sha; do
      [[ "${id}" =~ ^[0-9]+$ ]] || die "deployment id '${id}' of '${env}' is not a number" "check GITHUB_API_URL"
      [[ "${sha}" =~ ^[0-9a-f]{40}$ ]] ||
        die "deployment ${id} of '${env}' names commit '${sha}', not 40 hex characters" \
          "look at it on GitHub; nothing is deleted while this fails"
      [[ " ${found[*]} " != *" ${sha} "* ]] || continue
      check_success "${id}"
      [[ -z "${SUCCEEDED}" ]] || found+=("${sha}")
      ((${#found[@]} < KEEP)) || break
    done < <(tail -n +2 <<<"${rows}")
    ((count == PER_PAGE)) || break
    page=$((page + 1))
  done
  log "environment '${env}': protecting ${#found[@]} deployed commit(s)${found[*]:+: ${found[*]}}"
  DEPLOYED+=("${found[@]}")
}

# exclude_regex - the permanent tags, plus each deployed commit's tags.
exclude_regex() {
  local sha tags=""
  if ((${#DEPLOYED[@]} > 0)); then
    tags=$(for sha in "${DEPLOYED[@]}"; do printf '%s\n' "${sha:0:SHA_TAG_LENGTH}"; done | sort -u | paste -sd '|')
  fi
  if [[ -z "${tags}" ]]; then
    printf '^(%s)$\n' "${PERMANENT_TAGS}"
  else
    printf '^(%s|%s(%s))$\n' "${PERMANENT_TAGS}" "${BRANCH_PREFIX}" "${tags}"
  fi
}

main() {
  parse_args "$@"
  validate_inputs
  local env
  list_environments
  log "${REPO}: ${#ENVIRONMENTS[@]} environment(s)${ENVIRONMENTS[*]:+: ${ENVIRONMENTS[*]}}"
  for env in "${ENVIRONMENTS[@]}"; do collect_deployed "${env}"; done
  exclude_regex
}

main "$@"
