package com.restomarket.ci;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Registry retention: .github/workflows/image-cleanup.yml. */
class ImageCleanupWorkflowTest {

  private static final Workflow CLEANUP = Workflow.load(".github/workflows/image-cleanup.yml");

  private static Map<String, Object> cleanupInputs() {
    return Workflow.with(CLEANUP.stepsUsing("cleanup", "dataaxiom/ghcr-cleanup-action@").getFirst());
  }

  @Test
  void runsWeeklyAndByHand() {
    Map<String, Object> on = CLEANUP.triggers();
    assertThat(on).containsOnlyKeys("schedule", "workflow_dispatch");
    String cron = String.valueOf(Workflow.map(((List<?>) on.get("schedule")).getFirst()).get("cron"));
    String[] fields = cron.split("\\s+");
    assertThat(fields).hasSize(5);
    assertThat(fields[2]).as("any day of the month").isEqualTo("*");
    assertThat(fields[3]).as("any month").isEqualTo("*");
    assertThat(fields[4]).as("one day of the week").matches("[0-6]");
  }

  @Test
  void aManualRunIsADryRunUnlessToldOtherwise() {
    Map<String, Object> dispatch = Workflow.map(CLEANUP.triggers().get("workflow_dispatch"));
    Map<String, Object> dryRun = Workflow.map(Workflow.map(dispatch.get("inputs")).get("dry-run"));
    assertThat(dryRun).containsEntry("type", "boolean").containsEntry("default", true);
    assertThat(cleanupInputs().get("dry-run"))
        .as("scheduled runs delete, manual runs follow the input")
        .isEqualTo("${{ github.event_name == 'workflow_dispatch' && inputs.dry-run }}");
  }

  @Test
  void keepsTheFiveNewestTaggedVersions() {
    assertThat(cleanupInputs()).containsEntry("keep-n-tagged", 5).containsEntry("use-regex", true);
  }

  @Test
  void neverDeletesLatestStableOrSemanticVersions() {
    Pattern protectedTags = Pattern.compile(String.valueOf(cleanupInputs().get("exclude-tags")));
    for (String tag : List.of("latest", "stable", "1.2.3", "v1.2.3", "10.0.1", "1.2.3-rc.1", "v2.0.0+build.5")) {
      assertThat(protectedTags.matcher(tag).matches()).as(tag + " is protected").isTrue();
    }
    for (String tag : List.of("0a1b2c3d4e5f", "develop-0a1b2c3d4e5f", "main-0a1b2c3d4e5f", "latest-old", "1.2")) {
      assertThat(protectedTags.matcher(tag).matches()).as(tag + " may be deleted").isFalse();
    }
  }

  @Test
  void mayDeletePackagesButNothingElse() {
    assertThat(CLEANUP.tree().get("permissions")).isEqualTo(Map.of());
    assertThat(CLEANUP.job("cleanup").get("permissions")).isEqualTo(Map.of("packages", "write"));
  }

  @Test
  void cleansTheImageTheDockerBuildJobPushes() {
    assertThat(cleanupInputs().get("package")).isEqualTo("${{ github.event.repository.name }}/api");
    assertThat(Repo.text(".github/workflows/ci-cd.yml")).contains("image=${REGISTRY}/${GITHUB_REPOSITORY,,}/api");
  }
}
