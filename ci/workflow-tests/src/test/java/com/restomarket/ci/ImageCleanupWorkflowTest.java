package com.restomarket.ci;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Registry retention: .github/workflows/image-cleanup.yml. */
class ImageCleanupWorkflowTest {

  private static final Workflow CLEANUP = Workflow.load(".github/workflows/image-cleanup.yml");

  private static final String CLEANUP_STEP = "Delete old API images from GHCR";

  private static Map<String, Object> cleanupStep() {
    return CLEANUP.stepNamed("cleanup", CLEANUP_STEP);
  }

  private static String cleanupScript() {
    return String.valueOf(cleanupStep().get("run"));
  }

  private static Map<String, Object> cleanupEnv() {
    return Workflow.map(cleanupStep().get("env"));
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
    assertThat(cleanupEnv().get("DRY_RUN"))
        .as("scheduled runs delete, manual runs follow the input")
        .isEqualTo("${{ github.event_name == 'workflow_dispatch' && inputs.dry-run }}");
    assertThat(cleanupScript())
        .as("--delete only when it is not a dry run")
        .contains("[[ \"${DRY_RUN}\" == true ]] || args+=(--delete)");
  }

  @Test
  void keepsTheFiveNewestTaggedVersions() {
    assertThat(cleanupScript())
        .contains("infrastructure/tools/ci/registry-retention.sh \"${args[@]}\"")
        .contains("--keep 5");
  }

  @Test
  void registryCredentialsComeFromTheEnvironmentNotTheCommandLine() {
    assertThat(cleanupEnv())
        .containsEntry("REGISTRY_USERNAME", "${{ github.actor }}")
        .containsEntry("REGISTRY_PASSWORD", "${{ secrets.GITHUB_TOKEN }}")
        .containsEntry("GITHUB_TOKEN", "${{ secrets.GITHUB_TOKEN }}");
    assertThat(cleanupScript()).doesNotContain("${{").doesNotContain("TOKEN").doesNotContain("PASSWORD");
  }

  /**
   * The protected tags (latest, stable, semantic versions and every environment's live and
   * previous deployment) come from deployed-tags.sh, whose regex test-deployed-tags.sh checks; here
   * only that the cleanup uses it and cannot run without it.
   */
  @Test
  void neverDeletesLatestStableOrSemanticVersions() {
    assertThat(cleanupEnv().get("PROTECT")).isEqualTo("${{ steps.protect.outputs.regex }}");
    assertThat(cleanupScript()).contains("--protect \"${PROTECT}\"");
    List<Map<String, Object>> steps = CLEANUP.steps("cleanup");
    Map<String, Object> protect =
        steps.stream()
            .filter(s -> "protect".equals(s.get("id")))
            .findFirst()
            .orElseThrow(() -> new AssertionError("image-cleanup.yml has no step with id 'protect'"));
    assertThat(String.valueOf(protect.get("run"))).contains("infrastructure/tools/ci/deployed-tags.sh");
    assertThat(Workflow.map(protect.get("env"))).containsEntry("GITHUB_TOKEN", "${{ secrets.GITHUB_TOKEN }}");
    assertThat(protect).as("a failed protection must stop the job").doesNotContainKey("continue-on-error");
    Map<String, Object> cleanup = cleanupStep();
    assertThat(steps.indexOf(protect)).as("the protect step runs before the cleanup").isLessThan(steps.indexOf(cleanup));
    assertThat(cleanup).as("the cleanup never runs after a failed step").doesNotContainKey("if");
    assertThat(String.valueOf(protect.get("run"))).contains("echo \"regex=${regex}\" >>\"${GITHUB_OUTPUT}\"");
    assertThat(steps.subList(0, steps.indexOf(protect)))
        .as("deployed-tags.sh is checked out before it runs")
        .anyMatch(s -> String.valueOf(s.get("uses")).startsWith("actions/checkout@"));
  }

  @Test
  void mayDeletePackagesAndReadDeploymentsButNothingElse() {
    assertThat(CLEANUP.tree().get("permissions")).isEqualTo(Map.of());
    assertThat(CLEANUP.job("cleanup").get("permissions"))
        .isEqualTo(Map.of("actions", "read", "contents", "read", "deployments", "read", "packages", "write"));
  }

  @Test
  void cleansTheImageTheDockerBuildJobPushes() {
    assertThat(cleanupScript()).contains("--image \"${REGISTRY}/${GITHUB_REPOSITORY,,}/api\"");
    assertThat(Workflow.map(CLEANUP.tree().get("env"))).containsEntry("REGISTRY", "ghcr.io");
    Workflow build = Workflow.load(".github/workflows/ci-cd.yml");
    assertThat(Workflow.map(build.tree().get("env"))).containsEntry("REGISTRY", "ghcr.io");
    assertThat(Repo.text(".github/workflows/ci-cd.yml")).contains("image=${REGISTRY}/${GITHUB_REPOSITORY,,}/api");
  }
}
