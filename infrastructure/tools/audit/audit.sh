#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The security audit (#17) as a command: the static scanners and the sweeps of
# what runs on this machine append their findings to AUDIT_RESULTS through
# audit_record (infrastructure/tools/lib/audit.sh); `report` turns those into
# infrastructure/docs/security-audit.md, applying the accepted risks of
# accepted-risks.tsv, and exits non-zero on any finding that is neither fixed
# nor accepted. `self-test` plants findings and proves each check sees them.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/common.sh
source "${HERE}/../lib/common.sh"
# shellcheck source=../lib/audit.sh
source "${HERE}/../lib/audit.sh"
# shellcheck source=../lib/testing.sh
source "${HERE}/../lib/testing.sh"
export RM_LOG_TAG="audit"

DOCKER="${DOCKER:-/usr/bin/docker}"
ACCEPTED_RISKS="${AUDIT_ACCEPTED_RISKS:-${HERE}/accepted-risks.tsv}"
FIXED="${AUDIT_FIXED:-${HERE}/fixed.tsv}"
REPORT="${AUDIT_REPORT:-${RM_REPO_ROOT}/infrastructure/docs/security-audit.md}"
# The deployments on this machine (ENV=local's env dir: secrets/ and state/).
DEPLOY_DIR="${AUDIT_DEPLOY_DIR:-${RM_CACHE_DIR}/deploy}"
# The uid the API runs as, which owns a host's secret files (local-host.sh, Ansible).
API_UID=1001
# A name of an environment variable that carries a secret (REDISCLI_AUTH, not
# AUTHORIZED_KEY, a public key; not GPG_KEYS, the official images' signing keys).
SENSITIVE_WORDS='PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE_KEY|API_KEY|ACCESS_KEY'
SENSITIVE_NAME_RE="(${SENSITIVE_WORDS}|_AUTH\$)"
# Values shorter than this are not compared (they would match everywhere).
MIN_SECRET_LENGTH=8

# Set by parse_args.
COMMAND=""
GROUPS_TO_RUN="repo,image,host"
SCAN_ROOT="${RM_REPO_ROOT}"
IMAGE=""
CONTAINER_FILTER=""
EXTRA_SECRET_FILES=()
NO_HOSTS=""
LIST=""
# What ran, one line per part, for the report's header: beside the results.
RAN_FILE="${AUDIT_RESULTS%/*}/ran.txt"
WORK=""
HOSTS_TEST="${RM_REPO_ROOT}/infrastructure/ansible/tests/test-hosts.sh"

usage() {
  cat <<USAGE
Usage: $(basename "$0") COMMAND [OPTIONS]

Commands:
  run        make audit: a fresh AUDIT_RESULTS, scan (every group), the staging
             rehearsal's running-system and abuse probes (test-hosts.sh --audit;
             --no-hosts skips them), then report
  scan       run the checks, append their findings to AUDIT_RESULTS
  report     AUDIT_RESULTS -> infrastructure/docs/security-audit.md (accepted risks
             applied); exit 1 when a finding is neither fixed nor accepted
  verdict    the same decision as report, without writing the report
  self-test  plant findings (a container with -e SECRET=..., a port on all
             interfaces, a secret in a git history, a bad Dockerfile and compose
             file, a world-readable secret file, a ledger holding a secret) and
             check that each check fails on them and passes on clean twins
             (the planted half of tests/test-audit.sh, which make test-audit runs)

Options of scan:
  --only GROUPS          comma list of: repo (gitleaks over the full history,
                         detect-secrets, hadolint, trivy config, checkov, compose
                         ports), image (image config and history, trivy image
                         misconfig+secret, SBOM), host (every container's inspect
                         and logs, process arguments, release ledgers, secret file
                         modes); default: all
  --root DIR             the git work tree the repo checks scan (default: this one)
  --image IMAGE          the API image of the image checks (default: restomarket/api:test)
  --containers FILTER    docker ps --filter of the containers to sweep (default: all running)
  --secret-file FILE     a file whose content is a secret value to look for (repeatable)
Options of run: those of scan, and
  --no-hosts             skip the staging rehearsal (the report says so)
Option of verdict:
  --list                 first print every finding (accepted risks applied) as
                         RESULT<TAB>CHECK<TAB>DETAIL

Environment:
  AUDIT_RESULTS          results file (default: .run/audit/results.jsonl)
  AUDIT_ACCEPTED_RISKS   accepted risks (default: infrastructure/tools/audit/accepted-risks.tsv)
  AUDIT_REPORT           report file (default: infrastructure/docs/security-audit.md)
  AUDIT_FIXED            findings fixed since an audit raised them (default: infrastructure/tools/audit/fixed.tsv)
  AUDIT_DEPLOY_DIR       this machine's deployments (default: \${RESTOMARKET_CACHE_DIR}/deploy)
  RESTOMARKET_CACHE_DIR  cache root: tools, venvs, ENV=local's secrets and ledger
USAGE
}

