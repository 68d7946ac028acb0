#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The repository's markdown says only what is true of the repository: every
# relative link reaches a file or folder of it (and its #anchor a heading or
# named anchor there, slugged as GitHub does), every `make TARGET` in code is
# a target of the root Makefile, and every script path in code exists, is
# executable and answers --help. A self-test on a made-up repository proves
# first that each kind of drift is caught. The architecture diagrams are the
# renders of their Mermaid sources (make docs records both hashes), and the
# plan's own validation commands for the guides pass. Prints "N passed, N failed".
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/common.sh
source "${HERE}/../lib/common.sh"
# shellcheck source=../lib/testing.sh
source "${HERE}/../lib/testing.sh"
export RM_LOG_TAG="test-docs"

WORK=""
# Build output and run state hold markdown that is not documentation.
EXCLUDED_DIRS=(apps/api/target .run ci/workflow-tests/target)
DIAGRAMS_DIR=infrastructure/docs/diagrams
# The plan's four diagrams (infrastructure/docs/diagrams/NAME.png).
REQUIRED_DIAGRAMS=(topology cicd deployment network)

usage() {
  cat <<USAGE
Usage: $(basename "$0")

Checks every markdown file of the repository, tracked or new and not
ignored (except under ${EXCLUDED_DIRS[*]}), one case per file and kind:
  - relative links [text](path#anchor) resolve inside the repository, and
    each #anchor is a heading (GitHub's slug) or <a name>/id of the target;
  - every 'make TARGET' in inline code or a fenced block is a target of the
    root Makefile ('make -C DIR ...', a bare 'make' and a placeholder in
    capitals like 'make TARGET' are not checked);
  - every script path (…/NAME.sh) in code that is rooted at a top-level
    folder, or resolves from the document's folder, exists, is executable
    and answers --help with exit 0 (10 s, stdin /dev/null, a scratch HOME).
  - every diagram ${DIAGRAMS_DIR}/NAME.mmd has NAME.png, a PNG, and both are
    recorded together in rendered.sha256 (make docs renders and records);
    the plan's four diagrams exist;
  - the plan's validation greps on the secrets guide and infrastructure/README.md.
Links and paths inside code are never read as links. A self-test on a
made-up repository runs first.
USAGE
}

cleanup() { [[ -z "${WORK}" ]] || rm -rf "${WORK}"; }

# list_docs ROOT - the markdown files to check, relative to ROOT.
list_docs() {
  local doc dir
  (cd "$1" && git ls-files --cached --others --exclude-standard -- '*.md') |
    while read -r doc; do
      for dir in "${EXCLUDED_DIRS[@]}"; do [[ "${doc}" == "${dir}/"* ]] && continue 2; done
      if [[ -f "$1/${doc}" ]]; then echo "${doc}"; fi
    done | sort -u
}

# extract_refs FILE - what the markdown FILE refers to, one "KIND<TAB>LINE<TAB>VALUE"
# record each: heading (its text, markup removed), anchor (<a name>/id), link
# (a link's destination, outside code), make (a target after 'make' in code)
# and script (a path ending in .sh in code). Code spans may cross lines within
# a paragraph; fenced blocks are code, and their '#' comments are not.
extract_refs() {
  awk '
    function emit(kind, line, value) { printf "%s\t%d\t%s\n", kind, line, value }
    function newlines(s) { return gsub(/\n/, "", s) }

    # code_items CODE LINE - the script paths of a piece of code, and the
    # target of each make command in it: the first word after "make" that is
    # not an option or VAR=value (docs name one target a command; the words
    # after it may be prose, as in a diagram). A word in capitals is a
    # placeholder (make TARGET), not a target.
    function code_items(code, line,    n, t, i, j, tok) {
      gsub(/\n/, " ", code)
      n = split(code, t, " ")
      for (i = 1; i <= n; i++) {
        tok = t[i]
        gsub(/^[("'\'']+|[)"'\'',:;]+$/, "", tok)
        if (tok ~ /^[A-Za-z0-9_.\/-]+\.sh$/ && index(tok, "/") > 0) emit("script", line, tok)
        if (t[i] != "make") continue
        for (j = i + 1; j <= n; j++) {
          tok = t[j]
          if (tok ~ /^(-C|-f|--directory|--file|--makefile)/) break
          if (tok ~ /^-/ || tok ~ /^[A-Za-z_][A-Za-z0-9_]*=/) continue
          sub(/;+$/, "", tok)
          if (tok ~ /^[A-Za-z0-9_-]+$/ && tok !~ /^[A-Z][A-Z0-9_]*$/ && tok != "make") emit("make", line, tok)
          break
        }
      }
    }

    # closing_run S N - where in S the next run of exactly N backticks starts (0: none).
    function closing_run(s, n,    p, m, off) {
      off = 0
      while ((p = index(s, "`")) > 0) {
        m = 0
        while (substr(s, p + m, 1) == "`") m++
        if (m == n) return off + p
        off += p + m - 1
        s = substr(s, p + m)
      }
      return 0
    }

    # prose_items LINE TEXT - links and named anchors of one line without code.
    function prose_items(line, s,    p, rest, target, e) {
      if (s ~ /^ ? ? ?\[[^]]+\]:[ \t]*[^ \t]/) {
        target = s
        sub(/^ *\[[^]]+\]:[ \t]*/, "", target)
        sub(/[ \t].*$/, "", target)
        gsub(/^<|>$/, "", target)
        emit("link", line, target)
      }
      rest = s
      while ((p = index(rest, "](")) > 0) {
        rest = substr(rest, p + 2)
        if (substr(rest, 1, 1) == "<") {
          e = index(rest, ">")
          target = e ? substr(rest, 2, e - 2) : ""
        } else {
          match(rest, /^[^ \t)]*/)
          target = substr(rest, 1, RLENGTH)
        }
        gsub(/\\/, "", target)
        if (target != "") emit("link", line, target)
      }
      rest = s
      while (match(rest, /<[a-zA-Z][^>]* (name|id)="[^"]*"/)) {
        target = substr(rest, RSTART, RLENGTH)
        rest = substr(rest, RSTART + RLENGTH)
        sub(/^.* (name|id)="/, "", target)
        sub(/"$/, "", target)
        emit("anchor", line, target)
      }
    }

    # block START TEXT - a paragraph (or heading, table, list) from line START:
    # its code spans, then the links of what is left, line by line.
    function block(start, s,    out, i, c, n, closing, code, nl, lines, k) {
      out = ""
      i = 1
      while (i <= length(s)) {
        c = substr(s, i, 1)
        if (c == "\\") { out = out substr(s, i, 2); i += 2; continue }
        if (c != "`") { out = out c; i++; continue }
        n = 0
        while (substr(s, i + n, 1) == "`") n++
        closing = closing_run(substr(s, i + n), n)
        if (!closing) { out = out substr(s, i, n); i += n; continue }
        code = substr(s, i + n, closing - 1)
        code_items(code, start + newlines(substr(s, 1, i - 1)))
        nl = code
        gsub(/[^\n]/, "", nl)
        out = out "CODE" nl
        i += n + closing - 1 + n
      }
      n = split(out, lines, "\n")
      for (k = 1; k <= n; k++) prose_items(start + k - 1, lines[k])
    }

    function flush() { if (para != "") block(para_start, para); para = "" }

    function heading_text(s,    t) {
      sub(/^ *#+[ \t]*/, "", s)
      sub(/[ \t]+#+[ \t]*$/, "", s)
      sub(/[ \t]+$/, "", s)
      while (match(s, /!?\[[^]]*\]\([^)]*\)/)) {
        t = substr(s, RSTART, RLENGTH)
        sub(/^!?\[/, "", t)
        sub(/\]\(.*$/, "", t)
        s = substr(s, 1, RSTART - 1) t substr(s, RSTART + RLENGTH)
      }
      gsub(/<[^>]*>|[`*\\]/, "", s)
      return s
    }

    fence != "" {
      line = $0
      sub(/^[ \t]*/, "", line)
      if (index(line, fence) == 1 && line ~ /^(`+|~+)[ \t]*$/) { fence = ""; next }
      sub(/(^|[ \t])#.*$/, "", line)
      code_items(line, NR)
      next
    }
    /^[ \t]*(```|~~~)/ {
      flush()
      fence = $0
      sub(/^[ \t]*/, "", fence)
      match(fence, /^(`+|~+)/)
      fence = substr(fence, 1, RLENGTH)
      next
    }
    /^ ? ? ?#+([ \t]|$)/ { flush(); emit("heading", NR, heading_text($0)); block(NR, $0); next }
    /^[ \t]*$/ { flush(); next }
    { if (para == "") para_start = NR; para = para == "" ? $0 : para "\n" $0 }
    END { flush() }
  ' "$1"
}

# slugs - GitHub's anchors of the heading texts on stdin, in order: lowercase,
# everything but letters, marks, digits, connector punctuation (_), spaces
# and '-' dropped, each space a '-', a repeated slug suffixed -1, -2, ...
slugs() {
  perl -CSD -ne 'chomp; $_ = lc; s/[^\p{L}\p{M}\p{N}\p{Pc} -]//g; s/ /-/g;
    print $seen{$_}++ ? "$_-" . ($seen{$_} - 1) : $_, "\n"'
}

# anchors_of FILE - the anchors a link into markdown FILE may name.
anchors_of() {
  local refs
  refs=$(extract_refs "$1")
  awk -F '\t' '$1 == "heading" { print $3 }' <<<"${refs}" | slugs
  awk -F '\t' '$1 == "anchor" { print $3 }' <<<"${refs}"
}

# rel ROOT PATH - PATH relative to ROOT, for messages.
rel() { printf '%s\n' "${2#"$1"/}"; }

# links_report ROOT DOC REFS - one line per relative link of DOC (REFS are its
# extract_refs records): "ok", or "DOC:LINE: what is wrong; what to do".
links_report() {
  local root doc="$2" refs="$3" kind line target path anchor file md
  local -A anchors=()
  root=$(realpath "$1")
  while IFS=$'\t' read -r kind line target; do
    [[ "${kind}" == link ]] || continue
    [[ "${target}" =~ ^[a-zA-Z][a-zA-Z0-9+.-]*: || "${target}" == //* ]] && continue
    path="${target%%#*}" anchor=""
    [[ "${target}" == *#* ]] && anchor="${target#*#}"
    path="${path//%20/ }"
    if [[ -z "${path}" ]]; then
      file="${root}/${doc}"
    elif [[ "${path}" == /* ]]; then
      file=$(realpath -m "${root}${path}")
    else
      file=$(realpath -m "$(dirname "${root}/${doc}")/${path}")
    fi
    if [[ "${file}" != "${root}" && "${file}" != "${root}/"* ]]; then
      echo "${doc}:${line}: (${target}) points outside the repository (${file}); link a file of the repository or drop the link"
      continue
    fi
    if [[ ! -e "${file}" ]]; then
      echo "${doc}:${line}: (${target}) no such file or folder: $(rel "${root}" "${file}"); correct the path (ls, git ls-files) or drop the link"
      continue
    fi
    if git -C "${root}" check-ignore -q "${file}" 2>/dev/null; then
      echo "${doc}:${line}: (${target}) $(rel "${root}" "${file}") is ignored by git, so the repository has no such file; link a tracked file"
      continue
    fi
    md="${file}"
    [[ -d "${file}" ]] && md="${file}/README.md"
    if [[ -n "${anchor}" && "${md}" == *.md && -f "${md}" ]]; then
      [[ -n "${anchors[${md}]+set}" ]] || anchors["${md}"]=$'\n'"$(anchors_of "${md}")"$'\n'
      if [[ "${anchors[${md}]}" != *$'\n'"${anchor}"$'\n'* ]]; then
        echo "${doc}:${line}: (${target}) $(rel "${root}" "${md}") has no heading or anchor '#${anchor}'; use one of its headings' anchors (lowercase, spaces as '-', punctuation dropped)"
        continue
      fi
    fi
    echo ok
  done <<<"${refs}"
}

# make_targets MAKEFILE - the targets it defines (lines "name:", not "name :=").
make_targets() {
  sed -nE 's/^([a-zA-Z0-9_-]+):([^=].*)?$/\1/p' "$1" | sort -u
}

# make_report ROOT DOC REFS - one line per 'make TARGET' in DOC's code: "ok" or
# "DOC:LINE: ...".
make_report() {
  local root="$1" doc="$2" refs="$3" kind line target targets
  targets=$'\n'"$(make_targets "${root}/Makefile")"$'\n'
  while IFS=$'\t' read -r kind line target; do
    [[ "${kind}" == make ]] || continue
    if [[ "${targets}" == *$'\n'"${target}"$'\n'* ]]; then
      echo ok
    else
      echo "${doc}:${line}: 'make ${target}': the Makefile has no target ${target}; name an existing one (make help lists them)"
    fi
  done <<<"${refs}"
}

# help_status ROOT SCRIPT - "ok" when ROOT/SCRIPT --help exits 0, else what it
# did; run once per script (cached in WORK/help), from ROOT, with a scratch HOME.
help_status() {
  local root="$1" script="$2" cache out rc=0
  cache="${WORK}/help/$(printf '%s' "${root}/${script}" | md5sum | cut -c1-32)"
  if [[ ! -f "${cache}" ]]; then
    mkdir -p "${WORK}/help" "${WORK}/home"
    out=$(cd "${root}" && HOME="${WORK}/home" timeout 10 "./${script}" --help </dev/null 2>&1) || rc=$?
    if ((rc == 0)); then
      echo ok >"${cache}"
    else
      echo "exit ${rc}$( ((rc == 124)) && echo ' (timed out after 10 s)'): $(head -n 1 <<<"${out}" | cut -c1-160)" >"${cache}"
    fi
  fi
  cat "${cache}"
}

# scripts_report ROOT DOC REFS - one line per script path in DOC's code that is
# rooted at a top-level folder of ROOT or resolves from DOC's folder: "ok" or
# "DOC:LINE: ...". Other paths (a bare name, a host's path, a path relative to
# something else) are not the repository's and are not counted.
scripts_report() {
  local root="$1" doc="$2" refs="$3" kind line path script status
  while IFS=$'\t' read -r kind line path; do
    [[ "${kind}" == script && "${path}" != /* ]] || continue
    path="${path#./}"
    if [[ -f "$(dirname "${root}/${doc}")/${path}" ]]; then
      script=$(realpath -m --relative-to="${root}" "$(dirname "${root}/${doc}")/${path}")
    elif [[ -f "${root}/${path}" || -d "${root}/${path%%/*}" ]]; then
      script="${path}"
    else
      continue
    fi
    if [[ ! -f "${root}/${script}" ]]; then
      echo "${doc}:${line}: ${path}: no such script; name the script that exists (git ls-files '*.sh') or drop the mention"
    elif [[ "${script}" == */lib/* || "${script}" == */tests/assert.sh ]]; then
      echo ok # a sourced library: it exists, and it is not run
    elif [[ ! -x "${root}/${script}" ]]; then
      echo "${doc}:${line}: ${path} is not executable; chmod +x it (git update-index --chmod=+x) or name the script to run"
    else
      status=$(help_status "${root}" "${script}")
      if [[ "${status}" == ok ]]; then
        echo ok
      else
        echo "${doc}:${line}: ${path} --help failed, ${status}; make its --help answer without root, docker or network, or name another script"
      fi
    fi
  done <<<"${refs}"
}

# judge DOC GOOD BAD REPORT - one case from a *_report's lines: "DOC: N GOOD",
# or "DOC: K of N BAD" listing every problem. No case when DOC has nothing of
# the kind.
judge() {
  local doc="$1" good="$2" bad="$3" report="$4" total problems
  [[ -n "${report}" ]] || return 0
  total=$(wc -l <<<"${report}")
  problems=$(grep -vx ok <<<"${report}" || true)
  if [[ -z "${problems}" ]]; then
    pass "${doc}: ${total} ${good}"
  else
    fail "${doc}: $(wc -l <<<"${problems}") of ${total} ${bad}" "${problems//$'\n'/$'\n'        }"
  fi
}

# diagrams_report ROOT - one line per diagram of ROOT: "ok", or what is wrong.
diagrams_report() {
  local dir="$1/${DIAGRAMS_DIR}" source name magic recorded
  [[ -d "${dir}" ]] || { echo "no folder ${DIAGRAMS_DIR}"; return 0; }
  for name in "${REQUIRED_DIAGRAMS[@]}"; do
    [[ -f "${dir}/${name}.mmd" ]] || echo "${name}.mmd: one of the plan's diagrams has no source"
  done
  for source in "${dir}"/*.mmd; do
    [[ -e "${source}" ]] || continue
    name=$(basename "${source}" .mmd)
    if [[ ! -f "${dir}/${name}.png" ]]; then
      echo "${name}.png: missing (make docs renders it)"
      continue
    fi
    magic=$(head -c 8 "${dir}/${name}.png" | od -An -tx1 | tr -d ' \n')
    if [[ "${magic}" != 89504e470d0a1a0a ]]; then
      echo "${name}.png: not a PNG"
      continue
    fi
    recorded=$(grep -E "^[0-9a-f]{64}  ${name}\.(mmd|png)$" "${dir}/rendered.sha256" 2>/dev/null || true)
    if [[ $(grep -c . <<<"${recorded}") != 2 ]] || ! (cd "${dir}" && sha256sum -c --status - <<<"${recorded}"); then
      echo "${name}: ${name}.png is not the render of ${name}.mmd (run make docs)"
      continue
    fi
    echo ok
  done
}

# check_doc ROOT DOC - DOC's cases: links, make targets, scripts.
check_doc() {
  local root="$1" doc="$2" refs
  refs=$(extract_refs "${root}/${doc}")
  judge "${doc}" "relative links resolve" "relative links are broken" "$(links_report "${root}" "${doc}" "${refs}")"
  judge "${doc}" "make targets exist" "make targets do not exist" "$(make_report "${root}" "${doc}" "${refs}")"
  judge "${doc}" "scripts answer --help" "scripts are missing or fail --help" "$(scripts_report "${root}" "${doc}" "${refs}")"
}

# fake_repository DIR - a made-up repository with one of each kind of drift
# in docs/fake.md, and the good references beside them.
fake_repository() {
  local dir="$1"
  mkdir -p "${dir}/docs" "${dir}/infrastructure/tools/lib" "${dir}/build"
  git init -q "${dir}"
  echo build/ >"${dir}/.gitignore"
  echo '# Generated' >"${dir}/build/report.md"
  printf '%s\n' 'SHELL := bash' 'real-target: ## a target' '	@true' 'other:' '	@true' >"${dir}/Makefile"
  printf '%s\n' '#!/usr/bin/env bash' 'exit 0' >"${dir}/infrastructure/tools/good.sh"
  printf '%s\n' '#!/usr/bin/env bash' 'echo "needs root" >&2; exit 3' >"${dir}/infrastructure/tools/no-help.sh"
  printf '%s\n' '#!/usr/bin/env bash' >"${dir}/infrastructure/tools/not-executable.sh"
  printf '%s\n' '# shellcheck shell=bash' >"${dir}/infrastructure/tools/lib/helpers.sh"
  chmod +x "${dir}/infrastructure/tools/good.sh" "${dir}/infrastructure/tools/no-help.sh"
  cat >"${dir}/docs/guide.md" <<'MD'
# Guide

## Intro

## Intro

## Use `make`: the *rules*! (v2.0)

<a name="input_x"></a>
MD
  cat >"${dir}/docs/fake.md" <<'MD'
# Fake

A [good link](guide.md#intro-1), [another](../Makefile), [a folder](../infrastructure/tools/) and [a broken one](missing.md).
A [broken anchor](guide.md#no-such-heading), [a good one](guide.md#use-make-the-rules-v20), [named](guide.md#input\_x) and [same file](#fake).
`[not a link](nowhere.md)` and [web](https://example.com/x.md), [out](../../outside.md) and [built](../build/report.md).
Run `make real-target ENV=x`, `make TARGET` or `make -C elsewhere anything`, never `make no-such-target`; and `make
wrapped-unknown` across a line break.

```bash
make other && make fenced-unknown # make commented-out
[not a link either](nowhere.md)
```

Scripts: `infrastructure/tools/good.sh --help`, `infrastructure/tools/missing.sh`,
`infrastructure/tools/not-executable.sh`, `infrastructure/tools/no-help.sh`, `infrastructure/tools/lib/helpers.sh`,
`deploy.sh` and `scripts/elsewhere.sh` (not the repository's).
MD
}

# fake_diagrams ROOT - a rendered diagram whose source changed since, one
# without its PNG, one whose PNG is not a PNG, and a current one.
fake_diagrams() {
  local dir="$1/${DIAGRAMS_DIR}" name
  mkdir -p "${dir}"
  for name in changed current notpng; do
    printf 'flowchart LR\n  a --> %s\n' "${name}" >"${dir}/${name}.mmd"
    printf '\x89PNG\r\n\x1a\n%s' "${name}" >"${dir}/${name}.png"
  done
  printf 'GIF89a' >"${dir}/notpng.png"
  printf 'flowchart LR\n  a --> b\n' >"${dir}/lonely.mmd"
  (cd "${dir}" && sha256sum changed.mmd changed.png current.mmd current.png notpng.mmd notpng.png >rendered.sha256)
  echo '  b --> c' >>"${dir}/changed.mmd"
}

# test_self - the checks find each kind of drift in the made-up repository.
test_self() {
  local root="${WORK}/fake" refs links makes scripts diagrams
  fake_repository "${root}"
  fake_diagrams "${root}"
  diagrams=$(diagrams_report "${root}")
  expect_match "self-test: a diagram source changed after its render is reported" \
    'changed: changed\.png is not the render of changed\.mmd \(run make docs\)' "${diagrams}"
  expect_match "self-test: a diagram without its PNG is reported" 'lonely\.png: missing' "${diagrams}"
  expect_match "self-test: a PNG that is not one is reported" 'notpng\.png: not a PNG' "${diagrams}"
  expect_match "self-test: the plan's diagrams are required" 'topology\.mmd: one of the plan' "${diagrams}"
  expect_eq "self-test: a current diagram passes" 1 "$(grep -cx ok <<<"${diagrams}")"
  refs=$(extract_refs "${root}/docs/fake.md")
  links=$(links_report "${root}" docs/fake.md "${refs}")
  makes=$(make_report "${root}" docs/fake.md "${refs}")
  scripts=$(scripts_report "${root}" docs/fake.md "${refs}")
  expect_match "self-test: a link to a missing file is reported with its line" \
    'docs/fake.md:3: \(missing\.md\) no such file or folder: docs/missing\.md' "${links}"
  expect_match "self-test: an anchor that is no heading is reported" \
    "docs/fake.md:4: \(guide\.md#no-such-heading\) docs/guide\.md has no heading or anchor '#no-such-heading'" "${links}"
  expect_match "self-test: a link out of the repository is reported" 'docs/fake.md:5: \(\.\./\.\./outside\.md\) points outside' "${links}"
  expect_match "self-test: a link to a file git ignores is reported" 'docs/fake.md:5: \(\.\./build/report\.md\) build/report\.md is ignored by git' "${links}"
  expect_eq "self-test: the other 6 links (a repeated heading's -1, markup in a heading, <a name>, same file, a folder) resolve; code and URLs are not links" \
    "6 4" "$(grep -cx ok <<<"${links}") $(grep -vcx ok <<<"${links}")"
  expect_match "self-test: an unknown make target in inline code is reported" \
    "docs/fake.md:6: 'make no-such-target': the Makefile has no target no-such-target" "${makes}"
  expect_match "self-test: a make command in a code span across lines is read" "docs/fake.md:6: 'make wrapped-unknown'" "${makes}"
  expect_match "self-test: an unknown make target in a fenced block is reported" "docs/fake.md:10: 'make fenced-unknown'" "${makes}"
  expect_eq "self-test: real targets pass; make -C, variables, placeholders and comments are not targets" \
    "2 3" "$(grep -cx ok <<<"${makes}") $(grep -vcx ok <<<"${makes}")"
  expect_match "self-test: a missing script is reported" 'docs/fake.md:14: infrastructure/tools/missing\.sh: no such script' "${scripts}"
  expect_match "self-test: a script that is not executable is reported" \
    'docs/fake.md:15: infrastructure/tools/not-executable\.sh is not executable' "${scripts}"
  expect_match "self-test: a script whose --help fails is reported with its exit and output" \
    'docs/fake.md:15: infrastructure/tools/no-help\.sh --help failed, exit 3: needs root' "${scripts}"
  expect_eq "self-test: a working script and a library pass; bare names and other paths are not checked" \
    "2 3" "$(grep -cx ok <<<"${scripts}") $(grep -vcx ok <<<"${scripts}")"
  expect_eq "self-test: GitHub slugs (repeats numbered, punctuation dropped, '_' kept)" \
    "guide intro intro-1 use-make-the-rules-v20 input_x" "$(anchors_of "${root}/docs/guide.md" | tr '\n' ' ' | sed 's/ $//')"
  expect_eq "self-test: make targets are 'name:' lines, not 'name :=' assignments" \
    "other real-target" "$(make_targets "${root}/Makefile" | tr '\n' ' ' | sed 's/ $//')"
}

main() {
  case "${1:-}" in
    -h | --help) usage; return 0 ;;
    "") ;;
    *) usage >&2; die "unknown argument: $1" "run it without arguments; see --help" 2 ;;
  esac
  have perl || die "perl not found" "install perl (Debian: perl-base)"
  WORK=$(mktemp -d)
  trap cleanup EXIT
  test_self
  local docs doc
  docs=$(list_docs "${RM_REPO_ROOT}")
  check "the repository's markdown files are found (README.md among them)" grep -qx README.md <<<"${docs}"
  while read -r doc; do check_doc "${RM_REPO_ROOT}" "${doc}"; done <<<"${docs}"
  judge "${DIAGRAMS_DIR}" "diagrams are the renders of their sources" "diagrams are missing or stale" \
    "$(diagrams_report "${RM_REPO_ROOT}")"
  # The plan's validation commands (Tasks 30-32), as written there.
  local secrets="${RM_REPO_ROOT}/infrastructure/docs/secrets-management.md" readme="${RM_REPO_ROOT}/infrastructure/README.md"
  check "plan: the secrets guide speaks of rotation" grep -qi rotation "${secrets}"
  check "plan: the secrets guide speaks of GitHub" grep -qi github "${secrets}"
  check "plan: infrastructure/README.md has a quick start" grep -qi "quick start" "${readme}"
  check "plan: infrastructure/README.md lists prerequisites" grep -qi prerequisites "${readme}"
  expect_eq "plan: the four diagrams are there" "cicd.png deployment.png network.png topology.png" \
    "$(cd "${RM_REPO_ROOT}/${DIAGRAMS_DIR}" && printf '%s\n' *.png | sort | tr '\n' ' ' | sed 's/ $//')"
  summary
}

main "$@"
