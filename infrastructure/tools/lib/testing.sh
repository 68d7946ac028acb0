# shellcheck shell=bash
# Test helpers of the project's shell suites: the assertions the engine's own
# tests use (scripts/tests/assert.sh: check, expect_*, summary, ...) plus
# helpers that build images.

# shellcheck source-path=SCRIPTDIR source=../../scripts/tests/assert.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts/tests" && pwd)/assert.sh"

# api_image_variant IMAGE BASE VERSION CMD_JSON DIR RUN_ID - build IMAGE from the
# API image BASE so that it reports VERSION (its own release file, as the image
# build writes one) and starts with the arguments CMD_JSON: cheap extra
# releases, good or broken, for deploy tests. DIR is the build context
# (created); RUN_ID labels the image as the test's.
api_image_variant() {
  local image="$1" base="$2" version="$3" args="$4" dir="$5" run_id="$6"
  mkdir -p "${dir}"
  printf 'version=%s\ncommit=test\nbuildTime=test\n' "${version}" >"${dir}/release.properties"
  cat >"${dir}/Dockerfile" <<EOF
FROM ${base}
LABEL org.opencontainers.image.version="${version}" com.restomarket.test="${run_id}"
COPY release.properties /app/release.properties
CMD ${args}
EOF
  DOCKER_BUILDKIT=1 /usr/bin/docker build -q -t "${image}" "${dir}" >/dev/null
}

# stub_start NAME SCRIPT [ARGS...] - run a python3 HTTP stub of an outside API
# (it prints its port on its first line) in WORK; sets STUB_PID and STUB_URL
# (http://127.0.0.1:PORT), dies with the stub's own errors when it does not start.
STUB_PID=""
# shellcheck disable=SC2034 # read by the suites that source this file
STUB_URL=""
stub_start() {
  local name="$1"
  shift
  python3 "$@" >"${WORK}/${name}.port" 2>"${WORK}/${name}.err" &
  STUB_PID=$!
  wait_until 10 "stub ${name}" test -s "${WORK}/${name}.port" ||
    die "the stub ${name} did not start: $(cat "${WORK}/${name}.err")"
  # shellcheck disable=SC2034 # read by the suites
  STUB_URL="http://127.0.0.1:$(head -n 1 "${WORK}/${name}.port")"
}

# stub_stop - stop the stub stub_start started, if it runs (for cleanup traps too).
stub_stop() {
  [[ -z "${STUB_PID}" ]] || { kill "${STUB_PID}" 2>/dev/null || true; wait "${STUB_PID}" 2>/dev/null || true; }
  STUB_PID=""
}

# free_tcp_port [IP] - a TCP port nothing listens on at IP (default 127.0.0.1).
free_tcp_port() {
  python3 -c 'import socket,sys; s=socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "${1:-127.0.0.1}"
}

# registry_start DIR HOST_IP [USER] - run a real OCI registry (CNCF distribution,
# built by bootstrap/go-tools.sh) on HOST_IP at a free port, with TLS from a
# CA made for the test and, when USER is given, Basic credentials (bcrypt
# htpasswd). Sets REGISTRY_PID, REGISTRY_ADDR (HOST_IP:PORT), REGISTRY_CA
# (the CA's PEM), REGISTRY_PASSWORD_FILE (USER's random password), and keeps
# its data, certificates and log in DIR. Stop it with registry_stop.
REGISTRY_PID=""
REGISTRY_ADDR=""
REGISTRY_CA=""
REGISTRY_PASSWORD_FILE=""
registry_start() {
  local dir="$1" ip="$2" user="${3:-}" port
  mkdir -p "${dir}/data"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=restomarket test registry CA" \
    -keyout "${dir}/ca.key" -out "${dir}/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=${ip}" -keyout "${dir}/tls.key" -out "${dir}/tls.csr" 2>/dev/null
  openssl x509 -req -in "${dir}/tls.csr" -CA "${dir}/ca.pem" -CAkey "${dir}/ca.key" -CAcreateserial -days 2 \
    -extfile <(printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "${ip}") -out "${dir}/tls.pem" 2>/dev/null
  port=$(free_tcp_port "${ip}")
  {
    printf 'version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n'
    printf 'storage:\n  filesystem:\n    rootdirectory: %s/data\n  delete:\n    enabled: true\n' "${dir}"
    printf 'http:\n  addr: %s:%s\n  secret: %s\n  tls:\n    certificate: %s/tls.pem\n    key: %s/tls.key\n' \
      "${ip}" "${port}" "$(random_secret)" "${dir}" "${dir}"
    if [[ -n "${user}" ]]; then
      ensure_apt_packages apache2-utils
      random_secret >"${dir}/password"
      htpasswd -iBc "${dir}/htpasswd" "${user}" <"${dir}/password" 2>/dev/null
      printf 'auth:\n  htpasswd:\n    realm: restomarket-test\n    path: %s/htpasswd\n' "${dir}"
    fi
  } >"${dir}/config.yml"
  REGISTRY_ADDR="${ip}:${port}" REGISTRY_CA="${dir}/ca.pem"
  # shellcheck disable=SC2034 # read by the suites
  REGISTRY_PASSWORD_FILE="${dir}/password"
  REGISTRY_PID=$(registry_serve "${dir}/config.yml" "${REGISTRY_ADDR}" "${REGISTRY_CA}")
}