parse_args() {
  case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    scan | report | verdict | self-test | run) COMMAND="$1"; shift ;;
    "") usage >&2; die "no command given" "use run, scan, report, verdict or self-test" 2 ;;
    *) usage >&2; die "unknown command '$1'" "use run, scan, report, verdict or self-test" 2 ;;
  esac
  while (($# > 0)); do
    case "$1" in
      --only) need_value "$@"; GROUPS_TO_RUN="$2"; shift 2 ;;
      --root) need_value "$@"; SCAN_ROOT="$(cd "$2" 2>/dev/null && pwd)" || die "no folder $2" "pass --root an existing git work tree" 2; shift 2 ;;
      --image) need_value "$@"; IMAGE="$2"; shift 2 ;;
      --containers) need_value "$@"; CONTAINER_FILTER="$2"; shift 2 ;;
      --secret-file) need_value "$@"; [[ -r "$2" ]] || die "cannot read --secret-file $2" "" 2; EXTRA_SECRET_FILES+=("$2"); shift 2 ;;
      --no-hosts) NO_HOSTS=1; shift ;;
      --list) LIST=1; shift ;;
      *) die "unknown option: $1" "run with --help" 2 ;;
    esac
  done
  local group
  for group in ${GROUPS_TO_RUN//,/ }; do
    case "${group}" in repo | image | host) ;; *) die "unknown check group '${group}'" "use repo, image or host" 2 ;; esac
  done
  git -C "${SCAN_ROOT}" rev-parse --git-dir >/dev/null 2>&1 || die "${SCAN_ROOT} is not a git work tree" "pass --root a git work tree" 2
}

need_value() { [[ -n "${2:-}" ]] || die "$1 needs a value" "run with --help" 2; }

wants() { [[ ",${GROUPS_TO_RUN}," == *",$1,"* ]]; }

# ---- tools ---------------------------------------------------------------------

# The scanners: AUDIT_VENV (detect-secrets, hadolint), CHECKOV_BIN and
# TRIVY_BIN from the environment when a caller resolved them already.
ensure_tools() {
  ensure_apt_packages jq git python3-yaml
  wants repo || wants image || return 0
  [[ -x "${AUDIT_VENV:-}/bin/hadolint" ]] ||
    AUDIT_VENV="$("${RM_REPO_ROOT}/infrastructure/tools/bootstrap/python-tools.sh" audit | tail -n1)"
  [[ -x "${CHECKOV_BIN:-}" ]] ||
    CHECKOV_BIN="$("${RM_REPO_ROOT}/infrastructure/tools/bootstrap/python-tools.sh" checkov | tail -n1)/bin/checkov"
  [[ -x "${TRIVY_BIN:-}" ]] || TRIVY_BIN="$("${RM_REPO_ROOT}/infrastructure/tools/ci/tools.sh" trivy | tail -n1)"
}

# ---- the repository: secrets and configuration -----------------------------------

# tracked FILES... - tracked files of SCAN_ROOT matching the git pathspecs, NUL-separated.
tracked() { git -C "${SCAN_ROOT}" ls-files -z -- "$@"; }

scan_gitleaks() {
  local out rc=0 found
  out="$("${RM_REPO_ROOT}/infrastructure/tools/ci/gitleaks.sh" history "${SCAN_ROOT}" 2>&1)" || rc=$?
  found="$(awk '/^RuleID:/ {rule = $2} /^File:/ {file = $2} /^Commit:/ {print rule "\t" file "\t" substr($2, 1, 12)}' <<<"${out}")"
  if ((rc == 0)); then
    audit_record secrets "gitleaks over the full history of every branch" pass none \
      "$(grep -Eo '[0-9]+ commits scanned' <<<"${out}" | head -n1 || true); no leak"
  elif [[ -z "${found}" ]]; then
    audit_record secrets "gitleaks over the full history of every branch" fail high "gitleaks failed: $(tail -n 3 <<<"${out}")"
  else
    local rule file commit
    while IFS=$'\t' read -r rule file commit; do
      audit_record secrets "gitleaks ${rule}: ${file}" fail critical "a secret in commit ${commit} (redacted)"
    done <<<"${found}"
  fi
}

# detect-secrets over the tracked files of today's tree, independent of
# gitleaks (other rules, entropy and keyword detectors). A finding is named by
# its file, type and the first 8 hex digits of the value's hash, so that an
# accepted false positive stays accepted when lines move and a new value in
# the same file is a new finding.
run_detect_secrets() {
  (cd "${SCAN_ROOT}" && tracked . | xargs -0 -r "${AUDIT_VENV}/bin/detect-secrets" scan 2>"${WORK}/detect-secrets.err")
}

scan_detect_secrets() {
  local json findings
  # One retry: its worker processes have crashed once on a loaded machine.
  json="$(run_detect_secrets)" || json="$(run_detect_secrets)" || {
    audit_record secrets "detect-secrets over the tracked files" fail high \
      "detect-secrets failed to run: $(tail -n 3 "${WORK}/detect-secrets.err" | tr '\n' ' ')"
    return 0
  }
  findings="$(jq -r '.results | to_entries[] | .key as $f | .value[]
    | [.type, $f, .hashed_secret[0:8], (.line_number | tostring)] | @tsv' <<<"${json}")"
  if [[ -z "${findings}" ]]; then
    audit_record secrets "detect-secrets over the tracked files" pass none "$(tracked . | tr -cd '\0' | wc -c) files, no secret"
    return 0
  fi
  local type file hash line
  while IFS=$'\t' read -r type file hash line; do
    audit_record secrets "detect-secrets ${type}: ${file} (hash ${hash})" fail high "line ${line}"
  done <<<"${findings}"
}

