#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Applies the repository's protection as code through the GitHub REST API:
#   - the branch rulesets in .github/rulesets/*.json: a ruleset of the same
#     name is updated (PUT), a missing one is created (POST);
#   - the deployment environments in .github/environments/*.json: required
#     reviewers (team or user names, resolved to IDs), self-review refused,
#     and exactly the branches listed may deploy (missing policies are added,
#     others deleted).
# Idempotent, so safe to re-run after editing a JSON file. --dry-run prints the
# requests and needs no token.
set -Eeuo pipefail

# shellcheck source=../lib/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib/common.sh"
# shellcheck source=../lib/github.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/github.sh"
export RM_LOG_TAG="apply-rulesets"

RULESET_DIR="${RM_REPO_ROOT}/.github/rulesets"
ENVIRONMENT_DIR="${RM_REPO_ROOT}/.github/environments"
API_URL="${GITHUB_API_URL:-https://api.github.com}"
DRY_RUN=""
REPO="${GITHUB_REPOSITORY:-}"

usage() {
  cat <<USAGE
Usage: $(basename "$0") [--dry-run] [--repo OWNER/NAME] [--dir DIR] [--env-dir DIR]

Creates or updates one repository ruleset per JSON file in DIR
(default .github/rulesets): GET the existing rulesets, then PUT
/repos/OWNER/NAME/rulesets/ID for a ruleset of the same name, else POST
/repos/OWNER/NAME/rulesets.

Then one deployment environment per JSON file in the environments directory
(default .github/environments): reviewers given by name are resolved to IDs
(GET /orgs/OWNER/teams/SLUG, GET /users/LOGIN), PUT
/repos/OWNER/NAME/environments/ENV sets them with the branch policy, and the
environment's deployment branch policies become exactly the file's
branch_policies (POST the missing ones, DELETE the others).

Options:
  --dry-run          print the requests (method, URL, body); send nothing, no token needed
  --repo OWNER/NAME  target repository (default: GITHUB_REPOSITORY, else the
                     github.com remote 'origin')
  --dir DIR          directory of ruleset JSON files
  --env-dir DIR      directory of environment JSON files
  -h, --help         show this help

Environment:
  GITHUB_TOKEN       token with the repository's Administration: write permission
                     (a fine-grained token, or a classic one with 'repo'); required
                     unless --dry-run
  GITHUB_API_URL     API root (default https://api.github.com)
USAGE
}

parse_args() {
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --dry-run) DRY_RUN=1 ;;
      --repo) [[ $# -ge 2 ]] || die "--repo needs OWNER/NAME" "run with --help"; REPO="$2"; shift ;;
      --dir) [[ $# -ge 2 ]] || die "--dir needs a directory" "run with --help"; RULESET_DIR="$2"; shift ;;
      --env-dir) [[ $# -ge 2 ]] || die "--env-dir needs a directory" "run with --help"; ENVIRONMENT_DIR="$2"; shift ;;
      *) usage >&2; die "unknown argument: $1" "run with --help" ;;
    esac
    shift
  done
}

validate_inputs() {
  github_require_repo
  GITHUB_API_HINT="403/404: the token needs Administration: write on ${REPO}; 422: the ruleset JSON is invalid"
  [[ -d "${RULESET_DIR}" ]] || die "no ruleset directory ${RULESET_DIR}" "pass --dir DIR"
  [[ -d "${ENVIRONMENT_DIR}" ]] || die "no environment directory ${ENVIRONMENT_DIR}" "pass --env-dir DIR"
  if [[ -z "${DRY_RUN}" && -z "${GITHUB_TOKEN:-}" ]]; then
    die "GITHUB_TOKEN is not set" \
      "export a token with Administration: write on ${REPO} (or run with --dry-run to only print the requests)"
  fi
}

# ruleset_files - the JSON files, each checked to be a branch ruleset with a name.
ruleset_files() {
  local f found=0
  for f in "${RULESET_DIR}"/*.json; do
    [[ -e "${f}" ]] || continue
    jq -e '(.name | type == "string" and length > 0) and .target == "branch" and (.rules | type == "array")' \
      "${f}" >/dev/null || die "${f} is not a branch ruleset with a name and rules" "compare it with .github/rulesets/main.json"
    printf '%s\n' "${f}"
    found=1
  done
  ((found)) || die "no *.json ruleset in ${RULESET_DIR}" "add one per protected branch"
}

# environment_files - the JSON files, each checked to be an environment with
# reviewers and custom branch policies (the only shape this project uses).
environment_files() {
  local f
  for f in "${ENVIRONMENT_DIR}"/*.json; do
    [[ -e "${f}" ]] || continue
    jq -e '(.name | type == "string" and test("^[A-Za-z0-9_.-]+$"))
      and (.reviewers | type == "array" and length > 0 and all(.type == "Team" or .type == "User"))
      and .deployment_branch_policy.custom_branch_policies == true
      and (.branch_policies | type == "array" and length > 0 and all(.type == "branch" or .type == "tag"))' \
      "${f}" >/dev/null ||
      die "${f} is not an environment with reviewers and branch policies" "compare it with .github/environments/staging.json"
    printf '%s\n' "${f}"
  done
}

print_request() {
  printf '%s %s\n' "$1" "$2"
  [[ -z "${3:-}" ]] || jq -S . "$3"
}

apply_ruleset() {
  local file="$1" existing="$2" name id
  name=$(jq -r .name "${file}")
  if [[ -n "${DRY_RUN}" ]]; then
    print_request "PUT-or-POST" "${API_URL}/repos/${REPO}/rulesets[/ID of '${name}' if it exists]" "${file}"
    return 0
  fi
  id=$(jq -r --arg n "${name}" 'map(select(.name == $n and .source_type == "Repository")) | first | .id // empty' <<<"${existing}")
  if [[ -n "${id}" ]]; then
    github_api PUT "/repos/${REPO}/rulesets/${id}" "${file}" >/dev/null
    log "ruleset '${name}': updated (id ${id})"
  else
    id=$(github_api POST "/repos/${REPO}/rulesets" "${file}" | jq -r .id)
    log "ruleset '${name}': created (id ${id})"
  fi
}

# reviewer_id TYPE NAME - the numeric ID the API wants for a team slug or a user login.
reviewer_id() {
  local id
  if [[ "$1" == Team ]]; then
    id=$(github_api GET "/orgs/${REPO%%/*}/teams/$2" | jq -r '.id // empty')
  else
    id=$(github_api GET "/users/$2" | jq -r '.id // empty')
  fi
  [[ "${id}" =~ ^[0-9]+$ ]] || die "no ID for reviewer $1 '$2'" "check the name in ${ENVIRONMENT_DIR}"
  echo "${id}"
}

apply_environment() {
  local file="$1" name body reviewers="[]" type slug id existing path
  name=$(jq -r .name "${file}")
  path="/repos/${REPO}/environments/${name}"
  body=$(mktemp)
  if [[ -n "${DRY_RUN}" ]]; then
    jq '{wait_timer, prevent_self_review, deployment_branch_policy,
         reviewers: [.reviewers[] | {type, id: "<ID of \(.type) \(.slug // .login)>"}]}' "${file}" >"${body}"
    print_request PUT "${API_URL}${path}" "${body}"
    rm -f "${body}"
    jq -r --arg u "${API_URL}${path}/deployment-branch-policies" \
      '.branch_policies[] | "POST-if-missing \($u) \(.type) \(.name)"' "${file}"
    printf 'DELETE-if-not-listed %s\n' "${API_URL}${path}/deployment-branch-policies/ID"
    return 0
  fi
  while read -r type slug; do
    id=$(reviewer_id "${type}" "${slug}")
    reviewers=$(jq -c --arg t "${type}" --argjson i "${id}" '. + [{type: $t, id: $i}]' <<<"${reviewers}")
  done < <(jq -r '.reviewers[] | "\(.type) \(.slug // .login)"' "${file}")
  jq --argjson r "${reviewers}" '{wait_timer, prevent_self_review, deployment_branch_policy, reviewers: $r}' "${file}" >"${body}"
  github_api PUT "${path}" "${body}" >/dev/null
  rm -f "${body}"
  existing=$(github_api GET "${path}/deployment-branch-policies?per_page=100")
  while read -r type slug; do
    if ! jq -e --arg t "${type}" --arg n "${slug}" '.branch_policies // [] | any(.name == $n and (.type // "branch") == $t)' \
      <<<"${existing}" >/dev/null; then
      body=$(mktemp)
      jq -n --arg t "${type}" --arg n "${slug}" '{name: $n, type: $t}' >"${body}"
      github_api POST "${path}/deployment-branch-policies" "${body}" >/dev/null
      rm -f "${body}"
      log "environment '${name}': ${type} '${slug}' may deploy"
    fi
  done < <(jq -r '.branch_policies[] | "\(.type) \(.name)"' "${file}")
  while read -r id slug; do
    [[ -n "${id}" ]] || continue
    github_api DELETE "${path}/deployment-branch-policies/${id}" >/dev/null
    log "environment '${name}': '${slug}' may no longer deploy"
  done < <(jq -r --slurpfile f "${file}" '.branch_policies // [] | .[]
      | select(. as $p | $f[0].branch_policies | any(.name == $p.name and .type == ($p.type // "branch")) | not)
      | "\(.id) \(.name)"' <<<"${existing}")
  log "environment '${name}': reviewers and branch policy applied"
}

main() {
  parse_args "$@"
  validate_inputs
  local existing="[]" file files
  files=$(ruleset_files)
  if [[ -n "${DRY_RUN}" ]]; then
    print_request GET "${API_URL}/repos/${REPO}/rulesets?includes_parents=false"
  else
    existing=$(github_api GET "/repos/${REPO}/rulesets?includes_parents=false&per_page=100")
  fi
  while read -r file; do apply_ruleset "${file}" "${existing}"; done <<<"${files}"
  files=$(environment_files)
  [[ -z "${files}" ]] || while read -r file; do apply_environment "${file}"; done <<<"${files}"
}

main "$@"
