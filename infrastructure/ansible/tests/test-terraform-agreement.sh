#!/usr/bin/env bash
# Proves that what Terraform plans and what Ansible configures agree, for each
# environment, using an offline plan (terraform show -json) and the committed
# inventory with its group_vars, as Ansible itself resolves them:
#   - every value ansible-inventory.sh copies from the outputs and the plan
#     already knows (API port, VPC range, admin and public CIDRs, load
#     balancer drain time, database name and user) equals the inventory's;
#   - the inventory has as many API hosts as the plan has API droplets, and
#     as many CI runner hosts as the plan has droplets that the API
#     firewall admits to SSH by tag (staging's runner);
#   - ufw admits SSH from exactly the cloud firewall's SSH sources (a source
#     tag as the private addresses of the runner hosts), and the API port
#     from the VPC and every public source the cloud firewall admits;
#   - the proxy listens on the port the firewall opens and the load balancer
#     forwards and health-checks;
#   - the proxy binds where its clients come from: every interface when the
#     cloud firewall admits the API port from public addresses (dev, reached
#     directly), only the VPC address otherwise (staging, behind the LB);
#   - the load balancer health-checks the path the deploy engine gates on
#     (HEALTH_PATH, the API's readiness);
#   - two API slots (a deploy, the warm standby), the proxy and a reserve for
#     the system fit the API droplets' memory (their size slugs);
#   - the deploy engine's PROXY_HANDOVER_WAIT is the time the load balancer's
#     health check needs to take a failing droplet out of rotation (interval
#     + response timeout, times the unhealthy threshold), 0 without a load balancer,
#     and it is enough for the balancer to take a droplet back (healthy
#     threshold × interval), which the engine also waits after a handover.
# Then it breaks each side on purpose (a changed admin range, VPC range,
# firewall port, load balancer port, health check path, proxy bind, drain time, a CI runner
# missing from ufw or the inventory) and expects a disagreement every time.
# Prints "N passed, N failed".
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../tools/lib/common.sh
source "${HERE}/../../tools/lib/common.sh"
# shellcheck source=../../tools/lib/testing.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/testing.sh"
export RM_LOG_TAG="test-terraform-agreement"

ANSIBLE_DIR="${RM_REPO_ROOT}/infrastructure/ansible"
# Memory a droplet keeps for everything but the API slots and the proxy.
SYSTEM_RESERVE_MIB=256
PLANS=""
WORK=""
VENV=""

