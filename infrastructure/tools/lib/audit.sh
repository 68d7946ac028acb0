# shellcheck shell=bash
# The security audit's findings, one JSON object per line in AUDIT_RESULTS
# (default .run/audit/results.jsonl), written by every audit check (the
# scanners, the staging rehearsal's probes of the running system) and read by
# `make audit`, which turns them into infrastructure/docs/security-audit.md.
# Source it after common.sh; it defines functions only.

AUDIT_RESULTS="${AUDIT_RESULTS:-${RM_REPO_ROOT}/.run/audit/results.jsonl}"

# audit_record AREA CHECK RESULT SEVERITY DETAIL [RESOLUTION] - one finding.
#   AREA      secrets | config | running | abuse
#   CHECK     what was checked, one line ("HAProxy runtime API from the VPC")
#   RESULT    pass | fail | accepted (a known risk, RESOLUTION says why)
#   SEVERITY  none | low | medium | high | critical (none for a pass)
#   DETAIL    what was seen (no secret values)
#   RESOLUTION what fixed it, or why it is accepted
audit_record() {
  local area="$1" check="$2" result="$3" severity="$4" detail="$5" resolution="${6:-}"
  case "${area}" in secrets | config | running | abuse) ;; *) die "audit_record: unknown area '${area}'" "use secrets, config, running or abuse" 2 ;; esac
  case "${result}" in pass | fail | accepted) ;; *) die "audit_record: unknown result '${result}'" "use pass, fail or accepted" 2 ;; esac
  case "${severity}" in none | low | medium | high | critical) ;; *) die "audit_record: unknown severity '${severity}'" "use none, low, medium, high or critical" 2 ;; esac
  mkdir -p "$(dirname "${AUDIT_RESULTS}")"
  jq -cn --arg area "${area}" --arg check "${check}" --arg result "${result}" --arg severity "${severity}" \
    --arg detail "${detail}" --arg resolution "${resolution}" --arg at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    '{at: $at, area: $area, check: $check, result: $result, severity: $severity, detail: $detail, resolution: $resolution}' \
    >>"${AUDIT_RESULTS}"
}
