#!/usr/bin/env bash
# Provide every base image listed in infrastructure/docker/images.env.
#
# When Docker Hub answers, pull the official images. When it does not (these
# build machines reach only package registries), build equivalents from Debian
# packages: debootstrap a minimal bookworm, import it as the base, build the
# Dockerfiles beside this script on top of it, and write the local names to
# ${RM_CACHE_DIR}/images.airgap.env, which infrastructure/tools/compose.sh
# loads over the defaults. Images whose inputs did not change are kept.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../../tools/lib/common.sh
source "${HERE}/../../tools/lib/common.sh"
export RM_LOG_TAG="base-images"

# Debian's 20.10 client builds with BuildKit without a buildx plugin.
DOCKER="${RM_DOCKER:-/usr/bin/docker}"
export DOCKER_BUILDKIT=1

IMAGES_ENV="${HERE}/../images.env"
AIRGAP_ENV="${RM_CACHE_DIR}/images.airgap.env"
WORK_DIR="${RM_CACHE_DIR}/base-images"
DEBIAN_SUITE="bookworm"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
JDK_HOME="${BUILD_JDK_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
# Site-local CAs of the build host (e.g. a TLS-inspecting egress proxy); the
# JDK image trusts them too, or ./mvnw could not reach Maven Central.
LOCAL_CA_DIR="${LOCAL_CA_DIR:-/usr/local/share/ca-certificates}"
HASH_LABEL="org.restomarket.inputs-hash"
PULL_PROBE_SECONDS=15

# Every image variable, in the order of images.env.
IMAGE_VARS=(BUILD_JDK_IMAGE RUNTIME_BASE_IMAGE POSTGRES_IMAGE REDIS_IMAGE ADMINER_IMAGE PROXY_IMAGE)
# Air-gapped equivalent of each variable and the Dockerfile directory that
# builds it (the runtime base is the imported root filesystem itself).
declare -A AIRGAP_IMAGE=(
  [RUNTIME_BASE_IMAGE]="restomarket/airgap-debian:bookworm-slim"
  [BUILD_JDK_IMAGE]="restomarket/airgap-temurin:25-jdk"
  [POSTGRES_IMAGE]="restomarket/airgap-postgres:15"
  [REDIS_IMAGE]="restomarket/airgap-redis:7"
  [ADMINER_IMAGE]="restomarket/airgap-adminer:4.8.1"
  [PROXY_IMAGE]="restomarket/airgap-haproxy:2.6"
)
declare -A DOCKERFILE_DIR=(
  [BUILD_JDK_IMAGE]="jdk"
  [POSTGRES_IMAGE]="postgres"
  [REDIS_IMAGE]="redis"
  [ADMINER_IMAGE]="adminer"
  [PROXY_IMAGE]="haproxy"
)
declare -A OFFICIAL_IMAGE=()
declare -A RESOLVED_IMAGE=()

usage() {
  cat <<EOF
Usage: $(basename "$0") [--mode auto|pull|airgap] [--force] [-h|--help]

Provides the base images named in infrastructure/docker/images.env.

  --mode auto    (default) use the official images when they are present or
                 can be pulled; otherwise build air-gapped equivalents
  --mode pull    pull the official images, fail if that is impossible
  --mode airgap  build the air-gapped equivalents from Debian packages
  --force        rebuild air-gapped images even when their inputs are unchanged
  -h, --help     show this help

Air-gapped images are named restomarket/airgap-<name>:<version>; their names
are written to ${AIRGAP_ENV}
(compose.sh loads it; delete it to go back to the official images).
Caches and build logs: ${WORK_DIR}

Environment:
  DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR   Debian mirrors for debootstrap
  BUILD_JDK_HOME    JDK copied into the JDK image (default ${JDK_HOME})
  LOCAL_CA_DIR      extra CAs (*.crt) the JDK image trusts (default ${LOCAL_CA_DIR})
  RESTOMARKET_CACHE_DIR                   cache root (default ~/.cache/restomarket)
EOF
}

check_engine() {
  [[ -x "${DOCKER}" ]] || die "${DOCKER} not found (Debian's docker client, needed for BuildKit builds)" \
    "run infrastructure/tools/bootstrap/docker.sh"
  timeout 10 "${DOCKER}" info >/dev/null 2>&1 || die "the Docker engine does not answer" \
    "run infrastructure/tools/bootstrap/docker.sh, then re-run"
}

