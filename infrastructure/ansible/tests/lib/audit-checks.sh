# shellcheck shell=bash
# The security audit's probes of the running system (issue #17), for
# tests/test-hosts.sh: it sources this file and calls `test_audit` once the
# hosts serve v1 behind the load balancer (`test-hosts.sh --audit` does only
# that much and this). Each probe is a case of the suite and a finding of the
# audit (audit_record of tools/lib/audit.sh, area running or abuse):
#   reachability  from the internet side (a container on the public network
#                 that is no admin), the admin, the CI runner (this machine's
#                 VPC address), the load balancer and a VPC peer (api-2) to
#                 every TCP port the hosts listen on (ss -ltn) and to the
#                 database and the cache, against what the inventory's
#                 firewall variables and Terraform's database firewalls admit;
#                 then a planted port (a listener and a ufw rule for the
#                 runner on api-1) must make it fail, and its removal pass.
#   ssh-audit     each host's sshd, from the admin: no failure.
#   TLS           the load balancer: HTTP redirected to HTTPS; sslyze's check
#                 against Mozilla's intermediate configuration.
#   public port   no actuator, metrics, OpenAPI or health detail through the
#                 load balancer; nosniff, HSTS and Cache-Control on answers,
#                 the proxy's and the container's own errors included; the
#                 proxies' runtime APIs unreachable from outside.
#   abuse         unauthenticated and oversized writes, unbounded paging
#                 refused; a burst of writes gets 429 at the host proxies (per
#                 client address as the load balancer forwards it), reads do not.
#
# Uses test-hosts.sh's helpers and variables: on, check, expect_eq, pass, fail,
# log, container_ip, DOCKER, RUN_ID, HOSTS, IP, PRIVATE_IP, SUBNET_PREFIX,
# RUNNER_IP, LB_IP, LB_URL, PG_IP, REDIS_IP, WORK, INVENTORY, VENV, HOST_IMAGE,
# WRITE_TOKEN, DEPLOY_ENV.

# The internet-side vantage point: the host part of an address of the public
# network that is neither an admin's nor a host's (AUDIT_INTERNET_IP).
AUDIT_INTERNET_HOST=200
AUDIT_INTERNET_IP=""
# The port planted for the self-test.
AUDIT_PLANTED_PORT=4444
# Writes in the burst; the proxies' limit (haproxy.cfg.tmpl, PROXY_WRITE_RATE_LIMIT)
# applies per host, and the load balancer spreads the burst over both.
AUDIT_BURST=60

# audit_case AREA CHECK SEVERITY OK DETAIL [RESOLUTION] - a case of the suite
# (passes when OK is 1) and a finding (pass, or fail with SEVERITY).
audit_case() {
  local area="$1" name="$2" severity="$3" ok="$4" detail="$5" resolution="${6:-}"
  if [[ "${ok}" == 1 ]]; then
    pass "audit: ${name}"
    audit_record "${area}" "${name}" pass none "${detail}" "${resolution}"
  else
    fail "audit: ${name}" "${detail}"
    audit_record "${area}" "${name}" fail "${severity}" "${detail}" "${resolution}"
  fi
}

# audit_accepted AREA CHECK SEVERITY DETAIL RESOLUTION - a known risk, accepted (counts as a pass).
audit_accepted() {
  pass "audit: $2 (accepted: $5)"
  audit_record "$1" "$2" accepted "$3" "$4" "$5"
}

# ---- reachability -------------------------------------------------------------------

# AUDIT_TCP_PROBE - a bash program: "ADDRESS:PORT open|closed" for each
# argument, all at once (a dropped SYN takes the 1 s timeout).
# shellcheck disable=SC2016 # expanded by the bash that runs it
AUDIT_TCP_PROBE='for t in "$@"; do
  (if timeout 1 bash -c "exec 3<>/dev/tcp/${t%:*}/${t##*:}" 2>/dev/null; then echo "$t open"; else echo "$t closed"; fi) &
done; wait'