# hadolint levels -> audit severities.
hadolint_severity() {
  case "$1" in error) echo high ;; warning) echo medium ;; *) echo low ;; esac
}

scan_hadolint() {
  local files=() f json n=0
  while IFS= read -r -d '' f; do files+=("${f}"); done < <(tracked '*Dockerfile*')
  ((${#files[@]} > 0)) || { audit_record config "hadolint: every Dockerfile" pass none "no Dockerfile"; return 0; }
  for f in "${files[@]}"; do
    json="$(cd "${SCAN_ROOT}" && "${AUDIT_VENV}/bin/hadolint" --no-fail --format json "${f}" 2>&1)" ||
      { audit_record config "hadolint: ${f}" fail high "hadolint failed: ${json}"; continue; }
    local code level line message
    while IFS=$'\t' read -r code level line message; do
      [[ -n "${code}" ]] || continue
      n=$((n + 1))
      audit_record config "hadolint ${code}: ${f}" fail "$(hadolint_severity "${level}")" "line ${line}: ${message}"
    done < <(jq -r '.[] | [.code, .level, (.line | tostring), .message] | @tsv' <<<"${json}")
  done
  ((n > 0)) || audit_record config "hadolint: every Dockerfile" pass none "${#files[@]} Dockerfiles, no finding"
}

trivy_severity() { tr '[:upper:]' '[:lower:]' <<<"${1:-}" | sed 's/^unknown$/low/'; }

# trivy config over DIR with SCANNERS; findings named after their path from
# SCAN_ROOT. IGNORE_FILE (trivy's own, optional) lists the findings that
# tf-check accepts: they are recorded as accepted with its statement.
scan_trivy_config() {
  local label="$1" dir="$2" scanners="$3" ignore_file="${4:-}" json prefix findings
  prefix="${dir#"${SCAN_ROOT}"}"
  prefix="${prefix#/}"
  [[ -z "${prefix}" ]] || prefix="${prefix}/"
  json="$(cd "${dir}" && "${TRIVY_BIN}" config --quiet --skip-check-update --misconfig-scanners "${scanners}" \
    --skip-dirs '**/.terraform' --skip-dirs '**/target' --skip-dirs .run --format json . 2>&1)" ||
    { audit_record config "trivy config (${label})" fail high "trivy failed: $(tail -n 3 <<<"${json}")"; return 0; }
  findings="$(jq -r '[.Results[]? | .Target as $t | .Misconfigurations[]? | [.ID, .Severity, $t, .Title]]
    | unique[] | @tsv' <<<"${json}")"
  if [[ -z "${findings}" ]]; then
    audit_record config "trivy config (${label})" pass none "no misconfiguration at any severity"
    return 0
  fi
  local id severity target title statement
  while IFS=$'\t' read -r id severity target title; do
    statement="$(trivy_ignored "${ignore_file}" "${id}" "${target}")"
    if [[ -n "${statement}" ]]; then
      audit_record config "trivy config ${id}: ${prefix}${target}" accepted "$(trivy_severity "${severity}")" "${title}" \
        "accepted in ${ignore_file#"${SCAN_ROOT}"/}: ${statement}"
    else
      audit_record config "trivy config ${id}: ${prefix}${target}" fail "$(trivy_severity "${severity}")" "${title}"
    fi
  done <<<"${findings}"
}

# trivy_ignored FILE ID TARGET - the statement of FILE's entry for ID on TARGET, if any.
trivy_ignored() {
  [[ -n "$1" && -f "$1" ]] || return 0
  python3 - "$@" <<'PY'
import sys, yaml
path, rule, target = sys.argv[1:4]
for entry in (yaml.safe_load(open(path)) or {}).get("misconfigurations", []):
    if entry.get("id") == rule and (not entry.get("paths") or target in entry["paths"]):
        print(" ".join(str(entry.get("statement", "no statement")).split()))
        break
PY
}

# checkov: the Dockerfiles and workflows by file, the Terraform tree with the
# configuration tf-check uses (its skip list holds Terraform's accepted checks).
scan_checkov() {
  local files=() f json
  while IFS= read -r -d '' f; do files+=(-f "${f}"); done < <(tracked '*Dockerfile*' '.github/workflows/*.yml')
  if ((${#files[@]} > 0)); then
    json="$(cd "${SCAN_ROOT}" && "${CHECKOV_BIN}" --quiet --compact --skip-download -o json \
      --framework dockerfile github_actions "${files[@]}" 2>/dev/null)" || true
    record_checkov "Dockerfiles and workflows" "${json}"
  fi
  if [[ -f "${SCAN_ROOT}/infrastructure/terraform/.checkov.yaml" ]]; then
    json="$(cd "${SCAN_ROOT}/infrastructure/terraform" && "${CHECKOV_BIN}" --config-file .checkov.yaml -d . -o json 2>/dev/null)" || true
    record_checkov "Terraform" "${json}" infrastructure/terraform/
  fi
}

record_checkov() {
  local label="$1" json="$2" prefix="${3:-}" findings
  if ! jq -e . >/dev/null 2>&1 <<<"${json}"; then
    audit_record config "checkov (${label})" fail high "checkov printed no JSON report"
    return 0
  fi
  findings="$(jq -r '[if type == "array" then .[] else . end | .results.failed_checks[]?
    | [.check_id, (.file_path | ltrimstr("/")), .check_name]] | unique[] | @tsv' <<<"${json}")"
  if [[ -z "${findings}" ]]; then
    audit_record config "checkov (${label})" pass none \
      "$(jq -r '[if type == "array" then .[] else . end | .summary.passed] | add // 0' <<<"${json}") checks passed, 0 failed"
    return 0
  fi
  local id file name
  while IFS=$'\t' read -r id file name; do
    audit_record config "checkov ${id}: ${prefix}${file}" fail medium "${name}"
  done <<<"${findings}"
}

# Compose files (trivy and checkov have no compose scanner): a published port
# binds loopback only, no service is privileged or on the host network, and an
# environment variable with a secret's name holds no value (secrets are files).
scan_compose() {
  local files=() f problems
  while IFS= read -r -d '' f; do files+=("${f}"); done < <(tracked '*compose*.yml' '*compose*.yaml')
  ((${#files[@]} > 0)) || { audit_record config "compose files" pass none "no compose file"; return 0; }
  for f in "${files[@]}"; do
    problems="$(cd "${SCAN_ROOT}" && python3 - "${f}" "${SENSITIVE_NAME_RE}" <<'PY'
import re, sys, yaml
path, secret_re = sys.argv[1], re.compile(sys.argv[2])
doc = yaml.safe_load(open(path)) or {}
for name, svc in (doc.get("services") or {}).items():
    for port in svc.get("ports") or []:
        spec = str(port.get("host_ip", "") + ":" + str(port.get("published", "")) if isinstance(port, dict) else port)
        if not (spec.startswith("127.0.0.1:") or spec.startswith("[::1]:")):
            print(f"high\tport\t{name}: port {spec} is published on every interface (bind 127.0.0.1:)")
    if svc.get("privileged"):
        print(f"high\tprivileged\t{name}: privileged: true")
    if svc.get("network_mode") == "host":
        print(f"medium\thost-network\t{name}: network_mode: host")
    env = svc.get("environment") or {}
    pairs = env.items() if isinstance(env, dict) else [tuple((e.split("=", 1) + [""])[:2]) for e in env]
    for key, value in pairs:
        if secret_re.search(key) and not key.endswith("_FILE") and str(value or "").strip():
            print(f"high\tsecret-env\t{name}: {key} holds a value (mount it as a secret file)")
PY
    )" || { audit_record config "compose ${f}" fail high "could not read it: ${problems}"; continue; }
    if [[ -z "${problems}" ]]; then
      audit_record config "compose ${f}: loopback ports, no privileged service, no secret values" pass none "checked"
    else
      local severity kind detail
      while IFS=$'\t' read -r severity kind detail; do
        audit_record config "compose ${kind}: ${f} ${detail%%:*}" fail "${severity}" "${detail}"
      done <<<"${problems}"
    fi
  done
}

scan_repo() {
  step gitleaks scan_gitleaks
  step detect-secrets scan_detect_secrets
  step hadolint scan_hadolint
  step trivy-config scan_trivy_config Dockerfiles "${SCAN_ROOT}" dockerfile
  if [[ -d "${SCAN_ROOT}/infrastructure/terraform" ]]; then
    step trivy-config-terraform scan_trivy_config Terraform "${SCAN_ROOT}/infrastructure/terraform" terraform \
      "${SCAN_ROOT}/infrastructure/terraform/.trivyignore.yaml"
  fi
  step checkov scan_checkov
  step compose scan_compose
}

# ---- known secret values -------------------------------------------------------

# secret_files - files on this machine whose content is a secret: ENV=local's
# secrets, the compose stacks' secret files, the local services' settings.
secret_files() {
  local f
  for f in "${DEPLOY_DIR}"/*/secrets/* "${RM_REPO_ROOT}"/.run/*-secrets/*; do
    [[ -f "${f}" ]] && printf '%s\n' "${f}"
  done
  ((${#EXTRA_SECRET_FILES[@]} == 0)) || printf '%s\n' "${EXTRA_SECRET_FILES[@]}"
}

# known_secrets FILE - one secret value a line: the secret files' contents and
# the secret-named settings of the local settings files.
known_secrets() {
  local f
  {
    while IFS= read -r f; do
      tr -d '\n' <"${f}"
      echo
    done < <(secret_files)
    for f in "${RM_REPO_ROOT}"/.env.development "${RM_REPO_ROOT}"/.env.staging "${RM_REPO_ROOT}"/.run/local-services.env; do
      [[ -f "${f}" ]] || continue
      grep -E "^(export )?[A-Z_]*(${SENSITIVE_WORDS})[A-Z_]*=" "${f}" | sed 's/^[^=]*=//; s/^"\(.*\)"$/\1/' || true
    done
  } | awk -v min="${MIN_SECRET_LENGTH}" 'length($0) >= min' | sort -u >"$1"
}

# holds_secret FILE SECRETS - the first line of FILE holding one of SECRETS, masked.
holds_secret() {
  [[ -s "$2" ]] || return 1
  local line
  line="$(grep -m1 -F -f "$2" "$1")" || return 1
  local s
  while IFS= read -r s; do line="${line//"${s}"/<secret>}"; done <"$2"
  printf '%s\n' "${line:0:200}"
}

# ---- the image -------------------------------------------------------------------

scan_image() {
  local image="${IMAGE:-restomarket/api:test}" secrets="${WORK}/secrets" out
  if ! "${DOCKER}" image inspect "${image}" >/dev/null 2>&1; then
    audit_record secrets "image ${image}: config, history, layers" fail high "no such image here" \
      "build it first (make image TAG=...)"
    return 0
  fi
  known_secrets "${secrets}"
  "${DOCKER}" image inspect "${image}" >"${WORK}/image.json"
  "${DOCKER}" history --no-trunc --format '{{.CreatedBy}}' "${image}" >"${WORK}/history.txt"
  local envs
  envs="$(jq -r --arg re "${SENSITIVE_NAME_RE}" '.[0].Config.Env[]? | select(split("=")[0] | test($re))
    | select((split("=")[0] | endswith("_FILE")) | not) | select(split("=")[1:] | join("=") | length > 0) | split("=")[0]' \
    "${WORK}/image.json")"
  if [[ -n "${envs}" ]]; then
    audit_record secrets "image ${image}: ENV without secret values" fail high "secret-named ENV with a value: ${envs//$'\n'/ }"
  else
    audit_record secrets "image ${image}: ENV without secret values" pass none "no secret-named ENV holds a value"
  fi
  if out="$(holds_secret "${WORK}/history.txt" "${secrets}")" || out="$(holds_secret "${WORK}/image.json" "${secrets}")"; then
    audit_record secrets "image ${image}: config and history hold no known secret" fail critical "${out}"
  elif out="$(grep -m1 -Ei -- "--(build-arg|secret)[= ][A-Z_]*(${SENSITIVE_WORDS})[A-Z_]*=[^ ]" "${WORK}/history.txt")"; then
    audit_record secrets "image ${image}: config and history hold no known secret" fail high "a build argument with a value: ${out:0:200}"
  else
    audit_record secrets "image ${image}: config and history hold no known secret" pass none \
      "$(wc -l <"${WORK}/history.txt") history entries, $(wc -l <"${secrets}") known secrets compared"
  fi
  scan_trivy_image "${image}"
  step sbom make_sbom "${image}"
}

# trivy image: misconfigurations of the image config and secrets in every
# layer's files. Both need no vulnerability database (the CVE scan runs in the
# GitHub pipeline, where the database can be downloaded).
scan_trivy_image() {
  local image="$1" json findings
  json="$("${TRIVY_BIN}" image --quiet --skip-db-update --skip-check-update --offline-scan \
    --scanners misconfig,secret --image-config-scanners misconfig,secret --format json "${image}" 2>&1)" ||
    { audit_record config "trivy image ${image}: misconfigurations and secrets" fail high "trivy failed: $(tail -n 3 <<<"${json}")"; return 0; }
  findings="$(jq -r '[.Results[]? | .Target as $t
    | (.Misconfigurations[]? | [.ID, .Severity, $t, .Title]), (.Secrets[]? | [.RuleID, .Severity, $t, .Title])]
    | unique[] | @tsv' <<<"${json}")"
  if [[ -z "${findings}" ]]; then
    audit_record config "trivy image ${image}: misconfigurations and secrets" pass none "image config and every layer: no finding"
    return 0
  fi
  local id severity target title
  while IFS=$'\t' read -r id severity target title; do
    audit_record config "trivy image ${id}: ${image} ${target}" fail "$(trivy_severity "${severity}")" "${title}"
  done <<<"${findings}"
}

# The SBOM (CycloneDX) of the image, by syft: it reads the jars' own metadata,
# where trivy's jar analysis needs its Java database, which cannot be
# downloaded here.
make_sbom() {
  local image="$1" syft out="${RM_REPO_ROOT}/.run/audit/sbom-api.cdx.json" count
  syft="$("${RM_REPO_ROOT}/infrastructure/tools/ci/tools.sh" syft | tail -n1)" ||
    { audit_record config "SBOM of ${image}" fail medium "syft could not be built" "check the Go module proxy"; return 0; }
  mkdir -p "$(dirname "${out}")"
  if ! SYFT_CHECK_FOR_APP_UPDATE=false "${syft}" scan -q "docker:${image}" -o "cyclonedx-json=${out}" >/dev/null 2>"${WORK}/syft.err"; then
    audit_record config "SBOM of ${image}" fail medium "syft failed: $(tail -n 3 "${WORK}/syft.err")"
    return 0
  fi
  count="$(jq '[.components[]?] | length' "${out}")"
  if ((count > 0)); then
    audit_record config "SBOM of ${image}" pass none "CycloneDX with ${count} components in .run/audit/$(basename "${out}")"
  else
    audit_record config "SBOM of ${image}" fail medium "the SBOM lists no component"
  fi
}

# ---- what runs on this machine ----------------------------------------------------

containers() {
  if [[ -n "${CONTAINER_FILTER}" ]]; then
    "${DOCKER}" ps -q --filter "${CONTAINER_FILTER}"
  else
    "${DOCKER}" ps -q
  fi
}

# The problems of one container's `docker inspect` JSON, one a line:
# "SEVERITY<TAB>KIND<TAB>DETAIL" (no values).
# shellcheck disable=SC2016 # a jq program
JQ_INSPECT='
  .[0] as $c
  | ($c.Config.Env // [] | map(capture("^(?<k>[^=]*)=(?<v>.*)$")) | .[]
      | select((.k | test($re)) and (.k | endswith("_FILE") | not) and (.v | length > 0) and (.v | startswith("/") | not))
      | "high\tsecret-env\tenvironment variable \(.k) holds a value (pass a file: \(.k)_FILE or /run/secrets)"),
    ((($c.Config.Entrypoint // []) + ($c.Config.Cmd // []) + ($c.Args // [])) as $argv
      | $argv | to_entries[]
      | select(.value | test("^--?(requirepass|password|passwd|token|secret|api-key)(=.+)?$"; "i"))
      | select((.value | contains("=")) or (($argv[.key + 1] // "") | length > 0 and (startswith("-") | not)))
      | "high\tsecret-arg\tcommand line carries \(.value | sub("=.*"; "=…")) with a value"),
    ($c.HostConfig.PortBindings // {} | to_entries[] | .key as $p | .value[]?
      | select(.HostIp == "" or .HostIp == "0.0.0.0" or .HostIp == "::")
      | "high\tport\tport \($p) is published on every interface (host port \(if .HostPort == "" then "chosen by Docker" else .HostPort end))"),
    (if $c.HostConfig.Privileged then "high\tprivileged\tthe container is privileged" else empty end)
'

sweep_containers() {
  local secrets="${WORK}/secrets" id name n=0 bad=0 problems out
  known_secrets "${secrets}"
  while IFS= read -r id; do
    [[ -n "${id}" ]] || continue
    "${DOCKER}" inspect "${id}" >"${WORK}/inspect.json" 2>/dev/null || continue
    name="$(jq -r '.[0].Name | ltrimstr("/")' "${WORK}/inspect.json")"
    n=$((n + 1))
    problems="$(jq -r --arg re "${SENSITIVE_NAME_RE}" "${JQ_INSPECT}" "${WORK}/inspect.json")"
    if out="$(holds_secret "${WORK}/inspect.json" "${secrets}")"; then
      problems+=$'\n'"critical"$'\t'"known-secret"$'\t'"docker inspect shows a secret value: ${out}"
    fi
    "${DOCKER}" logs --tail 5000 "${id}" >"${WORK}/logs.txt" 2>&1 || true
    if out="$(holds_secret "${WORK}/logs.txt" "${secrets}")"; then
      problems+=$'\n'"critical"$'\t'"log"$'\t'"the container's log shows a secret value: ${out}"
    fi
    local severity kind detail
    while IFS=$'\t' read -r severity kind detail; do
      [[ -n "${kind}" ]] || continue
      bad=$((bad + 1))
      audit_record secrets "container ${kind}: ${name}" fail "${severity}" "${detail}"
    done <<<"${problems}"
  done < <(containers)
  if ((bad == 0)); then
    audit_record secrets "containers: docker inspect and logs hold no secret, ports on loopback" pass none \
      "${n} running containers swept, $(wc -l <"${secrets}") known secrets compared"
  fi
}

sweep_processes() {
  local secrets="${WORK}/secrets" out
  known_secrets "${secrets}"
  local cmdline
  for cmdline in /proc/[0-9]*/cmdline; do
    { tr '\0' ' ' <"${cmdline}"; echo; } 2>/dev/null || true
  done >"${WORK}/ps.txt"
  if out="$(holds_secret "${WORK}/ps.txt" "${secrets}")"; then
    audit_record secrets "process arguments hold no known secret" fail critical "${out}"
  else
    audit_record secrets "process arguments hold no known secret" pass none \
      "$(wc -l <"${WORK}/ps.txt") processes, $(wc -l <"${secrets}") known secrets compared"
  fi
}

sweep_ledgers() {
  local secrets="${WORK}/secrets" ledger n=0 out
  known_secrets "${secrets}"
  for ledger in "${DEPLOY_DIR}"/*/state/releases.jsonl; do
    [[ -f "${ledger}" ]] || continue
    n=$((n + 1))
    if out="$(holds_secret "${ledger}" "${secrets}")"; then
      audit_record secrets "release ledger ${ledger#"${DEPLOY_DIR}"/} holds no secret" fail critical "${out}"
    else
      audit_record secrets "release ledger ${ledger#"${DEPLOY_DIR}"/} holds no secret" pass none "$(wc -l <"${ledger}") records"
    fi
  done
  ((n > 0)) || audit_record secrets "release ledgers hold no secret" pass none "no ledger on this machine (nothing deployed here)"
}

# Secret files: 0600 or 0400; a deployment's belong to the API's non-login uid.
sweep_secret_modes() {
  local f mode owner n=0 bad=0
  while IFS= read -r f; do
    n=$((n + 1))
    read -r mode owner < <(stat -c '%a %u' "${f}")
    case "${mode}" in 600 | 400) ;; *)
      bad=$((bad + 1))
      audit_record secrets "secret file mode: ${f#"${DEPLOY_DIR}"/}" fail high "mode ${mode}, want 0600 or 0400" ;;
    esac
    if [[ "${f}" == "${DEPLOY_DIR}"/* && "${owner}" != "${API_UID}" ]]; then
      bad=$((bad + 1))
      audit_record secrets "secret file owner: ${f#"${DEPLOY_DIR}"/}" fail high "owner uid ${owner}, want ${API_UID} (the API's non-login user)"
    fi
  done < <(secret_files)
  for f in "${RM_REPO_ROOT}"/.env.development "${RM_REPO_ROOT}"/.env.staging "${RM_REPO_ROOT}"/.run/local-services.env; do
    [[ -f "${f}" ]] || continue
    n=$((n + 1))
    mode="$(stat -c '%a' "${f}")"
    [[ "${mode}" == 600 || "${mode}" == 400 ]] && continue
    bad=$((bad + 1))
    audit_record secrets "secret file mode: ${f#"${RM_REPO_ROOT}"/}" fail high "mode ${mode}, want 0600 or 0400"
  done
  ((bad > 0)) || audit_record secrets "secret files 0600/0400, a deployment's owned by uid ${API_UID}" pass none "${n} files checked"
}

scan_host() {
  step containers sweep_containers
  step processes sweep_processes
  step ledgers sweep_ledgers
  step secret-modes sweep_secret_modes
}

scan() {
  WORK="$(mktemp -d)"
  trap 'rm -rf "${WORK}"' EXIT
  step tools ensure_tools
  mkdir -p "${RAN_FILE%/*}"
  {
    printf 'scan of %s' "${GROUPS_TO_RUN}"
    ! wants image || printf ' (image %s)' "${IMAGE:-restomarket/api:test}"
    ! wants host || printf ' (containers: %s)' "${CONTAINER_FILTER:-every running one}"
    echo
  } >>"${RAN_FILE}"
  if wants repo; then scan_repo; fi
  if wants image; then step image scan_image; fi
  if wants host; then scan_host; fi
  log "findings appended to ${AUDIT_RESULTS}"
}

# ---- verdict and report ----------------------------------------------------------

# The accepted risks as JSON: [{pattern (a regex from the file's glob), glob, reason}].
accepted_json() {
  [[ -f "${ACCEPTED_RISKS}" ]] || { echo '[]'; return 0; }
  awk -F'\t' '!/^#/ && NF >= 2 { print $1 "\t" $2 }' "${ACCEPTED_RISKS}" |
    jq -R -s '[split("\n")[] | select(length > 0) | split("\t") | {glob: .[0], reason: .[1],
      pattern: ("^" + (.[0] | gsub("(?<c>[.+?^$(){}|\\[\\]\\\\])"; "\\\(.c)") | gsub("\\*"; ".*")) + "$")}]'
}

# The results with the accepted risks applied, sorted and without duplicates.
# shellcheck disable=SC2016 # a jq program
JQ_APPLY='
  def order: {secrets: 0, config: 1, running: 2, abuse: 3}[.area] // 9;
  [.[] | del(.at)] | unique
  | map(. as $r | if .result == "fail" then
        (first($accepted[] | select(. as $a | $r.check | test($a.pattern))) // null) as $a
        | if $a then . + {result: "accepted", resolution: "accepted: \($a.reason)"} else . end
      else . end)
  | sort_by(order, ({fail: 0, accepted: 1, pass: 2}[.result]), .check, .detail)
'

applied_results() {
  [[ -s "${AUDIT_RESULTS}" ]] || die "no results in ${AUDIT_RESULTS}" "run $(basename "$0") scan first"
  jq -s --argjson accepted "$(accepted_json)" "${JQ_APPLY}" "${AUDIT_RESULTS}"
}

# verdict - print the unaccepted failures; exit 1 when there is one. With
# --list, first every finding as RESULT<TAB>CHECK<TAB>DETAIL on stdout.
verdict() {
  local results open
  results="$(applied_results)"
  [[ -z "${LIST}" ]] || jq -r '.[] | [.result, .check, .detail] | @tsv' <<<"${results}"
  open="$(jq -r '.[] | select(.result == "fail") | "  FAIL  [\(.severity)] \(.check): \(.detail)"' <<<"${results}")"
  jq -r 'group_by(.result) | map("\(.[0].result): \(length)") | join(", ")' <<<"${results}" >&2
  if [[ -n "${open}" ]]; then
    printf 'findings neither fixed nor accepted:\n%s\n' "${open}" >&2
    return 1
  fi
}

# shellcheck disable=SC2016 # a jq program
JQ_REPORT='
  def cell: tostring | gsub("\\|"; "\\|") | gsub("\n"; " ");
  def title: {config: "Configuration scanners", running: "Running system (staging rehearsal)", abuse: "API abuse probes"}[.] // "Secrets";
  (["secrets", "config", "running", "abuse"] - (map(.area) | unique)) as $missing
  | (group_by(.area) | sort_by({secrets: 0, config: 1, running: 2, abuse: 3}[.[0].area] // 9)[]
      | "## \(.[0].area | title)\n",
        "| Check | Result | Severity | Detail | Resolution |",
        "| --- | --- | --- | --- | --- |",
        (.[] | "| \(.check | cell) | \(.result) | \(.severity) | \(.detail | cell) | \(.resolution | cell) |"),
        ""),
    ($missing[] | "## \(. | title)\n", "Not run in this report (see its header).\n")
'

# fixed_section - the findings earlier audits raised and a change fixed, from
# fixed.tsv (CHECK<TAB>SEVERITY<TAB>HOW), so the report keeps each finding's
# resolution after its check passes.
fixed_section() {
  [[ -s "${FIXED}" ]] || return 0
  printf '## Fixed findings

Raised by an audit and fixed since; their checks above pass now.

'
  printf '| Check | Severity | Resolution |
| --- | --- | --- |
'
  awk -F'\t' '!/^#/ && NF >= 3 { gsub(/\|/, "\\|"); printf "| %s | %s | %s |\n", $1, $2, $3 }' "${FIXED}"
  echo
}

# what_ran - what ran, from RAN_FILE, "; "-separated.
what_ran() {
  [[ -s "${RAN_FILE}" ]] || { echo "unknown (no ${RAN_FILE##*/} beside the results)"; return 0; }
  paste -sd';' "${RAN_FILE}" | sed 's/;/; /g'
}

report() {
  local results commit date counts ran
  results="$(applied_results)"
  ran="$(what_ran)"
  commit="$(git -C "${RM_REPO_ROOT}" rev-parse --short=12 HEAD)"
  date="$(date -u +%Y-%m-%d)"
  counts="$(jq -r 'group_by(.result) | map("\(length) \(.[0].result)") | join(", ")' <<<"${results}")"
  mkdir -p "$(dirname "${REPORT}")"
  {
    printf '# Security audit\n\n'
    cat <<TEXT
<!-- Generated by make audit (infrastructure/tools/audit/audit.sh report); do not edit. -->

| | |
| --- | --- |
| Date | ${date} |
| Commit | \`${commit}\` |
| Ran | ${ran} |
| Results | ${counts} |

TEXT
    cat <<'TEXT'
A finding is **fail** until it is fixed (the check passes) or accepted with a
reason in [accepted-risks.tsv](../tools/audit/accepted-risks.tsv) (reviewed like
code); `make audit` exits non-zero while one is neither. Severities are the
scanners' own (hadolint: error high, warning medium, info and style low).

Vulnerability (CVE) scans need databases that cannot be downloaded on the
build machines: they run in the GitHub pipeline (the `code-quality` job's
Trivy scan of the Maven dependencies and the image scan of `docker-build`,
see [ci-cd.md](ci-cd.md)). Everything here runs offline: secret scanners,
configuration scanners, the SBOM and the sweeps of what runs.

TEXT
    jq -r "${JQ_REPORT}" <<<"${results}"
    fixed_section
  } >"${REPORT}.tmp"
  mv "${REPORT}.tmp" "${REPORT}"
  log "wrote ${REPORT#"${RM_REPO_ROOT}"/}"
  verdict
}

# The running system and the API abuse probes run in the staging rehearsal,
# which records its findings in the same AUDIT_RESULTS.
run_hosts() {
  if [[ -n "${NO_HOSTS}" ]]; then
    echo "running system and abuse probes not run (--no-hosts)" >>"${RAN_FILE}"
  elif ! "${HOSTS_TEST}" --help 2>/dev/null | grep -q -- '--audit'; then
    warn "${HOSTS_TEST#"${RM_REPO_ROOT}"/} has no --audit mode: the running-system and abuse probes are not run"
    echo "running system and abuse probes not run (test-hosts.sh has no --audit mode yet)" >>"${RAN_FILE}"
  else
    local rc=0
    AUDIT_RESULTS="${AUDIT_RESULTS}" "${HOSTS_TEST}" --audit || rc=$?
    # Probes that did not run found nothing: an unfinished rehearsal is a finding.
    if ((rc == 0)); then
      audit_record running "staging rehearsal (test-hosts.sh --audit) ran to its end" pass none "exit 0"
    else
      audit_record running "staging rehearsal (test-hosts.sh --audit) ran to its end" fail high \
        "exit ${rc}: its probes may not all have run" "see .run/staging-rehearsal and re-run make audit"
    fi
    echo "staging rehearsal (test-hosts.sh --audit): running system and abuse probes" >>"${RAN_FILE}"
  fi
}

run() {
  rm -f "${AUDIT_RESULTS}" "${RAN_FILE}"
  (scan)
  run_hosts
  report
}

main() {
  parse_args "$@"
  case "${COMMAND}" in
    scan) scan ;;
    report) report ;;
    verdict) verdict ;;
    self-test) exec "${HERE}/tests/test-audit.sh" --planted-only ;;
    run) run ;;
  esac
}

main "$@"
