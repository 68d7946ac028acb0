#!/usr/bin/env bash
# The staging rehearsal (make staging-rehearsal): staging's topology in a box
# and the pipeline's own steps run on it, under HTTPS load.
#   Topology: two droplet-like Debian 12 hosts (containers with systemd, sshd
#   and their own Docker engine; see tests/host/Dockerfile) with a public
#   (admin) and a VPC network; PostgreSQL beside them as the managed database
#   and Redis as the managed Valkey (both TLS only, verified against their
#   CAs); a container registry (CNCF distribution, TLS and credentials) in
#   place of GHCR; a TLS load balancer (HAProxy) configured from Terraform's
#   plan of environments/staging: its forwarding rules (443 -> 3001, 80
#   redirected to 443), health check path, port, interval, timeout and
#   thresholds, idle timeout, so the stand-in cannot drift from the module.
#   setup-api.yml  first run as root, second run as deploy (changed=0),
#                  --check --diff (changed=0), then the hosts are inspected:
#                  sshd -T, root and password logins refused, deploy runs
#                  Docker, secret files 0600, ufw rules and their effect,
#                  unattended upgrades, the cleanup timer.
#   The pipeline   docker-build's push step (tags, push, digest) and
#                  deploy-staging's steps, run from .github/workflows/ci-cd.yml
#                  itself: record the live release, make ansible-update by
#                  digest over the VPC addresses, smoke tests, and the
#                  rollback step (make ansible-rollback) with its check.
#   Scenarios under HTTPS load through the load balancer (keep-alive, no
#   retries, the client trusts the stand-in's CA): v1, then v2 with Redis down
#   for the whole roll (0 errors; readiness keeps both hosts in the balancer
#   while /health says 503), rollback to v1 by its commit tag, a broken v3
#   (fails on host 1, both keep v1), a v4 the registry does not have, which
#   only host 1 holds (host 1 returns to v1), both proxies handed over behind
#   the load balancer, v4 with a load balancer that does not answer (host 1
#   returns), a host that stops answering mid-roll (host 1 returns), and a
#   host lost for good (the failed requests and their window are reported).
#   A report table (requests, non-2xx, socket errors, p50/p99, wall time,
#   versions served in order) per scenario is printed at the end and written
#   to .run/staging-rehearsal/report.md.
#   The security audit's probes (lib/audit-checks.sh) run once the hosts serve
#   v1 behind the load balancer: the reachability matrix, ssh-audit, TLS, the
#   public port's answers, API abuse; each is a case here and a finding in
#   AUDIT_RESULTS. --audit runs only the hosts, the first deploy and those.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../tools/lib/common.sh
source "${HERE}/../../tools/lib/common.sh"
# shellcheck source=../../tools/lib/testing.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/testing.sh"
# shellcheck source=../../tools/lib/services.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/services.sh"
# shellcheck source=lib/ci-runner-checks.sh
source "${HERE}/lib/ci-runner-checks.sh"
# shellcheck source=../../tools/lib/audit.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/audit.sh"
# shellcheck source=lib/audit-checks.sh
source "${HERE}/lib/audit-checks.sh"
export RM_LOG_TAG="staging-rehearsal"

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
# PostgreSQL's and Redis's fixed addresses: their certificates name them, the API verifies them.
PG_IP="${SUBNET_PREFIX}.250"
REDIS_IP="${SUBNET_PREFIX}.251"
DEPLOY_ENV=staging
LOAD_RATE=50
# The path the load balancer checks and the deploy engine gates on (readiness),
# as the inventory's group_vars set it for every host.
HEALTH_PATH=$(sed -n 's/^restomarket_health_path: *//p' "${RM_REPO_ROOT}/infrastructure/ansible/inventory/group_vars/all/main.yml")
# Seconds Redis stays down in the outage scenario.
REDIS_OUTAGE_SECONDS=30
# The load balancer's fixed address: its certificate names it.
LB_IP="${VPC_PREFIX}.240"
LB_URL="https://${LB_IP}"
# The registry's user (the droplets' read-only login, in the vault).
REGISTRY_USER=restomarket-pull
REPORT_DIR="${RM_REPO_ROOT}/.run/staging-rehearsal"
WORKFLOW="${RM_REPO_ROOT}/.github/workflows/ci-cd.yml"
CLEANUP_WORKFLOW="${RM_REPO_ROOT}/.github/workflows/image-cleanup.yml"
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0

declare -A IP=() PRIVATE_IP=()
# Releases v1..v4 and their tags, commits as the pipeline tags them (TAG_OF),
# and back (NAME_OF); the registry's digests (DIGEST_OF).
declare -A TAG_OF=() NAME_OF=() DIGEST_OF=() COMMIT_OF=()
# The report's rows, one per scenario.
declare -a REPORT=()
WORK=""
LOAD_PID=""
REG_REPO=""
LB_PLAN=""
LB_DRAIN=""

usage() {
  cat <<USAGE
Usage: $(basename "$0") [--audit] [--keep]

The staging rehearsal: builds staging's topology on this machine (two Debian 12
hosts over SSH, a TLS load balancer as Terraform plans it, a registry,
PostgreSQL over TLS, Redis), converges setup-api.yml, runs the pipeline's
push, deploy, smoke and rollback steps from .github/workflows/ci-cd.yml and
the failure scenarios under HTTPS load (see the header of this script).
Prints a report table and writes it to ${REPORT_DIR#"${RM_REPO_ROOT}"/}/report.md.
Needs root and about 15 minutes.

  --audit  only the security audit's probes of the running system (make audit):
           hosts, setup-api.yml, the first deploy, the probes; findings as JSON
           lines in \${AUDIT_RESULTS:-.run/audit/results.jsonl}. About 6 minutes.
  --keep   leave the hosts, databases and work directory in place for debugging
USAGE
}

