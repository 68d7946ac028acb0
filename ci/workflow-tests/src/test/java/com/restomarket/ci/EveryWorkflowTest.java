package com.restomarket.ci;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Rules every workflow in .github/workflows follows. */
class EveryWorkflowTest {

  // A tag can be moved (trivy-action's were, in March 2026); a commit cannot.
  private static final Pattern USES = Pattern.compile("^\\s*(?:-\\s+)?uses:\\s*(\\S+)(.*)$");
  private static final Pattern PINNED = Pattern.compile("^[\\w.-]+/[\\w./-]+@[0-9a-f]{40}$");
  private static final Pattern VERSION_COMMENT = Pattern.compile("^\\s+#\\s+v\\d+(\\.\\d+)*\\b.*$");

  static Stream<String> workflows() {
    return Repo.workflowFiles().stream();
  }

  @ParameterizedTest
  @MethodSource("workflows")
  void everyActionIsPinnedToAFullCommitWithItsVersionInAComment(String file) {
    List<String> lines = Repo.text(file).lines().toList();
    List<String> uses = new ArrayList<>();
    for (String line : lines) {
      Matcher m = USES.matcher(line);
      if (!m.matches()) {
        continue;
      }
      uses.add(m.group(1));
      assertThat(m.group(1)).as(file + ": " + line.strip()).matches(PINNED);
      assertThat(m.group(2)).as(file + ": version comment of " + m.group(1)).matches(VERSION_COMMENT);
    }
    assertThat(uses).as(file + " uses actions").isNotEmpty();
  }

  @ParameterizedTest
  @MethodSource("workflows")
  void everyCheckoutLeavesNoCredentialsBehind(String file) {
    Workflow workflow = Workflow.load(file);
    for (String job : workflow.jobNames()) {
      for (Map<String, Object> checkout : workflow.stepsUsing(job, "actions/checkout@")) {
        assertThat(Workflow.with(checkout).get("persist-credentials")).as(file + " / " + job).isEqualTo(false);
      }
    }
  }

  @ParameterizedTest
  @MethodSource("workflows")
  void everyJobHasATimeout(String file) {
    Workflow workflow = Workflow.load(file);
    for (String job : workflow.jobNames()) {
      assertThat(workflow.job(job).get("timeout-minutes")).as(file + " / " + job).isInstanceOf(Integer.class);
    }
  }

  @ParameterizedTest
  @MethodSource("workflows")
  void theTokenStartsWithNoMoreThanReadAccess(String file) {
    Object permissions = Workflow.load(file).tree().get("permissions");
    assertThat(permissions).as(file + " top-level permissions").isIn(Map.of(), Map.of("contents", "read"));
  }

  private static final Pattern ZIZMOR_IGNORE = Pattern.compile("#\\s*zizmor:\\s*ignore\\[([a-z-]+)]\\s*$");

  @ParameterizedTest
  @MethodSource("workflows")
  void zizmorFindingsAreAcceptedOneLineAtATimeWithTheirReason(String file) {
    List<String> lines = Repo.text(file).lines().toList();
    for (int i = 0; i < lines.size(); i++) {
      Matcher m = ZIZMOR_IGNORE.matcher(lines.get(i));
      if (m.find()) {
        boolean reasoned =
            lines.subList(Math.max(0, i - 2), i).stream().anyMatch(l -> l.strip().startsWith("#"));
        assertThat(reasoned)
            .as(file + ":" + (i + 1) + ": the reason for ignoring " + m.group(1) + " is in a comment just above it")
            .isTrue();
      }
    }
  }

  @org.junit.jupiter.api.Test
  void zizmorsConfigIgnoresNothingForAWholeFile() {
    Object rules = Repo.yaml(".github/zizmor.yml").get("rules");
    assertThat(rules == null || (rules instanceof Map<?, ?> map && map.isEmpty()))
        .as(".github/zizmor.yml: accepted findings are ignored on their line (# zizmor: ignore[AUDIT]), not per file")
        .isTrue();
  }
}