# audit_probe_from VANTAGE TARGET... - AUDIT_TCP_PROBE run where VANTAGE is:
# internet (the probe container), admin or runner (this machine: the hosts
# see its public or its VPC address), lb (the load balancer), api-N (a host).
audit_probe_from() {
  local vantage="$1"
  shift
  case "${vantage}" in
    internet) "${DOCKER}" exec "${RUN_ID}-audit-internet" bash -c "${AUDIT_TCP_PROBE}" _ "$@" ;;
    lb) "${DOCKER}" exec "${RUN_ID}-lb" bash -c "${AUDIT_TCP_PROBE}" _ "$@" ;;
    admin | runner) bash -c "${AUDIT_TCP_PROBE}" _ "$@" ;;
    *) on "${vantage}" "bash -c '${AUDIT_TCP_PROBE//\'/\'\\\'\'}' _ $*" ;;
  esac
}

# audit_source_of VANTAGE - the address the hosts and the stand-ins see it come from.
audit_source_of() {
  case "$1" in
    internet) echo "${AUDIT_INTERNET_IP}" ;;
    admin) echo "${SUBNET_PREFIX}.1" ;;
    runner) echo "${RUNNER_IP}" ;;
    lb) echo "${LB_IP}" ;;
    *) echo "${PRIVATE_IP[$1]}" ;;
  esac
}

