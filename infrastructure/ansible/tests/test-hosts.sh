#!/usr/bin/env bash
# Proves the playbooks on real Debian 12 hosts reached over SSH: two test
# hosts (containers with systemd, sshd and their own Docker engine; see
# tests/host/Dockerfile) on a network of this test, with PostgreSQL and Redis
# beside them as the managed databases (PostgreSQL TLS-only, verified against
# its CA as on DigitalOcean), and an HAProxy as the load balancer.
#   setup-api.yml  first run as root, second run as deploy (changed=0),
#                  --check --diff (changed=0), then the hosts are inspected:
#                  sshd -T, root and password logins refused, deploy runs
#                  Docker, secret files 0600, ufw rules and their effect,
#                  unattended upgrades, the cleanup timer.
#   update-api.yml over the hosts' VPC addresses (--via vpc, as the deploy job
#                  from the CI runner): v1, then v2 under load through the load balancer
#                  with Redis down for the whole roll (0 errors; readiness keeps
#                  both hosts in the balancer while /health says 503),
#                  a broken v3 (fails on host 1, both keep v2), a v4 that only
#                  host 1 can get (host 1 returns to v2), both proxies handed
#                  over behind the load balancer, v4 again with a load balancer
#                  that does not answer (host 1 returns to v2), and a host that
#                  stops answering mid-roll to v1 (host 1 returns to v2).
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../tools/lib/common.sh
source "${HERE}/../../tools/lib/common.sh"
# shellcheck source=../../tools/lib/testing.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/testing.sh"
# shellcheck source=lib/ci-runner-checks.sh
source "${HERE}/lib/ci-runner-checks.sh"
export RM_LOG_TAG="test-ansible-hosts"

ENGINE="${RM_REPO_ROOT}/infrastructure/scripts"
TOOLS="${RM_REPO_ROOT}/infrastructure/tools"
ANSIBLE_SH="${TOOLS}/ansible.sh"

DOCKER=/usr/bin/docker
RUN_ID="rm-ansible-$$"
HOST_IMAGE=restomarket/test-debian-host:bookworm
HOSTS=(api-1 api-2)
# Subnets of its own: the hosts' inner Docker uses 172.17.0.0/16. Each host
# has a public address (SUBNET_PREFIX: operators, setup-api.yml, the databases)
# and a VPC one (VPC_PREFIX: the load balancer, and update-api.yml --via vpc
# from this machine's address there, which stands in for the CI runner's).
SUBNET_PREFIX=172.30.213
VPC_PREFIX=172.30.215
VPC_NETWORK="${RUN_ID}-vpc"
RUNNER_IP="${VPC_PREFIX}.1"
# PostgreSQL's fixed address: its certificate names it, the API verifies it.
PG_IP="${SUBNET_PREFIX}.250"
DEPLOY_ENV=staging
LOAD_RATE=50
# The path the load balancer checks and the deploy engine gates on (readiness),
# as the inventory's group_vars set it for every host.
HEALTH_PATH=$(sed -n 's/^restomarket_health_path: *//p' "${RM_REPO_ROOT}/infrastructure/ansible/inventory/group_vars/all/main.yml")
# Seconds Redis stays down in the outage scenario.
REDIS_OUTAGE_SECONDS=30
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0

declare -A IP=() PRIVATE_IP=()
WORK=""
LOAD_PID=""

usage() {
  cat <<USAGE
Usage: $(basename "$0") [--keep]

Converges infrastructure/ansible/playbooks/setup-api.yml on two Debian 12 test
hosts over SSH and rolls releases with update-api.yml (see the header of this
script). Needs root and about 6 minutes.

  --keep   leave the hosts, databases and work directory in place for debugging
USAGE
}

