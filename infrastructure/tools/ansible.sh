#!/usr/bin/env bash
# The one way this project runs Ansible: the pinned toolchain (a virtualenv
# from infrastructure/python/requirements-ansible.txt), the project's
# ansible.cfg and the environment's inventory. The playbooks call the deploy
# engine on the hosts; this script only chooses what to run where.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
source "${HERE}/lib/common.sh"
export RM_LOG_TAG="ansible"

ANSIBLE_DIR="${RM_REPO_ROOT}/infrastructure/ansible"
TAG_PATTERN='^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'

usage() {
  cat <<USAGE
Usage: $(basename "$0") setup        ENV|--inventory FILE [--via NET] [--first-run] [--check] [-- ANSIBLE ARGS...]
       $(basename "$0") setup-runner ENV|--inventory FILE [--via NET] [--first-run] [--check] [-- ANSIBLE ARGS...]
       $(basename "$0") update       ENV|--inventory FILE [--via NET] --tag TAG [--digest sha256:HEX] [--restart] [--lb-url URL] [-- ANSIBLE ARGS...]
       $(basename "$0") rollback     ENV|--inventory FILE [--via NET] --tag TAG [--lb-url URL] [-- ANSIBLE ARGS...]
       $(basename "$0") venv

  setup         converge playbooks/setup-api.yml (Docker, deploy user, ufw, security
                updates, monitoring agent, deploy engine + secrets, SSH hardening)
  setup-runner  converge playbooks/setup-runner.yml on the group ci_runner (admin
                account, ufw, security updates, monitoring agent, the GitHub
                Actions runner of the deploy job, SSH hardening); registering
                the runner needs RUNNER_TOKEN in the environment (see below)
  update        roll release TAG across the hosts with playbooks/update-api.yml
                (one host at a time; a failure returns the updated hosts to their
                previous release and stops)
  rollback      return every host at once to release TAG, which they ran before
                (playbooks/update-api.yml with update_api_rollback: the engine's
                rollback on each, zero downtime per host, no migrations, no
                post-switch watch)
  venv          create the Ansible virtualenv and print its path

  ENV               dev or staging: inventory/ENV.yml under infrastructure/ansible
  --inventory FILE  another inventory (a file or a directory)
  --via NET         public (default): SSH to the hosts' public addresses, as an
                    operator in admin_cidrs does; vpc: to their VPC addresses, as
                    the deploy job does from the CI runner inside the VPC
  --first-run       log in as root: a fresh droplet has no admin account yet, and
                    after this run root cannot log in any more
  --check           dry run: --check --diff, change nothing
  --tag TAG         the release (image tag) to roll out
  --digest DIGEST   its registry digest: every host pulls and runs exactly that image
  --restart         update with the live TAG: each host starts it again, blue/green,
                    so the API reads changed secrets (a plain update changes nothing)
  --lb-url URL      also check health and the version through the load balancer
  -- ARGS           passed to ansible-playbook as they are (e.g. --limit HOST)

setup renders secrets from Ansible Vault (inventory/group_vars/ENV/vault.yml):
set ANSIBLE_VAULT_PASSWORD_FILE to the file holding the vault password (setup-runner
reads the same inventory, so it needs it too).

setup-runner registers a runner that is not registered yet with a registration
token (valid for one hour), taken from the environment variable RUNNER_TOKEN,
never from the command line:
  RUNNER_TOKEN=\$(gh api -X POST repos/OWNER/NAME/actions/runners/registration-token --jq .token)

Examples:
  $(basename "$0") setup staging --first-run
  RUNNER_TOKEN=... $(basename "$0") setup-runner staging --first-run
  $(basename "$0") update staging --tag 3f2c1ab --lb-url https://staging-api.restomarket.example
  $(basename "$0") update staging --via vpc --tag 3f2c1ab   # on the CI runner
  $(basename "$0") rollback staging --tag 9e8d7c6b5a4f --lb-url https://staging-api.restomarket.example
USAGE
}

ansible_venv() {
  VENV="$("${HERE}/bootstrap/python-tools.sh" ansible 2>/dev/null | tail -n1)" ||
    VENV="$("${HERE}/bootstrap/python-tools.sh" ansible | tail -n1)"
  export PATH="${VENV}/bin:${PATH}"
  export ANSIBLE_CONFIG="${ANSIBLE_DIR}/ansible.cfg"
  # ansible.cfg's relative paths (roles, default inventory) are read from here.
  cd "${ANSIBLE_DIR}"
}

