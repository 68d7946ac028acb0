# shellcheck shell=bash
# Minimal assertion helpers for the project's shell test suites. Each suite
# sources this, calls check/expect_* per case and ends with `summary`, which
# prints the closing line "N passed, N failed[, N skipped]" and returns
# non-zero on failure.

T_PASSED=0
T_FAILED=0
T_SKIPPED=0
T_FAILURES=()

pass() { T_PASSED=$((T_PASSED + 1)); printf '  ok    %s\n' "$1"; }
fail() {
  T_FAILED=$((T_FAILED + 1))
  T_FAILURES+=("$1")
  printf '  FAIL  %s\n' "$1"
  [[ -n "${2:-}" ]] && printf '        %s\n' "$2"
  return 0
}

# skip NAME REASON - a case that cannot run here; counted and shown with its reason.
skip() {
  T_SKIPPED=$((T_SKIPPED + 1))
  printf '  SKIP  %s\n        %s\n' "$1" "$2"
}

# check NAME COMMAND... - passes when COMMAND exits 0.
check() {
  local name="$1"
  shift
  local out
  if out=$("$@" 2>&1); then pass "${name}"; else fail "${name}" "$(tail -n 5 <<<"${out}")"; fi
}

# check_fails NAME COMMAND... - passes when COMMAND exits non-zero.
check_fails() {
  local name="$1"
  shift
  if "$@" >/dev/null 2>&1; then fail "${name}" "expected a non-zero exit"; else pass "${name}"; fi
}

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
  if [[ "$2" == "$3" ]]; then pass "$1"; else fail "$1" "expected '$2', got '$3'"; fi
}

# expect_match NAME REGEX TEXT
expect_match() {
  if [[ "$3" =~ $2 ]]; then pass "$1"; else fail "$1" "expected to match /$2/, got: $(head -c 300 <<<"$3")"; fi
}

summary() {
  if ((T_FAILED > 0)); then
    printf 'failed cases:\n'
    printf '  - %s\n' "${T_FAILURES[@]}"
  fi
  if ((T_SKIPPED > 0)); then
    printf '%d passed, %d failed, %d skipped\n' "${T_PASSED}" "${T_FAILED}" "${T_SKIPPED}"
  else
    printf '%d passed, %d failed\n' "${T_PASSED}" "${T_FAILED}"
  fi
  ((T_FAILED == 0))
}

# api_image_variant IMAGE BASE VERSION CMD_JSON DIR RUN_ID - build IMAGE from the
# API image BASE so that it reports VERSION (an earlier class-path entry
# overrides the jar's version file) and starts with the arguments CMD_JSON:
# cheap extra releases, good or broken, for deploy tests. DIR is the build
# context (created); RUN_ID labels the image as the test's.
api_image_variant() {
  local image="$1" base="$2" version="$3" args="$4" dir="$5" run_id="$6"
  mkdir -p "${dir}"
  printf 'version=%s\ncommit=test\nbuildTime=test\n' "${version}" >"${dir}/restomarket-version.properties"
  cat >"${dir}/Dockerfile" <<EOF
FROM ${base}
LABEL org.opencontainers.image.version="${version}" com.restomarket.test="${run_id}"
COPY restomarket-version.properties /app/override/
ENTRYPOINT ["/usr/bin/tini", "--", "java", "-XX:MaxRAMPercentage=75", "-cp", "/app/override:/app/restomarket-api.jar", "com.restomarket.api.RestomarketApiApplication"]
CMD ${args}
EOF
  DOCKER_BUILDKIT=1 /usr/bin/docker build -q -t "${image}" "${dir}" >/dev/null
}