cleanup() {
  local rc=$?
  [[ -n "${LOAD_PID}" ]] && kill -INT "${LOAD_PID}" 2>/dev/null
  registry_stop
  stub_stop
  [[ -z "${REGISTRY_ADDR}" ]] || rm -rf "/etc/docker/certs.d/${REGISTRY_ADDR}"
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
  local -a images=()
  mapfile -t images < <("${DOCKER}" images --format '{{.Repository}}:{{.Tag}}' |
    grep -E "^(${REPO:-none}|${REG_REPO:-none}):" | grep -F -e "${TAG_OF[v1]:-none}" -e "${TAG_OF[v2]:-none}" \
      -e "${TAG_OF[v3]:-none}" -e "${TAG_OF[v4]:-none}" || true)
  ((${#images[@]} == 0)) || "${DOCKER}" rmi "${images[@]}" >/dev/null 2>&1 || true
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

# build_variant NAME CMD_JSON - release NAME (REPO:its tag) from v1, reporting its tag, run with CMD_JSON.
build_variant() {
  api_image_variant "${REPO}:${TAG_OF[$1]}" "${REPO}:${TAG_OF[v1]}" "${TAG_OF[$1]}" "$2" "${WORK}/build-$1" "${RUN_ID}"
}

# name_releases - tags of v1..v4 (and n1..n5, newer builds for the registry's
# retention) as the pipeline tags a build: the commit's first 12 hex digits
# (v1: this checkout's; the others: made-up commits after it); COMMIT_OF the
# whole commit.
name_releases() {
  local head name commit
  head=$(git -C "${RM_REPO_ROOT}" rev-parse HEAD 2>/dev/null) || head=$(date +%s%N | sha1sum | cut -c1-40)
  for name in v1 v2 v3 v4 n1 n2 n3 n4 n5; do
    commit=${head}
    [[ "${name}" == v1 ]] || commit=$(printf '%s-%s' "${head}" "${name}" | sha1sum | cut -c1-40)
    COMMIT_OF[${name}]=${commit}
    TAG_OF[${name}]=${commit:0:12}
    NAME_OF[${commit:0:12}]=${name}
  done
}

# lb_plan - the load balancer Terraform plans for DEPLOY_ENV (check.sh --plan):
# LB_PLAN (the digitalocean_loadbalancer's planned values, JSON) and LB_DRAIN
# (the output lb_drain_seconds, which the inventory carries to the engine).
lb_plan() {
  "${RM_REPO_ROOT}/infrastructure/terraform/scripts/check.sh" --plan "${DEPLOY_ENV}" >"${WORK}/plan.json" 2>"${WORK}/plan.log" ||
    { tail -n 20 "${WORK}/plan.log" >&2; return 1; }
  LB_PLAN=$(jq -c '[.planned_values | .. | objects | select(.type? == "digitalocean_loadbalancer") | .values] | first // empty' "${WORK}/plan.json")
  LB_DRAIN=$(jq -r '.planned_values.outputs.lb_drain_seconds.value // empty' "${WORK}/plan.json")
  [[ -n "${LB_PLAN}" && "${LB_DRAIN}" =~ ^[0-9]+$ ]] ||
    die "the plan of environments/${DEPLOY_ENV} has no load balancer or no lb_drain_seconds" "see ${WORK}/plan.json"
  log "load balancer as planned: $(jq -c '{forwarding_rule: [.forwarding_rule[] | {entry_protocol, entry_port, target_port}], healthcheck: .healthcheck[0], redirect_http_to_https, http_idle_timeout_seconds}' <<<"${LB_PLAN}"), drain ${LB_DRAIN} s"
}

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
  name_releases
  lb_plan
}

build_images() {
  DOCKER_BUILDKIT=1 "${DOCKER}" build -q --build-arg BASE_IMAGE="${RUNTIME_BASE_IMAGE}" \
    -t "${HOST_IMAGE}" "${HERE}/host" >/dev/null
  env IMAGE_REPO="${REPO}" "${TOOLS}/build-image.sh" "${TAG_OF[v1]}" >"${WORK}/build-v1.log" 2>&1 ||
    { tail -n 30 "${WORK}/build-v1.log" >&2; return 1; }
  build_variant v2 '[]'
  # v3: the database points nowhere, readiness answers 503 forever (Flyway off
  # in it, or its start-up would end at the migrations); v4: a good release.
  build_variant v3 '["--DATABASE_URL=jdbc:postgresql://127.0.0.1:1/restomarket", "--spring.flyway.enabled=false"]'
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
  # The stand-ins get their passwords as files, out of `docker inspect`.
  local pg_opts=() redis_opts=()
  mkdir -p "${WORK}/db-secrets"
  (umask 077 && printf '%s' "${DB_PASSWORD}" >"${WORK}/db-secrets/postgres" &&
    printf '%s' "${REDIS_PASSWORD}" >"${WORK}/db-secrets/redis")
  postgres_password_opts pg_opts "${WORK}/db-secrets/postgres"
  redis_password_opts redis_opts "${WORK}/db-secrets/redis"
  "${DOCKER}" run -d --name "${RUN_ID}-postgres" --network "${RUN_ID}" --ip "${PG_IP}" \
    --label "com.restomarket.test=${RUN_ID}" -v "${WORK}/pg-tls:/tls:ro" \
    -e POSTGRES_USER=restomarket -e POSTGRES_DB=restomarket "${pg_opts[@]}" \
    "${POSTGRES_IMAGE}" postgres -c ssl=on -c ssl_cert_file=/tls/server.crt -c ssl_key_file=/tls/server.key \
    -c hba_file=/tls/pg_hba.conf >/dev/null
  # Valkey on DigitalOcean speaks TLS only; the API verifies the stand-in
  # against its CA (REDIS_CA_CERT), whose certificate names REDIS_IP.
  tls_pair "${WORK}/redis-tls" redis "${REDIS_IP}"
  chmod -R a+rX "${WORK}/redis-tls"
  "${DOCKER}" run -d --name "${RUN_ID}-redis" --network "${RUN_ID}" --ip "${REDIS_IP}" \
    --label "com.restomarket.test=${RUN_ID}" -v "${WORK}/redis-tls:/tls:ro" "${redis_opts[@]}" \
    "${REDIS_IMAGE}" "${REDIS_SERVER[@]}" --port 0 --tls-port 6379 \
    --tls-cert-file /tls/redis.pem --tls-key-file /tls/redis.key --tls-ca-cert-file /tls/ca.pem \
    --tls-auth-clients no >/dev/null
  wait_until 60 postgres "${DOCKER}" exec "${RUN_ID}-postgres" pg_isready -U restomarket -h 127.0.0.1
  wait_until 30 "redis over TLS" redis_tls PING
}

start_hosts() {
  local host
  for host in "${HOSTS[@]}"; do
    # The capabilities Docker-in-Docker needs on a build machine like this one
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
# What Terraform's plan says the load balancer needs to take a failing host
# out of rotation (its output lb_drain_seconds), as ansible-inventory.sh copies it.
lb_drain_seconds: ${LB_DRAIN}
# One test key for both accounts (deploy's copy is bound to the gate).
restomarket_admin_ssh_keys: ["$(cat "${WORK}/id_ed25519.pub")"]
restomarket_deploy_ssh_keys: ["$(cat "${WORK}/id_ed25519.pub")"]
ansible_ssh_private_key_file: ${WORK}/id_ed25519
ansible_ssh_common_args: -o UserKnownHostsFile=${WORK}/known_hosts
# Short post-switch watches keep the suite quick (droplets: 60 s, then 10 s).
update_api_watch_seconds: 5
update_api_watch_rest_seconds: 2
# So does a shorter warm-up than the engine's default (deploy.sh): it still
# runs on every deploy; its latency effect is make bench-deploy's to measure.
deploy_engine_env_extra:
  WARMUP_ROUNDS: 10
  # The registry stand-in in place of ghcr.io.
  IMAGE_REPO: ${REG_REPO}
deploy_engine_registry: ${REGISTRY_ADDR}
# Not droplets: DigitalOcean's agent repository is out of reach.
monitoring_agent_enabled: false
postgres_host: ${PG_IP}
postgres_port: 5432
postgres_database: restomarket
postgres_user: restomarket
postgres_ca_certificate: |
$(sed 's/^/  /' "${WORK}/pg-tls/ca.crt")
valkey_host: ${REDIS_IP}
valkey_port: 6379
valkey_ssl: true
valkey_ca_certificate: |
$(sed 's/^/  /' "${WORK}/redis-tls/ca.pem")
# The air-gapped HAProxy image loaded on the hosts (images.env names the official one).
deploy_engine_proxy_image: ${PROXY_IMAGE}
EOF
  random_secret >"${WORK}/vault-password"
  cat >"${WORK}/vault.yml" <<EOF
---
vault_database_password: ${DB_PASSWORD}
vault_redis_password: ${REDIS_PASSWORD}
vault_api_write_token: ${WRITE_TOKEN}
vault_registry_username: ${REGISTRY_USER}
vault_registry_password: $(cat "${REGISTRY_PASSWORD_FILE}")
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

# tls_pair DIR NAME IP - a CA (DIR/ca.pem) and a server certificate for IP
# (DIR/NAME.pem, key DIR/NAME.key), made for this run.
tls_pair() {
  local dir="$1" name="$2" ip="$3"
  mkdir -p "${dir}"
  (
    cd "${dir}"
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=restomarket rehearsal ${name} CA" -keyout ca.key -out ca.pem
    openssl req -newkey rsa:2048 -nodes -subj "/CN=${ip}" -keyout "${name}.key" -out "${name}.csr"
    openssl x509 -req -in "${name}.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -out "${name}.pem" \
      -extfile <(printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "${ip}")
  ) >"${dir}/openssl.log" 2>&1 || { cat "${dir}/openssl.log" >&2; return 1; }
}

# lb_value JQ - a value of the planned load balancer.
lb_value() { jq -r "$1" <<<"${LB_PLAN}"; }

# lb_tls_policy - the bind options of the planned tls_cipher_policy: STRONG
# is TLS 1.2+ with forward-secret AEAD suites (Mozilla's intermediate
# configuration; DigitalOcean publishes no exact list); DEFAULT, HAProxy's own.
lb_tls_policy() {
  case "$(lb_value '.tls_cipher_policy // "DEFAULT"')" in
    STRONG) printf ' ssl-min-ver TLSv1.2 curves X25519:P-256:P-384 ciphers %s' \
      ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305 ;;
    DEFAULT) ;;
    *) die "the plan's tls_cipher_policy is $(lb_value .tls_cipher_policy); the stand-in knows STRONG and DEFAULT" "extend lb_tls_policy" ;;
  esac
}

# write_lb_config - haproxy.cfg of the load balancer stand-in from the plan:
# a frontend per forwarding rule (TLS terminated on https entries; http entries
# redirected to https when redirect_http_to_https), the rule's target port on
# every API host's VPC address, the planned health check (protocol, port,
# path, interval, response timeout, unhealthy and healthy thresholds), the
# idle timeout on both sides and backend keep-alive as planned. No retries and
# no redispatch: nothing in DigitalOcean's settings asks for them, so a request
# sent to a dead droplet fails here as it may there.
write_lb_config() {
  local rule entry_protocol entry_port target_protocol target_port host
  local interval timeout fall rise path port protocol idle
  interval=$(lb_value '.healthcheck[0].check_interval_seconds')
  timeout=$(lb_value '.healthcheck[0].response_timeout_seconds')
  fall=$(lb_value '.healthcheck[0].unhealthy_threshold')
  rise=$(lb_value '.healthcheck[0].healthy_threshold')
  path=$(lb_value '.healthcheck[0].path')
  port=$(lb_value '.healthcheck[0].port')
  protocol=$(lb_value '.healthcheck[0].protocol')
  idle=$(lb_value '.http_idle_timeout_seconds')
  [[ "${protocol}" == http ]] || die "the planned health check speaks ${protocol}; the stand-in knows http" "extend write_lb_config"
  [[ "$(lb_value '[.forwarding_rule[].target_port] | unique | length')" == 1 ]] ||
    die "the plan forwards to more than one target port; the stand-in knows one" "extend write_lb_config"
  printf 'global\n    maxconn 2048\n    stats socket ipv4@127.0.0.1:9999 level operator\n'
  printf 'defaults\n    mode http\n    retries 0\n    timeout connect %ss\n    timeout server 60s\n' "${timeout}"
  printf '    timeout client %ss\n    timeout http-keep-alive %ss\n' "${idle}" "${idle}"
  while read -r rule; do
    read -r entry_protocol entry_port target_protocol target_port < <(jq -r '"\(.entry_protocol) \(.entry_port) \(.target_protocol) \(.target_port)"' <<<"${rule}")
    [[ "${target_protocol}" == http ]] || die "a planned rule targets ${target_protocol}; the stand-in knows http" "extend write_lb_config"
    printf 'frontend %s_%s\n' "${entry_protocol}" "${entry_port}"
    case "${entry_protocol}" in
      # As DigitalOcean's: the client's address appended to X-Forwarded-For, the scheme in X-Forwarded-Proto.
      https) printf '    bind :%s ssl crt /usr/local/etc/haproxy/lb.pem%s\n    option forwardfor\n    http-request set-header X-Forwarded-Proto https\n    default_backend api\n' \
        "${entry_port}" "$(lb_tls_policy)" ;;
      http)
        printf '    bind :%s\n' "${entry_port}"
        if [[ "$(lb_value .redirect_http_to_https)" == true ]]; then
          printf '    http-request redirect scheme https code 301\n'
        else
          printf '    default_backend api\n'
        fi
        ;;
      *) die "a planned rule enters on ${entry_protocol}; the stand-in knows http and https" "extend write_lb_config" ;;
    esac
  done < <(lb_value '.forwarding_rule[] | @json')
  printf 'backend api\n    option httpchk GET %s\n    http-check expect rstatus ^2\n    timeout check %ss\n' "${path}" "${timeout}"
  [[ "$(lb_value .enable_backend_keepalive)" == true ]] || printf '    option http-server-close\n'
  printf '    default-server check port %s inter %ss fall %s rise %s\n' "${port}" "${interval}" "${fall}" "${rise}"
  target_port=$(lb_value '.forwarding_rule[0].target_port')
  for host in "${HOSTS[@]}"; do
    printf '    server %s %s:%s\n' "${host}" "${PRIVATE_IP[${host}]}" "${target_port}"
  done
}

