#!/usr/bin/env bash
# Proves infrastructure/tools/ansible-inventory.sh on fixtures shaped like
# real `terraform output -json` (sensitive connection strings included):
#   - the inventory parses with ansible-inventory, with the right groups,
#     host vars and typed group vars, and no secret in it;
#   - a re-run with the same outputs leaves the file alone, a new one replaces it;
#   - the API port, VPC range, admin/public CIDRs, the load balancer drain time
#     and the PostgreSQL CA are copied typed (the CA as a PEM block), and bad
#     ones are refused;
#   - bad outputs (unpaired or missing address lists) and bad ENVs are refused
#     and never touch an existing inventory;
#   - --output - writes nothing; the committed inventories have the script's shape;
#   - an un-applied workspace (terraform prints {}) gets a clear message;
#   - staging's CI runner becomes group ci_runner and the var
#     ci_runner_private_ip, from which the API hosts' ufw admits SSH; dev,
#     without a runner, gets neither; a bad runner address is refused;
#   - host-keys.sh makes droplet host keys once (per service); their public
#     halves in the outputs become ENV.known_hosts, checked against the
#     droplets' addresses.
# Everything lives in a temp dir removed on exit. Prints "N passed, N failed".
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../tools/lib/common.sh
source "${HERE}/../../tools/lib/common.sh"
# shellcheck source=../../tools/lib/testing.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/testing.sh"
export RM_LOG_TAG="test-inventory"

SCRIPT="${RM_REPO_ROOT}/infrastructure/tools/ansible-inventory.sh"
INVENTORY_DIR="${RM_REPO_ROOT}/infrastructure/ansible/inventory"
TF_ENVS_DIR="${RM_REPO_ROOT}/infrastructure/terraform/environments"
# The password inside the sensitive outputs: it must never reach an inventory.
SECRET="fixture-secret-$$-do-not-copy"
# Shaped like the PEM CA certificate Terraform reads from the database cluster.
CA_PEM=$'-----BEGIN CERTIFICATE-----\nMIIBfixtureCA0123456789\nabcdefghijklmnopqrstuvwxyz\n-----END CERTIFICATE-----\n'
WORK=""
VENV=""
RC=0

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Runs the checks of infrastructure/tools/ansible-inventory.sh on Terraform
output fixtures (a few seconds; needs the Ansible virtualenv, built by
infrastructure/tools/ansible.sh venv when missing).
USAGE
}

cleanup() {
  [[ -n "${WORK}" ]] && rm -rf "${WORK}"
  return 0
}

setup() {
  have jq || ensure_apt_packages jq
  # ansible.sh is quiet when the venv is ready and says why when it is not.
  VENV=$("${RM_REPO_ROOT}/infrastructure/tools/ansible.sh" venv | tail -n1) ||
    die "could not prepare the Ansible virtualenv" "run infrastructure/tools/ansible.sh venv"
  [[ -x "${VENV}/bin/ansible-inventory" ]] || die "no ansible-inventory in ${VENV}" \
    "run infrastructure/tools/ansible.sh venv"
  WORK=$(mktemp -d)
  mkdir -p "${WORK}/inv" "${WORK}/bin" "${WORK}/empty"
}

# fixture FILE ENV COUNT [JQ_FILTER] - `terraform output -json` of ENV with
# COUNT droplets (staging also has a load balancer, which drains a droplet in
# 35 s, and a CI runner; dev's lb_drain_seconds is 0), then JQ_FILTER applied.
fixture() {
  local file="$1" env="$2" count="$3" filter="${4:-.}" net=20
  [[ "${env}" == dev ]] && net=10
  jq -n --arg env "${env}" --argjson n "${count}" --argjson net "${net}" --arg secret "${SECRET}" --arg ca "${CA_PEM}" '
    def out(v): {sensitive: false, type: (if (v | type) == "array" then ["tuple", [v[] | "string"]] else (v | type) end), value: v};
    def secret(v): {sensitive: true, type: "string", value: v};
    {
      admin_cidrs: out(["203.0.113.0/28"]),
      api_port: out(3001),
      api_public_cidrs: out(if $env == "dev" then ["203.0.113.0/28"] else [] end),
      lb_drain_seconds: out(if $env == "dev" then 0 else 35 end),
      vpc_ip_range: out("10.\($net).0.0/20"),
      postgres_ca_certificate: out($ca),
      api_private_ips: out([range(1; $n + 1) | "10.\($net).0.\(10 + .)"]),
      api_public_ips: out([range(1; $n + 1) | "203.0.113.\(10 + .)"]),
      api_target_tag: out("restomarket-\($env)-api"),
      droplet_count: out($n),
      firewall_inbound_rules: out([{protocol: "tcp", port_range: "22", source_addresses: ["203.0.113.0/28"]}]),
      postgres_connection_string: secret("postgresql://restomarket_app:\($secret)@private-db.example:25060/restomarket?sslmode=require"),
      postgres_database: out("restomarket"),
      postgres_host: out("private-db.example"),
      postgres_node_count: out(1),
      postgres_port: out(25060),
      postgres_user: out("restomarket_app"),
      valkey_connection_string: secret("rediss://default:\($secret)@private-cache.example:25061"),
      valkey_host: out("private-cache.example"),
      valkey_port: out(25061),
      vpc_id: out("00000000-0000-4000-8000-000000000000")
    }
    + if $env == "staging" then {
        load_balancer_ip: out("203.0.113.50"), api_url: out("https://staging.example"),
        ci_runner_public_ip: out("203.0.113.20"), ci_runner_private_ip: out("10.20.0.20"),
        ci_runner_target_tag: out("restomarket-staging-ci-runner"), ci_runner_known_hosts: out([])
      } else {} end
  ' | jq "${filter}" >"${file}"
}