# The official names come from images.env only; the environment may already
# hold air-gapped names loaded by compose.sh.
load_official_names() {
  [[ -r "${IMAGES_ENV}" ]] || die "cannot read ${IMAGES_ENV}" "restore it from git"
  local var value
  for var in "${IMAGE_VARS[@]}"; do
    value=$(sed -n "s/^${var}=//p" "${IMAGES_ENV}" | tail -n 1)
    [[ -n "${value}" ]] || die "${var} is missing from ${IMAGES_ENV}" "add a line ${var}=<image:tag>"
    OFFICIAL_IMAGE[${var}]="${value}"
  done
}

image_exists() { "${DOCKER}" image inspect "$1" >/dev/null 2>&1; }

image_label() {
  "${DOCKER}" image inspect -f "{{ index .Config.Labels \"${HASH_LABEL}\" }}" "$1" 2>/dev/null || true
}

official_images_present() {
  local var
  for var in "${IMAGE_VARS[@]}"; do
    image_exists "${OFFICIAL_IMAGE[${var}]}" || return 1
  done
}

airgap_images_present() {
  [[ -f "${AIRGAP_ENV}" ]] || return 1
  local var
  for var in "${IMAGE_VARS[@]}"; do
    image_exists "${AIRGAP_IMAGE[${var}]}" || return 1
  done
}

probe_registry() {
  local probe="${OFFICIAL_IMAGE[RUNTIME_BASE_IMAGE]}" out
  log "probing the registry: pulling ${probe} (timeout ${PULL_PROBE_SECONDS}s)"
  if out=$(timeout "${PULL_PROBE_SECONDS}" "${DOCKER}" pull -q "${probe}" 2>&1); then
    log "registry reachable"
    return 0
  fi
  log "registry unreachable: $(tail -n 1 <<<"${out}")"
  return 1
}

choose_mode() {
  local requested="$1"
  case "${requested}" in
    pull | airgap) echo "${requested}" ;;
    auto)
      # A machine that built the air-gapped set once keeps it: asking the
      # registry again on every run only costs the probe's timeout.
      if official_images_present; then
        echo pull
      elif airgap_images_present; then
        log "using the air-gapped images built earlier (${AIRGAP_ENV}); --mode pull to try the registry"
        echo airgap
      elif probe_registry; then
        echo pull
      else
        echo airgap
      fi
      ;;
    *) die "unknown mode: ${requested}" "use --mode auto, pull or airgap" ;;
  esac
}

pull_official_images() {
  local var image
  for var in "${IMAGE_VARS[@]}"; do
    image="${OFFICIAL_IMAGE[${var}]}"
    if ! image_exists "${image}"; then
      log "pulling ${image}"
      "${DOCKER}" pull -q "${image}" >/dev/null || die "cannot pull ${image}" \
        "check network access to the registry, or run with --mode airgap"
    fi
    RESOLVED_IMAGE[${var}]="${image}"
  done
}

use_official_images() {
  if [[ -f "${AIRGAP_ENV}" ]]; then
    log "official images available: removing ${AIRGAP_ENV}"
    rm -f "${AIRGAP_ENV}"
  fi
}