start_load_balancer() {
  tls_pair "${WORK}/lb" lb "${LB_IP}"
  cat "${WORK}/lb/lb.pem" "${WORK}/lb/lb.key" >"${WORK}/lb/lb.bundle"
  mv "${WORK}/lb/lb.bundle" "${WORK}/lb/lb.pem"
  write_lb_config >"${WORK}/lb/haproxy.cfg"
  chmod -R a+rX "${WORK}/lb"
  "${DOCKER}" run -d --name "${RUN_ID}-lb" --network "${VPC_NETWORK}" --ip "${LB_IP}" \
    --label "com.restomarket.test=${RUN_ID}" -v "${WORK}/lb:/usr/local/etc/haproxy:ro" "${PROXY_IMAGE}" >/dev/null
  # What the runner's tools trust: the system's CAs and the stand-ins' (a
  # real load balancer and ghcr.io have publicly trusted certificates).
  cat /etc/ssl/certs/ca-certificates.crt "${WORK}/lb/ca.pem" "${REGISTRY_CA}" >"${WORK}/ca-bundle.pem"
  wait_until 30 "load balancer" curl -s -o /dev/null --cacert "${WORK}/lb/ca.pem" "${LB_URL}/"
}

# start_registry - the registry in place of GHCR, on this machine's public
# address (the hosts reach it as droplets reach ghcr.io), TLS and a password;
# this machine's engine trusts its CA for the pushes.
start_registry() {
  registry_start "${WORK}/registry" "${SUBNET_PREFIX}.1" "${REGISTRY_USER}"
  REG_REPO="${REGISTRY_ADDR}/restomarket/restomarket/api"
  mkdir -p "/etc/docker/certs.d/${REGISTRY_ADDR}"
  cp "${REGISTRY_CA}" "/etc/docker/certs.d/${REGISTRY_ADDR}/ca.crt"
  mkdir -p "${WORK}/docker-config"
  DOCKER_CONFIG="${WORK}/docker-config" "${DOCKER}" login "${REGISTRY_ADDR}" -u "${REGISTRY_USER}" --password-stdin \
    <"${REGISTRY_PASSWORD_FILE}" >/dev/null 2>&1
}

# trust_registry - the hosts' engines trust the registry's CA (ghcr.io's
# certificate is public; this one is not), put there as root before setup-api.yml.
trust_registry() {
  local host
  for host in "${HOSTS[@]}"; do
    as_user root "${host}" "mkdir -p /etc/docker/certs.d/${REGISTRY_ADDR} && cat >/etc/docker/certs.d/${REGISTRY_ADDR}/ca.crt" <"${REGISTRY_CA}"
  done
}

# workflow_step JOB NAME - the run script of the step NAME of JOB in ci-cd.yml
# (or in STEP_WORKFLOW).
workflow_step() {
  "${VENV}/bin/python" - "${STEP_WORKFLOW:-${WORKFLOW}}" "$1" "$2" <<'PY'
import sys
import yaml
path, job, name = sys.argv[1:]
steps = yaml.safe_load(open(path, encoding="utf-8"))["jobs"][job]["steps"]
runs = [s.get("run") for s in steps if s.get("name") == name and s.get("run")]
if len(runs) != 1:
    sys.exit(f"{path}: job {job} has no single step {name!r} with a run script")
print(runs[0])
PY
}

# run_step LOG JOB NAME [VAR=VALUE...] - run that step of the workflow as a
# runner does (bash -e -o pipefail, in the checkout) with the step's env;
# output in WORK/LOG.log, outputs in WORK/LOG.out (GITHUB_OUTPUT).
run_step() {
  local name="$1" job="$2" step_name="$3" script rc=0
  shift 3
  script=$(workflow_step "${job}" "${step_name}") || return 1
  : >"${WORK}/${name}.out"
  (cd "${RM_REPO_ROOT}" && env GITHUB_OUTPUT="${WORK}/${name}.out" DEPLOY_ACTOR=rehearsal \
    SSL_CERT_FILE="${WORK}/ca-bundle.pem" CURL_CA_BUNDLE="${WORK}/ca-bundle.pem" \
    ANSIBLE_VAULT_PASSWORD_FILE="${WORK}/vault-password" INVENTORY="${INVENTORY}" ANSIBLE_NOCOLOR=1 \
    "$@" bash --noprofile --norc -eo pipefail -c "${script}") >"${WORK}/${name}.log" 2>&1 || rc=$?
  grep -A3 'PLAY RECAP' "${WORK}/${name}.log" | sed 's/^/    /' >&2 || true
  if ((rc != 0)); then ansible_errors "${name}" >&2; fi
  return "${rc}"
}