# gen ARGS... - run the script; stdout/stderr in WORK/out and WORK/err, exit code in RC.
gen() {
  RC=0
  "${SCRIPT}" "$@" >"${WORK}/out" 2>"${WORK}/err" || RC=$?
}

# inventory_list FILE [ARGS...] - ansible-inventory --list of FILE as JSON; a
# file Ansible cannot parse is an error, not an empty inventory.
inventory_list() {
  local file="$1"
  shift
  (cd "${WORK}/empty" && ANSIBLE_INVENTORY_UNPARSED_FAILED=true ANSIBLE_INVENTORY_ENABLED=yaml \
    "${VENV}/bin/ansible-inventory" -i "${file}" --list "$@" 2>"${WORK}/ansible.err")
}

# identity FILE - content hash, inode and mtime: any rewrite (even mv of equal content) changes it.
identity() { printf '%s %s\n' "$(sha256sum <"$1")" "$(stat -c '%i %y' "$1")"; }

# shape FILE ENV - ENV's child groups with their host counts, sorted group var
# keys of ENV and host var keys, ignoring group_vars/.
shape() {
  local copy="${WORK}/shape/$2.yml" json
  mkdir -p "${WORK}/shape"
  cp "$1" "${copy}"
  json=$(inventory_list "${copy}" --export) || return 1
  jq -c --arg env "$2" '. as $inv | {groups: ([.[$env].children[]? | {(.): ($inv[.].hosts | length)}] | add),
    group_vars: (.[$env].vars // {} | keys), host_vars: ([._meta.hostvars[] | keys[]] | unique)}' <<<"${json}"
}

test_staging_inventory() {
  local out="${WORK}/inv/staging.yml" json
  fixture "${WORK}/staging.json" staging 2
  gen staging --from-json "${WORK}/staging.json" --output "${out}"
  expect_eq "staging fixture: exit 0" 0 "${RC}"
  if ! json=$(inventory_list "${out}" --export); then
    fail "staging inventory parses with ansible-inventory" "$(tail -n 5 "${WORK}/ansible.err")"
    return 0
  fi
  pass "staging inventory parses with ansible-inventory"
  expect_eq "hosts staging-api-1/2 in group api" '["staging-api-1","staging-api-2"]' "$(jq -c '.api.hosts' <<<"${json}")"
  expect_eq "api and ci_runner are the children of staging" '["api","ci_runner"]' "$(jq -c '.staging.children' <<<"${json}")"
  expect_eq "staging is a child of all" true "$(jq '.all.children | index("staging") != null' <<<"${json}")"
  expect_eq "host vars of staging-api-1/2 and staging-ci-runner-1 (public_ip, private_ip)" \
    '{"staging-api-1":{"private_ip":"10.20.0.11","public_ip":"203.0.113.11"},"staging-api-2":{"private_ip":"10.20.0.12","public_ip":"203.0.113.12"},"staging-ci-runner-1":{"private_ip":"10.20.0.20","public_ip":"203.0.113.20"}}' \
    "$(jq -S -c '._meta.hostvars' <<<"${json}")"
  expect_eq "group vars of staging are exactly the copied outputs" \
    '["admin_cidrs","api_port","api_public_cidrs","ci_runner_private_ip","lb_drain_seconds","load_balancer_ip","postgres_ca_certificate","postgres_database","postgres_host","postgres_port","postgres_user","valkey_host","valkey_port","vpc_ip_range"]' \
    "$(jq -c '.staging.vars | keys' <<<"${json}")"
  expect_eq "postgres_port and valkey_port are integers" '25060 number 25061 number' \
    "$(jq -r '.staging.vars | "\(.postgres_port) \(.postgres_port | type) \(.valkey_port) \(.valkey_port | type)"' <<<"${json}")"
  expect_eq "the API port and the address ranges are Terraform's, typed" '3001 10.20.0.0/20 ["203.0.113.0/28"] []' \
    "$(jq -r '.staging.vars | "\(.api_port) \(.vpc_ip_range) \(.admin_cidrs | tojson) \(.api_public_cidrs | tojson)"' <<<"${json}")"
  expect_eq "lb_drain_seconds is Terraform's, an integer" '35 number' \
    "$(jq -r '.staging.vars.lb_drain_seconds | "\(.) \(type)"' <<<"${json}")"
  # $(...) drops the final newline of both sides alike.
  expect_eq "the CA certificate reads back unchanged" "$(printf '%s' "${CA_PEM}")" \
    "$(jq -j '.staging.vars.postgres_ca_certificate' <<<"${json}")"
  expect_match "the CA certificate is a literal block, readable as PEM" \
    'postgres_ca_certificate: \| +-----BEGIN CERTIFICATE----- ' "$(tr '\n' ' ' <"${out}")"
  if grep -qF -e "${SECRET}" -e connection_string "${out}"; then
    fail "no connection string or its password in the inventory" "$(grep -nF -e "${SECRET}" -e connection_string "${out}")"
  else
    pass "no connection string or its password in the inventory"
  fi
  expect_eq "no temp file left next to the inventory" "staging.yml" "$(ls -A "${WORK}/inv")"
  expect_match "header names the environment and how to regenerate" \
    '^# Generated by infrastructure/tools/ansible-inventory.sh.*environments/staging\..*make ansible-inventory ENV=staging' \
    "$(head -n 3 "${out}" | tr '\n' ' ')"
}

# host_var INVENTORY HOST VAR [ANSIBLE ARGS...] - VAR of HOST (JSON) as Ansible
# resolves it from INVENTORY and the real group_vars/ (both copied to one folder).
host_var() {
  local file="$1" host="$2" var="$3" dir="${WORK}/resolve"
  shift 3
  rm -rf "${dir}"
  mkdir -p "${dir}"
  cp -r "${INVENTORY_DIR}/group_vars" "${dir}/"
  cp "${file}" "${dir}/hosts.yml"
  # An empty config: ansible.cfg's timing callback would print into the JSON.
  : >"${dir}/ansible.cfg"
  (cd "${dir}" && ANSIBLE_CONFIG="${dir}/ansible.cfg" ANSIBLE_LOAD_CALLBACK_PLUGINS=1 \
    ANSIBLE_STDOUT_CALLBACK=ansible.builtin.json "${VENV}/bin/ansible" -i hosts.yml "${host}" -c local \
    -m ansible.builtin.debug -a "var=${var}" "$@" 2>"${WORK}/ansible.err") |
    jq -c --arg h "${host}" --arg v "${var}" '.plays[0].tasks[0].hosts[$h][$v]'
}

# ssh_sources FILE HOST - firewall_ssh_cidrs of HOST (JSON).
ssh_sources() { host_var "$1" "$2" firewall_ssh_cidrs; }

# Ansible reaches a host at its public address, or at its VPC address with
# restomarket_ssh_via=vpc (ansible.sh --via vpc: the deploy job on the runner).
test_ssh_address() {
  local inv="${WORK}/inv/staging.yml"
  expect_eq "staging-api-1: Ansible connects to the public address by default" '"203.0.113.11"' \
    "$(host_var "${inv}" staging-api-1 ansible_host)"
  expect_eq "staging-api-2: with --via vpc, to the VPC address" '"10.20.0.12"' \
    "$(host_var "${inv}" staging-api-2 ansible_host -e restomarket_ssh_via=vpc)"
  expect_eq "staging-ci-runner-1: public by default" '"203.0.113.20"' "$(host_var "${inv}" staging-ci-runner-1 ansible_host)"
  # update-api.yml delegates its load balancer checks to this machine.
  expect_eq "localhost (delegated tasks), with --via vpc: keeps its name" '"localhost"' \
    "$(host_var "${inv}" localhost ansible_host -e restomarket_ssh_via=vpc)"
  local rc=0
  "${RM_REPO_ROOT}/infrastructure/tools/ansible.sh" update staging --via internet --tag v1 >"${WORK}/out" 2>"${WORK}/err" || rc=$?
  expect_eq "ansible.sh --via internet: refused (exit 2)" 2 "${rc}"
  expect_match "ansible.sh --via internet: says what is allowed" "invalid --via 'internet'.*public.*vpc" "$(cat "${WORK}/err")"
}

# Staging's CI runner: a group and host of its own, and ci_runner_private_ip,
# from which the API hosts' ufw admits SSH. Dev has no runner: neither, and
# ufw admits the admins only.
test_ci_runner() {
  local json dev="${WORK}/dev/dev.yml"
  json=$(inventory_list "${WORK}/inv/staging.yml" --export) || json='{}'
  expect_eq "staging: group ci_runner holds staging-ci-runner-1" '["staging-ci-runner-1"]' "$(jq -c '.ci_runner.hosts' <<<"${json}")"
  expect_eq "staging: ci_runner_private_ip is the runner's VPC address" 10.20.0.20 \
    "$(jq -r '.staging.vars.ci_runner_private_ip' <<<"${json}")"
  expect_eq "staging: the API hosts' ufw admits SSH from admin_cidrs and the runner's address" \
    '["203.0.113.0/28","10.20.0.20/32"]' "$(ssh_sources "${WORK}/inv/staging.yml" staging-api-1)"
  mkdir -p "${WORK}/dev"
  fixture "${WORK}/dev.json" dev 1
  gen dev --from-json "${WORK}/dev.json" --output "${dev}"
  expect_eq "dev without runner outputs: exit 0" 0 "${RC}"
  json=$(inventory_list "${dev}" --export) || json='{}'
  expect_eq "dev: no ci_runner group, no ci_runner_private_ip" '["api"] false' \
    "$(jq -r '"\(.dev.children | tojson) \(.dev.vars | has("ci_runner_private_ip"))"' <<<"${json}")"
  expect_eq "dev: ufw admits SSH from admin_cidrs only" '["203.0.113.0/28"]' "$(ssh_sources "${dev}" dev-api-1)"
}

test_rerun_unchanged() {
  local out="${WORK}/inv/staging.yml" before
  before=$(identity "${out}")
  gen staging --from-json "${WORK}/staging.json" --output "${out}"
  expect_eq "re-run with the same outputs: exit 0" 0 "${RC}"
  expect_eq "re-run leaves the file alone (hash, inode, mtime)" "${before}" "$(identity "${out}")"
  expect_match "re-run logs unchanged" 'unchanged' "$(cat "${WORK}/err")"

  fixture "${WORK}/staging3.json" staging 3
  gen staging --from-json - --output "${out}" <"${WORK}/staging3.json"
  expect_eq "new outputs from stdin: exit 0" 0 "${RC}"
  expect_match "new outputs replace the file (3rd host)" 'staging-api-3:' "$(cat "${out}")"
  gen staging --from-json "${WORK}/staging.json" --output "${out}"
}

test_mismatched_lists() {
  local out="${WORK}/inv/staging.yml" before
  before=$(identity "${out}")
  fixture "${WORK}/mismatch.json" staging 2 '.api_private_ips.value |= .[:1]'
  gen staging --from-json "${WORK}/mismatch.json" --output "${out}"
  expect_eq "unpaired public/private lists: exit 1" 1 "${RC}"
  expect_match "message names both outputs" 'api_public_ips.*api_private_ips' "$(cat "${WORK}/err")"
  expect_eq "existing inventory untouched" "${before}" "$(identity "${out}")"
  expect_eq "no temp file left after the refusal" "staging.yml" "$(ls -A "${WORK}/inv")"
}

test_missing_public_ips() {
  fixture "${WORK}/nopublic.json" staging 2 'del(.api_public_ips)'
  gen staging --from-json "${WORK}/nopublic.json" --output "${WORK}/inv/new.yml"
  expect_eq "missing api_public_ips: exit 1" 1 "${RC}"
  expect_match "message names api_public_ips" 'missing Terraform output api_public_ips' "$(cat "${WORK}/err")"
  check_fails "no inventory created from bad outputs" test -e "${WORK}/inv/new.yml"

  fixture "${WORK}/hidden.json" staging 2 '.api_public_ips.sensitive = true'
  gen staging --from-json "${WORK}/hidden.json" --output -
  expect_eq "sensitive api_public_ips is refused, not copied" "1 " "${RC} $(cat "${WORK}/out")"

  fixture "${WORK}/badip.json" staging 2 '.api_private_ips.value[1] = "10.20.0.256"'
  gen staging --from-json "${WORK}/badip.json" --output -
  expect_match "a non-IPv4 address is refused" '10\.20\.0\.256.*not an IPv4' "${RC} $(cat "${WORK}/err")"

  fixture "${WORK}/sensitive-host.json" staging 2 '.postgres_host.sensitive = true'
  gen staging --from-json "${WORK}/sensitive-host.json" --output -
  if ((RC == 0)) && ! grep -q 'postgres_host' "${WORK}/out" && grep -q 'postgres_port' "${WORK}/out"; then
    pass "a sensitive optional output is left out, the others kept"
  else
    fail "a sensitive optional output is left out, the others kept" "exit ${RC}: $(cat "${WORK}/out" "${WORK}/err")"
  fi
}

test_bad_seam_outputs() {
  local name filter regex
  while IFS='|' read -r name filter regex; do
    fixture "${WORK}/seam.json" staging 2 "${filter}"
    gen staging --from-json "${WORK}/seam.json" --output -
    if ((RC == 1)) && [[ ! -s "${WORK}/out" ]] && [[ "$(cat "${WORK}/err")" =~ ${regex} ]]; then
      pass "refused: ${name}"
    else
      fail "refused: ${name}" "exit ${RC}: $(cat "${WORK}/err")"
    fi
  done <<'CASES'
no api_port output|del(.api_port)|missing Terraform output api_port
an api_port that is not a port|.api_port.value = 70000|api_port is 70000, not a TCP port
a VPC range that is not a CIDR|.vpc_ip_range.value = "10.20.0.0"|vpc_ip_range is "10.20.0.0", not an IPv4 CIDR
admin_cidrs open to the internet|.admin_cidrs.value = ["0.0.0.0/0"]|admin_cidrs holds 0.0.0.0/0, the whole internet
no admin_cidrs at all|.admin_cidrs.value = []|admin_cidrs is empty
api_public_cidrs not a list|.api_public_cidrs.value = "203.0.113.0/28"|api_public_cidrs is not a list
a CA that is not PEM|.postgres_ca_certificate.value = "not a certificate"|postgres_ca_certificate is not a PEM certificate
no lb_drain_seconds output|del(.lb_drain_seconds)|missing Terraform output lb_drain_seconds
a negative lb_drain_seconds|.lb_drain_seconds.value = -1|lb_drain_seconds is -1, not a whole number of seconds from 0 to 600
an lb_drain_seconds that is not a number|.lb_drain_seconds.value = "abc"|lb_drain_seconds is "abc", not a whole number
a fractional lb_drain_seconds|.lb_drain_seconds.value = 2.5|lb_drain_seconds is 2.5, not a whole number
an lb_drain_seconds over 10 minutes|.lb_drain_seconds.value = 601|lb_drain_seconds is 601, not a whole number
a CI runner address that is not IPv4|.ci_runner_private_ip.value = "10.20.0.256"|ci_runner_private_ip is "10.20.0.256", not an IPv4 address
a CI runner address that is a range|.ci_runner_public_ip.value = "203.0.113.20/32"|ci_runner_public_ip is "203.0.113.20/32", not an IPv4 address
a CI runner without its public address|del(.ci_runner_public_ip)|missing Terraform output ci_runner_public_ip
a sensitive CI runner address|.ci_runner_private_ip.sensitive = true|ci_runner_private_ip is a sensitive output
CASES
}

test_bad_env() {
  local known env
  known=$(find "${TF_ENVS_DIR}" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort | paste -sd ' ')
  for env in prod ../x staging/../dev Dev; do
    gen "${env}" --from-json "${WORK}/staging.json" --output -
    if ((RC != 0)) && grep -qF "${known}" "${WORK}/err" && [[ ! -s "${WORK}/out" ]]; then
      pass "ENV '${env}' refused with the known envs (${known})"
    else
      fail "ENV '${env}' refused with the known envs (${known})" "exit ${RC}: $(cat "${WORK}/err")"
    fi
  done
  gen staging --no-such-option
  expect_match "unknown option refused" '^2 .*unknown option' "${RC} $(cat "${WORK}/err")"
}

test_stdout() {
  local committed="${INVENTORY_DIR}/staging.yml" before="" out
  [[ -f "${committed}" ]] && before=$(identity "${committed}")
  out=$(cd "${WORK}/empty" && "${SCRIPT}" staging --from-json "${WORK}/staging.json" --output - 2>/dev/null)
  expect_eq "--output - prints the same inventory as the file" "$(cat "${WORK}/inv/staging.yml")" "${out}"
  expect_eq "--output - writes nothing in the current directory" "" "$(ls -A "${WORK}/empty")"
  expect_eq "--output - leaves the default inventory/staging.yml alone" "${before}" \
    "$([[ -f "${committed}" ]] && identity "${committed}")"
}

test_committed() {
  local env count json want got
  for env in dev staging; do
    if [[ ! -f "${INVENTORY_DIR}/${env}.yml" ]]; then
      fail "committed inventory/${env}.yml exists"
      continue
    fi
    # In place, so the real group_vars/ are read too.
    if ! json=$(inventory_list "${INVENTORY_DIR}/${env}.yml"); then
      fail "committed inventory/${env}.yml parses with ansible-inventory" "$(tail -n 5 "${WORK}/ansible.err")"
      continue
    fi
    pass "committed inventory/${env}.yml parses with ansible-inventory"
    expect_eq "inventory/${env}.yml: api is a child of ${env}" true "$(jq --arg e "${env}" '.[$e].children | index("api") != null' <<<"${json}")"
    count=$(tf_var "${env}" droplet_count)
    expect_eq "inventory/${env}.yml has droplet_count (${count}) hosts ${env}-api-N" \
      "$(seq -f "${env}-api-%g" 1 "${count}" | jq -Rsc 'split("\n")[:-1]')" "$(jq -c '.api.hosts' <<<"${json}")"
    fixture "${WORK}/full-${env}.json" "${env}" "${count}"
    gen "${env}" --from-json "${WORK}/full-${env}.json" --output "${WORK}/full-${env}.yml"
    # The placeholders have no CA: it exists only once the cluster does.
    want=$(shape "${WORK}/full-${env}.yml" "${env}" | jq -c '.group_vars -= ["postgres_ca_certificate"]') ||
      want="unparsable: $(tail -n 3 "${WORK}/ansible.err")"
    got=$(shape "${INVENTORY_DIR}/${env}.yml" "${env}") || got="unparsable: $(tail -n 3 "${WORK}/ansible.err")"
    expect_eq "inventory/${env}.yml has the groups, group and host var keys the script writes" "${want}" "${got}"
    expect_match "inventory/${env}.yml keeps the generated header" \
      "^# Generated by infrastructure/tools/ansible-inventory.sh.*make ansible-inventory ENV=${env}" \
      "$(head -n 3 "${INVENTORY_DIR}/${env}.yml" | tr '\n' ' ')"
  done
}

# host-keys.sh: pairs made once in a folder of its own, printed as Terraform's
# host_keys list; a re-run reuses them; bad input is refused.
test_host_keys() {
  local dir="${WORK}/host-keys" first second
  first=$("${RM_REPO_ROOT}/infrastructure/tools/host-keys.sh" staging --dir "${dir}" 2>"${WORK}/err") || first="exit $?"
  expect_eq "host-keys: staging's droplet_count (2) pairs, as host_keys JSON" 2 "$(jq length <<<"${first}" 2>&1)"
  expect_eq "host-keys: private halves 0600, public halves named by droplet" "600 api-1 600 api-2" \
    "$(stat -c '%a %n' "${dir}/staging/api-1" "${dir}/staging/api-2" | sed 's#[^ ]*/##' | tr '\n' ' ' | sed 's/ $//')"
  expect_eq "host-keys: each public key is its private key's" \
    "$(ssh-keygen -y -f "${dir}/staging/api-2" | awk '{print $1, $2}')" "$(jq -r '.[1].public_key' <<<"${first}" | awk '{print $1, $2}')"
  expect_match "host-keys: the private key is an OpenSSH ed25519 key" '^-----BEGIN OPENSSH PRIVATE KEY-----' \
    "$(jq -r '.[0].private_key' <<<"${first}")"
  second=$("${RM_REPO_ROOT}/infrastructure/tools/host-keys.sh" staging --dir "${dir}" 2>/dev/null) || second="exit $?"
  expect_eq "host-keys: a re-run prints the same keys (made once)" "${first}" "${second}"
  rm -f "${dir}/staging/api-2.pub"
  printf 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJlc3RvbWFya2V0LWFkbWluLWtleS1yZXBsYWNlLW0x other\n' >"${dir}/staging/api-2.pub"
  RC=0
  "${RM_REPO_ROOT}/infrastructure/tools/host-keys.sh" staging --dir "${dir}" >"${WORK}/out" 2>"${WORK}/err" || RC=$?
  expect_match "host-keys: a public key that is not its private key's is refused" '^1 .*api-2.pub does not match' \
    "${RC} $(cat "${WORK}/err")"
  RC=0
  "${RM_REPO_ROOT}/infrastructure/tools/host-keys.sh" prod --dir "${dir}" >"${WORK}/out" 2>"${WORK}/err" || RC=$?
  expect_match "host-keys: an unknown ENV is refused" '^2 .*unknown environment' "${RC} $(cat "${WORK}/err")"
  first=$("${RM_REPO_ROOT}/infrastructure/tools/host-keys.sh" staging --service ci-runner --count 1 --dir "${dir}" \
    2>"${WORK}/err") || first="exit $?"
  expect_eq "host-keys --service ci-runner --count 1: one pair, as host_keys JSON" 1 "$(jq length <<<"${first}" 2>&1)"
  expect_eq "host-keys --service ci-runner: files ci-runner-1 (0600) and .pub, beside the API's" "600 ci-runner-1 ci-runner-1.pub" \
    "$(stat -c '%a %n' "${dir}/staging/ci-runner-1" | sed 's#[^ ]*/##') $(cd "${dir}/staging" && ls ci-runner-*.pub)"
  expect_eq "host-keys --service ci-runner: the public key named by the runner" "restomarket-staging-ci-runner-1" \
    "$(jq -r '.[0].public_key' <<<"${first}" | awk '{print $3}')"
  RC=0
  "${RM_REPO_ROOT}/infrastructure/tools/host-keys.sh" staging --service ci-runner --dir "${dir}" >"${WORK}/out" 2>"${WORK}/err" || RC=$?
  expect_match "host-keys: another service without --count is refused" '^2 .*no --count for service ci-runner' \
    "${RC} $(cat "${WORK}/err")"
  RC=0
  "${RM_REPO_ROOT}/infrastructure/tools/host-keys.sh" staging --service ../api --count 1 --dir "${dir}" >"${WORK}/out" 2>"${WORK}/err" || RC=$?
  expect_match "host-keys: a service that is not a name is refused" "^2 .*invalid --service '../api'" "${RC} $(cat "${WORK}/err")"
}

# known_hosts_fixture FILE - staging's outputs with api_known_hosts, one key
# per droplet, and ci_runner_known_hosts, the runner's key.
known_hosts_fixture() {
  local keys runner
  keys=$(jq -c '[.[].public_key | split(" ")[0:2] | join(" ")]' <<<"$("${RM_REPO_ROOT}/infrastructure/tools/host-keys.sh" staging --dir "${WORK}/kh-keys" 2>/dev/null)")
  runner=$(jq -c '.[0].public_key | split(" ")[0:2] | join(" ")' <<<"$("${RM_REPO_ROOT}/infrastructure/tools/host-keys.sh" staging \
    --service ci-runner --count 1 --dir "${WORK}/kh-keys" 2>/dev/null)")
  fixture "$1" staging 2 ".api_known_hosts = {sensitive: false, type: [\"list\", \"string\"],
    value: [range(0; 2) as \$i | \"\(.api_public_ips.value[\$i]),\(.api_private_ips.value[\$i]) \(${keys}[\$i])\"]}
    | .ci_runner_known_hosts.value = [\"\(.ci_runner_public_ip.value),\(.ci_runner_private_ip.value) \(${runner})\"]"
}

# The droplets' host keys from Terraform reach ENV.known_hosts beside the
# inventory, checked line by line against the droplets' addresses.
test_known_hosts() {
  local out="${WORK}/kh/staging.yml" kh="${WORK}/kh/staging.known_hosts" before name filter regex
  mkdir -p "${WORK}/kh"
  known_hosts_fixture "${WORK}/kh.json"
  gen staging --from-json "${WORK}/kh.json" --output "${out}"
  expect_eq "known_hosts: exit 0" 0 "${RC}"
  expect_eq "known_hosts: one line per droplet, its addresses and its key, the runner's last" \
    "$(jq -r '.api_known_hosts.value[], .ci_runner_known_hosts.value[]' "${WORK}/kh.json")" "$(grep -v '^#' "${kh}" 2>&1)"
  expect_match "known_hosts: lines are PUBLIC,PRIVATE ssh-ed25519 KEY" \
    '^203\.0\.113\.11,10\.20\.0\.11 ssh-ed25519 [A-Za-z0-9+/]+=*$' "$(grep -v '^#' "${kh}" | head -n 1)"
  expect_eq "known_hosts: 0644, no temp file left" "644 staging.known_hosts staging.yml" \
    "$(stat -c '%a' "${kh}") $(find "${WORK}/kh" -mindepth 1 -printf '%f\n' | sort | tr '\n' ' ' | sed 's/ $//')"
  check "known_hosts: ssh-keygen reads it (host 2 found by its private address)" \
    ssh-keygen -F 10.20.0.12 -f "${kh}"
  check "known_hosts: the CI runner found by its public address" ssh-keygen -F 203.0.113.20 -f "${kh}"
  before=$(identity "${kh}")
  gen staging --from-json "${WORK}/kh.json" --output "${out}"
  expect_eq "known_hosts: a re-run leaves it alone" "${before}" "$(identity "${kh}")"
  # Tab-separated: the filters use '|'.
  while IFS=$'\t' read -r name filter regex; do
    fixture_filter "${WORK}/kh.json" "${WORK}/kh-bad.json" "${filter}"
    gen staging --from-json "${WORK}/kh-bad.json" --output "${out}"
    if ((RC == 1)) && [[ "$(cat "${WORK}/err")" =~ ${regex} ]] && [[ "$(identity "${kh}")" == "${before}" ]]; then
      pass "known_hosts refused, nothing touched: ${name}"
    else
      fail "known_hosts refused, nothing touched: ${name}" "exit ${RC}: $(cat "${WORK}/err")"
    fi
  done <<'CASES'
lines in the wrong droplet order	.api_known_hosts.value |= reverse	api_known_hosts line 1 is .*not "203\.0\.113\.11,10\.20\.0\.11 ssh-ed25519 KEY"
a line too few	.api_known_hosts.value |= .[:1]	api_known_hosts has 1 lines for 2 droplets
an RSA key	.api_known_hosts.value[1] |= sub("ssh-ed25519"; "ssh-rsa")	api_known_hosts line 2
a key with a trailing command	.api_known_hosts.value[0] += " ; rm -rf /"	api_known_hosts line 1
the runner's line for another address	.ci_runner_known_hosts.value[0] |= sub("^203.0.113.20,"; "203.0.113.21,")	ci_runner_known_hosts line 1 is .*not "203\.0\.113\.20,10\.20\.0\.20 ssh-ed25519 KEY"
two lines for the one runner	.ci_runner_known_hosts.value += .ci_runner_known_hosts.value	ci_runner_known_hosts has 2 lines for 1 droplets
CASES
  fixture "${WORK}/kh-none.json" staging 2
  gen staging --from-json "${WORK}/kh-none.json" --output "${out}"
  expect_match "no host keys in the outputs: a warning, exit 0" '^0 .*WARNING: no host keys in the Terraform outputs' \
    "${RC} $(cat "${WORK}/err")"
  expect_eq "no host keys in the outputs: known_hosts left as it was" "${before}" "$(identity "${kh}")"
  before=$(identity "${INVENTORY_DIR}/staging.known_hosts")
  gen staging --from-json "${WORK}/kh.json" --output -
  expect_eq "--output -: the committed inventory/staging.known_hosts is left alone" "${before}" \
    "$(identity "${INVENTORY_DIR}/staging.known_hosts")"
  fixture_filter "${WORK}/kh.json" "${WORK}/kh-no-runner.json" '.ci_runner_known_hosts.value = []'
  gen staging --from-json "${WORK}/kh-no-runner.json" --output "${out}"
  expect_match "no host key of the runner: a warning with the command that makes it, exit 0" \
    '^0 .*WARNING: no host key of the CI runner.*host-keys.sh staging --service ci-runner --count 1' "${RC} $(cat "${WORK}/err")"
  expect_eq "no host key of the runner: the API droplets' lines still written" \
    "$(jq -r '.api_known_hosts.value[]' "${WORK}/kh.json")" "$(grep -v '^#' "${kh}" 2>&1)"
}

# fixture_filter IN OUT JQ_FILTER - OUT is IN with JQ_FILTER applied.
fixture_filter() { jq "$3" "$1" >"$2"; }

test_unapplied_workspace() {
  # Stands in for `terraform output -json` of a workspace that was never applied.
  cat >"${WORK}/bin/terraform" <<'STUB'
#!/usr/bin/env bash
printf '%s\n' "$@" >"${0%/*}/terraform.args"
echo '{}'
STUB
  chmod +x "${WORK}/bin/terraform"
  RC=0
  PATH="${WORK}/bin:${PATH}" "${SCRIPT}" dev --output "${WORK}/inv/dev.yml" >"${WORK}/out" 2>"${WORK}/err" || RC=$?
  expect_match "un-applied workspace: clear message" \
    '^1 .*ERROR: no Terraform outputs for dev: run terraform apply in infrastructure/terraform/environments/dev first, or pass --from-json FILE' \
    "${RC} $(cat "${WORK}/err")"
  expect_match "terraform ran as output -json in environments/dev" \
    "^-chdir=${TF_ENVS_DIR}/dev output .*-json" "$(tr '\n' ' ' <"${WORK}/bin/terraform.args" 2>/dev/null)"
  check_fails "no inventory written without outputs" test -e "${WORK}/inv/dev.yml"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unknown argument '$1'" "see --help" 2 ;;
  esac
  trap cleanup EXIT
  setup
  test_staging_inventory
  test_ci_runner
  test_ssh_address
  test_rerun_unchanged
  test_mismatched_lists
  test_missing_public_ips
  test_bad_seam_outputs
  test_bad_env
  test_stdout
  test_committed
  test_host_keys
  test_known_hosts
  test_unapplied_workspace
  summary
}

main "$@"