# Strip what a container never needs and keep later apt installs as lean
# (the same idea as Debian's slim images).
slim_rootfs() {
  local root="$1"
  printf '#!/bin/sh\n# No service starts during image builds.\nexit 101\n' >"${root}/usr/sbin/policy-rc.d"
  chmod 755 "${root}/usr/sbin/policy-rc.d"
  cat >"${root}/etc/dpkg/dpkg.cfg.d/restomarket-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  cat >"${root}/etc/apt/apt.conf.d/restomarket-slim" <<'EOF'
Acquire::Languages "none";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF
  cat >"${root}/etc/apt/sources.list" <<EOF
deb ${DEBIAN_MIRROR} ${DEBIAN_SUITE} main
deb ${DEBIAN_MIRROR} ${DEBIAN_SUITE}-updates main
deb ${DEBIAN_SECURITY_MIRROR} ${DEBIAN_SUITE}-security main
EOF
  find "${root}/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "${root}/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "${root}"/usr/share/{man,info,locale,lintian}/* \
    "${root}"/var/lib/apt/lists/* "${root}"/var/cache/apt/* "${root}"/var/cache/debconf/*-old \
    "${root}"/var/log/* "${root}"/tmp/* "${root:?}"/dev/* "${root}/etc/resolv.conf" "${root}/etc/hostname"
}

# The tarball is cached under a name that changes with this recipe, so
# editing slim_rootfs or the mirrors rebuilds it.
rootfs_tarball() {
  local recipe
  recipe=$( (declare -f slim_rootfs; echo "${DEBIAN_SUITE} ${DEBIAN_MIRROR} ${DEBIAN_SECURITY_MIRROR}") | sha256sum)
  echo "${WORK_DIR}/${DEBIAN_SUITE}-minbase-${recipe:0:12}.tar"
}

debootstrap_rootfs() {
  local tarball="$1" root
  is_debian_root || die "building the base image needs debootstrap as root on Debian" \
    "run this as root on Debian, or on a machine that can pull ${OFFICIAL_IMAGE[RUNTIME_BASE_IMAGE]}"
  ensure_apt_packages debootstrap
  mkdir -p "${WORK_DIR}"
  root=$(mktemp -d "${WORK_DIR}/rootfs.XXXXXX")
  log "debootstrap --variant=minbase ${DEBIAN_SUITE} from ${DEBIAN_MIRROR} (about a minute)"
  if ! debootstrap --variant=minbase "${DEBIAN_SUITE}" "${root}" "${DEBIAN_MIRROR}" >"${WORK_DIR}/debootstrap.log" 2>&1; then
    rm -rf "${root}"
    die "debootstrap failed" "read ${WORK_DIR}/debootstrap.log; check that ${DEBIAN_MIRROR} is reachable (or set DEBIAN_MIRROR)"
  fi
  slim_rootfs "${root}"
  tar -C "${root}" --numeric-owner -cf "${tarball}.tmp" . || die "could not write ${tarball}.tmp" \
    "check free space in ${WORK_DIR} and re-run"
  rm -rf "${root}"
  mv "${tarball}.tmp" "${tarball}"
  # Tarballs of an older recipe are never used again.
  find "${WORK_DIR}" -maxdepth 1 -name "${DEBIAN_SUITE}-minbase-*.tar" ! -path "${tarball}" -delete
  log "root filesystem cached: ${tarball} ($(du -h "${tarball}" | cut -f1))"
}

import_base_image() {
  local tarball name="${AIRGAP_IMAGE[RUNTIME_BASE_IMAGE]}" hash
  tarball=$(rootfs_tarball)
  if [[ ! -f "${tarball}" ]]; then
    step debootstrap_rootfs debootstrap_rootfs "${tarball}"
  else
    log "root filesystem: cached ${tarball}"
  fi
  hash=$(basename "${tarball}" .tar)
  if [[ -z "${FORCE}" && "$(image_label "${name}")" == "${hash}" ]]; then
    log "${name}: up to date"
  else
    log "importing ${name}"
    "${DOCKER}" import \
      --change "LABEL ${HASH_LABEL}=${hash}" \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' \
      "${tarball}" "${name}" >/dev/null || die "docker import of ${tarball} failed" \
      "delete ${tarball} to rebuild it and re-run"
  fi
  RESOLVED_IMAGE[RUNTIME_BASE_IMAGE]="${name}"
}

# inputs_hash VAR - hash of everything an image is built from: its Dockerfile
# directory (contents and modes), the base image and, for the JDK, the JDK.
inputs_hash() {
  local var="$1" dir="${HERE}/${DOCKERFILE_DIR[$1]}" base_id
  base_id=$("${DOCKER}" image inspect -f '{{.Id}}' "${AIRGAP_IMAGE[RUNTIME_BASE_IMAGE]}")
  {
    echo "${base_id}"
    (cd "${dir}" && find . -type f -printf '%p %m\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum)
    if [[ "${var}" == BUILD_JDK_IMAGE ]]; then
      readlink -f "${JDK_HOME}"
      cat "${JDK_HOME}/release"
      local_ca_files | sort | xargs -r cat
    fi
  } | sha256sum | cut -c1-16
}

local_ca_files() {
  [[ -d "${LOCAL_CA_DIR}" ]] || return 0
  find "${LOCAL_CA_DIR}" -type f -name '*.crt'
}

# build_context VAR - write the build context to stdout as a tar stream. The
# JDK image also gets the host JDK as ./jdk with symlinks resolved (its cacerts
# is a link into /etc/ssl) and the host's local CAs as ./local-ca.
build_context() {
  local var="$1" dir="${HERE}/${DOCKERFILE_DIR[$1]}" jdk staging rc=0
  if [[ "${var}" != BUILD_JDK_IMAGE ]]; then
    tar -c -C "${dir}" .
    return
  fi
  jdk=$(readlink -f "${JDK_HOME}")
  staging=$(mktemp -d)
  mkdir "${staging}/local-ca"
  local_ca_files | xargs -r cp -t "${staging}/local-ca"
  tar -c -h -C "${dir}" . -C "${staging}" local-ca -C "${jdk%/*}" \
    --transform "s,^${jdk##*/},jdk," "${jdk##*/}" || rc=$?
  rm -rf "${staging}"
  return "${rc}"
}

check_jdk() {
  [[ -x "${JDK_HOME}/bin/java" ]] || die "no JDK at ${JDK_HOME}" \
    "install Temurin 25 there or point BUILD_JDK_HOME at a JDK 25"
  "${JDK_HOME}/bin/java" -version 2>&1 | grep -q 'version "25' || die "${JDK_HOME} is not a JDK 25" \
    "point BUILD_JDK_HOME at a JDK 25"
}

