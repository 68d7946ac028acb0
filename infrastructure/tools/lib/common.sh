# shellcheck shell=bash
# Shared helpers for the project's tooling: the engine's logging, errors and
# polling (scripts/lib/core.sh), plus timed steps, root/apt helpers, secrets
# and the cache layout. The engine itself never sources this file.
# Source it; it defines functions only and changes no shell options.

RM_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
RM_CACHE_DIR="${RESTOMARKET_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME}/.cache}/restomarket}"
RM_BIN_DIR="${RM_CACHE_DIR}/bin"
export RM_REPO_ROOT RM_CACHE_DIR RM_BIN_DIR
# The JDK the project builds with (the machine's default java is older).
if [[ -z "${JAVA_HOME:-}" && -d /usr/lib/jvm/temurin-25-jdk-amd64 ]]; then
  export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
fi

# shellcheck source-path=SCRIPTDIR source=../../scripts/lib/core.sh
source "${RM_REPO_ROOT}/infrastructure/scripts/lib/core.sh"

# step NAME COMMAND... - run one named step, log its start, end and duration.
step() {
  local name="$1" start rc=0
  shift
  start=$(date +%s)
  log "step ${name}: start"
  "$@" || rc=$?
  if ((rc == 0)); then
    log "step ${name}: done in $(($(date +%s) - start))s"
  else
    log "step ${name}: FAILED (exit ${rc}) after $(($(date +%s) - start))s"
  fi
  return "${rc}"
}

is_debian_root() { [[ ${EUID} -eq 0 && -f /etc/debian_version ]]; }

_rm_apt_updated=""
# ensure_apt_packages PKG... - install missing Debian packages (root on Debian only).
ensure_apt_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null | grep -q 'install ok installed' || missing+=("${pkg}")
  done
  ((${#missing[@]} == 0)) && return 0
  is_debian_root || die "missing packages: ${missing[*]}" "install them with your package manager (apt-get install ${missing[*]}) and re-run"
  log "installing Debian packages: ${missing[*]}"
  if [[ -z "${_rm_apt_updated}" ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
    _rm_apt_updated=1
  fi
  # Another apt run (a parallel bootstrap) may hold the lock: wait for it instead of failing.
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# median_max - of the numbers on stdin, one a line: "MEDIAN MAX" (the median of
# an even count is the mean of the two middle ones); nothing for no numbers.
# The benchmarks judge their targets on it.
median_max() {
  sort -n | awk '{v[NR] = $1} END {if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) "", v[NR]}'
}

# random_secret - a 32-character alphanumeric secret.
random_secret() {
  local s
  s=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
  printf '%s' "${s:0:32}"
}

# The Terraform environments: the folders of infrastructure/terraform/environments.
RM_TF_ENVS_DIR="${RM_REPO_ROOT}/infrastructure/terraform/environments"

# tf_envs - their names, space separated ("none" when there are none).
tf_envs() {
  local d names=()
  for d in "${RM_TF_ENVS_DIR}"/*/; do
    d="${d%/}"
    [[ -d "${d}" ]] && names+=("${d##*/}")
  done
  echo "${names[*]:-none}"
}

# require_tf_env ENV - die (exit 2) unless ENV is one of them. The name becomes
# an Ansible group, which must be an identifier: no dashes.
require_tf_env() {
  [[ -n "$1" ]] || die "no ENV given" "use one of: $(tf_envs)" 2
  [[ "$1" =~ ^[a-z][a-z0-9_]*$ && -d "${RM_TF_ENVS_DIR}/$1" ]] || die "unknown environment '$1'" "use one of: $(tf_envs)" 2
}

# tf_var ENV NAME - NAME's value in ENV's terraform.tfvars, quotes, brackets
# and blanks removed (a list reads "a,b"); nothing when it is not set there.
tf_var() {
  local value
  value=$(sed -n "s/^$2[[:space:]]*=[[:space:]]*//p" "${RM_TF_ENVS_DIR}/$1/terraform.tfvars" | head -n 1)
  printf '%s\n' "${value//[][\" ]/}"
}