# ip_in_cidr IP CIDR - IP lies in CIDR (IPv4).
ip_in_cidr() {
  local ip="$1" net="${2%/*}" bits="${2#*/}" a b c d n m
  [[ "$2" == */* ]] || bits=32
  IFS=. read -r a b c d <<<"${ip}"
  n=$(((a << 24) | (b << 16) | (c << 8) | d))
  IFS=. read -r a b c d <<<"${net}"
  m=$(((a << 24) | (b << 16) | (c << 8) | d))
  ((bits == 0)) && return 0
  (((n >> (32 - bits)) == (m >> (32 - bits))))
}

# audit_firewall_vars - what the firewall role was given for each host (the
# inventory's variables, as Ansible resolves them): AUDIT_FW[HOST] is JSON
# {ssh_port, ssh_cidrs, api_enabled, api_port, api_cidrs}.
declare -A AUDIT_FW=()
audit_firewall_vars() {
  local line host defaults port enabled out
  # An ad-hoc task sees the inventory, not the role's defaults: those come from its file.
  defaults=$("${VENV}/bin/python" -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' \
    "${RM_REPO_ROOT}/infrastructure/ansible/roles/firewall/defaults/main.yml")
  port=$(jq -r .firewall_ssh_port <<<"${defaults}")
  enabled=$(jq -r .firewall_api_enabled <<<"${defaults}")
  out=$(ANSIBLE_CONFIG="${RM_REPO_ROOT}/infrastructure/ansible/ansible.cfg" ANSIBLE_DEPRECATION_WARNINGS=0 \
    ANSIBLE_VAULT_PASSWORD_FILE="${WORK}/vault-password" "${VENV}/bin/ansible" -i "${INVENTORY}" api -o -m debug \
    -a "msg={{ {'ssh_port': firewall_ssh_port | default(${port}) | int, 'ssh_cidrs': firewall_ssh_cidrs,
      'api_enabled': firewall_api_enabled | default(${enabled}) | bool, 'api_port': firewall_api_port | int,
      'api_cidrs': firewall_api_cidrs} }}" 2>&1) || true
  while read -r line; do
    host=${line%% *}
    AUDIT_FW[${host}]=$(jq -c .msg <<<"{${line#*\{}")
  done < <(grep ' | SUCCESS => ' <<<"${out}")
  for host in "${HOSTS[@]}"; do
    [[ -n "${AUDIT_FW[${host}]:-}" ]] || { fail "audit: the firewall variables of ${host}" "$(tail -n 3 <<<"${out}")"; return 1; }
  done
  log "firewall variables: $(for host in "${HOSTS[@]}"; do printf '%s=%s ' "${host}" "${AUDIT_FW[${host}]}"; done)"
}

# audit_db_trusted - the sources the database's and the cache's firewalls
# admit in Terraform's plan (tag rules: the droplets carrying the tag), as
# addresses of this topology; AUDIT_DB_TRUSTED, space separated.
AUDIT_DB_TRUSTED=""
audit_db_trusted() {
  local rules host
  rules=$(jq -c '[.planned_values | .. | objects | select(.type? == "digitalocean_database_firewall") | .values.rule[]] | unique' "${WORK}/plan.json")
  [[ "$(jq '[.[] | select(.type != "tag")] | length' <<<"${rules}")" == 0 ]] ||
    die "the planned database firewalls have rules other than droplet tags" "extend audit_db_trusted"
  AUDIT_DB_TRUSTED=""
  # The API droplets are this topology's hosts, the CI runner this machine
  # (the stand-ins see it at the public network's gateway).
  if jq -e --slurpfile plan "${WORK}/plan.json" '[.[].value] as $t | [$plan[0].planned_values | .. | objects
      | select(.type? == "digitalocean_droplet" and (.address | startswith("module.api.")))
      | .values.tags[] | select(IN($t[]))] | length > 0' <<<"${rules}" >/dev/null; then
    for host in "${HOSTS[@]}"; do AUDIT_DB_TRUSTED+="${IP[${host}]} "; done
  fi
  if jq -e --slurpfile plan "${WORK}/plan.json" '[.[].value] as $t | [$plan[0].planned_values | .. | objects
      | select(.type? == "digitalocean_droplet" and (.address | startswith("module.ci_runner.")))
      | .values.tags[] | select(IN($t[]))] | length > 0' <<<"${rules}" >/dev/null; then
    AUDIT_DB_TRUSTED+="${SUBNET_PREFIX}.1 "
  fi
  AUDIT_DB_TRUSTED=${AUDIT_DB_TRUSTED% }
}

# database_firewalls - the stand-ins refuse what the planned database
# firewalls refuse: their port admits the trusted sources (audit_db_trusted)
# and themselves only (this machine's iptables in their network namespace).
# A restarted stand-in needs it again.
database_firewalls() {
  local name port pid ip
  [[ -n "${AUDIT_DB_TRUSTED}" ]] || audit_db_trusted
  for name in postgres:5432 redis:6379; do
    port=${name#*:}
    name="${RUN_ID}-${name%:*}"
    pid=$("${DOCKER}" inspect -f '{{.State.Pid}}' "${name}")
    nsenter -t "${pid}" -n iptables -F INPUT
    nsenter -t "${pid}" -n iptables -A INPUT -i lo -j ACCEPT
    for ip in ${AUDIT_DB_TRUSTED}; do
      nsenter -t "${pid}" -n iptables -A INPUT -p tcp --dport "${port}" -s "${ip}" -j ACCEPT
    done
    nsenter -t "${pid}" -n iptables -A INPUT -p tcp --dport "${port}" -j REJECT --reject-with tcp-reset
  done
}

# audit_listeners - "HOST ADDRESS PORT" of every TCP listener of the hosts (ss -ltn).
audit_listeners() {
  local host
  for host in "${HOSTS[@]}"; do
    on "${host}" 'ss -ltnH' | awk -v h="${host}" '{n = split($4, a, ":"); addr = substr($4, 1, length($4) - length(a[n]) - 1); print h, addr, a[n]}'
  done | sort -u
}

# audit_expected VANTAGE HOST ADDRESS PORT LISTENERS - open or closed, as
# intended: something listens there and the firewall role admits the
# vantage's source to the port (the API port's listener is published by
# Docker, which ufw does not filter: the proxy binds the VPC address only).
audit_expected() {
  local vantage="$1" host="$2" address="$3" port="$4" listeners="$5" fw src cidr
  src=$(audit_source_of "${vantage}")
  grep -Eq "^${host} (${address//./\\.}|0\.0\.0\.0|\*|\[::\]) ${port}$" <<<"${listeners}" || { echo closed; return; }
  fw=${AUDIT_FW[${host}]}
  if [[ "${port}" == "$(jq -r .ssh_port <<<"${fw}")" ]]; then
    for cidr in $(jq -r '.ssh_cidrs[]' <<<"${fw}"); do ip_in_cidr "${src}" "${cidr}" && { echo open; return; }; done
  fi
  if [[ "$(jq -r .api_enabled <<<"${fw}")" == true && "${port}" == "$(jq -r .api_port <<<"${fw}")" ]]; then
    for cidr in $(jq -r '.api_cidrs[]' <<<"${fw}"); do ip_in_cidr "${src}" "${cidr}" && { echo open; return; }; done
  fi
  echo closed
}

# audit_matrix - measure every vantage against every host port, the database
# and the cache; AUDIT_MATRIX holds "VANTAGE TARGET expected measured" lines,
# AUDIT_MISMATCHES those that differ.
AUDIT_MATRIX=""
AUDIT_MISMATCHES=""
audit_matrix() {
  local listeners vantage host address port want got src line
  local -a ports targets
  local -A name_of=()
  listeners=$(audit_listeners)
  mapfile -t ports < <(awk '{print $3}' <<<"${listeners}" | sort -un)
  AUDIT_MATRIX=""
  for vantage in internet admin runner lb api-2; do
    targets=()
    for host in "${HOSTS[@]}"; do
      [[ "${host}" == "${vantage}" ]] && continue
      # The internet and the admins see the public addresses, the VPC its own.
      case "${vantage}" in
        internet | admin) address=${IP[${host}]} ;;
        *) address=${PRIVATE_IP[${host}]} ;;
      esac
      name_of[${address}]="${host}"
      for port in "${ports[@]}"; do targets+=("${address}:${port}"); done
    done
    # The hosts' own way to the database and the cache is measured below.
    [[ -n "${IP[${vantage}]:-}" ]] || targets+=("${PG_IP}:5432" "${REDIS_IP}:6379")
    src=$(audit_source_of "${vantage}")
    # The stand-ins see this machine at the public network's gateway, whichever address it used.
    [[ "${vantage}" == runner ]] && src="${SUBNET_PREFIX}.1"
    while read -r line; do
      address=${line%%:*}
      port=${line#*:}
      port=${port%% *}
      got=${line##* }
      case "${address}" in
        "${PG_IP}" | "${REDIS_IP}")
          want=closed
          [[ " ${AUDIT_DB_TRUSTED} " == *" ${src} "* ]] && want=open ;;
        *) want=$(audit_expected "${vantage}" "${name_of[${address}]}" "${address}" "${port}" "${listeners}") ;;
      esac
      AUDIT_MATRIX+="${vantage} ${name_of[${address}]:-$([[ "${address}" == "${PG_IP}" ]] && echo postgres || echo redis)}@${address}:${port} ${want} ${got}"$'\n'
    done < <(audit_probe_from "${vantage}" "${targets[@]}" | sort -t: -k1,1 -k2n)
  done
  # The hosts themselves reach the database and the cache.
  for host in "${HOSTS[@]}"; do
    while read -r line; do
      address=${line%%:*}
      want=closed
      [[ " ${AUDIT_DB_TRUSTED} " == *" ${IP[${host}]} "* ]] && want=open
      AUDIT_MATRIX+="${host} $([[ "${address}" == "${PG_IP}" ]] && echo postgres || echo redis)@${line% *} ${want} ${line##* }"$'\n'
    done < <(audit_probe_from "${host}" "${PG_IP}:5432" "${REDIS_IP}:6379")
  done
  AUDIT_MATRIX=${AUDIT_MATRIX%$'\n'}
  AUDIT_MISMATCHES=$(awk '$3 != $4' <<<"${AUDIT_MATRIX}")
}

# audit_matrix_summary - per vantage, what it reaches: "internet: none; admin: api-1@...:22 ...".
audit_matrix_summary() {
  awk '$4 == "open" {open[$1] = open[$1] " " $2} {seen[$1] = 1; if (!($1 in order)) {order[$1] = ++n; name[n] = $1}}
    END {for (i = 1; i <= n; i++) {v = name[i]; printf "%s%s:%s", (i > 1 ? "; " : ""), v, (v in open ? open[v] : " nothing")}}' <<<"${AUDIT_MATRIX}"
}

test_audit_reachability() {
  local matrix_file="${RM_REPO_ROOT}/.run/audit/reachability.txt" n
  audit_matrix
  mkdir -p "$(dirname "${matrix_file}")"
  { printf 'vantage target expected measured\n'; printf '%s\n' "${AUDIT_MATRIX}"; } | column -t >"${matrix_file}"
  n=$(wc -l <<<"${AUDIT_MATRIX}")
  log "reachability matrix (${n} probes, also in ${matrix_file#"${RM_REPO_ROOT}"/}): $(audit_matrix_summary)"
  audit_case running "reachability: only the intended ports are open from the internet side, the admins, the CI runner, the load balancer and the VPC" \
    high "$([[ -z "${AUDIT_MISMATCHES}" ]] && echo 1 || echo 0)" \
    "$(if [[ -z "${AUDIT_MISMATCHES}" ]]; then echo "${n} probes as intended: $(audit_matrix_summary)"; else
      printf 'not as intended (vantage target expected measured): %s' "$(tr '\n' ';' <<<"${AUDIT_MISMATCHES}")"; fi)"
  local db
  db=$(grep -E ' (postgres|redis)@' <<<"${AUDIT_MATRIX}")
  audit_case running "the database and the cache are reachable from the API hosts only" high \
    "$([[ -z "$(awk '$3 != $4' <<<"${db}")" && -n "${db}" ]] && echo 1 || echo 0)" \
    "open from: $(awk '$4 == "open" {print $1}' <<<"${db}" | sort -u | tr '\n' ' ')(trusted sources as planned: droplets tagged for the API, here ${AUDIT_DB_TRUSTED})"
}

# The self-test: a port opened to the runner on api-1 (a listener and a ufw
# rule, as a careless change would) must fail the matrix; removed, it passes.
test_audit_planted_finding() {
  local port="${AUDIT_PLANTED_PORT}"
  on api-1 "sudo systemd-run --quiet --unit audit-planted python3 -m http.server --bind 0.0.0.0 ${port} &&
    sudo ufw allow proto tcp from ${RUNNER_IP} to any port ${port} >/dev/null"
  wait_until 10 "the planted listener" on api-1 "ss -ltnH | grep -q ':${port} '" || true
  audit_matrix
  log "planted port ${port} on api-1: $(tr '\n' ';' <<<"${AUDIT_MISMATCHES}")"
  expect_eq "audit self-test: a port opened to the runner on api-1 fails the reachability matrix" \
    "runner api-1@${PRIVATE_IP[api-1]}:${port} closed open" "${AUDIT_MISMATCHES}"
  on api-1 "sudo ufw delete allow proto tcp from ${RUNNER_IP} to any port ${port} >/dev/null; sudo systemctl stop audit-planted"
  wait_until 10 "the planted listener gone" on api-1 "! ss -ltnH | grep -q ':${port} '" || true
  audit_matrix
  expect_eq "audit self-test: once removed, the reachability matrix is clean again" "" "${AUDIT_MISMATCHES}"
  audit_record running "self-test: a port planted for the CI runner fails the reachability matrix" pass none \
    "a listener on api-1:${port} with a ufw rule for ${RUNNER_IP} was flagged; removed, the matrix was clean"
}

# ---- sshd and TLS -----------------------------------------------------------------

test_audit_ssh() {
  local host out rc bin
  bin="${AUDIT_VENV}/bin/ssh-audit"
  for host in "${HOSTS[@]}"; do
    rc=0
    out=$("${bin}" -n "${IP[${host}]}" 2>&1) || rc=$?
    printf '%s\n' "${out}" >"${WORK}/ssh-audit-${host}.txt"
    # ssh-audit: 0 good, 2 warnings only, 3 failures, 1 no connection, 4 its own error.
    audit_case running "ssh-audit of ${host}'s sshd: no failures" high "$((rc == 0 || rc == 2 ? 1 : 0))" \
      "exit ${rc}; $(grep -c '\[fail\]' <<<"${out}") failures$(grep '\[fail\]' <<<"${out}" | sed 's/ \+/ /g; s/^/: /' | head -n 8 | tr '\n' ';'); $(grep -c '\[warn\]' <<<"${out}") warnings (post-quantum key exchange, the 2048-bit group exchange fallback and the like)" \
      "ssh_hardening sets KexAlgorithms, Ciphers, MACs and HostKeyAlgorithms without what ssh-audit fails (NIST curves, SHA-1, ECDSA host keys)"
  done
}

# audit_tls_protocols SSLYZE_OUTPUT - "; TLS 1.2 accepted, ..." per protocol.
audit_tls_protocols() {
  awk '/^ \* (SSL|TLS) [0-9.]+ Cipher Suites:/ {p = $2 " " $3; getline; while ($0 ~ /^ *$/) getline
    if ($0 ~ /rejected all cipher suites/) r = r "; " p " rejected"; else r = r "; " p " accepted"} END {print r}' <<<"$1"
}

test_audit_tls() {
  local out rc=0 location problems
  location=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' --max-time 5 "http://${LB_IP}/api/v1/restaurants")
  audit_case running "load balancer: plain HTTP is redirected to HTTPS" high \
    "$([[ "${location}" =~ ^30[18]\ https:// ]] && echo 1 || echo 0)" "http://${LB_IP}/api/v1/restaurants answers ${location}"
  out=$("${AUDIT_VENV}/bin/python" -m sslyze --mozilla_config=intermediate "${LB_IP}:443" 2>&1) || rc=$?
  printf '%s\n' "${out}" >"${WORK}/sslyze.txt"
  # Its certificate comes from the run's own CA, which no trust store has
  # (curl verifies it against that CA in test_load_balancer): every other
  # point of Mozilla's intermediate configuration must hold.
  problems=$(sed -n '/COMPLIANCE AGAINST/,$p' <<<"${out}" | sed -n 's/^ *\* //p' | grep -v '^certificate_path_validation:' || true)
  audit_case running "load balancer: TLS as Mozilla's intermediate configuration (sslyze; tls_cipher_policy $(lb_value '.tls_cipher_policy // "DEFAULT"'))" medium \
    "$([[ -z "${problems}" ]] && grep -q 'COMPLIANCE AGAINST' <<<"${out}" && echo 1 || echo 0)" \
    "${problems:-protocols, cipher suites and curves as required}$(audit_tls_protocols "${out}")" \
    "the load-balancer module sets tls_cipher_policy STRONG; the stand-in offers what the plan's policy allows"
}

# ---- the public port ----------------------------------------------------------------

# lb_get PATH [CURL ARGS...] - "CODE" and the headers of PATH through the load balancer.
lb_head() {
  local path="$1"
  shift
  curl -s -o /dev/null -D - --max-time 5 --cacert "${WORK}/lb/ca.pem" "$@" "${LB_URL}${path}" | tr -d '\r'
}

test_audit_public_port() {
  local path code served="" headers missing="" codes=""
  for path in /actuator /actuator/health /actuator/prometheus /actuator/env /metrics /prometheus \
    /v3/api-docs /swagger-ui.html /swagger-ui/index.html /error; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "${WORK}/lb/ca.pem" "${LB_URL}${path}")
    [[ "${code}" == 2* ]] && served+="${path}=${code} "
  done
  audit_case running "public port: no actuator, metrics or OpenAPI (SWAGGER_ENABLED off) through the load balancer" medium \
    "$([[ -z "${served}" ]] && echo 1 || echo 0)" "${served:-every diagnostics path answers 404}"
  local body
  body=$(curl -s --max-time 5 --cacert "${WORK}/lb/ca.pem" "${LB_URL}/health")
  audit_case running "public port: /health without the write token has no diagnostics" medium \
    "$(jq -e 'has("checks") or has("memory") | not' <<<"${body}" >/dev/null 2>&1 && echo 1 || echo 0)" \
    "keys: $(jq -c 'keys' <<<"${body}" 2>/dev/null || echo "${body:0:100}")"
  # Answers of every kind: the API's (a read, a refused write, a 404), the
  # host proxy's own (429 comes in the abuse probes) and Tomcat's own 400
  # (a request it refuses before the API sees it).
  local -A kinds=([read]="/api/v1/restaurants" [refused-write]="/api/v1/restaurants -X POST -H Content-Type:application/json -d {}"
    [not-found]="/nowhere" [undecodable-query]="/api/v1/restaurants?q=%" [tomcat-400]="/api/v1/restaurants?q={ -g")
  local kind args
  for kind in read refused-write not-found undecodable-query tomcat-400; do
    read -r path args <<<"${kinds[${kind}]}"
    # shellcheck disable=SC2086 # the curl arguments of the kind
    headers=$(lb_head "${path}" ${args})
    code=$(awk 'NR == 1 {print $2}' <<<"${headers}")
    codes+="${kind}=${code} "
    grep -qi '^x-content-type-options: nosniff$' <<<"${headers}" || missing+="${kind}(${code}): nosniff; "
    grep -qi '^strict-transport-security: max-age=[1-9]' <<<"${headers}" || missing+="${kind}(${code}): HSTS; "
    grep -qi '^cache-control: ' <<<"${headers}" || missing+="${kind}(${code}): Cache-Control; "
  done
  audit_case running "public port: nosniff, HSTS and Cache-Control on every answer over TLS (API, proxy and Tomcat errors)" medium \
    "$([[ -z "${missing}" ]] && echo 1 || echo 0)" "${missing:-all present on ${codes% }}" \
    "the host proxy sets nosniff and, where the API set none, Cache-Control: no-store and (over TLS) HSTS on every answer, its own and Tomcat's included"
  audit_case running "public port: a malformed request is the client's error (4xx), never a 500" low \
    "$([[ "${codes}" =~ undecodable-query=4[0-9][0-9]\ .*tomcat-400=4[0-9][0-9] ]] && echo 1 || echo 0)" "${codes% }" \
    "the API answers a query string that cannot be decoded (Tomcat's InvalidParameterException) 400, no longer 500"
}

# The proxies' runtime APIs (stats socket, port 9999) answer inside their containers only.
test_audit_runtime_api() {
  local host proxy_ip reached=""
  for host in "${HOSTS[@]}"; do
    proxy_ip=$(on "${host}" "sudo docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' restomarket-${DEPLOY_ENV}-proxy" | awk '{print $1}')
    # From the host itself (its Docker network), from the VPC (the load balancer) and from this machine.
    audit_probe_from "${host}" "${proxy_ip}:9999" "127.0.0.1:9999" | grep -q ' open$' && reached+="${host} itself; "
    audit_probe_from lb "${PRIVATE_IP[${host}]}:9999" | grep -q ' open$' && reached+="${host} from the VPC; "
    audit_probe_from runner "${PRIVATE_IP[${host}]}:9999" "${IP[${host}]}:9999" | grep -q ' open$' && reached+="${host} from this machine; "
  done
  audit_case running "the HAProxy runtime API is unreachable from outside the proxy container" critical \
    "$([[ -z "${reached}" ]] && echo 1 || echo 0)" "${reached:-9999 refused from each host, the VPC and the runner}"
}

# X-Forwarded-Proto from a client that reaches a host's proxy directly: the
# proxy overwrites it unless the peer has a private address; on staging only
# the VPC reaches the port, so a VPC member could still claim https.
test_audit_forwarded_proto() {
  local headers
  headers=$(audit_spoof_proto)
  audit_accepted running "X-Forwarded-Proto from a client that bypasses the load balancer" low \
    "the host proxy passes X-Forwarded-Proto and X-Forwarded-For on only from private addresses and overwrites them for public ones (dev admits api_public_cidrs directly); from inside the VPC (staging's only way to the proxy port) a claim of https is believed: an answer to such a request says HSTS: ${headers:-none}" \
    "the firewall admits the proxy port from the VPC (the load balancer, the API droplets and the CI runner) only; HSTS over plain HTTP is ignored by browsers (RFC 6797)"
}

# audit_spoof_proto - the HSTS header of an answer to a VPC member claiming https.
audit_spoof_proto() {
  curl -s -o /dev/null -D - --max-time 5 -H 'X-Forwarded-Proto: https' "http://${PRIVATE_IP[api-1]}:3001/version" |
    tr -d '\r' | grep -i '^strict-transport-security:' | cut -d' ' -f2-
}

# ---- abuse ---------------------------------------------------------------------------

test_audit_abuse() {
  local code body_file="${WORK}/audit-oversized.json" codes n429 after spoofed other started
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "${WORK}/lb/ca.pem" -X POST \
    -H 'Content-Type: application/json' -d '{"name":"audit","cuisine":"audit","address":"audit"}' "${LB_URL}/api/v1/restaurants")
  audit_case abuse "a write without the token is refused" high "$([[ "${code}" == 401 || "${code}" == 403 ]] && echo 1 || echo 0)" \
    "POST /api/v1/restaurants without Authorization: ${code}"
  head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'a' | sed 's/^/{"name":"/; s/$/"}/' >"${body_file}"
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "${WORK}/lb/ca.pem" -X POST \
    -H 'Content-Type: application/json' -H "Authorization: Bearer ${WRITE_TOKEN}" --data-binary "@${body_file}" "${LB_URL}/api/v1/restaurants")
  audit_case abuse "an oversized body (2 MiB, with the token) is refused" medium "$([[ "${code}" == 413 ]] && echo 1 || echo 0)" \
    "POST of 2 MiB: ${code}"
  rm -f "${body_file}"
  code=$(for query in size=100000 page=100000000; do
    curl -s -o /dev/null -w '%{http_code} ' --max-time 5 --cacert "${WORK}/lb/ca.pem" "${LB_URL}/api/v1/restaurants?${query}"
  done)
  audit_case abuse "unbounded paging is refused (size=100000, page=100000000)" medium "$([[ "${code}" == "400 400 " ]] && echo 1 || echo 0)" \
    "answers: ${code% }"
  # The burst: unauthenticated writes from this machine, each claiming another
  # address in X-Forwarded-For (the load balancer appends the real one last).
  started=$(date +%s)
  codes=$(for ((i = 1; i <= AUDIT_BURST; i++)); do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 --cacert "${WORK}/lb/ca.pem" -X POST \
      -H "X-Forwarded-For: 198.51.100.${i}" -H 'Content-Type: application/json' -d '{}' "${LB_URL}/api/v1/restaurants"
  done)
  n429=$(grep -c '^429$' <<<"${codes}" || true)
  after=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "${WORK}/lb/ca.pem" "${LB_URL}/api/v1/restaurants")
  other=$(on api-2 "curl -sk -o /dev/null -w '%{http_code}' --max-time 5 -X POST -H 'Content-Type: application/json' -d '{}' ${LB_URL}/api/v1/restaurants" 2>/dev/null || echo none)
  spoofed=$(sort <<<"${codes}" | uniq -c | awk '{printf "%s%s x %s", sep, $1, $2; sep = ", "}')
  log "write burst: ${AUDIT_BURST} POSTs in $(($(date +%s) - started)) s, answers ${spoofed}; a read right after: ${after}; another client's write: ${other}"
  audit_case abuse "a burst of ${AUDIT_BURST} writes from one client is rate-limited at the edge (429), whatever X-Forwarded-For it claims" high \
    "$((n429 > 0 && n429 < AUDIT_BURST ? 1 : 0))" "answers: ${spoofed}" \
    "the host proxies limit writes per client address (the load balancer's last X-Forwarded-For hop): PROXY_WRITE_RATE_LIMIT per PROXY_WRITE_RATE_PERIOD per host (haproxy.cfg.tmpl)"
  audit_case abuse "reads are not limited after a write burst; another client's writes are not either" high \
    "$([[ "${after}" == 200 && "${other}" == 401 ]] && echo 1 || echo 0)" "a read right after: ${after}; a write from api-2 through the load balancer: ${other}"
}

# ---- what Ansible printed ---------------------------------------------------------------

# Every Ansible run and pipeline step so far (setup-api.yml, update-api.yml
# through make, the push; each logged whole in WORK/NAME.log) printed none of
# the vault's values: the database and Redis passwords, the write token, the
# registry's.
test_audit_ansible_output() {
  local logs=("${WORK}"/*.log) secrets=("${DB_PASSWORD}" "${REDIS_PASSWORD}" "${WRITE_TOKEN}") hits secret
  [[ -r "${REGISTRY_PASSWORD_FILE:-}" ]] && secrets+=("$(cat "${REGISTRY_PASSWORD_FILE}")")
  hits=$(for secret in "${secrets[@]}"; do grep -lF -e "${secret}" "${logs[@]}" 2>/dev/null || true; done | sort -u | xargs -r -n1 basename)
  audit_case secrets "Ansible and pipeline-step output holds no secret value" high "$([[ -z "${hits}" ]] && echo 1 || echo 0)" \
    "${#logs[@]} logs of Ansible runs and pipeline steps, ${#secrets[@]} secret values${hits:+; found in: ${hits//$'\n'/ }}"
}

# ---- the whole audit ------------------------------------------------------------------

AUDIT_VENV=""
audit_start() {
  AUDIT_INTERNET_IP="${SUBNET_PREFIX}.${AUDIT_INTERNET_HOST}"
  audit_stop
  AUDIT_VENV=$("${RM_REPO_ROOT}/infrastructure/tools/bootstrap/python-tools.sh" audit-probes 2>/dev/null | tail -n1)
  "${DOCKER}" run -d --name "${RUN_ID}-audit-internet" --network "${RUN_ID}" --ip "${AUDIT_INTERNET_IP}" \
    --label "com.restomarket.test=${RUN_ID}" --entrypoint sleep "${HOST_IMAGE}" 900 >/dev/null
  audit_firewall_vars
  audit_db_trusted
}

audit_stop() { "${DOCKER}" rm -f "${RUN_ID}-audit-internet" >/dev/null 2>&1 || true; }

test_audit() {
  local started
  started=$(date +%s)
  step "audit: vantage points" audit_start || { fail "audit: the probes could not start"; audit_stop; return 0; }
  test_audit_reachability
  test_audit_planted_finding
  test_audit_ssh
  test_audit_tls
  test_audit_public_port
  test_audit_runtime_api
  test_audit_forwarded_proto
  test_audit_abuse
  test_audit_ansible_output
  audit_stop
  log "audit probes took $(($(date +%s) - started)) s; findings in ${AUDIT_RESULTS#"${RM_REPO_ROOT}"/}"
}