usage() {
  cat <<USAGE
Usage: $(basename "$0") --plans DIR

Checks that infrastructure/ansible/inventory/ENV.yml and its group_vars agree
with Terraform's plan of each environment (see the header of this script).

  --plans DIR   a folder with ENV.json for each environment to check: the
                output of \`terraform show -json\` of an offline plan of
                infrastructure/terraform/environments/ENV (make tf-check
                writes them and runs this test)
  -h, --help    show this help
USAGE
}

cleanup() {
  [[ -z "${WORK}" ]] || rm -rf "${WORK}"
  return 0
}

parse_args() {
  while (($#)); do
    case "$1" in
      -h | --help) usage; exit 0 ;;
      --plans)
        [[ $# -ge 2 ]] || die "--plans needs a folder" "see --help" 2
        PLANS="$2"
        shift
        ;;
      *) usage >&2; die "unknown argument '$1'" "see --help" 2 ;;
    esac
    shift
  done
  [[ -n "${PLANS}" ]] || { usage >&2; die "no --plans folder given" "see --help" 2; }
  compgen -G "${PLANS}/*.json" >/dev/null || die "no ENV.json plan in ${PLANS}" \
    "write one with terraform show -json PLANFILE > ${PLANS}/ENV.json"
}

setup() {
  have jq || ensure_apt_packages jq
  # ansible.sh is quiet when the venv is ready and says why when it is not.
  VENV=$("${RM_REPO_ROOT}/infrastructure/tools/ansible.sh" venv | tail -n1) ||
    die "could not prepare the Ansible virtualenv" "run infrastructure/tools/ansible.sh venv"
  [[ -x "${VENV}/bin/ansible" ]] || die "no ansible in ${VENV}" \
    "run infrastructure/tools/ansible.sh venv"
  WORK=$(mktemp -d)
}

# The plan's side, from terraform show -json: known outputs, the inbound rules
# of the API droplets' cloud firewall, the VPC range, the API droplets, the
# droplets that firewall admits to SSH by tag, and the load balancer. The API
# droplets are the ones with the output api_target_tag; other droplets (the CI
# runner) have a firewall of their own.
# shellcheck disable=SC2016 # a jq program
JQ_TERRAFORM='
  def resources_of($m): ($m.resources // []) + ([($m.child_modules // [])[] | resources_of(.)] | add // []);
  [resources_of(.planned_values.root_module)[] | select(.mode == "managed")] as $r
  | def of($t): [$r[] | select(.type == $t) | .values];
  (.planned_values.outputs // {} | with_entries(select(.value | has("value"))) | map_values(.value)) as $outputs
  | [of("digitalocean_firewall")[] | select(any(.tags[]?; . == $outputs.api_target_tag)) | .inbound_rule[]?] as $rules
  | ([$rules[] | select(.port_range == "22") | .source_tags[]?] | unique) as $ssh_tags
  | {
    outputs: $outputs,
    rules: $rules,
    vpc: (of("digitalocean_vpc") | first | .ip_range),
    droplets: (if $outputs.api_target_tag == null then null
               else [of("digitalocean_droplet")[] | select(any(.tags[]?; . == $outputs.api_target_tag))] | length end),
    droplet_sizes: ([of("digitalocean_droplet")[] | select(any(.tags[]?; . == $outputs.api_target_tag)) | .size] | unique),
    ssh_tags: $ssh_tags,
    ssh_tagged_droplets: ([of("digitalocean_droplet")[] | select(any(.tags[]?; IN($ssh_tags[])))] | length),
    lb: (of("digitalocean_loadbalancer") | first
         | if . == null then null
           else {target_ports: [.forwarding_rule[].target_port], health_port: .healthcheck[0].port,
                 health_path: .healthcheck[0].path,
                 idle_timeout: .http_idle_timeout_seconds,
                 drain_seconds: (.healthcheck[0]
                   | .unhealthy_threshold * (.check_interval_seconds + .response_timeout_seconds)),
                 rejoin_seconds: (.healthcheck[0] | .healthy_threshold * .check_interval_seconds)} end)
  }
'

# What Ansible makes of the inventory, for one host: the resolved firewall and
# proxy settings, and the raw inventory values ansible-inventory.sh wrote.
# PROXY_HANDOVER_WAIT as the text the host's settings file gets, so that a
# value the engine would refuse is not mistaken for 0.
ANSIBLE_VIEW="{{ {
  'ssh_cidrs': firewall_ssh_cidrs, 'api_cidrs': firewall_api_cidrs, 'api_port': firewall_api_port | int,
  'proxy_bind': deploy_engine_env_overrides.PROXY_BIND, 'proxy_port': deploy_engine_env_overrides.PROXY_PORT | int,
  'handover_wait': deploy_engine_env_overrides.PROXY_HANDOVER_WAIT | string,
  'health_path': deploy_engine_env_overrides.HEALTH_PATH,
  'keepalive': deploy_engine_env_overrides.PROXY_KEEPALIVE_TIMEOUT | default('') | string,
  'slot_memory': deploy_engine_env_overrides.SLOT_MEMORY | default('') | string,
  'proxy_memory': deploy_engine_env_overrides.PROXY_MEMORY | default('') | string,
  'private_ip': private_ip, 'hosts': groups['api'] | length,
  'runner_ips': groups['ci_runner'] | default([]) | map('extract', hostvars, 'private_ip') | list } | to_json }}"

# ansible_json INVENTORY ENV - {resolved: ..., inventory: ...} of ENV-api-1.
ansible_json() {
  local inv="$1" env="$2" resolved raw
  # An empty config: ansible.cfg's timing callback would print into the JSON.
  : >"${WORK}/ansible.cfg"
  resolved=$(cd "${ANSIBLE_DIR}" && ANSIBLE_CONFIG="${WORK}/ansible.cfg" ANSIBLE_LOAD_CALLBACK_PLUGINS=1 \
    ANSIBLE_STDOUT_CALLBACK=ansible.builtin.json "${VENV}/bin/ansible" -i "${inv}" "${env}-api-1" -c local \
    -m ansible.builtin.debug -a "msg=${ANSIBLE_VIEW}" 2>"${WORK}/ansible.err") ||
    { cat "${WORK}/ansible.err" >&2; printf '%s\n' "${resolved:-}" >&2; return 1; }
  raw=$(cd "${ANSIBLE_DIR}" && "${VENV}/bin/ansible-inventory" -i "${inv}" --host "${env}-api-1" 2>>"${WORK}/ansible.err") ||
    { cat "${WORK}/ansible.err" >&2; return 1; }
  jq -n --argjson r "$(jq --arg h "${env}-api-1" '.plays[0].tasks[0].hosts[$h].msg' <<<"${resolved}")" \
    --argjson raw "${raw}" '{resolved: ($r | if type == "string" then fromjson else . end), inventory: $raw}'
}

# The agreements, one line each: "ok<TAB>what" or "no<TAB>what<TAB>why".
# shellcheck disable=SC2016 # a jq program
JQ_AGREE='
  def line($what; $why): if $why == null then "ok\t\($what)" else "no\t\($what)\t\($why)" end;
  def sorted: map(tostring) | sort;
  # Docker sizes (768m, 1g) and droplet slugs (s-2vcpu-2gb, s-1vcpu-512mb-10gb) in MiB.
  def mib: capture("^(?<n>[0-9]+)(?<u>[kmg]?)b?$") | (.n | tonumber) * ({"k": (1 / 1024), "": (1 / 1048576), "m": 1, "g": 1024}[.u]);
  def slug_mib: (capture("^[a-z0-9]+-[0-9]+vcpu-(?<m>[0-9]+(gb|mb))") | .m | sub("b$"; "") | mib) // null;
  $tf[0] as $t | $an[0] as $a | $a.resolved as $r | $a.inventory as $inv
  | ($r.api_port | tostring) as $port
  | [$t.rules[] | select(.port_range == $port)] as $api_rules
  | ([$api_rules[].source_addresses[]?] | unique) as $public
  | line("the seam outputs are planned and in the inventory";
      [("api_port", "vpc_ip_range", "admin_cidrs", "api_public_cidrs", "lb_drain_seconds") as $k
        | select(($t.outputs | has($k) | not) or ($inv | has($k) | not)) | $k]
      | if length == 0 then null else "missing in the plan or the inventory: \(join(", "))" end),
    line("every value copied from Terraform equals the plan";
      [$t.outputs | to_entries[] | . as $e | select(($inv | has($e.key)) and $inv[$e.key] != $e.value)
        | "\(.key): inventory \($inv[.key] | tojson), Terraform \(.value | tojson)"]
      | if length == 0 then null else join("; ") end),
    line("one inventory API host per planned API droplet";
      if $t.droplets == null then "the plan has no api_target_tag output to tell the API droplets by"
      elif $t.droplets == $r.hosts then null else "\($r.hosts) hosts, \($t.droplets) droplets" end),
    line(if ($t.ssh_tags | length) == 0 then "no droplet admitted to SSH by tag: no CI runner host"
         else "one inventory CI runner host per droplet the cloud firewall admits to SSH by tag" end;
      if $t.ssh_tagged_droplets == ($r.runner_ips | length) then null
      else "the cloud firewall admits SSH from \($t.ssh_tagged_droplets) droplets tagged \($t.ssh_tags | tojson), the inventory has \($r.runner_ips | length) in group ci_runner" end),
    # A source tag is the runner hosts by their VPC address: the inventory
    # holds it, the plan cannot know it yet.
    line("ufw admits SSH from exactly the cloud firewall SSH sources";
      ([$t.rules[] | select(.port_range == "22") | .source_addresses[]?]
        + (if ($t.ssh_tags | length) > 0 then [$r.runner_ips[] | "\(.)/32"] else [] end) | unique) as $ssh
      | if $ssh == ($r.ssh_cidrs | unique) then null
        else "cloud firewall \($ssh | tojson), ufw \($r.ssh_cidrs | tojson)" end),
    line("the cloud firewall opens the API port Ansible uses (\($port))";
      if ($api_rules | length) > 0 then null
      else "no inbound rule for \($port); rules: \([$t.rules[].port_range] | tojson)" end),
    line("the proxy listens on the port the firewall opens";
      if $r.proxy_port == $r.api_port and ($t.outputs.api_port // $r.api_port) == $r.api_port then null
      else "PROXY_PORT \($r.proxy_port), ufw \($r.api_port), Terraform api_port \($t.outputs.api_port)" end),
    line(if $t.lb == null then "no load balancer: the API port is reached directly"
         else "the load balancer forwards and health-checks the proxy port" end;
      if $t.lb == null then null
      elif ($t.lb.target_ports | all(. == $r.proxy_port)) and $t.lb.health_port == $r.proxy_port then null
      else "load balancer targets \($t.lb.target_ports | tojson), health check \($t.lb.health_port), proxy \($r.proxy_port)" end),
    line(if $t.lb == null then "no load balancer: no health check path to share with the deploy gate"
         else "the load balancer checks the path the deploy engine gates on" end;
      if $t.lb == null or $t.lb.health_path == $r.health_path then null
      else "the load balancer checks \($t.lb.health_path | tojson), the deploy engine HEALTH_PATH is \($r.health_path | tojson)" end),
    line("ufw admits the API port from the VPC range";
      if ($r.api_cidrs | index($t.vpc)) != null then null
      else "VPC \($t.vpc) not in ufw API sources \($r.api_cidrs | tojson)" end),
    line("ufw admits the API port from every public source of the cloud firewall";
      ($public - $r.api_cidrs) as $missing
      | if ($missing | length) == 0 then null else "ufw lacks \($missing | tojson)" end),
    line("the proxy binds where its clients are";
      if ($public | length) > 0 then
        (if $r.proxy_bind == "0.0.0.0" then null
         else "the cloud firewall admits \($public | tojson) to port \($port) on the public address, but the proxy binds \($r.proxy_bind) only: they cannot reach it" end)
      elif $r.proxy_bind == $r.private_ip then null
      else "only the VPC may reach port \($port), but the proxy binds \($r.proxy_bind), not the VPC address \($r.private_ip)" end),
    line(if $t.lb == null then "no load balancer: the deploy engine replaces the proxy without waiting"
         else "the deploy engine waits until the load balancer stops sending new connections" end;
      ($t.lb.drain_seconds // 0 | tostring) as $want
      | if $r.handover_wait == $want then null
        else "PROXY_HANDOVER_WAIT is \($r.handover_wait | tojson), but the load balancer needs \($want) s to take a failing droplet out of rotation" end),
    line(if $t.lb == null then "no load balancer: nothing to wait for after a proxy handover"
         else "the load balancer takes a droplet back within the wait after a proxy handover" end;
      if $t.lb == null or $t.lb.rejoin_seconds <= $t.lb.drain_seconds then null
      else "the load balancer needs \($t.lb.rejoin_seconds) s (healthy threshold × interval) to take a droplet back, longer than the \($t.lb.drain_seconds) s the deploy engine waits after a proxy handover" end),
    # A deploy runs two slots at once, and the warm standby (STANDBY_SECONDS)
    # keeps them both for longer: their limits, that of the proxy and a reserve for
    # the system (Docker, sshd, the monitoring agent) must fit the droplet.
    line("two slots, the proxy and \($reserve_mib) MiB for the system fit the droplet memory";
      (if $r.slot_memory == "" then $slot_memory_default else $r.slot_memory end) as $slot
      | (if $r.proxy_memory == "" then $proxy_memory_default else $r.proxy_memory end) as $proxy
      | if $slot == "" then "SLOT_MEMORY is empty: a slot has no memory limit to budget"
        else ($t.droplet_sizes | map(slug_mib)) as $sizes
        | (2 * ($slot | mib) + ($proxy | mib) + $reserve_mib) as $need
        | if ($sizes | length) == 0 or any($sizes[]; . == null) then "droplet sizes \($t.droplet_sizes | tojson): memory unknown"
          elif ($sizes | min) >= $need then null
          else "2 x SLOT_MEMORY \($slot) + PROXY_MEMORY \($proxy) + \($reserve_mib) MiB = \($need) MiB, the droplet (\($t.droplet_sizes | join(", "))) has \($sizes | min) MiB" end end),
    line(if $t.lb == null then "no load balancer: no idle timeout for the proxy to outlast"
         else "the proxy keeps idle connections open longer than the load balancer" end;
      (if $r.keepalive == "" then $keepalive_default else $r.keepalive end) as $k
      | if $t.lb == null then null
        elif $t.lb.idle_timeout == null then "the load balancer idle timeout is not planned: set http_idle_timeout_seconds"
        elif ($k | test("^[0-9]+$") | not) then "PROXY_KEEPALIVE_TIMEOUT is \($k | tojson), not a whole number of seconds"
        elif ($k | tonumber) > $t.lb.idle_timeout then null
        else "PROXY_KEEPALIVE_TIMEOUT is \($k) s, not above the load balancer idle timeout of \($t.lb.idle_timeout) s: the balancer could reuse a connection the proxy is closing" end)
'

# engine_keepalive_default - the deploy engine's PROXY_KEEPALIVE_TIMEOUT when a host sets none.
engine_keepalive_default() {
  sed -n 's/^PROXY_KEEPALIVE_TIMEOUT_DEFAULT=\([0-9]*\)$/\1/p' "${RM_REPO_ROOT}/infrastructure/scripts/lib/deploy.sh"
}

# engine_setting ENV KEY - KEY in the deploy engine's settings of ENV (env/ENV.env).
engine_setting() {
  # shellcheck source=/dev/null
  (source "${RM_REPO_ROOT}/infrastructure/scripts/env/$1.env" && printf '%s' "${!2:-}")
}

# agreement_lines ENV PLAN_JSON INVENTORY - the agreement lines of one environment.
agreement_lines() {
  local env="$1" plan="$2" inv="$3"
  jq "${JQ_TERRAFORM}" "${plan}" >"${WORK}/tf.json" || return 1
  ansible_json "${inv}" "${env}" >"${WORK}/ansible.json" || return 1
  jq -rn --slurpfile tf "${WORK}/tf.json" --slurpfile an "${WORK}/ansible.json" \
    --arg keepalive_default "$(engine_keepalive_default)" --arg slot_memory_default "$(engine_setting "${env}" SLOT_MEMORY)" \
    --arg proxy_memory_default "$(sed -n 's/^PROXY_MEMORY_DEFAULT=\([0-9a-z]*\)$/\1/p' "${RM_REPO_ROOT}/infrastructure/scripts/lib/deploy.sh")" \
    --argjson reserve_mib "${SYSTEM_RESERVE_MIB}" "${JQ_AGREE}"
}

test_environment() {
  local env="$1" lines status what why
  if ! lines=$(agreement_lines "${env}" "${PLANS}/${env}.json" "${ANSIBLE_DIR}/inventory/${env}.yml"); then
    fail "${env}: Terraform plan and Ansible inventory can be read"
    return 0
  fi
  while IFS=$'\t' read -r status what why; do
    if [[ "${status}" == ok ]]; then pass "${env}: ${what}"; else fail "${env}: ${what}" "${why}"; fi
  done <<<"${lines}"
}

# broken NAME ENV EXPECTED_REGEX - with the copies in WORK/broken (plan.json,
# inventory/) changed by the caller, some agreement fails with EXPECTED_REGEX.
broken() {
  local name="$1" env="$2" regex="$3" lines
  lines=$(agreement_lines "${env}" "${WORK}/broken/plan.json" "${WORK}/broken/inventory/${env}.yml") || {
    fail "a mismatch is caught: ${name}" "the check itself failed"
    return 0
  }
  local problems
  problems=$(awk -F'\t' '$1 == "no" {print $2 ": " $3}' <<<"${lines}")
  if [[ -n "${problems}" && "${problems}" =~ ${regex} ]]; then
    pass "a mismatch is caught: ${name}"
  else
    fail "a mismatch is caught: ${name}" "expected a disagreement matching /${regex}/, got: ${problems:-none}"
  fi
}

# copy_sides ENV - fresh copies of ENV's plan and of the inventory folder.
copy_sides() {
  rm -rf "${WORK}/broken"
  mkdir -p "${WORK}/broken"
  cp "${PLANS}/$1.json" "${WORK}/broken/plan.json"
  cp -r "${ANSIBLE_DIR}/inventory" "${WORK}/broken/inventory"
}

# edit_inventory ENV SED_SCRIPT - change the copied inventory of ENV; a script
# that changes nothing (the file's layout moved on) is an error, not a pass.
edit_inventory() {
  local file="${WORK}/broken/inventory/$1.yml" before
  before=$(cat "${file}")
  sed -i "$2" "${file}"
  [[ "$(cat "${file}")" != "${before}" ]] || die "the sed script '$2' changed nothing in inventory/$1.yml" \
    "update test-terraform-agreement.sh to the inventory's layout"
}

# edit_plan JQ_FILTER - change the copied plan.
edit_plan() {
  jq "$1" "${WORK}/broken/plan.json" >"${WORK}/broken/plan.tmp" && mv "${WORK}/broken/plan.tmp" "${WORK}/broken/plan.json"
}

# shellcheck disable=SC2016 # jq programs
test_mismatches_are_caught() {
  local walk='def fw(f): walk(if type == "object" and .type? == "digitalocean_firewall" and has("values") then .values |= f else . end);'
  if [[ -f "${PLANS}/dev.json" ]]; then
    copy_sides dev
    # The first list item is admin_cidrs' (api_public_cidrs follows with the same value).
    edit_inventory dev '0,/^\( *\)- 203\.0\.113\.0\/28$/s//\1- 198.51.100.0\/24/'
    broken "the inventory's admin_cidrs differ from Terraform's" dev 'admin_cidrs.*Terraform|SSH sources'
    copy_sides dev
    edit_plan "${walk}"' fw(.inbound_rule |= map(if .port_range == "3001" then .port_range = "3002" else . end))'
    broken "the cloud firewall opens another API port" dev 'API port Ansible uses'
    copy_sides dev
    printf 'restomarket_proxy_bind: "{{ private_ip }}"\n' >"${WORK}/broken/inventory/group_vars/dev/zz-broken.yml"
    broken "dev's proxy bound to the VPC address while developers reach it publicly" dev 'cannot reach it'
  fi
  if [[ -f "${PLANS}/staging.json" ]]; then
    copy_sides staging
    edit_inventory staging 's#^\( *\)vpc_ip_range: .*#\1vpc_ip_range: 10.99.0.0/20#'
    broken "the inventory's VPC range differs from Terraform's" staging 'vpc_ip_range.*10\.99|VPC .* not in ufw'
    copy_sides staging
    edit_plan 'walk(if type == "object" and .type? == "digitalocean_loadbalancer" and has("values") then .values.forwarding_rule |= map(.target_port = 8080) else . end)'
    broken "the load balancer forwards to another port" staging 'load balancer targets \[8080'
    copy_sides staging
    printf 'restomarket_proxy_bind: 0.0.0.0\n' >"${WORK}/broken/inventory/group_vars/staging/zz-broken.yml"
    broken "staging's proxy on every interface while only the load balancer may reach it" staging 'only the VPC may reach'
    copy_sides staging
    edit_plan 'walk(if type == "object" and .type? == "digitalocean_loadbalancer" and has("values") then .values.healthcheck[0].path = "/health" else . end)'
    broken "the load balancer checks /health, which fails while Redis is down" staging 'checks "/health", the deploy engine HEALTH_PATH is "/readyz"'
    copy_sides staging
    edit_inventory staging 's#^\( *\)lb_drain_seconds: .*#\1lb_drain_seconds: 5#'
    broken "the inventory's drain time is shorter than the load balancer's" staging 'PROXY_HANDOVER_WAIT is "5", but the load balancer needs 12 s'
    copy_sides staging
    edit_plan 'walk(if type == "object" and .type? == "digitalocean_loadbalancer" and has("values") then .values.http_idle_timeout_seconds = 90 else . end)'
    broken "the load balancer keeps idle connections longer than the proxy" staging 'PROXY_KEEPALIVE_TIMEOUT is 75 s, not above the load balancer idle timeout of 90 s'
    copy_sides staging
    edit_plan 'walk(if type == "object" and .type? == "digitalocean_loadbalancer" and has("values") then del(.values.http_idle_timeout_seconds) else . end)'
    broken "the load balancer idle timeout left to the provider" staging 'idle timeout is not planned'
    copy_sides staging
    printf 'firewall_ssh_cidrs: "{{ admin_cidrs }}"\n' >"${WORK}/broken/inventory/group_vars/staging/zz-broken.yml"
    broken "ufw does not admit the CI runner" staging 'SSH sources: cloud firewall .*"10\.20\.0\.20/32".*, ufw \["203\.0\.113\.0/28"\]'
    copy_sides staging
    edit_inventory staging '/^ *ci_runner:$/,$d'
    broken "the inventory has no CI runner, the cloud firewall admits one" staging 'the inventory has 0 in group ci_runner'
    copy_sides staging
    edit_plan "${walk}"' fw(.inbound_rule |= map(if .port_range == "22" then .source_tags = [] else . end))'
    broken "the cloud firewall does not admit the CI runner the inventory has" staging 'admits SSH from 0 droplets.*the inventory has 1'
    copy_sides staging
    edit_plan 'walk(if type == "object" and .type? == "digitalocean_droplet" and has("values") then .values.size = "s-1vcpu-1gb" else . end)'
    broken "a droplet too small for two slots (a deploy, the warm standby)" staging '2 x SLOT_MEMORY 768m \+ PROXY_MEMORY 256m \+ 256 MiB = 2048 MiB, the droplet \(s-1vcpu-1gb\) has 1024 MiB'
  fi
}

main() {
  parse_args "$@"
  trap cleanup EXIT
  setup
  local plan env
  for plan in "${PLANS}"/*.json; do
    env=$(basename "${plan}" .json)
    log "checking ${env}"
    test_environment "${env}"
  done
  log "breaking each side on purpose"
  test_mismatches_are_caught
  summary
}

main "$@"