build_image() {
  local var="$1" name="${AIRGAP_IMAGE[$1]}" hash logfile old_id
  [[ "${var}" == BUILD_JDK_IMAGE ]] && check_jdk
  hash=$(inputs_hash "${var}")
  RESOLVED_IMAGE[${var}]="${name}"
  if [[ -z "${FORCE}" && "$(image_label "${name}")" == "${hash}" ]]; then
    log "${name}: up to date"
    return 0
  fi
  old_id=$("${DOCKER}" image inspect -f '{{.Id}}' "${name}" 2>/dev/null || true)
  logfile="${WORK_DIR}/logs/${DOCKERFILE_DIR[${var}]}.log"
  mkdir -p "${WORK_DIR}/logs"
  log "building ${name} (log: ${logfile})"
  if ! build_context "${var}" | "${DOCKER}" build --progress=plain \
    --build-arg "BASE_IMAGE=${AIRGAP_IMAGE[RUNTIME_BASE_IMAGE]}" \
    --label "${HASH_LABEL}=${hash}" -t "${name}" - >"${logfile}" 2>&1; then
    tail -n 15 "${logfile}" >&2
    die "building ${name} failed" "read ${logfile}; fix infrastructure/docker/base-images/${DOCKERFILE_DIR[${var}]}/ and re-run"
  fi
  remove_replaced_image "${old_id}" "${name}"
}

# remove_replaced_image OLD_ID NAME - drop the previous build once nothing
# names it any more (a container still using it keeps it).
remove_replaced_image() {
  local old_id="$1" name="$2"
  [[ -n "${old_id}" ]] || return 0
  [[ "$("${DOCKER}" image inspect -f '{{.Id}}' "${name}")" != "${old_id}" ]] || return 0
  [[ "$("${DOCKER}" image inspect -f '{{len .RepoTags}}' "${old_id}" 2>/dev/null)" == 0 ]] || return 0
  if "${DOCKER}" rmi "${old_id}" >/dev/null 2>&1; then log "removed the replaced image ${old_id:7:12}"; fi
}

build_airgap_images() {
  step import_base_image import_base_image
  local var
  for var in "${IMAGE_VARS[@]}"; do
    [[ -n "${DOCKERFILE_DIR[${var}]:-}" ]] || continue
    step "build_${DOCKERFILE_DIR[${var}]}" build_image "${var}"
  done
}

write_airgap_env() {
  local var
  mkdir -p "$(dirname "${AIRGAP_ENV}")"
  {
    echo "# Written by infrastructure/docker/base-images/build.sh: the official images could"
    echo "# not be pulled, these are local equivalents built from Debian packages."
    echo "# Delete this file to use the official images again."
    for var in "${IMAGE_VARS[@]}"; do
      echo "${var}=${RESOLVED_IMAGE[${var}]}"
    done
  } >"${AIRGAP_ENV}.tmp"
  if cmp -s "${AIRGAP_ENV}.tmp" "${AIRGAP_ENV}"; then
    rm -f "${AIRGAP_ENV}.tmp"
    log "${AIRGAP_ENV}: up to date"
  else
    mv "${AIRGAP_ENV}.tmp" "${AIRGAP_ENV}"
    log "wrote ${AIRGAP_ENV}"
  fi
}

print_table() {
  local var image size
  printf '%-20s %-42s %8s\n' VARIABLE IMAGE SIZE
  for var in "${IMAGE_VARS[@]}"; do
    image="${RESOLVED_IMAGE[${var}]}"
    size=$("${DOCKER}" image inspect -f '{{.Size}}' "${image}")
    printf '%-20s %-42s %5d MB\n' "${var}" "${image}" $((size / 1000 / 1000))
  done
}

main() {
  local requested_mode=auto mode start
  FORCE=""
  while (($#)); do
    case "$1" in
      -h | --help) usage; return 0 ;;
      --mode) requested_mode="${2:-}"; shift ;;
      --mode=*) requested_mode="${1#--mode=}" ;;
      --force) FORCE=1 ;;
      *) usage >&2; die "unknown argument: $1" "see --help" ;;
    esac
    shift
  done
  start=$(date +%s)
  check_engine
  load_official_names
  mode=$(choose_mode "${requested_mode}")
  log "mode: ${mode}"
  if [[ "${mode}" == pull ]]; then
    step pull_official_images pull_official_images
    use_official_images
  else
    build_airgap_images
    write_airgap_env
  fi
  print_table
  log "base images ready in $(($(date +%s) - start))s"
}

main "$@"