# resolve_inventory ENV FILE - the inventory to use: FILE, else inventory/ENV.yml.
resolve_inventory() {
  local env="$1" file="$2" known f
  if [[ -n "${file}" ]]; then
    [[ -e "${file}" ]] || die "inventory ${file} does not exist" "pass an existing file or directory to --inventory"
    INVENTORY="$(cd "$(dirname "${file}")" && pwd)/$(basename "${file}")"
    return 0
  fi
  known=""
  for f in "${ANSIBLE_DIR}"/inventory/*.yml; do [[ -f "${f}" ]] && known+="$(basename "${f}" .yml) "; done
  [[ -n "${env}" ]] || die "no environment given" "pass ENV (one of: ${known}) or --inventory FILE" 2
  [[ "${env}" =~ ^[a-z0-9_-]+$ && -f "${ANSIBLE_DIR}/inventory/${env}.yml" ]] ||
    die "unknown environment '${env}'" "use one of: ${known}(inventories in ${ANSIBLE_DIR}/inventory)" 2
  INVENTORY="${ANSIBLE_DIR}/inventory/${env}.yml"
}

# require_vault_password - an encrypted vault in the inventory needs its password.
require_vault_password() {
  local dir vaults
  dir="$(dirname "${INVENTORY}")"
  [[ -d "${INVENTORY}" ]] && dir="${INVENTORY}"
  vaults="$(grep -rl "^\\\$ANSIBLE_VAULT;" "${dir}/group_vars" "${dir}/host_vars" 2>/dev/null || true)"
  [[ -z "${vaults}" || -n "${ANSIBLE_VAULT_PASSWORD_FILE:-}" ]] ||
    die "the inventory has Ansible Vault files but ANSIBLE_VAULT_PASSWORD_FILE is not set" \
      "export ANSIBLE_VAULT_PASSWORD_FILE=/path/to/vault-password (vaults: $(tr '\n' ' ' <<<"${vaults}"))"
  [[ -z "${ANSIBLE_VAULT_PASSWORD_FILE:-}" || -r "${ANSIBLE_VAULT_PASSWORD_FILE}" ]] ||
    die "cannot read the vault password file ${ANSIBLE_VAULT_PASSWORD_FILE}" "check ANSIBLE_VAULT_PASSWORD_FILE"
}

run_playbook() {
  local playbook="$1"
  shift
  log "ansible-playbook ${playbook} -i ${INVENTORY} $*"
  ansible-playbook -i "${INVENTORY}" "playbooks/${playbook}" "$@"
}

main() {
  local action="${1:-}" env="" inventory="" first_run=0 check=0 tag="" lb_url="" digest="" via=public restart=false
  local -a extra=()
  case "${action}" in
    -h | --help) usage; return 0 ;;
    setup | setup-runner | update | rollback | venv) shift ;;
    "") usage >&2; die "no action given" "use setup, setup-runner, update, rollback or venv" 2 ;;
    *) usage >&2; die "unknown action '${action}'" "use setup, setup-runner, update, rollback or venv" 2 ;;
  esac
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --inventory | -i) [[ $# -ge 2 ]] || die "$1 needs a value" "see --help" 2; inventory="$2"; shift 2 ;;
      --via) [[ $# -ge 2 ]] || die "--via needs a value" "public or vpc" 2; via="$2"; shift 2 ;;
      --first-run) first_run=1; shift ;;
      --check) check=1; shift ;;
      --tag) [[ $# -ge 2 ]] || die "--tag needs a value" "see --help" 2; tag="$2"; shift 2 ;;
      --lb-url) [[ $# -ge 2 ]] || die "--lb-url needs a value" "see --help" 2; lb_url="$2"; shift 2 ;;
      --digest) [[ $# -ge 2 ]] || die "--digest needs a value" "see --help" 2; digest="$2"; shift 2 ;;
      --restart) restart=true; shift ;;
      --) shift; extra=("$@"); break ;;
      -*) die "unknown option '$1'" "see --help" 2 ;;
      *) [[ -z "${env}" ]] || die "unexpected argument '$1'" "see --help" 2; env="$1"; shift ;;
    esac
  done
  case "${action}" in
    venv) ansible_venv; echo "${VENV}"; return 0 ;;
  esac
  if [[ "${action}" == update || "${action}" == rollback ]]; then
    [[ -n "${tag}" ]] || die "no release given" "pass --tag TAG (the image tag to roll out, or to return to)" 2
    [[ "${tag}" =~ ${TAG_PATTERN} ]] || die "invalid tag '${tag}'" "letters, digits, '_', '.', '-'; at most 128 characters" 2
    [[ -z "${digest}" || "${digest}" =~ ^sha256:[0-9a-f]{64}$ ]] ||
      die "invalid --digest '${digest}'" "sha256: and 64 hex digits, the registry digest of --tag" 2
    [[ -z "${lb_url}" || "${lb_url}" =~ ^https?://[^/[:space:]]+$ ]] ||
      die "invalid --lb-url '${lb_url}'" "give the scheme and host only, e.g. https://staging-api.example.com" 2
    ((first_run == 0 && check == 0)) || die "--first-run and --check belong to setup and setup-runner" "see --help" 2
  fi
  [[ "${action}" == update || "${action}" == rollback || -z "${lb_url}${tag}" ]] ||
    die "--tag and --lb-url belong to update and rollback" "see --help" 2
  [[ "${action}" == update || -z "${digest}" ]] ||
    die "--digest belongs to update" "a rollback returns to the image the hosts ran; see --help" 2
  [[ "${action}" == update || "${restart}" == false ]] ||
    die "--restart belongs to update" "ansible.sh update ENV --tag LIVE_TAG --restart; see --help" 2
  [[ "${via}" == public || "${via}" == vpc ]] ||
    die "invalid --via '${via}'" "public (the hosts' public addresses) or vpc (their VPC addresses, from inside the VPC)" 2
  ansible_venv
  resolve_inventory "${env}" "${inventory}"
  # group_vars/all turns this into each host's ansible_host.
  extra=(-e "restomarket_ssh_via=${via}" "${extra[@]}")
  if [[ "${action}" == setup || "${action}" == setup-runner ]]; then
    # The setup plays load the inventory's vaults; update-api.yml reads no secret.
    require_vault_password
    local -a args=()
    ((first_run == 0)) || args+=(-e ansible_user=root)
    ((check == 0)) || args+=(--check --diff)
    local playbook=setup-api.yml
    [[ "${action}" == setup ]] || playbook=setup-runner.yml
    run_playbook "${playbook}" "${args[@]}" "${extra[@]}"
  elif [[ "${action}" == rollback ]]; then
    run_playbook update-api.yml -e "image_tag=${tag}" -e update_api_rollback=true -e "lb_url=${lb_url}" "${extra[@]}"
  else
    run_playbook update-api.yml -e "image_tag=${tag}" -e "image_digest=${digest}" -e "update_api_restart=${restart}" \
      -e "lb_url=${lb_url}" "${extra[@]}"
  fi
}

main "$@"
