#!/usr/bin/env bash
# Makes (once) and prints the SSH host keys of an environment's droplets of one
# service (the API's, or staging's CI runner), for Terraform: cloud-init
# installs droplet N's pair at its first boot, and Terraform's output
# api_known_hosts (ci_runner_known_hosts) then holds the public halves, so
# Ansible and CI know every host key before they first connect (no trust on
# first use).
# The private halves stay in a folder of the admin's own (never the
# repository); keep a copy in the team's password manager.
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
source "${HERE}/lib/common.sh"
export RM_LOG_TAG="host-keys"

ENV_NAME=""
COUNT=""
SERVICE="api"
KEYS_DIR="${RESTOMARKET_HOST_KEYS_DIR:-${XDG_CONFIG_HOME:-${HOME}/.config}/restomarket/host-keys}"

usage() {
  cat <<USAGE
Usage: $(basename "$0") ENV [--service NAME] [--count N] [--dir DIR]

Creates the missing ed25519 host key pairs of ENV's droplets 1..N of service
NAME in DIR/ENV/NAME-N (private, 0600) and NAME-N.pub, keeps existing ones,
and prints them as the JSON list Terraform's host_keys variables take:

  export TF_VAR_host_keys="\$($(basename "$0") staging)"
  export TF_VAR_ci_runner_host_keys="\$($(basename "$0") staging --service ci-runner --count 1)"
  terraform -chdir=infrastructure/terraform/environments/staging apply
  make ansible-inventory ENV=staging   # writes inventory/staging.known_hosts

  ENV             environment (known: $(tf_envs))
  --service NAME  the droplets' service, as in their names and tags: api (the
                  default) or ci-runner (staging's CI runner)
  --count N       number of droplets (default for api: droplet_count in ENV's
                  terraform.tfvars; other services need it)
  --dir DIR       where the keys live (default: ${KEYS_DIR};
                  RESTOMARKET_HOST_KEYS_DIR sets it too)
  -h, --help      show this help

A droplet keeps the keys it was created with (Terraform ignores later changes
to its user data): rotating a host key means replacing that droplet.
USAGE
}

parse_args() {
  while (($#)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --count | --dir | --service)
        [[ $# -ge 2 && "$2" != -* ]] || die "$1 needs a value" "see --help" 2
        case "$1" in
          --count) COUNT="$2" ;;
          --dir) KEYS_DIR="$2" ;;
          --service) SERVICE="$2" ;;
        esac
        shift
        ;;
      -*) usage >&2; die "unknown option '$1'" "see --help" 2 ;;
      *)
        [[ -z "${ENV_NAME}" ]] || die "unexpected argument '$1' (ENV is already '${ENV_NAME}')" "see --help" 2
        ENV_NAME="$1"
        ;;
    esac
    shift
  done
  [[ -n "${ENV_NAME}" ]] || usage >&2
  require_tf_env "${ENV_NAME}"
  # The api-cluster module's rule for a service name; it also names the key files.
  [[ "${SERVICE}" =~ ^[a-z][a-z0-9-]{1,20}$ ]] ||
    die "invalid --service '${SERVICE}'" "the droplets' service as in their names, such as api or ci-runner" 2
  if [[ -z "${COUNT}" ]]; then
    # droplet_count in terraform.tfvars counts the API droplets only.
    [[ "${SERVICE}" == api ]] || die "no --count for service ${SERVICE}" "pass --count N (1 for the CI runner)" 2
    COUNT=$(tf_var "${ENV_NAME}" droplet_count)
    [[ -n "${COUNT}" ]] || die "no droplet_count in ${RM_TF_ENVS_DIR}/${ENV_NAME}/terraform.tfvars" "pass --count N" 2
  fi
  [[ "${COUNT}" =~ ^[1-9][0-9]?$ ]] || die "invalid --count '${COUNT}'" "a number of droplets, 1 to 99" 2
}

# ensure_pair N - DIR/ENV/SERVICE-N and .pub exist (made now when missing) and belong together.
ensure_pair() {
  local key="${KEYS_DIR}/${ENV_NAME}/${SERVICE}-$1" derived
  if [[ ! -e "${key}" ]]; then
    [[ ! -e "${key}.pub" ]] || die "${key}.pub exists without its private key" "restore ${key}, or remove both to make a new pair"
    ssh-keygen -q -t ed25519 -N '' -C "restomarket-${ENV_NAME}-${SERVICE}-$1" -f "${key}" </dev/null >/dev/null ||
      die "ssh-keygen could not write ${key}"
    log "made the host key pair of ${ENV_NAME} ${SERVICE} droplet $1: ${key}"
  fi
  chmod 0600 "${key}"
  derived=$(ssh-keygen -y -f "${key}" 2>/dev/null | awk '{print $1, $2}') || die "${key} is not a readable OpenSSH private key" "restore it from your copy"
  [[ "${derived}" == ssh-ed25519\ * ]] || die "${key} is not an ed25519 key" "remove it to make a new pair"
  [[ -e "${key}.pub" ]] || printf '%s restomarket-%s-%s-%s\n' "${derived}" "${ENV_NAME}" "${SERVICE}" "$1" >"${key}.pub"
  [[ "$(awk '{print $1, $2}' "${key}.pub")" == "${derived}" ]] ||
    die "${key}.pub does not match ${key}" "remove the .pub file: it is made again from the private key"
}

main() {
  parse_args "$@"
  have ssh-keygen || ensure_apt_packages openssh-client
  have jq || ensure_apt_packages jq
  (umask 077 && mkdir -p "${KEYS_DIR}/${ENV_NAME}")
  local n
  for ((n = 1; n <= COUNT; n++)); do ensure_pair "${n}"; done
  for ((n = 1; n <= COUNT; n++)); do
    jq -n --rawfile private "${KEYS_DIR}/${ENV_NAME}/${SERVICE}-${n}" --rawfile public "${KEYS_DIR}/${ENV_NAME}/${SERVICE}-${n}.pub" \
      '{private_key: $private, public_key: ($public | rtrimstr("\n"))}'
  done | jq -s -c .
}

main "$@"