# push_release NAME - docker-build's push step for release NAME: its tags (the
# commit, develop-commit) pushed to the registry; DIGEST_OF[NAME] from the
# step's output.
push_release() {
  local name="$1" tag="${TAG_OF[$1]}"
  "${DOCKER}" tag "${REPO}:${tag}" "${REG_REPO}:${tag}"
  "${DOCKER}" tag "${REPO}:${tag}" "${REG_REPO}:develop-${tag}"
  run_step "push-${name}" docker-build "Push the scanned image" DOCKER_CONFIG="${WORK}/docker-config" \
    IMAGE="${REG_REPO}" TAG="${tag}" || return 1
  DIGEST_OF[${name}]=$(sed -n 's/^digest=//p' "${WORK}/push-${name}.out")
  [[ "${DIGEST_OF[${name}]}" =~ ^sha256:[0-9a-f]{64}$ ]]
}

setup() {
  step tools prepare_tools
  step images build_images
  "${DOCKER}" network create --subnet "${SUBNET_PREFIX}.0/24" --label "com.restomarket.test=${RUN_ID}" "${RUN_ID}" >/dev/null
  "${DOCKER}" network create --subnet "${VPC_PREFIX}.0/24" --label "com.restomarket.test=${RUN_ID}" "${VPC_NETWORK}" >/dev/null
  step registry start_registry
  step databases start_databases
  step hosts start_hosts
  # The managed database's and cache's firewalls, as planned, on the stand-ins.
  step "database firewalls" database_firewalls
  trust_registry
  write_inventory
  log "hosts: $(for h in "${HOSTS[@]}"; do printf '%s=%s,%s ' "${h}" "${IP[${h}]}" "${PRIVATE_IP[${h}]}"; done)inventory ${INVENTORY}"
  local name
  for name in v1 v2 v3; do
    step "docker-build push ${name} (${TAG_OF[${name}]})" push_release "${name}" ||
      die "pushing ${name} to the registry failed" "$(tail -n 5 "${WORK}/push-${name}.log")"
  done
  log "registry ${REG_REPO}: $(for n in v1 v2 v3; do printf '%s=%s@%s ' "${n}" "${TAG_OF[${n}]}" "${DIGEST_OF[${n}]:7:12}"; done)"
  step "load balancer" start_load_balancer
}

# ---- setup-api.yml -----------------------------------------------------------------

# run_logged NAME COMMAND... - COMMAND with the test inventory's vault password
# and the runner's CA bundle; output in WORK/NAME.log, the play recap (and
# errors) shown; its exit code.
run_logged() {
  local name="$1" rc=0
  shift
  ANSIBLE_VAULT_PASSWORD_FILE="${WORK}/vault-password" SSL_CERT_FILE="${WORK}/ca-bundle.pem" \
    "$@" >"${WORK}/${name}.log" 2>&1 || rc=$?
  grep -A3 'PLAY RECAP' "${WORK}/${name}.log" | sed 's/^/    /' >&2 || true
  if ((rc != 0)); then ansible_errors "${name}" >&2; fi
  return "${rc}"
}

# run_ansible NAME ARGS... - ansible.sh ARGS, run and logged by run_logged NAME.
run_ansible() { run_logged "$1" "${ANSIBLE_SH}" "${@:2}"; }

# ansible_errors NAME - the first error lines of run_logged NAME's log (its
# last lines when none), cut to a readable length: a failure's own account.
ansible_errors() {
  local log="${WORK}/$1.log" errors
  errors=$(grep -E -A2 'fatal:|FAILED|ERROR|UNREACHABLE' "${log}" | head -n 12 | cut -c1-400) || true
  [[ -n "${errors}" ]] || errors=$(tail -n 8 "${log}" | cut -c1-400)
  printf '%s\n' "${errors}"
}

# converge NAME ARGS... - setup-api.yml on the test hosts.
converge() { run_ansible "$1" setup --inventory "${INVENTORY}" "${@:2}"; }

test_first_run() {
  if step "setup-api first run (root)" converge first --first-run; then
    pass "setup-api.yml converges fresh hosts (as root, over SSH)"
  else
    fail "setup-api.yml converges fresh hosts (as root, over SSH)" "$(ansible_errors first)"
    return 1
  fi
}

test_setup_converges() {
  local host
  test_first_run || return 1
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
      "PROXY_IMAGE=${PROXY_IMAGE}.*PROXY_BIND=${PRIVATE_IP[${host}]}.*PROXY_PORT=3001.*WARMUP_ROUNDS=10" \
      "$(on "${host}" "cat /etc/restomarket/${DEPLOY_ENV}.env" | tr '\n' ' ')"
  done
}

