#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The code-quality job (make ci-quality): format check, compile with Error
# Prone, gitleaks over the full history and a dependency audit. Prints each
# result and "N passed, N failed[, N skipped]"; exits non-zero on a failure.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/common.sh
source "${HERE}/../lib/common.sh"
# shellcheck source=../lib/testing.sh
source "${HERE}/../lib/testing.sh"
export RM_LOG_TAG="ci-quality"

# Where trivy and osv-scanner fetch vulnerability data; none needs the NVD.
AUDIT_SOURCES=(https://mirror.gcr.io/v2/ https://api.osv.dev/)

usage() {
  cat <<USAGE
Usage: $(basename "$0")

  format+static  ./mvnw -pl apps/api spotless:check compile (google-java-format,
                 javac -Xlint -Werror, Error Prone)
  secrets        gitleaks over every commit with .gitleaks.toml (gitleaks.sh history)
  dependencies   trivy fs (HIGH/CRITICAL) when trivy is installed and its
                 database is reachable; otherwise SKIPPED with the reason. In
                 GitHub the code-quality job runs the same scan with trivy-action.
USAGE
}

maven_static() {
  (cd "${RM_REPO_ROOT}" && ./mvnw -B -ntp -q -pl apps/api spotless:check compile)
}

reachable() { curl -sS -o /dev/null --max-time 5 "$1" 2>/dev/null; }

dependency_audit() {
  local source
  if ! have trivy; then
    skip "dependency audit" "trivy is not installed here; it runs in GitHub (code-quality job, trivy fs, fails on HIGH/CRITICAL)"
    return 0
  fi
  for source in "${AUDIT_SOURCES[@]}"; do
    if reachable "${source}"; then
      check "dependency audit (trivy fs, HIGH/CRITICAL)" \
        trivy fs --scanners vuln --severity HIGH,CRITICAL --exit-code 1 --quiet "${RM_REPO_ROOT}"
      return 0
    fi
  done
  skip "dependency audit" "no vulnerability database reachable (${AUDIT_SOURCES[*]}); it runs in GitHub (code-quality job, trivy fs)"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unknown argument: $1" "run with --help" ;;
  esac
  log "format check and static analysis"
  check "format check + compile with Error Prone (apps/api)" maven_static
  log "gitleaks over the full history"
  check "no secret in any commit (gitleaks, .gitleaks.toml)" "${HERE}/gitleaks.sh" history
  dependency_audit
  summary
}

main "$@"