cleanup() {
  local rc=$?
  [[ -n "${LOAD_PID}" ]] && kill -INT "${LOAD_PID}" 2>/dev/null
  if [[ "${KEEP:-0}" == 1 ]]; then
    log "kept: containers labelled com.restomarket.test=${RUN_ID}, work dir ${WORK}"
    return "${rc}"
  fi
  local -a ids=()
  mapfile -t ids < <("${DOCKER}" ps -aq --filter "label=com.restomarket.test=${RUN_ID}" 2>/dev/null || true)
  ((${#ids[@]} == 0)) || "${DOCKER}" rm -f -v "${ids[@]}" >/dev/null 2>&1 || true
  "${DOCKER}" network rm "${RUN_ID}" "${VPC_NETWORK}" >/dev/null 2>&1 || true
  local host
  for host in "${HOSTS[@]}"; do "${DOCKER}" volume rm "${RUN_ID}-${host}-docker" >/dev/null 2>&1 || true; done
  "${DOCKER}" rmi "${REPO:-none}:v1" "${REPO:-none}:v2" "${REPO:-none}:v3" "${REPO:-none}:v4" >/dev/null 2>&1 || true
  [[ -z "${WORK}" ]] || rm -rf "${WORK}"
  return "${rc}"
}

# ---- helpers ---------------------------------------------------------------------

# on HOST COMMAND - run COMMAND on HOST as the admin account over SSH.
on() { as_user admin "$@"; }

# gate HOST COMMAND - ask HOST's deploy account (its keys run only ssh-gate.sh) for COMMAND.
gate() { as_user deploy "$@"; }

# as_user USER HOST COMMAND - run COMMAND on HOST as USER over SSH.
as_user() {
  local user="$1" host="$2"
  shift 2
  ssh -i "${WORK}/id_ed25519" -o UserKnownHostsFile="${WORK}/known_hosts" -o StrictHostKeyChecking=accept-new \
    -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR "${user}@${IP[${host}]}" "$@"
}

# ssh_as USER HOST OPTIONS... - try a login (for the refusal checks).
ssh_as() {
  local user="$1" host="$2"
  shift 2
  ssh -i "${WORK}/id_ed25519" -o UserKnownHostsFile="${WORK}/known_hosts" -o StrictHostKeyChecking=accept-new \
    -o BatchMode=yes -o ConnectTimeout=5 "$@" "${user}@${IP[${host}]}" true 2>&1
}

# recap LOG HOST FIELD - a number of the PLAY RECAP line of HOST (ok, changed, failed ...).
recap() {
  awk -v h="$2" -v f="$3" '$1 == h && $2 == ":" {for (i = 3; i <= NF; i++) {split($i, kv, "="); if (kv[1] == f) print kv[2]}}' "$1" |
    tail -n1
}

# host_version HOST - the release HOST's proxy serves on its VPC address (where it listens).
host_version() { curl -fsS --max-time 5 "http://${PRIVATE_IP[$1]}:3001/version" | jq -r .version 2>/dev/null || echo unreachable; }

# build_variant TAG CMD_JSON - REPO:TAG from v1, reporting TAG, run with CMD_JSON.
build_variant() { api_image_variant "${REPO}:$1" "${REPO}:v1" "$1" "$2" "${WORK}/build-$1" "${RUN_ID}"; }

# ---- setup -----------------------------------------------------------------------

prepare_tools() {
  "${TOOLS}/bootstrap/docker.sh" --no-compose >/dev/null 2>&1 || "${TOOLS}/bootstrap/docker.sh" --no-compose
  "${RM_REPO_ROOT}/infrastructure/docker/base-images/build.sh" >/dev/null 2>&1 ||
    "${RM_REPO_ROOT}/infrastructure/docker/base-images/build.sh"
  have jq || ensure_apt_packages jq
  have curl || ensure_apt_packages curl
  have ssh || ensure_apt_packages openssh-client
  VEGETA=$("${TOOLS}/bootstrap/go-tools.sh" vegeta)
  VENV=$("${ANSIBLE_SH}" venv 2>/dev/null | tail -n1)
  # shellcheck source=/dev/null
  source <("${TOOLS}/compose.sh" --env)
  REPO=$(awk -F= '$1 == "IMAGE_REPO" {print $2}' "${ENGINE}/env/${DEPLOY_ENV}.env")
  WORK=$(mktemp -d "/tmp/${RUN_ID}.XXXX")
  ssh-keygen -q -t ed25519 -N '' -C "${RUN_ID}" -f "${WORK}/id_ed25519"
}

build_images() {
  DOCKER_BUILDKIT=1 "${DOCKER}" build -q --build-arg BASE_IMAGE="${RUNTIME_BASE_IMAGE}" \
    -t "${HOST_IMAGE}" "${HERE}/host" >/dev/null
  env IMAGE_REPO="${REPO}" "${TOOLS}/build-image.sh" v1 >"${WORK}/build-v1.log" 2>&1 ||
    { tail -n 30 "${WORK}/build-v1.log" >&2; return 1; }
  build_variant v2 '[]'
  # v3: the database points nowhere, readiness answers 503 forever; v4: a good release.
  build_variant v3 '["--DATABASE_URL=jdbc:postgresql://127.0.0.1:1/restomarket"]'
  build_variant v4 '[]'
}

# container_ip CONTAINER [NETWORK] - its address on NETWORK (default: the public one).
container_ip() { "${DOCKER}" inspect -f "{{(index .NetworkSettings.Networks \"${2:-${RUN_ID}}\").IPAddress}}" "$1"; }

# postgres_tls - a throwaway CA and a server certificate for PG_IP only, and an
# hba file that admits TCP clients over TLS only, in WORK/pg-tls.
postgres_tls() {
  local dir="${WORK}/pg-tls" uid
  mkdir -p "${dir}"
  (
    cd "${dir}"
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=restomarket-test-pg-ca -keyout ca.key -out ca.crt
    openssl req -newkey rsa:2048 -nodes -subj "/CN=${PG_IP}" -keyout server.key -out server.csr
    printf 'subjectAltName=IP:%s\n' "${PG_IP}" >san.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile san.ext -out server.crt
  ) >"${WORK}/pg-tls.log" 2>&1 || { cat "${WORK}/pg-tls.log" >&2; return 1; }
  printf 'local all all trust\nhostssl all all all scram-sha-256\n' >"${dir}/pg_hba.conf"
  # PostgreSQL reads its key only when the server's user owns it, mode 0600.
  uid=$("${DOCKER}" run --rm --entrypoint id "${POSTGRES_IMAGE}" -u postgres)
  chown "${uid}" "${dir}/server.key"
  chmod 0600 "${dir}/server.key"
  chmod 0644 "${dir}/server.crt" "${dir}/pg_hba.conf"
}

start_databases() {
  DB_PASSWORD=$(random_secret)
  REDIS_PASSWORD=$(random_secret)
  WRITE_TOKEN=$(random_secret)
  postgres_tls
  "${DOCKER}" run -d --name "${RUN_ID}-postgres" --network "${RUN_ID}" --ip "${PG_IP}" \
    --label "com.restomarket.test=${RUN_ID}" -v "${WORK}/pg-tls:/tls:ro" \
    -e POSTGRES_USER=restomarket -e POSTGRES_DB=restomarket -e POSTGRES_PASSWORD="${DB_PASSWORD}" \
    "${POSTGRES_IMAGE}" postgres -c ssl=on -c ssl_cert_file=/tls/server.crt -c ssl_key_file=/tls/server.key \
    -c hba_file=/tls/pg_hba.conf >/dev/null
  "${DOCKER}" run -d --name "${RUN_ID}-redis" --network "${RUN_ID}" --label "com.restomarket.test=${RUN_ID}" \
    "${REDIS_IMAGE}" redis-server --requirepass "${REDIS_PASSWORD}" >/dev/null
  wait_until 60 postgres "${DOCKER}" exec "${RUN_ID}-postgres" pg_isready -U restomarket -h 127.0.0.1
}

start_hosts() {
  local host
  for host in "${HOSTS[@]}"; do
    # The capability set BUILD-ENVIRONMENT.md documents for Docker-in-Docker
    # (--privileged is refused here); /var/lib/docker on a volume for overlay2.
    "${DOCKER}" run -d --name "${RUN_ID}-${host}" --hostname "${host}" --network "${RUN_ID}" \
      --label "com.restomarket.test=${RUN_ID}" \
      --cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
      --security-opt systempaths=unconfined --device-cgroup-rule 'a *:* rwm' --cgroupns private \
      --tmpfs /run --tmpfs /run/lock --tmpfs /tmp -v "${RUN_ID}-${host}-docker:/var/lib/docker" \
      -e AUTHORIZED_KEY="$(cat "${WORK}/id_ed25519.pub")" "${HOST_IMAGE}" >/dev/null
    IP[${host}]=$(container_ip "${RUN_ID}-${host}")
    "${DOCKER}" network connect "${VPC_NETWORK}" "${RUN_ID}-${host}"
    PRIVATE_IP[${host}]=$(container_ip "${RUN_ID}-${host}" "${VPC_NETWORK}")
  done
  for host in "${HOSTS[@]}"; do
    wait_until 60 "sshd on ${host}" ssh_as root "${host}" ||
      die "sshd on ${host} (${IP[${host}]}) did not answer" "docker logs ${RUN_ID}-${host}"
  done
}

# write_inventory - the shape of inventory/ENV.yml + group_vars/ENV/{main,vault}.yml,
# sharing the repository's group_vars/all.
write_inventory() {
  local inv="${WORK}/inventory" host
  mkdir -p "${inv}/group_vars/ci"
  ln -s "${RM_REPO_ROOT}/infrastructure/ansible/inventory/group_vars/all" "${inv}/group_vars/all"
  {
    printf 'all:\n  children:\n    ci:\n      children:\n        api:\n          hosts:\n'
    for host in "${HOSTS[@]}"; do
      printf '            %s:\n              public_ip: %s\n              private_ip: %s\n' "${host}" "${IP[${host}]}" "${PRIVATE_IP[${host}]}"
    done
  } >"${inv}/hosts.yml"
  cat >"${inv}/group_vars/ci/main.yml" <<EOF
---
restomarket_env: ${DEPLOY_ENV}
# What the inventory gets from Terraform's outputs on droplets.
api_port: 3001
vpc_ip_range: ${VPC_PREFIX}.0/24
# Only this machine (the network's gateway) is an admin: the hosts cannot SSH to each other.
admin_cidrs: [${SUBNET_PREFIX}.1/32]
# This machine again, on the VPC network, as the CI runner.
ci_runner_private_ip: ${RUNNER_IP}
# As staging: only the load balancer (in the VPC) reaches the API port.
api_public_cidrs: []
# The test load balancer checks every second and takes a host out after 2
# failures: out of rotation within 3 s (staging's: 35 s).
lb_drain_seconds: 3
# One test key for both accounts (deploy's copy is bound to the gate).
restomarket_admin_ssh_keys: ["$(cat "${WORK}/id_ed25519.pub")"]
restomarket_deploy_ssh_keys: ["$(cat "${WORK}/id_ed25519.pub")"]
ansible_ssh_private_key_file: ${WORK}/id_ed25519
ansible_ssh_common_args: -o UserKnownHostsFile=${WORK}/known_hosts
# Short post-switch watches keep the suite quick (droplets: 60 s, then 10 s).
update_api_watch_seconds: 5
update_api_watch_rest_seconds: 2
# So does a quarter of the warm-up (the engine's default: 200 rounds): it still
# runs on every deploy; its latency effect is make bench-deploy's to measure.
deploy_engine_env_extra:
  WARMUP_ROUNDS: 50
# Not droplets: DigitalOcean's agent repository is out of reach.
monitoring_agent_enabled: false
postgres_host: ${PG_IP}
postgres_port: 5432
postgres_database: restomarket
postgres_user: restomarket
postgres_ca_certificate: |
$(sed 's/^/  /' "${WORK}/pg-tls/ca.crt")
valkey_host: $(container_ip "${RUN_ID}-redis")
valkey_port: 6379
valkey_ssl: false
# The air-gapped HAProxy image loaded on the hosts (images.env names the official one).
deploy_engine_proxy_image: ${PROXY_IMAGE}
EOF
  random_secret >"${WORK}/vault-password"
  cat >"${WORK}/vault.yml" <<EOF
---
vault_database_password: ${DB_PASSWORD}
vault_redis_password: ${REDIS_PASSWORD}
vault_api_write_token: ${WRITE_TOKEN}
EOF
  "${VENV}/bin/ansible-vault" encrypt --vault-password-file "${WORK}/vault-password" \
    --output "${inv}/group_vars/ci/vault.yml" "${WORK}/vault.yml" >/dev/null 2>&1
  rm -f "${WORK}/vault.yml"
  INVENTORY="${inv}/hosts.yml"
}

# load_images HOST TAG... - docker save | ssh | docker load, as the issue's image source.
load_images() {
  local host="$1"
  shift
  "${DOCKER}" save "$@" | gzip -1 | on "${host}" 'gunzip | sudo docker load' >/dev/null
}

start_load_balancer() {
  local host
  mkdir -p "${WORK}/lb"
  {
    # The runtime API, only to read its retry counters (lb_retries).
    printf 'global\n    maxconn 2048\n    stats socket ipv4@127.0.0.1:9999 level operator\n'
    printf 'defaults\n    mode http\n    timeout connect 2s\n'
    printf '    timeout client 30s\n    timeout server 30s\n    retries 2\n    option redispatch\n'
    printf 'frontend lb\n    bind :8080\n    default_backend api\n'
    printf 'backend api\n    option httpchk GET %s\n    http-check expect status 200\n' "${HEALTH_PATH}"
    for host in "${HOSTS[@]}"; do
      printf '    server %s %s:3001 check inter 1s fall 2 rise 2\n' "${host}" "${PRIVATE_IP[${host}]}"
    done
  } >"${WORK}/lb/haproxy.cfg"
  chmod -R a+rX "${WORK}/lb"
  "${DOCKER}" run -d --name "${RUN_ID}-lb" --network "${VPC_NETWORK}" --label "com.restomarket.test=${RUN_ID}" \
    -v "${WORK}/lb:/usr/local/etc/haproxy:ro" "${PROXY_IMAGE}" >/dev/null
  LB_URL="http://$(container_ip "${RUN_ID}-lb" "${VPC_NETWORK}"):8080"
  wait_until 30 "load balancer" curl -fsS --max-time 2 "${LB_URL}${HEALTH_PATH}"
}

setup() {
  step tools prepare_tools
  step images build_images
  "${DOCKER}" network create --subnet "${SUBNET_PREFIX}.0/24" --label "com.restomarket.test=${RUN_ID}" "${RUN_ID}" >/dev/null
  "${DOCKER}" network create --subnet "${VPC_PREFIX}.0/24" --label "com.restomarket.test=${RUN_ID}" "${VPC_NETWORK}" >/dev/null
  step databases start_databases
  step hosts start_hosts
  write_inventory
  log "hosts: $(for h in "${HOSTS[@]}"; do printf '%s=%s,%s ' "${h}" "${IP[${h}]}" "${PRIVATE_IP[${h}]}"; done)inventory ${INVENTORY}"
}

# ---- setup-api.yml -----------------------------------------------------------------

# run_ansible NAME ARGS... - ansible.sh ARGS with the test inventory's vault
# password; output in WORK/NAME.log, its recap (and errors) shown; its exit code.
run_ansible() {
  local name="$1" rc=0
  shift
  ANSIBLE_VAULT_PASSWORD_FILE="${WORK}/vault-password" "${ANSIBLE_SH}" "$@" >"${WORK}/${name}.log" 2>&1 || rc=$?
  grep -A3 'PLAY RECAP' "${WORK}/${name}.log" | sed 's/^/    /' >&2 || true
  if ((rc != 0)); then ansible_errors "${name}" >&2; fi
  return "${rc}"
}

# ansible_errors NAME - the first error lines of run_ansible NAME's log (its
# last lines when none), cut to a readable length: a failure's own account.
ansible_errors() {
  local log="${WORK}/$1.log" errors
  errors=$(grep -E -A2 'fatal:|FAILED|ERROR|UNREACHABLE' "${log}" | head -n 12 | cut -c1-400) || true
  [[ -n "${errors}" ]] || errors=$(tail -n 8 "${log}" | cut -c1-400)
  printf '%s\n' "${errors}"
}

# converge NAME ARGS... - setup-api.yml on the test hosts.
converge() { run_ansible "$1" setup --inventory "${INVENTORY}" "${@:2}"; }

test_setup_converges() {
  local host
  if step "setup-api first run (root)" converge first --first-run; then
    pass "setup-api.yml converges fresh hosts (as root, over SSH)"
  else
    fail "setup-api.yml converges fresh hosts (as root, over SSH)" "$(ansible_errors first)"
    return 1
  fi
  check "second run connects as admin and succeeds" step "setup-api second run (admin)" converge second
  for host in "${HOSTS[@]}"; do
    expect_eq "second run: changed=0 on ${host}" 0 "$(recap "${WORK}/second.log" "${host}" changed)"
    expect_eq "second run: failed=0 on ${host}" 0 "$(recap "${WORK}/second.log" "${host}" failed)"
  done
  check "--check --diff run succeeds" step "setup-api --check --diff" converge check --check
  for host in "${HOSTS[@]}"; do
    expect_eq "--check --diff: changed=0 on ${host}" 0 "$(recap "${WORK}/check.log" "${host}" changed)"
  done
}

test_ssh_hardening() {
  local host out
  for host in "${HOSTS[@]}"; do
    out=$(on "${host}" 'sudo sshd -T' 2>&1)
    expect_match "${host}: sshd -T permitrootlogin no" $'(^|\n)permitrootlogin no(\n|$)' "${out}"
    expect_match "${host}: sshd -T passwordauthentication no" $'(^|\n)passwordauthentication no(\n|$)' "${out}"
    expect_match "${host}: sshd -T kbdinteractiveauthentication no" $'(^|\n)kbdinteractiveauthentication no(\n|$)' "${out}"
    expect_match "${host}: root login refused" 'Permission denied' "$(ssh_as root "${host}")"
    expect_match "${host}: password login not offered (keys only)" 'Permission denied \(publickey\)' \
      "$(ssh_as deploy "${host}" -o PubkeyAuthentication=no -o PreferredAuthentications=password,keyboard-interactive)"
  done
}

# Three accounts: admin (people, sudo), deploy (no sudo, keys forced to the
# engine's gate), and the container's uid 1001 (no login, owns the secrets).
test_accounts() {
  local host ids
  for host in "${HOSTS[@]}"; do
    ids=$(on "${host}" 'id admin; id deploy; id restomarket')
    log "${host}: accounts: $(tr '\n' ';' <<<"${ids}")"
    expect_match "${host}: admin may run anything with sudo" '\(ALL\) NOPASSWD: ALL' "$(on "${host}" 'sudo -n -l' 2>&1)"
    expect_match "${host}: deploy may not sudo" 'is not allowed to run sudo' "$(on "${host}" 'sudo -n -l -U deploy' 2>&1)"
    expect_match "${host}: deploy is in group docker (the engine needs it)" '(^| )docker( |$)' "$(on "${host}" 'id -nG deploy')"
    expect_eq "${host}: no login account has the container's uid 1001" "restomarket /usr/sbin/nologin" \
      "$(on "${host}" "getent passwd 1001 | awk -F: '{print \$1, \$7}'")"
    expect_eq "${host}: the container's account has no password and no keys" "L absent" \
      "$(on "${host}" "sudo passwd -S restomarket | awk '{print \$2}'; test -e /nonexistent && echo present || echo absent" | tr '\n' ' ' | sed 's/ $//')"
    expect_match "${host}: the container's account cannot log in" 'Permission denied' "$(ssh_as restomarket "${host}")"
    check_fails "${host}: the container's uid cannot write admin's or deploy's keys or home" \
      on "${host}" "sudo -u restomarket bash -c 'for f in ~admin ~admin/.ssh/authorized_keys ~deploy ~deploy/.ssh/authorized_keys; do test -w \$f && exit 0; done; exit 1'"
    expect_eq "${host}: the container's uid owns only the secrets" "/etc/restomarket/${DEPLOY_ENV}/secrets" \
      "$(on "${host}" "sudo find / -xdev -uid 1001 -not -path '/etc/restomarket/${DEPLOY_ENV}/secrets/*' 2>/dev/null")"
    expect_eq "${host}: daemon.json (json-file logs, live restore)" "json-file true" \
      "$(on "${host}" 'sudo docker info --format "{{.LoggingDriver}} {{.LiveRestoreEnabled}}"')"
  done
  # The deploy key runs the gate and nothing else.
  expect_match "deploy's key: a shell is refused" 'refused' "$(gate api-1 2>&1 </dev/null)"
  expect_match "deploy's key: 'id' is refused" 'refused' "$(gate api-1 id 2>&1)"
  expect_match "deploy's key: an injection is refused" 'refused' "$(gate api-1 "rollback --env ${DEPLOY_ENV} --list; id" 2>&1)"
  check_fails "deploy's key: no sudo through the gate" gate api-1 "sudo -n true"
  check "deploy's key: the release list answers through the gate" gate api-1 "rollback --env ${DEPLOY_ENV} --list"
}

# The deploy engine arrives as its folder, whole and alone, with this host's settings beside it.
test_engine_unit() {
  local host want
  want=$(cd "${ENGINE}" && find . -type f -printf '%m %p\n' | sort)
  for host in "${HOSTS[@]}"; do
    expect_eq "${host}: /opt/restomarket/engine is the engine folder, file for file (modes as in git)" "${want}" \
      "$(on "${host}" "cd /opt/restomarket/engine && find . -type f -printf '%m %p\\n' | sort")"
    expect_eq "${host}: nothing else of the repository is installed" "engine" "$(on "${host}" 'ls /opt/restomarket')"
    expect_match "${host}: the host's settings name the proxy image, the proxy's address and the group's extra" \
      "PROXY_IMAGE=${PROXY_IMAGE}.*PROXY_BIND=${PRIVATE_IP[${host}]}.*PROXY_PORT=3001.*WARMUP_ROUNDS=50" \
      "$(on "${host}" "cat /etc/restomarket/${DEPLOY_ENV}.env" | tr '\n' ' ')"
  done
}

test_secrets() {
  local host dir="/etc/restomarket/${DEPLOY_ENV}"
  for host in "${HOSTS[@]}"; do
    expect_eq "${host}: secret files are 0600, owned by the container's account" \
      "600 restomarket ${dir}/secrets/API_WRITE_TOKEN 600 restomarket ${dir}/secrets/DATABASE_CA_CERT 600 restomarket ${dir}/secrets/DATABASE_PASSWORD 600 restomarket ${dir}/secrets/REDIS_PASSWORD" \
      "$(on "${host}" "sudo sh -c 'stat -c \"%a %U %n\" ${dir}/secrets/*' | sort | tr '\n' ' ' | sed 's/ \$//'")"
    expect_eq "${host}: the secret is the vault's value" "${DB_PASSWORD}" "$(on "${host}" "sudo cat ${dir}/secrets/DATABASE_PASSWORD")"
    expect_eq "${host}: the write token is the vault's value" "${WRITE_TOKEN}" "$(on "${host}" "sudo cat ${dir}/secrets/API_WRITE_TOKEN")"
    expect_eq "${host}: the database CA is the cluster's" "$(cat "${WORK}/pg-tls/ca.crt")" \
      "$(on "${host}" "sudo cat ${dir}/secrets/DATABASE_CA_CERT")"
    expect_match "${host}: the API verifies PostgreSQL's certificate and name" \
      '^DATABASE_URL=jdbc:postgresql://[0-9.]+:5432/restomarket\?sslmode=verify-full&sslrootcert=/run/secrets/DATABASE_CA_CERT$' \
      "$(on "${host}" "sudo grep '^DATABASE_URL=' ${dir}/api.env")"
    expect_eq "${host}: secrets directory is 0700, the container's account's" "700 restomarket" "$(on "${host}" "sudo stat -c '%a %U' ${dir}/secrets")"
    expect_eq "${host}: settings readable by the deploy account, not by others" "640 root deploy" "$(on "${host}" "sudo stat -c '%a %U %G' ${dir}/api.env")"
    check_fails "${host}: secrets unreadable to the deploy account" on "${host}" "sudo -u deploy cat ${dir}/secrets/DATABASE_PASSWORD"
    check_fails "${host}: no secret in api.env" on "${host}" "sudo grep -qF -e '${DB_PASSWORD}' -e '${REDIS_PASSWORD}' -e '${WRITE_TOKEN}' ${dir}/api.env"
    check_fails "${host}: secrets unreadable to other users" on "${host}" "sudo -u nobody cat ${dir}/secrets/DATABASE_PASSWORD"
  done
}

test_firewall() {
  local host out
  for host in "${HOSTS[@]}"; do
    out=$(on "${host}" 'sudo ufw status verbose')
    expect_match "${host}: ufw active, default deny incoming" 'Status: active.*Default: deny \(incoming\)' "$(tr '\n' ' ' <<<"${out}")"
    expect_eq "${host}: SSH allowed from the admin range and the CI runner only" \
      "22/tcp ALLOW IN ${SUBNET_PREFIX}.1 22/tcp ALLOW IN ${RUNNER_IP}" \
      "$(awk '$1 == "22/tcp" {print $1, $2, $3, $4}' <<<"${out}" | tr '\n' ' ' | sed 's/ $//')"
    expect_match "${host}: 3001 allowed from the VPC" "3001/tcp +ALLOW IN +${VPC_PREFIX}\.0/24" "${out}"
  done
  # The effect, not just the rules: api-2 is in the VPC but neither an admin nor the runner.
  check_fails "firewall: api-2 cannot reach SSH on api-1's VPC address" \
    on api-2 "timeout 4 bash -c 'exec 3<>/dev/tcp/${PRIVATE_IP[api-1]}/22'"
  check_fails "firewall: api-2 cannot reach SSH on api-1's public address" \
    on api-2 "timeout 4 bash -c 'exec 3<>/dev/tcp/${IP[api-1]}/22'"
  check "firewall: this admin machine reaches SSH on api-1" \
    timeout 4 bash -c "exec 3<>/dev/tcp/${IP[api-1]}/22"
  check "firewall: the CI runner's VPC address reaches SSH on api-1's VPC address" \
    timeout 4 bash -c "exec 3<>/dev/tcp/${PRIVATE_IP[api-1]}/22"
}

test_updates_and_timer() {
  local host
  for host in "${HOSTS[@]}"; do
    expect_eq "${host}: unattended upgrades on" 'APT::Periodic::Unattended-Upgrade "1";' \
      "$(on "${host}" 'apt-config dump APT::Periodic::Unattended-Upgrade')"
    expect_eq "${host}: unattended-upgrades service enabled" enabled "$(on "${host}" 'systemctl is-enabled unattended-upgrades')"
    expect_eq "${host}: weekly cleanup timer enabled and waiting" "enabled active" \
      "$(on "${host}" systemctl is-enabled restomarket-cleanup-images.timer\; systemctl is-active restomarket-cleanup-images.timer | tr '\n' ' ' | sed 's/ $//')"
  done
  check "api-1: the cleanup service runs" on api-1 sudo systemctl start restomarket-cleanup-images.service
  expect_eq "api-1: cleanup-images.sh finished successfully" success \
    "$(on api-1 systemctl show -p Result --value restomarket-cleanup-images.service)"
}

# ---- update-api.yml ----------------------------------------------------------------

# update NAME TAG [LB_URL] - update-api.yml on the test hosts, over their VPC
# addresses as the deploy job does from the CI runner; sets UPDATE_RC.
update() {
  local -a args=(update --inventory "${INVENTORY}" --via vpc --tag "$2")
  [[ -z "${3:-}" ]] || args+=(--lb-url "$3")
  UPDATE_RC=0
  run_ansible "$1" "${args[@]}" || UPDATE_RC=$?
}

expect_hosts_serve() {
  local desc="$1" want="$2" host
  for host in "${HOSTS[@]}"; do expect_eq "${desc}: ${host} serves ${want}" "${want}" "$(host_version "${host}")"; done
}

# update_under_load NAME DESC TAG [UNTIL] - update-api.yml TAG (checked through
# the load balancer) while vegeta sends LOAD_RATE req/s of GET /version through
# it: open loop, keep-alive, no retries, bounded to 10 minutes if nobody stops
# it; the load goes on until the epoch second UNTIL when given. The play's log
# is WORK/NAME.log, the requests WORK/NAME.bin.
update_under_load() {
  local name="$1" desc="$2" tag="$3" until="${4:-0}"
  printf 'GET %s/version\n' "${LB_URL}" >"${WORK}/targets"
  TZ=UTC "${VEGETA}" attack -targets="${WORK}/targets" -rate="${LOAD_RATE}/1s" -duration=600s -timeout=10s \
    -keepalive=true -output="${WORK}/${name}.bin" 2>"${WORK}/${name}.err" &
  LOAD_PID=$!
  sleep 2
  step "${desc}" update "${name}" "${tag}" "${LB_URL}"
  while (($(date +%s) < until)); do sleep 1; done
  sleep 2
  kill -INT "${LOAD_PID}" 2>/dev/null || true
  wait "${LOAD_PID}" 2>/dev/null || true
  LOAD_PID=""
}

# load_stats NAME - the requests of update_under_load NAME: total, non-2xx,
# socket errors, versions answered, p99 latency (JSON).
load_stats() {
  "${VEGETA}" encode --to json "${WORK}/$1.bin" | jq -s '{
      total: length,
      non2xx: (map(select(.code < 200 or .code > 299)) | length),
      errors: (map(select(.error != "")) | length),
      versions: (map(.body | @base64d | fromjson? | .version) | group_by(.) | map({(.[0] // "none"): length}) | add),
      p99_ms: (map(.latency) | sort | if length == 0 then 0 else .[((length - 1) * 0.99 | floor)] / 1e6 | round end)}'
}

test_update_v1_v2() {
  local host stats downs_before downs_after stopped_at down_for health
  for host in "${HOSTS[@]}"; do load_images "${host}" "${REPO}:v1" "${REPO}:v2" "${REPO}:v3" "${PROXY_IMAGE}"; done
  load_images api-1 "${REPO}:v4"
  step "update-api v1" update update-v1 v1
  expect_eq "update-api.yml v1 succeeds" 0 "${UPDATE_RC}"
  expect_hosts_serve "after v1" v1
  # Serving means /health saw the database: over TLS, verified, or not at all.
  expect_eq "the API's PostgreSQL sessions: none plain, some over TLS" "0 1" \
    "$("${DOCKER}" exec "${RUN_ID}-postgres" psql -U restomarket -d restomarket -tAc \
      "SELECT count(*) FILTER (WHERE NOT s.ssl), least(count(*) FILTER (WHERE s.ssl), 1) FROM pg_stat_ssl s
       JOIN pg_stat_activity a USING (pid) WHERE a.client_addr IS NOT NULL" | tr '|' ' ')"

  step "load balancer" start_load_balancer
  # Redis (Valkey on staging) is down for the whole roll, at least
  # REDIS_OUTAGE_SECONDS: the new containers start without it, the API serves
  # from the database, /health says redis disconnected, and readiness, which
  # the load balancer and the deploy gate use, stays 200: no host leaves
  # rotation, no request fails, the roll goes through.
  downs_before=$(lb_server_downs)
  "${DOCKER}" stop -t 1 "${RUN_ID}-redis" >/dev/null
  stopped_at=$(date +%s)
  wait_until 10 "/health through the load balancer reports redis down" \
    bash -c "curl -s --max-time 3 '${LB_URL}/health' | grep -q '\"redis\":\"disconnected\"'" || true
  health=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "${LB_URL}/health")
  update_under_load update-v2 "update-api v2 under load, Redis down" v2 "$((stopped_at + REDIS_OUTAGE_SECONDS))"
  "${DOCKER}" start "${RUN_ID}-redis" >/dev/null
  down_for=$(($(date +%s) - stopped_at))
  downs_after=$(lb_server_downs)
  expect_eq "update-api.yml v2 succeeds with Redis down (health per host and through the load balancer)" 0 "${UPDATE_RC}"
  expect_hosts_serve "after v2" v2
  # serial: 1 runs the deploy task once per host, each run under its own task header.
  expect_eq "the play deployed one host at a time (2 batches)" 2 \
    "$(grep -c 'TASK \[Deploy with the deploy engine' "${WORK}/update-v2.log")"
  stats=$(load_stats update-v2)
  log "rolling update v1 -> v2 under ${LOAD_RATE} req/s through the load balancer, Redis down ${down_for} s: $(jq -c . <<<"${stats}"), hosts taken out of rotation: before ${downs_before}, after ${downs_after}"
  expect_eq "rolling update under load: 0 non-2xx of $(jq .total <<<"${stats}") requests" 0 "$(jq .non2xx <<<"${stats}")"
  expect_eq "rolling update under load: 0 socket errors" 0 "$(jq .errors <<<"${stats}")"
  expect_match "rolling update under load: both versions answered during the roll" '"v1":[0-9]+.*"v2":[0-9]+' "$(jq -c .versions <<<"${stats}")"
  expect_eq "Redis down: /health answers 503 through the load balancer" 503 "${health}"
  expect_eq "Redis down: the load balancer kept both hosts in rotation" "${downs_before}" "${downs_after}"
  check "Redis back: /health through the load balancer turns 200" \
    wait_until 30 "/health 200" curl -fsS --max-time 3 "${LB_URL}/health"
}

test_broken_release() {
  step "update-api v3 (broken)" update update-v3 v3
  expect_eq "update-api.yml with a broken v3 fails" 2 "${UPDATE_RC}"
  expect_match "the summary names host 1 and says host 2 was not attempted" \
    'Release v3 failed on api-1.*Not attempted: api-2' "$(tr '\n' ' ' <<<"$(cat "${WORK}/update-v3.log")")"
  expect_hosts_serve "after the broken v3" v2
  check_fails "api-2 never tried v3 (not in its ledger)" on api-2 "sudo grep -q '\"v3\"' /var/lib/restomarket/${DEPLOY_ENV}/releases.jsonl"
}

test_fails_on_second_host() {
  step "update-api v4 (only api-1 has the image)" update update-v4 v4
  expect_eq "update-api.yml fails when host 2 fails" 2 "${UPDATE_RC}"
  expect_match "the summary names host 2 and the rollback of host 1" \
    'Release v4 failed on api-2.*Rolled back to their previous release: api-1 \(ok\)' "$(tr '\n' ' ' <<<"$(cat "${WORK}/update-v4.log")")"
  expect_hosts_serve "after v4 failed on api-2" v2
  expect_eq "api-1's ledger, newest first: rollback to v2, then v4" "v2 v4" \
    "$(gate api-1 "rollback --env ${DEPLOY_ENV} --list" 2>/dev/null |
      awk 'NR > 1 {print $3}' | head -n 2 | tr '\n' ' ' | sed 's/ $//')"
}

# lb_server_downs - how often the test load balancer took a host out of
# rotation so far (show stat: chkdown of each server), "api-1=N api-2=N".
lb_server_downs() {
  # shellcheck disable=SC2016 # expanded by the bash inside the container
  "${DOCKER}" exec "${RUN_ID}-lb" bash -c 'exec 3<>/dev/tcp/127.0.0.1/9999 && echo "show stat" >&3 && cat <&3' |
    awk -F, '$1 == "api" && $2 != "BACKEND" && $2 != "FRONTEND" {printf "%s%s=%s", sep, $2, $23; sep = " "}'
}

# lb_retries - requests the test load balancer retried or sent to another host
# because a connection to a host failed (show stat: wretr + wredis of backend api).
lb_retries() {
  # shellcheck disable=SC2016 # expanded by the bash inside the container
  "${DOCKER}" exec "${RUN_ID}-lb" bash -c 'exec 3<>/dev/tcp/127.0.0.1/9999 && echo "show stat" >&3 && cat <&3' |
    awk -F, '$1 == "api" && $2 == "BACKEND" {print $16 + $17}'
}

# Both hosts' proxies must be replaced (a new memory limit, as a changed image or
# bind address would): update-api.yml of the live release under load through the
# load balancer. Each deploy.sh first takes its host out of the balancer
# (PROXY_HANDOVER_WAIT = lb_drain_seconds), then swaps the proxy.
test_proxy_handover_behind_lb() {
  local host stats retries_before retries_after
  for host in "${HOSTS[@]}"; do
    on "${host}" "echo PROXY_MEMORY=200m | sudo tee -a /etc/restomarket/${DEPLOY_ENV}.env >/dev/null"
  done
  retries_before=$(lb_retries)
  update_under_load update-handover "update-api v2 (live) with new proxy settings, under load" v2
  retries_after=$(lb_retries)
  expect_eq "proxy handover: update-api.yml succeeds" 0 "${UPDATE_RC}"
  for host in "${HOSTS[@]}"; do
    expect_eq "${host}: the proxy was replaced with the new settings (memory limit 200m)" 209715200 \
      "$(on "${host}" "sudo docker inspect -f '{{.HostConfig.Memory}}' restomarket-${DEPLOY_ENV}-proxy")"
    expect_eq "${host}: no retiring proxy is left" "" \
      "$(on "${host}" "sudo docker ps -aq --filter name=restomarket-${DEPLOY_ENV}-proxy-retiring")"
  done
  expect_hosts_serve "after the proxy handover" v2
  stats=$(load_stats update-handover)
  log "proxy handover on both hosts under ${LOAD_RATE} req/s through the load balancer: $(jq -c . <<<"${stats}"), load balancer retries $((retries_after - retries_before))"
  expect_eq "proxy handover under load: 0 non-2xx of $(jq .total <<<"${stats}") requests" 0 "$(jq .non2xx <<<"${stats}")"
  expect_eq "proxy handover under load: 0 socket errors" 0 "$(jq .errors <<<"${stats}")"
  expect_eq "proxy handover under load: the load balancer never retried (no host refused a connection)" 0 \
    "$((retries_after - retries_before))"
}

test_failed_check_after_deploy() {
  # Nothing listens on port 9 of loopback: the load balancer check fails
  # after deploy.sh switched api-1, so api-1 itself goes back as well.
  step "update-api v4 with an unreachable load balancer" update update-lb v4 http://127.0.0.1:9
  expect_eq "update-api.yml fails when the load balancer check fails" 2 "${UPDATE_RC}"
  expect_match "the summary says api-1 deployed, failed a check and was rolled back" \
    'Release v4 failed on api-1.*api-1: deployed, then failed a check.*Rolled back to their previous release: api-1 \(ok\).*Not attempted: api-2' \
    "$(tr '\n' ' ' <"${WORK}/update-lb.log")"
  expect_hosts_serve "after the failed load balancer check" v2
}

# api-2 stops answering (docker pause) right after api-1 took v1 (from v2):
# update-api.yml must still return api-1 to the previous release and say that
# api-2 was unreachable (a rescue does not run for unreachable hosts by default).
test_unreachable_mid_roll() {
  local watcher started paused_at
  started=$(date +%s)
  (
    until [[ "$(host_version api-1)" == v1 ]]; do sleep 0.5; done
    "${DOCKER}" pause "${RUN_ID}-api-2" >/dev/null
    date +%s >"${WORK}/paused-at"
  ) &
  watcher=$!
  step "update-api v1 while api-2 stops answering" update update-unreachable v1
  kill "${watcher}" 2>/dev/null || true
  wait "${watcher}" 2>/dev/null || true
  paused_at=$(cat "${WORK}/paused-at" 2>/dev/null || echo 0)
  "${DOCKER}" unpause "${RUN_ID}-api-2" >/dev/null 2>&1 || true
  expect_match "api-2 was paused after api-1 took v1" '^[1-9]' "${paused_at}"
  expect_match "update-api.yml fails when a host becomes unreachable (exit ${UPDATE_RC})" "^[24]$" "${UPDATE_RC}"
  expect_match "the summary names api-2 unreachable and api-1 rolled back" \
    'Release v1 failed on api-2.*api-2: UNREACHABLE.*Rolled back to their previous release: api-1 \(ok\)' \
    "$(tr '\n' ' ' <"${WORK}/update-unreachable.log")"
  log "unreachable host mid-roll: api-2 paused $((paused_at - started)) s into the run, play ended after $(($(date +%s) - started)) s"
  expect_eq "api-1 is back on the previous release" v2 "$(host_version api-1)"
  wait_until 30 "api-2 answers again" on api-2 true || true
  expect_eq "api-2, once it answers again, still serves the previous release" v2 "$(host_version api-2)"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    --keep) KEEP=1 ;;
    "") ;;
    *) usage >&2; die "unknown argument '$1'" "see --help" 2 ;;
  esac
  [[ ${EUID} -eq 0 ]] || die "test-hosts.sh needs root (Docker, test hosts)" "run it as root (make ansible-check)"
  trap cleanup EXIT
  setup
  if test_setup_converges; then
    test_ssh_hardening
    test_accounts
    test_engine_unit
    test_secrets
    test_firewall
    test_updates_and_timer
    test_update_v1_v2
    test_broken_release
    test_fails_on_second_host
    test_proxy_handover_behind_lb
    test_failed_check_after_deploy
    test_unreachable_mid_roll
    # The CI runner's playbook, on a host of this suite (one set of test hosts).
    test_ci_runner api-1
  fi
  summary
}

main "$@"