test_secrets() {
  local host dir="/etc/restomarket/${DEPLOY_ENV}"
  for host in "${HOSTS[@]}"; do
    expect_eq "${host}: secret files are 0600, owned by the container's account" \
      "600 restomarket ${dir}/secrets/API_WRITE_TOKEN 600 restomarket ${dir}/secrets/DATABASE_CA_CERT 600 restomarket ${dir}/secrets/DATABASE_PASSWORD 600 restomarket ${dir}/secrets/REDIS_CA_CERT 600 restomarket ${dir}/secrets/REDIS_PASSWORD" \
      "$(on "${host}" "sudo sh -c 'stat -c \"%a %U %n\" ${dir}/secrets/*' | sort | tr '\n' ' ' | sed 's/ \$//'")"
    expect_eq "${host}: the secret is the vault's value" "${DB_PASSWORD}" "$(on "${host}" "sudo cat ${dir}/secrets/DATABASE_PASSWORD")"
    expect_eq "${host}: the write token is the vault's value" "${WRITE_TOKEN}" "$(on "${host}" "sudo cat ${dir}/secrets/API_WRITE_TOKEN")"
    expect_eq "${host}: the database CA is the cluster's" "$(cat "${WORK}/pg-tls/ca.crt")" \
      "$(on "${host}" "sudo cat ${dir}/secrets/DATABASE_CA_CERT")"
    expect_eq "${host}: the cache's CA is the stand-in's (REDIS_CA_CERT)" "$(cat "${WORK}/redis-tls/ca.pem")" \
      "$(on "${host}" "sudo cat ${dir}/secrets/REDIS_CA_CERT")"
    expect_match "${host}: the API talks TLS to the cache" '^REDIS_SSL=true$' "$(on "${host}" "sudo grep '^REDIS_SSL=' ${dir}/api.env")"
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

# ---- the pipeline and the scenarios -------------------------------------------------

# update NAME RELEASE [LB_URL] - make ansible-update (update-api.yml) of
# RELEASE (v1..v4) on the test hosts, over their VPC addresses as the deploy
# job does from the CI runner; sets UPDATE_RC.
update() {
  UPDATE_RC=0
  run_logged "$1" make -C "${RM_REPO_ROOT}" --no-print-directory ansible-update INVENTORY="${INVENTORY}" VIA=vpc \
    TAG="${TAG_OF[$2]}" ${3:+LB_URL="$3"} || UPDATE_RC=$?
}

# expect_hosts_serve DESC RELEASE - every host's proxy serves RELEASE (v1..v4).
expect_hosts_serve() {
  local desc="$1" want="$2" host
  for host in "${HOSTS[@]}"; do
    expect_eq "${desc}: ${host} serves ${want}" "${TAG_OF[${want}]}" "$(host_version "${host}")"
  done
}

# jq's secs, for the load helpers' programs: the seconds of the day (UTC) of an
# RFC 3339 timestamp (vegeta writes UTC ones: load_start runs it with TZ=UTC).
JQ_SECS='def secs: capture("T(?<h>[0-9]+):(?<m>[0-9]+):(?<s>[0-9.]+)") | (.h | tonumber) * 3600 + (.m | tonumber) * 60 + (.s | tonumber);'

# load_start NAME - vegeta sends LOAD_RATE req/s of GET /version to the load
# balancer over HTTPS, trusting only the stand-in's CA: open loop, keep-alive,
# no retries, bounded to 10 minutes if nobody stops it; results in WORK/NAME.bin.
load_start() {
  printf 'GET %s/version\n' "${LB_URL}" >"${WORK}/targets"
  TZ=UTC "${VEGETA}" attack -targets="${WORK}/targets" -rate="${LOAD_RATE}/1s" -duration=600s -timeout=10s \
    -keepalive=true -root-certs="${WORK}/lb/ca.pem" -output="${WORK}/$1.bin" 2>"${WORK}/$1.err" &
  LOAD_PID=$!
  sleep 2
}

# load_stop [UNTIL] - stop the load (at the epoch second UNTIL at the earliest).
load_stop() {
  local until="${1:-0}"
  while (($(date +%s) < until)); do sleep 1; done
  sleep 2
  kill -INT "${LOAD_PID}" 2>/dev/null || true
  wait "${LOAD_PID}" 2>/dev/null || true
  LOAD_PID=""
}

# update_under_load NAME DESC RELEASE [UNTIL] - update NAME RELEASE (checked
# through the load balancer) under load_start NAME, until UNTIL at least.
update_under_load() {
  local name="$1" desc="$2" release="$3" until="${4:-0}" started
  load_start "${name}"
  started=$(date +%s)
  step "${desc}" update "${name}" "${release}" "${LB_URL}"
  WALL=$(($(date +%s) - started))
  load_stop "${until}"
}

# load_stats NAME - the requests of load_start NAME (JSON): total, non-2xx,
# socket errors, p50/p99 latency, versions answered (by release name, counts
# and in the order they first answered), and the first and last failure in
# seconds of the day (UTC; null without failures).
load_stats() {
  local names
  names=$(for t in "${!NAME_OF[@]}"; do printf '%s\t%s\n' "${t}" "${NAME_OF[${t}]}"; done |
    jq -Rn '[inputs | split("\t") | {(.[0]): .[1]}] | add')
  "${VEGETA}" encode --to json "${WORK}/$1.bin" | jq -s --argjson names "${names}" "${JQ_SECS}"'
    def pct($p): map(.latency) | sort | if length == 0 then 0 else .[((length - 1) * $p | floor)] / 1e6 | round end;
    sort_by(.timestamp)
    | map(. + {v: (((try (.body | @base64d | fromjson) catch null) | if type == "object" then .version else null end) as $t
      | if $t == null then "none" else ($names[$t] // $t) end)})
    | map(select(.code < 200 or .code > 299 or .error != "")) as $failed
    | {total: length,
       non2xx: (map(select(.code < 200 or .code > 299)) | length),
       errors: (map(select(.error != "")) | length),
       p50_ms: pct(0.5), p99_ms: pct(0.99),
       slow: (map(select(.latency > 1e9)) | length),
       versions: (map(select(.code >= 200 and .code <= 299) | .v) | group_by(.) | map({(.[0]): length}) | add // {}),
       order: (map(select(.code >= 200 and .code <= 299) | .v) | reduce .[] as $v ([]; if index([$v]) then . else . + [$v] end) | join(" > ")),
       first_failure: (if ($failed | length) > 0 then ($failed | first | .timestamp | secs) else null end),
       last_failure: (if ($failed | length) > 0 then ($failed | map((.timestamp | secs) + .latency / 1e9) | max) else null end)}'
}

# report SCENARIO NAME WALL - a row of the report from load_stats NAME (NAME
# "-": a scenario without load) and WALL, the wall time column's text (its
# seconds, or what the scenario measures instead).
report() {
  local scenario="$1" name="$2" wall="$3" stats
  if [[ "${name}" == - ]]; then
    REPORT+=("$(printf '| %s | - | - | - | - | - | %s | - |' "${scenario}" "${wall}")")
    return 0
  fi
  stats=$(load_stats "${name}")
  REPORT+=("$(jq -r --arg s "${scenario}" --arg w "${wall}" \
    '"| \($s) | \(.total) | \(.non2xx) | \(.errors) | \(.p50_ms) | \(.p99_ms) | \($w) | \(.order) |"' <<<"${stats}")")
}

write_report() {
  mkdir -p "${REPORT_DIR}"
  {
    printf '# Staging rehearsal, %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'Load: %s req/s of GET /version over HTTPS through the load balancer (keep-alive, no retries).\n' "${LOAD_RATE}"
    printf 'Releases: %s. Load balancer as planned: %s, drain %s s.\n\n' \
      "$(for n in v1 v2 v3 v4; do printf '%s=%s ' "${n}" "${TAG_OF[${n}]}"; done | sed 's/ $//')" \
      "$(lb_value '.healthcheck[0] | "check \(.path) every \(.check_interval_seconds) s, timeout \(.response_timeout_seconds) s, down after \(.unhealthy_threshold), up after \(.healthy_threshold)"')" "${LB_DRAIN}"
    printf '| scenario | requests | non-2xx | socket errors | p50 ms | p99 ms | wall s | versions served, in order |\n'
    printf '|---|---:|---:|---:|---:|---:|---:|---|\n'
    printf '%s\n' "${REPORT[@]}"
  } >"${REPORT_DIR}/report.md"
  cat "${REPORT_DIR}/report.md" >&2
}

# expect_clean_load DESC NAME - 0 non-2xx and 0 socket errors in load NAME.
expect_clean_load() {
  local stats
  stats=$(load_stats "$2")
  log "$1 under ${LOAD_RATE} req/s through the load balancer: $(jq -c 'del(.first_failure, .last_failure)' <<<"${stats}")"
  expect_eq "$1 under load: 0 non-2xx of $(jq .total <<<"${stats}") requests" 0 "$(jq .non2xx <<<"${stats}")"
  expect_eq "$1 under load: 0 socket errors" 0 "$(jq .errors <<<"${stats}")"
}

# redis_tls COMMAND... - a Redis command over TLS, verifying the server as the API does.
redis_tls() {
  "${DOCKER}" exec "${RUN_ID}-redis" redis-cli --tls --cacert /tls/ca.pem -h "${REDIS_IP}" -p 6379 \
    -a "${REDIS_PASSWORD}" --no-auth-warning "$@"
}

# ledger_last HOST FIELD - FIELD of HOST's newest release ledger entry.
ledger_last() { on "$1" "sudo tail -n 1 /var/lib/restomarket/${DEPLOY_ENV}/releases.jsonl" | jq -r ".$2 // empty"; }

# The first deploy, as the pipeline runs it: deploy-staging's steps from the
# workflow (record the live release: none yet; make ansible-update by digest;
# smoke tests through the load balancer), which no host was in before.
test_first_deploy() {
  local host started
  for host in "${HOSTS[@]}"; do load_images "${host}" "${PROXY_IMAGE}"; done
  # v4 is in no registry: only api-1 holds it (the release that fails on api-2).
  "${DOCKER}" tag "${REPO}:${TAG_OF[v4]}" "${REG_REPO}:${TAG_OF[v4]}"
  load_images api-1 "${REG_REPO}:${TAG_OF[v4]}"
  check "deploy-staging 'Record the live release' (nothing answers yet)" \
    run_step live-v1 deploy-staging "Record the live release" STAGING_URL="${LB_URL}"
  expect_eq "first deploy: no live release to return to" "tag=" "$(cat "${WORK}/live-v1.out")"
  started=$(date +%s)
  check "deploy-staging 'Roll the release across the droplets': v1 by digest (make ansible-update)" \
    step "pipeline deploy v1" run_step deploy-v1 deploy-staging "Roll the release across the droplets" \
    IMAGE_TAG="${TAG_OF[v1]}" IMAGE_DIGEST="${DIGEST_OF[v1]}" STAGING_URL="${LB_URL}"
  report "deploy v1 (first; by digest, pipeline steps)" - "$(($(date +%s) - started))"
  check "deploy-staging 'Health and smoke tests through the load balancer' for v1" \
    run_step smoke-v1 deploy-staging "Health and smoke tests through the load balancer" \
    IMAGE_TAG="${TAG_OF[v1]}" STAGING_URL="${LB_URL}"
  expect_hosts_serve "after v1" v1
  for host in "${HOSTS[@]}"; do
    expect_eq "${host}: the ledger records v1's registry digest (pulled and run by digest)" "${DIGEST_OF[v1]}" \
      "$(ledger_last "${host}" digest)"
  done
  expect_eq "the hosts pulled from the registry with the vault's login (deploy's docker config)" "${REGISTRY_ADDR}" \
    "$(on api-1 'sudo cat ~deploy/.docker/config.json' 2>/dev/null | jq -r '.auths | keys[]')"
  # The cache has no plain port: connected clients came over TLS, verified.
  expect_match "the hosts' APIs are connected to Redis, over TLS (it has no plain port)" '^[2-9]' \
    "$(redis_tls CLIENT LIST | grep -c 'cmd=')"
  check_fails "Redis refuses plain text (TLS only)" "${DOCKER}" exec "${RUN_ID}-redis" \
    redis-cli -h "${REDIS_IP}" -p 6379 -a "${REDIS_PASSWORD}" --no-auth-warning PING
  local stand_in
  for stand_in in "${RUN_ID}-postgres" "${RUN_ID}-redis"; do
    expect_secrets_hidden "${stand_in}: no password in docker inspect" "${stand_in}" "${DB_PASSWORD}" "${REDIS_PASSWORD}"
  done
  # Serving means /health saw the database: over TLS, verified, or not at all.
  expect_eq "the API's PostgreSQL sessions: none plain, some over TLS" "0 1" \
    "$("${DOCKER}" exec "${RUN_ID}-postgres" psql -U restomarket -d restomarket -tAc \
      "SELECT count(*) FILTER (WHERE NOT s.ssl), least(count(*) FILTER (WHERE s.ssl), 1) FROM pg_stat_ssl s
       JOIN pg_stat_activity a USING (pid) WHERE a.client_addr IS NOT NULL" | tr '|' ' ')"
}

# The load balancer stand-in is what the plan says: HTTPS with a certificate
# the client verifies, plain HTTP redirected to HTTPS, the planned health path.
test_load_balancer() {
  expect_eq "load balancer: HTTPS answers /readyz 200 with a verified certificate" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "${WORK}/lb/ca.pem" "${LB_URL}/readyz")"
  expect_match "load balancer: HTTP on 80 is redirected to HTTPS" "^30[1278] https://${LB_IP}/version$" \
    "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' --max-time 5 "http://${LB_IP}/version")"
  check_fails "load balancer: a client that does not trust the CA is refused" \
    curl -fsS -o /dev/null --max-time 5 "${LB_URL}/version"
  expect_match "load balancer: health checks of the planned path and settings" \
    "option httpchk GET ${HEALTH_PATH}.*inter $(lb_value '.healthcheck[0].check_interval_seconds')s fall $(lb_value '.healthcheck[0].unhealthy_threshold') rise $(lb_value '.healthcheck[0].healthy_threshold')" \
    "$(tr '\n' ' ' <"${WORK}/lb/haproxy.cfg")"
}

# v2 through the pipeline's steps under load, with Redis (Valkey on staging)
# down for the whole roll, at least REDIS_OUTAGE_SECONDS: the new containers
# start without it, the API serves from the database, /health says redis
# disconnected, and readiness, which the load balancer and the deploy gate
# use, stays 200: no host leaves rotation, no request fails, the roll goes
# through.
test_update_v2_redis_down() {
  local downs_before downs_after stopped_at down_for health started
  check "deploy-staging 'Record the live release': v1" \
    run_step live-v2 deploy-staging "Record the live release" STAGING_URL="${LB_URL}"
  expect_eq "the live release recorded for a rollback is v1" "tag=${TAG_OF[v1]}" "$(cat "${WORK}/live-v2.out")"
  downs_before=$(lb_server_downs)
  "${DOCKER}" stop -t 1 "${RUN_ID}-redis" >/dev/null
  stopped_at=$(date +%s)
  wait_until 10 "/health through the load balancer reports redis down" \
    bash -c "curl -s --max-time 3 --cacert '${WORK}/lb/ca.pem' '${LB_URL}/health' | grep -q '\"redis\":\"disconnected\"'" || true
  health=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 --cacert "${WORK}/lb/ca.pem" "${LB_URL}/health")
  load_start update-v2
  started=$(date +%s)
  UPDATE_RC=0
  step "pipeline deploy v2 under load, Redis down" run_step update-v2 deploy-staging "Roll the release across the droplets" \
    IMAGE_TAG="${TAG_OF[v2]}" IMAGE_DIGEST="${DIGEST_OF[v2]}" STAGING_URL="${LB_URL}" || UPDATE_RC=$?
  WALL=$(($(date +%s) - started))
  check "deploy-staging's smoke tests pass for v2 with Redis down (/health only warns)" \
    run_step smoke-v2 deploy-staging "Health and smoke tests through the load balancer" \
    IMAGE_TAG="${TAG_OF[v2]}" STAGING_URL="${LB_URL}"
  load_stop "$((stopped_at + REDIS_OUTAGE_SECONDS))"
  "${DOCKER}" start "${RUN_ID}-redis" >/dev/null
  database_firewalls
  down_for=$(($(date +%s) - stopped_at))
  downs_after=$(lb_server_downs)
  report "deploy v2, Redis down ${down_for} s" update-v2 "${WALL}"
  expect_eq "deploy of v2 by digest succeeds with Redis down (health per host and through the load balancer)" 0 "${UPDATE_RC}"
  expect_hosts_serve "after v2" v2
  # serial: 1 runs the deploy task once per host, each run under its own task header.
  expect_eq "the play deployed one host at a time (2 batches)" 2 \
    "$(grep -c 'TASK \[Deploy or roll back with the deploy engine' "${WORK}/update-v2.log")"
  expect_match "smoke tests warned about /health while Redis was down" 'WARN.*GET /health: 503' "$(cat "${WORK}/smoke-v2.log")"
  expect_clean_load "deploy v2 with Redis down" update-v2
  expect_match "deploy v2: both releases answered during the roll" '^v1 > v2$' "$(load_stats update-v2 | jq -r .order)"
  log "Redis down ${down_for} s; hosts taken out of rotation: before ${downs_before}, after ${downs_after}"
  expect_eq "Redis down: /health answers 503 through the load balancer" 503 "${health}"
  expect_eq "Redis down: the load balancer kept both hosts in rotation" "${downs_before}" "${downs_after}"
  check "Redis back: /health through the load balancer turns 200" \
    wait_until 30 "/health 200" curl -fsS --max-time 3 --cacert "${WORK}/lb/ca.pem" "${LB_URL}/health"
}

# seconds_of_day - now, in seconds since midnight UTC (with fractions), as load_stats counts.
seconds_of_day() { date -u +%H:%M:%S.%N | awk -F: '{printf "%.3f", $1 * 3600 + $2 * 60 + $3}'; }

# back_on NAME RELEASE SINCE - seconds from SINCE (seconds_of_day) until the
# last answer of load NAME that came from another release than RELEASE.
back_on() {
  "${VEGETA}" encode --to json "${WORK}/$1.bin" | jq -s --arg tag "${TAG_OF[$2]}" --argjson since "$3" "${JQ_SECS}"'
    [.[] | select((.body | @base64d | fromjson? | .version) as $v | $v != null and $v != $tag)
         | (.timestamp | secs) + .latency / 1e9]
    | (max // $since) - $since | . * 10 | round / 10'
}

# Plan Task 34: the staging rollback to v1 by its commit tag, the workflow's
# rollback step (make ansible-rollback) and its check, under load. Its time
# is the users': until the load balancer served v1 only (target 45 s); the
# play, which then drains and stops the old slots, must end within the
# plan's 2 minutes.
test_rollback_to_v1() {
  local started rc=0 wall since back
  load_start rollback-v1
  since=$(seconds_of_day)
  started=$(date +%s)
  step "pipeline rollback to v1 under load" run_step rollback-v1 deploy-staging "Roll back on failure or cancellation" \
    PREVIOUS_TAG="${TAG_OF[v1]}" STAGING_URL="${LB_URL}" || rc=$?
  wall=$(($(date +%s) - started))
  check "deploy-staging 'Check the rolled-back release' passes for v1" \
    run_step smoke-rollback deploy-staging "Check the rolled-back release" PREVIOUS_TAG="${TAG_OF[v1]}" STAGING_URL="${LB_URL}"
  load_stop
  back=$(back_on rollback-v1 v1 "${since}")
  report "rollback to v1 by its commit (both hosts)" rollback-v1 "${back} to v1 only (play ${wall})"
  log "staging rollback to v1 (${TAG_OF[v1]}) on both hosts: the load balancer served v1 only after ${back} s; the play took ${wall} s"
  expect_eq "the rollback step succeeds" 0 "${rc}"
  expect_hosts_serve "after the rollback" v1
  expect_match "staging rollback: v1 only through the load balancer after ${back} s (target: 45 s at most)" '^1$' \
    "$(awk -v b="${back}" 'BEGIN {print (b > 0 && b <= 45) ? 1 : 0}')"
  expect_match "staging rollback: the play took ${wall} s (plan: under 2 minutes)" '^([0-9]|[1-9][0-9]|1[01][0-9])$' "${wall}"
  expect_eq "api-2's ledger: a rollback to v1" "rollback ${TAG_OF[v1]} ok" \
    "$(on api-2 "sudo tail -n 1 /var/lib/restomarket/${DEPLOY_ENV}/releases.jsonl" | jq -r '"\(.action) \(.tag) \(.outcome)"')"
  expect_clean_load "rollback to v1" rollback-v1
}

test_broken_release() {
  update_under_load update-v3 "update-api v3 (broken) under load" v3
  report "broken v3 (stops on api-1)" update-v3 "${WALL}"
  expect_eq "update-api.yml with a broken v3 fails" 2 "${UPDATE_RC}"
  expect_match "the summary names host 1 and says host 2 was not attempted" \
    "Release ${TAG_OF[v3]} failed on api-1.*Not attempted: api-2" "$(tr '\n' ' ' <"${WORK}/update-v3.log")"
  expect_hosts_serve "after the broken v3" v1
  check_fails "api-2 never tried v3 (not in its ledger)" on api-2 "sudo grep -q '\"${TAG_OF[v3]}\"' /var/lib/restomarket/${DEPLOY_ENV}/releases.jsonl"
  expect_clean_load "broken v3" update-v3
}

test_fails_on_second_host() {
  update_under_load update-v4 "update-api v4 (only api-1 has the image) under load" v4
  report "v4 fails on api-2 (api-1 returns)" update-v4 "${WALL}"
  expect_eq "update-api.yml fails when host 2 fails" 2 "${UPDATE_RC}"
  expect_match "the summary names host 2 and the rollback of host 1" \
    "Release ${TAG_OF[v4]} failed on api-2.*Rolled back to their previous release: api-1 \(ok\)" "$(tr '\n' ' ' <"${WORK}/update-v4.log")"
  expect_hosts_serve "after v4 failed on api-2" v1
  expect_eq "api-1's ledger, newest first: rollback to v1, then v4" "${TAG_OF[v1]} ${TAG_OF[v4]}" \
    "$(gate api-1 "rollback --env ${DEPLOY_ENV} --list" 2>/dev/null |
      awk 'NR > 1 {print $3}' | head -n 2 | tr '\n' ' ' | sed 's/ $//')"
  expect_clean_load "v4 failing on api-2" update-v4
}

# lb_server_downs - how often the load balancer took a host out of rotation
# so far (show stat: chkdown of each server), "api-1=N api-2=N".
lb_server_downs() { lb_stat | awk -F, '$1 == "api" && $2 != "BACKEND" && $2 != "FRONTEND" {printf "%s%s=%s", sep, $2, $23; sep = " "}'; }

# lb_server_status HOST - UP, DOWN, ... of HOST in the load balancer.
lb_server_status() { lb_stat | awk -F, -v h="$1" '$1 == "api" && $2 == h {print $18}'; }

# lb_server_is HOST STATUS - HOST's status in the load balancer starts with STATUS.
lb_server_is() { [[ "$(lb_server_status "$1")" == "$2"* ]]; }

# lb_stat - the load balancer's "show stat" (CSV) from its runtime API.
lb_stat() {
  # shellcheck disable=SC2016 # expanded by the bash inside the container
  "${DOCKER}" exec "${RUN_ID}-lb" bash -c 'exec 3<>/dev/tcp/127.0.0.1/9999 && echo "show stat" >&3 && cat <&3'
}

# Both hosts' proxies must be replaced (a new memory limit, as a changed image or
# bind address would): update-api.yml of the live release under load through the
# load balancer. Each deploy.sh first takes its host out of the balancer
# (PROXY_HANDOVER_WAIT = lb_drain_seconds, the plan's drain time), then swaps the proxy.
test_proxy_handover_behind_lb() {
  local host
  for host in "${HOSTS[@]}"; do
    on "${host}" "echo PROXY_MEMORY=200m | sudo tee -a /etc/restomarket/${DEPLOY_ENV}.env >/dev/null"
  done
  update_under_load update-handover "update-api v1 (live) with new proxy settings, under load" v1
  report "proxy handover on both hosts" update-handover "${WALL}"
  expect_eq "proxy handover: update-api.yml succeeds" 0 "${UPDATE_RC}"
  for host in "${HOSTS[@]}"; do
    expect_eq "${host}: the proxy was replaced with the new settings (memory limit 200m)" 209715200 \
      "$(on "${host}" "sudo docker inspect -f '{{.HostConfig.Memory}}' restomarket-${DEPLOY_ENV}-proxy")"
    expect_eq "${host}: no retiring proxy is left" "" \
      "$(on "${host}" "sudo docker ps -aq --filter name=restomarket-${DEPLOY_ENV}-proxy-retiring")"
  done
  expect_hosts_serve "after the proxy handover" v1
  expect_clean_load "proxy handover (no retries at the load balancer)" update-handover
}

test_failed_check_after_deploy() {
  # Nothing listens on port 9 of loopback: the load balancer check fails
  # after deploy.sh switched api-1, so api-1 itself goes back as well.
  step "update-api v4 with an unreachable load balancer" update update-lb v4 http://127.0.0.1:9
  expect_eq "update-api.yml fails when the load balancer check fails" 2 "${UPDATE_RC}"
  expect_match "the summary says api-1 deployed, failed a check and was rolled back" \
    "Release ${TAG_OF[v4]} failed on api-1.*api-1: deployed, then failed a check.*Rolled back to their previous release: api-1 \(ok\).*Not attempted: api-2" \
    "$(tr '\n' ' ' <"${WORK}/update-lb.log")"
  expect_hosts_serve "after the failed load balancer check" v1
}

# api-2 stops answering (docker pause) right after api-1 took v2 (from v1):
# update-api.yml must still return api-1 to the previous release and say that
# api-2 was unreachable (a rescue does not run for unreachable hosts by default).
test_unreachable_mid_roll() {
  local watcher started paused_at
  started=$(date +%s)
  (
    until [[ "$(host_version api-1)" == "${TAG_OF[v2]}" ]]; do sleep 0.5; done
    "${DOCKER}" pause "${RUN_ID}-api-2" >/dev/null
    date +%s >"${WORK}/paused-at"
  ) &
  watcher=$!
  step "update-api v2 while api-2 stops answering" update update-unreachable v2
  kill "${watcher}" 2>/dev/null || true
  wait "${watcher}" 2>/dev/null || true
  paused_at=$(cat "${WORK}/paused-at" 2>/dev/null || echo 0)
  "${DOCKER}" unpause "${RUN_ID}-api-2" >/dev/null 2>&1 || true
  expect_match "api-2 was paused after api-1 took v2" '^[1-9]' "${paused_at}"
  expect_match "update-api.yml fails when a host becomes unreachable (exit ${UPDATE_RC})" "^[24]$" "${UPDATE_RC}"
  expect_match "the summary names api-2 unreachable and api-1 rolled back" \
    "Release ${TAG_OF[v2]} failed on api-2.*api-2: UNREACHABLE.*Rolled back to their previous release: api-1 \(ok\)" \
    "$(tr '\n' ' ' <"${WORK}/update-unreachable.log")"
  log "unreachable host mid-roll: api-2 paused $((paused_at - started)) s into the run, play ended after $(($(date +%s) - started)) s"
  expect_eq "api-1 is back on the previous release" "${TAG_OF[v1]}" "$(host_version api-1)"
  wait_until 30 "api-2 answers again" on api-2 true || true
  expect_eq "api-2, once it answers again, still serves the previous release" "${TAG_OF[v1]}" "$(host_version api-2)"
}

# registry_has NAME - the registry stand-in still serves release NAME's manifest.
registry_has() {
  local code
  code=$(printf 'user = "%s:%s"\n' "${REGISTRY_USER}" "$(cat "${REGISTRY_PASSWORD_FILE}")" |
    curl -sS -K - --cacert "${REGISTRY_CA}" -o /dev/null -w '%{http_code}' --head \
      -H 'Accept: application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json' \
      "https://${REG_REPO%%/*}/v2/${REG_REPO#*/}/manifests/${DIGEST_OF[$1]}")
  [[ "${code}" == 200 ]]
}

# deployments_fixture - GitHub's Deployments API for staging as the deploy job
# leaves it, for the API stub: one successful deployment per successful
# release in api-1's ledger (both hosts ran the same), newest first.
deployments_fixture() {
  local r=/repos/restomarket/restomarket
  on api-1 "sudo cat /var/lib/restomarket/${DEPLOY_ENV}/releases.jsonl" |
    jq -r 'select(.outcome == "ok") | .tag' | tac |
    while read -r tag; do printf '%s\n' "${COMMIT_OF[${NAME_OF[${tag}]:-}]:-}"; done |
    jq -Rn --arg r "${r}" '[inputs | select(length == 40)] | to_entries as $d
      | {($r + "/environments"): {environments: [{name: "staging"}]},
         ($r + "/deployments?environment=staging"): [$d[] | {id: (.key + 1), sha: .value}]}
      + ([$d[] | {($r + "/deployments/\(.key + 1)/statuses"): [{state: "success"}]}] | add // {})' \
      >"${WORK}/github.json"
}

# image-cleanup.yml's steps against the registry stand-in, as the weekly job
# runs them: five newer builds pushed (n1..n5), deployed-tags.sh asks GitHub
# (a stub fed from the hosts' ledgers) what staging runs and would roll back
# to, registry-retention.sh deletes. The five newest and those stay, the rest
# goes; the release live now is still served.
test_registry_retention() {
  local name started protect rc=0 want
  for name in n1 n2 n3 n4 n5; do
    { build_variant "${name}" '[]' && push_release "${name}"; } ||
      { fail "registry retention: push ${name}" "$(tail -n 5 "${WORK}/push-${name}.log")"; return 0; }
  done
  started=$(date +%s)
  deployments_fixture
  stub_start github-api "${TOOLS}/tests/github-api-stub.py" "${WORK}/github.json" "${WORK}/github-requests.log"
  STEP_WORKFLOW="${CLEANUP_WORKFLOW}" run_step retention-protect cleanup "Protect the deployed images" \
    GITHUB_TOKEN=rehearsal GITHUB_API_URL="${STUB_URL}" GITHUB_REPOSITORY=restomarket/restomarket || rc=$?
  stub_stop
  protect=$(sed -n 's/^regex=//p' "${WORK}/retention-protect.out")
  expect_eq "registry retention: deployed-tags.sh read staging's deployments" "0" "${rc}"
  expect_match "registry retention: the live release (v1) is protected" "${TAG_OF[v1]}" "${protect}"
  (
    REGISTRY_PASSWORD=$(cat "${REGISTRY_PASSWORD_FILE}")
    export REGISTRY_PASSWORD
    STEP_WORKFLOW="${CLEANUP_WORKFLOW}" run_step retention cleanup "Delete old API images from GHCR" \
      REGISTRY="${REG_REPO%%/*}" GITHUB_REPOSITORY=restomarket/restomarket GITHUB_TOKEN=rehearsal \
      REGISTRY_USERNAME="${REGISTRY_USER}" PROTECT="${protect}" DRY_RUN=false
  ) || rc=$?
  expect_eq "registry retention: image-cleanup's step exits 0" 0 "${rc}"
  sed -n 's/^\(keep\|delete\) /    &/p' "${WORK}/retention.log" >&2
  for name in v1 v2 v3 n1 n2 n3 n4 n5; do
    want=deleted
    if [[ "${name}" == n* ]] || grep -Eq -- "${protect:-^$}" <<<"${TAG_OF[${name}]}"; then want=kept; fi
    expect_eq "registry retention: ${name} ${want}" "${want}" "$(registry_has "${name}" && echo kept || echo deleted)"
  done
  expect_eq "registry retention: v3 (never deployed) deleted" 1 "$(registry_has v3 && echo 0 || echo 1)"
  expect_eq "registry retention: the hosts still serve v1" "${TAG_OF[v1]} ${TAG_OF[v1]}" \
    "$(host_version api-1) $(host_version api-2)"
  report "registry retention (image-cleanup.yml)" - \
    "$(($(date +%s) - started)) s; kept $(grep -c '^keep ' "${WORK}/retention.log"), deleted $(grep -c '^delete ' "${WORK}/retention.log")"
}

# api-2 is lost for good under load (its container killed: a droplet whose
# power went): requests the load balancer still sends there fail until its
# health check takes it out, at most the plan's drain time (the last of them
# a connect timeout after that); then api-1 serves everything. Reports the
# failed requests and their window.
test_host_loss() {
  local killed_at stats window after out_after connect slow
  wait_until 60 "api-2 back in rotation" lb_server_is api-2 UP || true
  load_start host-loss
  sleep 3
  "${DOCKER}" kill "${RUN_ID}-api-2" >/dev/null
  killed_at=$(date -u +%s.%N)
  wait_until 60 "the load balancer takes api-2 out" lb_server_is api-2 DOWN || true
  out_after=$(awk -v a="${killed_at}" -v b="$(date -u +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
  log "api-2 out of rotation ${out_after} s after it died"
  sleep 10
  load_stop
  stats=$(load_stats host-loss)
  window=$(jq -r --arg k "${killed_at}" '
    ($k | tonumber % 86400) as $ks
    | if .last_failure == null then 0 else ((.last_failure - $ks) * 10 | round / 10) end' <<<"${stats}")
  slow=$(jq -r .slow <<<"${stats}")
  report "api-2 lost (killed)" host-loss "out of rotation after ${out_after} s; failures for ${window} s; ${slow} answers slower than 1 s"
  log "host loss under ${LOAD_RATE} req/s: $(jq -c . <<<"${stats}"), failures up to ${window} s after the kill (drain ${LB_DRAIN} s)"
  expect_eq "host loss: the load balancer took api-2 out of rotation" DOWN "$(lb_server_status api-2 | cut -d' ' -f1)"
  expect_match "host loss: out of rotation within the drain time + 1 s (${out_after} s <= ${LB_DRAIN} + 1)" '^1$' \
    "$(awk -v w="${out_after}" -v d="${LB_DRAIN}" 'BEGIN {print (w <= d + 1) ? 1 : 0}')"
  # The last request sent to api-2 before it left rotation fails when the
  # balancer's connect to it times out (the planned response timeout) later.
  connect=$(lb_value '.healthcheck[0].response_timeout_seconds')
  expect_match "host loss: failed requests end within the drain time + the connect timeout + 1 s (${window} s <= ${LB_DRAIN} + ${connect} + 1)" '^1$' \
    "$(awk -v w="${window}" -v d="${LB_DRAIN}" -v c="${connect}" 'BEGIN {print (w <= d + c + 1) ? 1 : 0}')"
  after=$(jq -r '.total' <<<"${stats}")
  expect_match "host loss: requests went on and most succeeded (${after} sent)" '^1$' \
    "$(jq -r '(.non2xx + .errors) < (.total / 4) | if . then 1 else 0 end' <<<"${stats}")"
  expect_eq "host loss: api-1 serves v1 alone" "${TAG_OF[v1]}" \
    "$(curl -fsS --max-time 5 --cacert "${WORK}/lb/ca.pem" "${LB_URL}/version" | jq -r .version)"
}

main() {
  local audit_only=0
  while (($# > 0)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --keep) KEEP=1 ;;
      --audit) audit_only=1 ;;
      *) usage >&2; die "unknown argument '$1'" "see --help" 2 ;;
    esac
    shift
  done
  [[ ${EUID} -eq 0 ]] || die "the staging rehearsal needs root (Docker, test hosts)" "run it as root (make staging-rehearsal)"
  trap cleanup EXIT
  setup
  if ((audit_only)); then
    test_first_run && test_first_deploy && test_audit
  elif test_setup_converges; then
    test_ssh_hardening
    test_accounts
    test_engine_unit
    test_secrets
    test_firewall
    test_updates_and_timer
    test_first_deploy
    test_load_balancer
    # The security audit's probes, on hosts serving v1 behind the load balancer.
    test_audit
    test_update_v2_redis_down
    test_rollback_to_v1
    test_broken_release
    test_fails_on_second_host
    test_proxy_handover_behind_lb
    test_failed_check_after_deploy
    test_unreachable_mid_roll
    # The CI runner's playbook, on a host of this suite (one set of test hosts).
    test_ci_runner api-1
    test_registry_retention
    # Last: api-2 does not come back.
    test_host_loss
    write_report
  fi
  summary
}

main "$@"
