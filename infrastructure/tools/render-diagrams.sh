#!/usr/bin/env bash
# Renders the architecture diagrams: each infrastructure/docs/diagrams/NAME.mmd
# (Mermaid source, the file people edit) to NAME.png with mermaid-cli and
# Debian's Chromium, offline. Then records the SHA-256 of every source and
# PNG in diagrams/rendered.sha256: make test-docs fails when a source changed
# without a new render, or a PNG without its source. `make docs` runs this.
set -Eeuo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/common.sh
source "${HERE}/lib/common.sh"
export RM_LOG_TAG="render-diagrams"

DIAGRAMS="${RM_REPO_ROOT}/infrastructure/docs/diagrams"
MERMAID_CLI_VERSION=12.2.0
MERMAID_DIR="${RM_CACHE_DIR}/mermaid-cli/${MERMAID_CLI_VERSION}"
# Pixel scale of the PNGs: labels stay readable when a README scales a wide chart down.
SCALE=2

usage() {
  cat <<USAGE
Usage: $(basename "$0") [NAME...]

Renders infrastructure/docs/diagrams/NAME.mmd to NAME.png (every .mmd when no
NAME is given) and rewrites diagrams/rendered.sha256. Installs what it needs
when missing: Chromium, Node.js and npm from Debian, mermaid-cli
${MERMAID_CLI_VERSION} from npm into ${MERMAID_DIR}.
USAGE
}

ensure_tools() {
  have chromium || ensure_apt_packages chromium fonts-dejavu-core
  have npm || ensure_apt_packages nodejs npm
  if [[ ! -x "${MERMAID_DIR}/node_modules/.bin/mmdc" ]]; then
    log "installing mermaid-cli ${MERMAID_CLI_VERSION} into ${MERMAID_DIR} (Chromium: Debian's, none downloaded)"
    mkdir -p "${MERMAID_DIR}"
    PUPPETEER_SKIP_DOWNLOAD=1 npm install --prefix "${MERMAID_DIR}" --no-audit --no-fund --loglevel=error \
      "@mermaid-js/mermaid-cli@${MERMAID_CLI_VERSION}" >/dev/null
  fi
  # Root in a container: Chromium's sandbox needs user namespaces it may not get.
  printf '{"executablePath": "%s", "args": ["--no-sandbox", "--disable-gpu"]}\n' "$(command -v chromium)" \
    >"${MERMAID_DIR}/puppeteer.json"
}

render() {
  local name="$1" source="${DIAGRAMS}/$1.mmd"
  # (A step's command runs without errexit: every failure returns explicitly.)
  "${MERMAID_DIR}/node_modules/.bin/mmdc" --quiet -p "${MERMAID_DIR}/puppeteer.json" -i "${source}" \
    -o "${DIAGRAMS}/${name}.png" -b white -s "${SCALE}" >/dev/null ||
    { warn "mermaid-cli could not render ${source} (its error is above)"; return 1; }
  log "rendered ${name}.png ($(stat -c %s "${DIAGRAMS}/${name}.png") bytes)"
}

# record - the hashes test-docs checks: each source with the PNG rendered from it.
record() {
  (
    cd "${DIAGRAMS}"
    for source in *.mmd; do
      sha256sum "${source}" "${source%.mmd}.png"
    done
  ) >"${DIAGRAMS}/rendered.sha256"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    -*) usage >&2; die "unknown option '$1'" "see --help" 2 ;;
  esac
  local names=("$@") source
  if ((${#names[@]} == 0)); then
    for source in "${DIAGRAMS}"/*.mmd; do names+=("$(basename "${source}" .mmd)"); done
  fi
  # Every name first: nothing is installed for a typo.
  for source in "${names[@]}"; do
    [[ -f "${DIAGRAMS}/${source}.mmd" ]] ||
      die "no diagram source ${DIAGRAMS}/${source}.mmd" "the sources are: $(cd "${DIAGRAMS}" && printf '%s ' *.mmd)" 2
  done
  ensure_tools
  for source in "${names[@]}"; do
    step "render ${source}" render "${source}" || die "rendering ${source} failed" "fix ${DIAGRAMS}/${source}.mmd and re-run"
  done
  record
  log "recorded the sources and PNGs in ${DIAGRAMS}/rendered.sha256"
}

main "$@"