# registry_serve CONFIG ADDR CA - run the registry with CONFIG (its log beside
# it), wait until https://ADDR/v2/ answers with a certificate from CA, print
# its PID. For a second registry on registry_start's storage (other auth).
registry_serve() {
  local config="$1" addr="$2" ca="$3" bin pid
  bin=$("${RM_REPO_ROOT}/infrastructure/tools/bootstrap/go-tools.sh" registry)
  "${bin}" serve "${config}" >"${config%/*}/registry.log" 2>&1 &
  pid=$!
  wait_until 30 "registry on ${addr}" curl -s -o /dev/null --cacert "${ca}" "https://${addr}/v2/" ||
    die "the test registry did not start: $(tail -n 5 "${config%/*}/registry.log")"
  echo "${pid}"
}

# registry_stop - stop the registry registry_start started (for cleanup traps too).
registry_stop() {
  [[ -z "${REGISTRY_PID}" ]] || { kill "${REGISTRY_PID}" 2>/dev/null || true; wait "${REGISTRY_PID}" 2>/dev/null || true; }
  REGISTRY_PID=""
}

# expect_secrets_hidden NAME CONTAINER SECRET... - passes when the whole of
# `docker inspect CONTAINER` (Env, Cmd, Entrypoint, Healthcheck, Labels, ...)
# holds none of the SECRET values, compared as fixed strings.
expect_secrets_hidden() {
  local name="$1" container="$2" inspect secret line
  shift 2
  if ! inspect=$(/usr/bin/docker inspect "${container}" 2>&1); then
    fail "${name}" "docker inspect ${container}: ${inspect}"
    return 0
  fi
  for secret in "$@"; do
    # An empty value would prove nothing: a test that lost its secret is broken.
    [[ -n "${secret}" ]] || { fail "${name}" "an empty secret was given to compare"; return 0; }
    if line=$(grep -m 1 -F -- "${secret}" <<<"${inspect}"); then
      fail "${name}" "docker inspect ${container} shows a secret: ${line//"${secret}"/<secret>}"
      return 0
    fi
  done
  pass "${name}"
}

# client_on CONTAINER ARGS... - docker run --rm ARGS (options, image, command)
# in a throwaway container on CONTAINER's first network.
client_on() {
  local container="$1" net
  shift
  net=$(/usr/bin/docker inspect -f '{{range $net, $_ := .NetworkSettings.Networks}}{{$net}} {{end}}' "${container}")
  /usr/bin/docker run --rm --network "${net%% *}" "$@"
}

# expect_postgres_auth NAME CONTAINER USER DB PASSWORD - from another container
# (the server trusts its own loopback): USER signs in to DB with PASSWORD, and
# a wrong password is refused.
expect_postgres_auth() {
  local name="$1" container="$2" user="$3" db="$4" password="$5" image
  image=$(/usr/bin/docker inspect -f '{{.Config.Image}}' "${container}")
  local psql=(psql -h "${container}" -U "${user}" -d "${db}" -tAc 'select 1')
  expect_eq "${name}: psql with the password connects" 1 \
    "$(client_on "${container}" -e PGPASSWORD="${password}" "${image}" "${psql[@]}" 2>&1)"
  expect_match "${name}: a wrong password is refused" 'password authentication failed' \
    "$(client_on "${container}" -e PGPASSWORD="wrong-${password}" "${image}" "${psql[@]}" 2>&1 || true)"
}

# expect_redis_auth NAME CONTAINER PASSWORD - from another container: PING
# without a password is refused, with PASSWORD it answers PONG.
expect_redis_auth() {
  local name="$1" container="$2" password="$3" image
  image=$(/usr/bin/docker inspect -f '{{.Config.Image}}' "${container}")
  expect_match "${name}: PING without the password is refused" 'NOAUTH' \
    "$(client_on "${container}" "${image}" redis-cli -h "${container}" ping 2>&1 || true)"
  expect_eq "${name}: PING with the password answers PONG" PONG \
    "$(client_on "${container}" -e REDISCLI_AUTH="${password}" "${image}" redis-cli -h "${container}" ping 2>&1)"
}
