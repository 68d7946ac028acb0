#!/usr/bin/env bash
# Every shell script in the repository parses (bash -n), is shellcheck clean,
# answers --help with exit 0, and rejects an unknown option/command with a
# non-zero exit and a message. Prints "N passed, N failed".
set -Eeuo pipefail
# shellcheck source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=../lib/testing.sh
source "${RM_REPO_ROOT}/infrastructure/tools/lib/testing.sh"
export RM_LOG_TAG=test-shell

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Checks every tracked or new (not ignored) shell script: bash -n, shellcheck,
--help, and a clear refusal of bad input.
USAGE
}

list_scripts() {
  (cd "${RM_REPO_ROOT}" && git ls-files --cached --others --exclude-standard -- '*.sh' '.ci/run' |
    while read -r f; do [[ -f "${f}" ]] && echo "${f}"; done | sort -u)
}

# Sourced libraries and container entrypoints are not command-line tools.
is_library() { [[ "$1" == */lib/* || "$1" == */tests/assert.sh || "$1" == */base-images/* || "$1" == .ci/run ]]; }

check_script() {
  local f="$1" out rc
  check "bash -n ${f}" bash -n "${RM_REPO_ROOT}/${f}"
  check "shellcheck ${f}" shellcheck -x -S style -P "$(dirname "${RM_REPO_ROOT}/${f}")" "${RM_REPO_ROOT}/${f}"
  is_library "${f}" && return 0
  out=$(cd "${RM_REPO_ROOT}" && timeout 20 bash "${f}" --help 2>&1) && rc=0 || rc=$?
  if ((rc == 0)) && grep -qi 'usage' <<<"${out}"; then pass "--help ${f}"; else fail "--help ${f}" "exit ${rc}: $(head -c 200 <<<"${out}")"; fi
  out=$(cd "${RM_REPO_ROOT}" && timeout 20 bash "${f}" --no-such-option </dev/null 2>&1) && rc=0 || rc=$?
  if ((rc != 0)) && [[ -n "${out}" ]]; then pass "rejects bad input ${f}"; else fail "rejects bad input ${f}" "exit ${rc}"; fi
}

# make help groups the targets under the Makefile's ##@ section headers.
test_make_help() {
  local out sections
  out=$(make --no-print-directory -C "${RM_REPO_ROOT}" help 2>&1 | sed 's/\x1b\[[0-9;]*m//g')
  sections=$(grep -c '^##@ ' "${RM_REPO_ROOT}/Makefile")
  expect_eq "make help prints every ##@ section header (${sections})" "${sections}" \
    "$(grep -cxFf <(sed -n 's/^##@ //p' "${RM_REPO_ROOT}/Makefile") <<<"${out}")"
  expect_match "make help lists make up under its section" $'Everyday\n  up ' "${out}"
}

# tooling_copy SCRIPT... - a temporary directory laid out like the repository,
# holding the tooling's shared libraries and SCRIPTs (paths from the root), so
# a test can put stand-ins next to them; prints its path.
tooling_copy() {
  local root f
  root=$(mktemp -d)
  for f in infrastructure/tools/lib/common.sh infrastructure/scripts/lib/core.sh "$@"; do
    mkdir -p "${root}/$(dirname "${f}")"
    cp "${RM_REPO_ROOT}/${f}" "${root}/${f}"
  done
  echo "${root}"
}

# run-suites.sh, run from a copy of the tooling with its own Makefile (a good
# suite, a failing one, one that fails without a closing line) and local
# services that always run: the table, the total, the failure digest and the
# exit status.
test_run_suites() {
  local root out rc=0
  root=$(tooling_copy infrastructure/tools/run-suites.sh)
  printf '#!/usr/bin/env bash\nexit 0\n' >"${root}/infrastructure/tools/local-services.sh"
  chmod +x "${root}/infrastructure/tools/local-services.sh"
  printf '%s\n' 'good:' '	@echo "3 passed, 0 failed"' 'bad:' '	@echo "  ok    first"' \
    '	@echo "  FAIL  second"' '	@echo "        the detail of second"' '	@echo "  ok    third"' \
    '	@echo "2 passed, 1 failed, 1 skipped"; exit 1' 'crash:' '	@echo "boom: no closing line"; exit 2' >"${root}/Makefile"
  out=$("${root}/infrastructure/tools/run-suites.sh" good bad crash 2>&1) || rc=$?
  expect_eq "run-suites: a failed suite fails the run" 1 "${rc}"
  expect_match "run-suites: the table has a row per suite" \
    $'good +ok +3 +0 +0 [^\n]*\nbad +FAIL +2 +1 +1 [^\n]*\ncrash +FAIL +0 +1 +0 ' "${out}"
  expect_eq "run-suites: the closing line sums the suites" "5 passed, 2 failed, 1 skipped" "$(tail -n 1 <<<"${out}")"
  expect_match "run-suites: the failed checks and their details are repeated at the end" \
    $'---- bad: what failed ----\n  FAIL  second\n        the detail of second\n\n' "${out}"
  expect_match "run-suites: a suite without failed checks shows its last lines" \
    $'---- crash: what failed ----\n[^\n]*boom: no closing line' "${out}"
  # A group: the streamed suite waits for a file that a quiet one writes, so
  # it passes only when both run at the same time.
  # shellcheck disable=SC2016 # make recipes, expanded by make and its shell
  printf '%s\n' 'waiter:' '	@for i in $$(seq 50); do [ -f side.mark ] && break; sleep 0.1; done; [ -f side.mark ] && echo "1 passed, 0 failed"' \
    'side:' '	@touch side.mark; echo "side output"; echo "4 passed, 0 failed"' >>"${root}/Makefile"
  rc=0
  out=$(cd "${root}" && "${root}/infrastructure/tools/run-suites.sh" waiter+side+bad good 2>&1) || rc=$?
  expect_eq "run-suites: a group's failed background suite fails the run" 1 "${rc}"
  expect_match "run-suites: a group's suites run at the same time, rows in the group's order" \
    $'waiter +ok +1 +0 +0 [^\n]*\nside +ok +4 +0 +0 [^\n]*\nbad +FAIL +2 +1 +1 [^\n]*\ngood +ok +3 +0 +0 ' "${out}"
  expect_match "run-suites: a background suite says what it runs alongside" 'suite side: start \(alongside waiter; log: ' "${out}"
  check_fails "run-suites: a background suite's output goes to its log only" grep -q "side output" <<<"${out}"
  expect_eq "run-suites: the closing line sums the group's suites too" "10 passed, 1 failed, 1 skipped" "$(tail -n 1 <<<"${out}")"
  rc=0
  out=$("${root}/infrastructure/tools/run-suites.sh" good 'good+' 2>&1) || rc=$?
  expect_match "run-suites: a malformed group is refused (exit ${rc})" 'not a suite or group of suites: good\+' "${out}"
  rc=0
  out=$("${root}/infrastructure/tools/run-suites.sh" good --no-such-option 2>&1) || rc=$?
  expect_match "run-suites: an option is refused before any suite runs (exit ${rc})" 'unknown option: --no-such-option' "${out}"
  check_fails "run-suites: nothing ran for a refused command line" grep -q "suite good" <<<"${out}"
  rm -rf "${root}"
}

# bench_rows DEPLOY COLD WARM [COLD_NON2XX] - test-deploy.sh's metrics rows
# (tab-separated) for the three timed scenarios: DEPLOY is the deploy's wall
# time less its 3 s watch, COLD and WARM the rollbacks' wall times.
bench_rows() {
  printf '%s\t2000\t0\t0\t700\t1.8\t60\t%s\t3.5\t50\t5.0\t3\n' "deploy v1->v2" "$(awk -v d="$1" 'BEGIN {printf "%.1f", d + 3}')"
  printf '%s\t600\t0\t0\t50\t1.5\t9\t%s\t0.1\t8\t0.7\t\n' "rollback v2->v1 (warm)" "$3"
  printf '%s\t1400\t%s\t0\t55\t3\t25\t%s\t3.1\t27\t4.5\t\n' "rollback v2->v1 (cold)" "${4:-0}" "$2"
}

# bench-deploy.sh, run from a copy of the tooling whose tests/test-deploy.sh
# is a stand-in that hands out prepared metrics, run after run: the verdict on
# the median of the runs, a failed request in any run, a failing run.
test_bench_deploy() {
  local root out rc=0
  root=$(tooling_copy infrastructure/tools/bench-deploy.sh)
  mkdir -p "${root}/infrastructure/tools/tests" "${root}/runs"
  # shellcheck disable=SC2016 # the stand-in's own script
  printf '%s\n' '#!/usr/bin/env bash' 'd="$(dirname "$0")/../../../runs"' 'n=$(($(cat "${d}/count" 2>/dev/null || echo 0) + 1))' \
    'echo "${n}" >"${d}/count"' 'echo "${DEPLOY_TEST_ONLY}" >>"${d}/modes"' 'cp "${d}/run-${n}.tsv" "${DEPLOY_TEST_METRICS}"' \
    'exit "$(cat "${d}/rc-${n}" 2>/dev/null || echo 0)"' >"${root}/infrastructure/tools/tests/test-deploy.sh"
  chmod +x "${root}/infrastructure/tools/tests/test-deploy.sh"
  bench_rows 5.0 5.2 0.9 >"${root}/runs/run-1.tsv"
  bench_rows 7.0 4.8 1.2 >"${root}/runs/run-2.tsv"
  bench_rows 5.5 4.9 0.8 >"${root}/runs/run-3.tsv"
  out=$(BENCH_RUNS=3 "${root}/infrastructure/tools/bench-deploy.sh" 2>/dev/null) || rc=$?
  expect_eq "bench-deploy: every target met on the median of 3 runs: exit 0" 0 "${rc}"
  expect_eq "bench-deploy: every load scenario in run 1, the timed ones in the others" "load timed timed" "$(tr '\n' ' ' <"${root}/runs/modes" | sed 's/ $//')"
  expect_match "bench-deploy: the deploy's median, each run and the slowest (7.0 s, over the target)" \
    '^met +deploy, .*<= 6 s: median 5.5 s of 3 runs \(5.0 7.0 5.5; slowest 7.0 s\)' "$(grep 'deploy, image present' <<<"${out}")"
  expect_match "bench-deploy: the warm rollback's median (0.9 s) meets 1 s though one run took 1.2" \
    '^met +warm rollback .*: median 0.9 s of 3 runs \(0.9 1.2 0.8; slowest 1.2 s\)' "$(grep 'warm rollback' <<<"${out}")"
  expect_match "bench-deploy: the first run's table" $'^scenario +requests[^\n]*\ndeploy v1->v2 +2000 +0 +0 +700 ' "${out}"
  rm -f "${root}/runs/count" "${root}/runs/modes"
  bench_rows 5.0 5.2 0.9 >"${root}/runs/run-2.tsv"
  bench_rows 5.5 5.1 0.8 1 >"${root}/runs/run-3.tsv"
  rc=0
  out=$(BENCH_RUNS=3 "${root}/infrastructure/tools/bench-deploy.sh" 2>/dev/null) || rc=$?
  expect_eq "bench-deploy: a median over its target fails the benchmark" 1 "${rc}"
  expect_match "bench-deploy: the cold rollback's median 5.2 s is MISSED" \
    '^MISSED +cold rollback .*: median 5.2 s of 3 runs \(5.2 5.2 5.1; slowest 5.2 s\)' "$(grep 'cold rollback' <<<"${out}")"
  expect_match "bench-deploy: a failed request in a later run is named with its run" \
    '^MISSED +0 failed requests .*: rollback v2->v1 \(cold\) \(run 3\)$' "$(grep 'failed requests' <<<"${out}")"
  rm -f "${root}/runs/count" "${root}/runs/modes"
  echo 3 >"${root}/runs/rc-2"
  rc=0
  out=$(BENCH_RUNS=3 "${root}/infrastructure/tools/bench-deploy.sh" 2>/dev/null) || rc=$?
  expect_eq "bench-deploy: a run whose checks fail ends the benchmark with its status" "3 2" "${rc} $(cat "${root}/runs/count")"
  expect_match "bench-deploy: the verdict is on the runs made" 'median [0-9.]+ s of 2 runs' "${out}"
  rm -f "${root}/runs/count"
  rc=0
  out=$(BENCH_RUNS=x "${root}/infrastructure/tools/bench-deploy.sh" 2>&1) || rc=$?
  expect_match "bench-deploy: BENCH_RUNS=x refused, exit 2, nothing run" '^2 0 .*BENCH_RUNS wants a number of runs from 1 to 99' \
    "${rc} $(cat "${root}/runs/count" 2>/dev/null || echo 0) ${out}"
  rm -rf "${root}"
}

# bench-image.sh, run from a copy of the tooling against a stand-in docker
# (RM_DOCKER) and build-image.sh: the stand-in reports the image's size, keeps
# each start's `docker run` for the seconds listed for that run, and the API's
# /health is a static file served on 127.0.0.1. Checks that starts with and
# without the cache alternate, that the median decides, and the exit status.
test_bench_image() {
  local root stub out rc=0 port pid
  root=$(tooling_copy infrastructure/docker/bench-image.sh)
  stub="${root}/stub"
  mkdir -p "${root}/apps/api/src/main/java/com/restomarket/api/system" "${stub}/www"
  printf '**\n!apps/api/src/main/**\n' >"${root}/.dockerignore"
  touch "${root}/apps/api/Dockerfile" "${root}/apps/api/src/main/java/com/restomarket/api/system/VersionController.java"
  printf '#!/usr/bin/env bash\necho "$*" >>"%s/builds"\n' "${stub}" >"${root}/infrastructure/tools/build-image.sh"
  printf '#!/usr/bin/env bash\necho POSTGRES_IMAGE=pg REDIS_IMAGE=redis\n' >"${root}/infrastructure/tools/compose.sh"
  mkdir -p "${stub}/layer/l1"
  head -c 100000 /dev/zero >"${stub}/layer/l1/layer.tar"
  port=$(free_tcp_port)
  # shellcheck disable=SC2016 # the stand-in's own script
  printf '%s\n' '#!/usr/bin/env bash' "s=${stub}" 'case "$1" in' \
    '  image) cat "${s}/size" ;;' \
    '  history) echo "99.1MB RUN bash /tmp/aot-training.sh" ;;' \
    '  save) tar -cf - -C "${s}/layer" . ;;' \
    "  port) echo 127.0.0.1:${port} ;;" \
    '  run) [[ "$*" == *-api* ]] || exit 0' \
    '    mode=default; [[ "$*" =~ AOTMode=([a-z]+) ]] && mode=${BASH_REMATCH[1]}' \
    '    echo "${mode}" >>"${s}/starts"' \
    '    n=$(grep -c "^${mode}$" "${s}/starts"); d=$(sed -n "${n}p" "${s}/delay-${mode}" 2>/dev/null)' \
    '    sleep "${d:-0}" ;;' \
    'esac' >"${root}/docker"
  chmod +x "${root}/docker" "${root}/infrastructure/tools/build-image.sh" "${root}/infrastructure/tools/compose.sh"
  echo ok >"${stub}/www/health"
  python3 -m http.server --bind 127.0.0.1 --directory "${stub}/www" "${port}" >/dev/null 2>&1 &
  pid=$!
  wait_until 10 "the stand-in /health" curl -fs -o /dev/null "http://127.0.0.1:${port}/health" ||
    fail "bench-image: the stand-in /health answers" "python3 http.server on port ${port} did not start"
  echo 120000000 >"${stub}/size"
  printf '0.5\n0.5\n0.5\n' >"${stub}/delay-off"
  out=$(BENCH_RUNS=3 RM_DOCKER="${root}/docker" "${root}/infrastructure/docker/bench-image.sh" 2>/dev/null) || rc=$?
  expect_eq "bench-image: every target met: exit 0" 0 "${rc}"
  expect_eq "bench-image: a first start, then starts with and without the cache alternately" \
    "default on off on off on off" "$(tr '\n' ' ' <"${stub}/starts" | sed 's/ $//')"
  expect_eq "bench-image: a cold build, then the rebuild from the edited copy" "bench-cold bench-edit" "$(tr '\n' ' ' <"${stub}/builds" | sed 's/ $//')"
  expect_match "bench-image: the size in the table" 'image size \(uncompressed, with the AOT cache\) +120MB +<= 130MB' "${out}"
  expect_match "bench-image: the cache beats none on the medians, each run shown" \
    '^met +the AOT cache is faster than none: [0-9.]+s <= [0-9.]+s \(median of 3: ([0-9.]+ ?){3} without it\)$' \
    "$(grep 'faster than none' <<<"${out}")"
  rm -f "${stub}/starts" "${stub}/builds"
  echo 204000000 >"${stub}/size"
  printf '0\n2.6\n2.6\n' >"${stub}/delay-on"
  printf '2.6\n2.6\n2.6\n' >"${stub}/delay-off"
  rc=0
  out=$(BENCH_RUNS=3 RM_DOCKER="${root}/docker" "${root}/infrastructure/docker/bench-image.sh" 2>/dev/null) || rc=$?
  expect_eq "bench-image: a missed target: exit 1" 1 "${rc}"
  expect_match "bench-image: 204 MB is MISSED" '^MISSED +image size: 204MB > 130MB$' "$(grep 'image size:' <<<"${out}")"
  expect_match "bench-image: the start's median (2 of 3 runs over 2.5 s) is MISSED, each run shown" \
    '^MISSED +start -> healthy with the AOT cache: [0-9.]+s > 2\.5s \(median of 3: [0-9.]+ [0-9.]+ [0-9.]+\)$' \
    "$(grep 'with the AOT cache:' <<<"${out}")"
  expect_match "bench-image: the slowest start in the table" '  slowest start with the AOT cache +([3-9]|2\.[6-9])[0-9.]*s' "${out}"
  printf '0\n0\n2.6\n' >"${stub}/delay-on"
  rm -f "${stub}/starts" "${stub}/builds"
  rc=0
  out=$(BENCH_RUNS=3 RM_DOCKER="${root}/docker" "${root}/infrastructure/docker/bench-image.sh" 2>/dev/null) || rc=$?
  expect_match "bench-image: one slow start of 3 does not decide" '^met +start -> healthy with the AOT cache: [0-9.]+s <= 2\.5s' \
    "$(grep 'with the AOT cache:' <<<"${out}")"
  rm -f "${stub}/starts" "${stub}/builds"
  rc=0
  out=$(BENCH_RUNS=0 RM_DOCKER="${root}/docker" "${root}/infrastructure/docker/bench-image.sh" 2>&1) || rc=$?
  expect_match "bench-image: BENCH_RUNS=0 refused, exit 2, nothing built" '^2 no .*BENCH_RUNS wants a number of starts from 1 to 99' \
    "${rc} $([[ -e "${stub}/builds" ]] && echo built || echo no) ${out}"
  kill "${pid}" 2>/dev/null || true
  wait "${pid}" 2>/dev/null || true
  rm -rf "${root}"
}

main() {
  [[ "${1:-}" == -h || "${1:-}" == --help ]] && { usage; return 0; }
  ensure_apt_packages shellcheck
  local f
  while read -r f; do check_script "${f}"; done < <(list_scripts)
  test_make_help
  test_run_suites
  test_bench_deploy
  test_bench_image
  summary
}

main "$@"
