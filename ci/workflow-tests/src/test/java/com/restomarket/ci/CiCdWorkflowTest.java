package com.restomarket.ci;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The pipeline in front of main and develop: .github/workflows/ci-cd.yml. */
class CiCdWorkflowTest {

  private static final Workflow CI = Workflow.load(".github/workflows/ci-cd.yml");
  private static final List<String> PIPELINE =
      List.of("code-quality", "test", "build", "docker-build", "deploy-staging", "terraform");
  private static final String RUNNER_ROLE_DEFAULTS = "infrastructure/ansible/roles/ci_runner/defaults/main.yml";

  @Test
  void runsOnEveryPullRequestAndOnPushesToMainAndDevelop() {
    Map<String, Object> on = CI.triggers();
    assertThat(on).containsOnlyKeys("pull_request", "push");
    assertThat(on.get("pull_request")).as("every pull request, whatever its base").isNull();
    assertThat(Workflow.map(on.get("push")).get("branches")).isEqualTo(List.of("main", "develop"));
  }

  @Test
  void tokenIsReadOnlyUnlessAJobWidensIt() {
    assertThat(CI.tree().get("permissions")).isEqualTo(Map.of("contents", "read"));
  }

  @Test
  void jobsWidenOnlyThePermissionsTheirStepsNeed() {
    Map<String, Map<String, String>> allowed =
        Map.of(
            "code-quality", Map.of("contents", "read", "security-events", "write", "actions", "read"),
            "docker-build",
                Map.of(
                    "contents", "read",
                    "packages", "write",
                    "security-events", "write",
                    "actions", "read",
                    "id-token", "write",
                    "attestations", "write"),
            "deploy-staging", Map.of("contents", "read"),
            "terraform", Map.of("contents", "read"));
    for (String job : CI.jobNames()) {
      Object permissions = CI.job(job).get("permissions");
      if (permissions == null) {
        continue;
      }
      assertThat(permissions).as(job + " permissions").isInstanceOf(Map.class);
      assertThat(Workflow.map(permissions))
          .as(job + " may only widen what it needs")
          .isEqualTo(allowed.getOrDefault(job, Map.of()));
    }
  }

  @Test
  void aNewPushToAPullRequestCancelsItsRunningChecksButBranchRunsFinish() {
    Map<String, Object> concurrency = Workflow.map(CI.tree().get("concurrency"));
    assertThat(String.valueOf(concurrency.get("group"))).contains("github.event.pull_request.number");
    assertThat(String.valueOf(concurrency.get("cancel-in-progress")))
        .isEqualTo("${{ github.event_name == 'pull_request' }}");
  }

  @Test
  void jobsRunInOrderQualityTestBuildImageDeploy() {
    assertThat(CI.needs("code-quality")).isEmpty();
    assertThat(CI.needs("test")).containsExactly("code-quality");
    assertThat(CI.needs("build")).containsExactly("test");
    assertThat(CI.needs("docker-build")).containsExactly("build");
    assertThat(CI.needs("deploy-staging")).containsExactly("docker-build");
    assertThat(CI.needs("terraform")).as("independent of the Java pipeline").isEmpty();
  }

  @Test
  void ciOkIsTheOnlyAggregateAndWaitsForEveryOtherJob() {
    Set<String> others =
        CI.jobNames().stream().filter(j -> !j.equals("ci-ok")).collect(Collectors.toSet());
    assertThat(others).containsExactlyInAnyOrderElementsOf(PIPELINE);
    assertThat(CI.needs("ci-ok")).containsExactlyInAnyOrderElementsOf(others);
    assertThat(CI.job("ci-ok").get("name")).as("the check name the rulesets require").isEqualTo("ci-ok");
    assertThat(CI.job("ci-ok").get("if")).as("reports even when a job failed").isEqualTo("always()");
    String script = String.valueOf(CI.steps("ci-ok").getFirst().get("run"));
    assertThat(script).contains("success | skipped)").contains("exit 1");
  }

  @Test
  void everyJobHasATimeout() {
    for (String job : CI.jobNames()) {
      assertThat(CI.job(job).get("timeout-minutes")).as(job + " timeout-minutes").isInstanceOf(Integer.class);
      assertThat((Integer) CI.job(job).get("timeout-minutes")).as(job).isBetween(1, 60);
    }
  }

  @Test
  void eachJobsWorkIsAMakeTargetPeopleRunLocally() {
    assertThat(runs("code-quality")).contains("make ci-quality");
    assertThat(runs("test")).contains("make ci-test");
    assertThat(runs("build")).contains("make ci-build");
    assertThat(runs("terraform")).contains("make tf-check");
    assertThat(runs("deploy-staging")).contains("make ansible-update ENV=staging");
  }

  @Test
  void terraformChecksRunWhenTheTerraformCodeChangesWithReadOnlyAccess() {
    assertThat(CI.job("terraform").get("permissions")).isEqualTo(Map.of("contents", "read"));
    Map<String, Object> detect = CI.stepNamed("terraform", "Detect changes to the Terraform code");
    assertThat(String.valueOf(Workflow.map(detect.get("env")).get("WATCHED"))).contains("infrastructure/terraform/");
    assertThat(String.valueOf(detect.get("run"))).contains("git diff").contains("GITHUB_OUTPUT");
    Map<String, Object> check = CI.stepNamed("terraform", "make tf-check");
    assertThat(check.get("if")).isEqualTo("steps.changes.outputs.terraform == 'true'");
    assertThat(Workflow.with(CI.stepsUsing("terraform", "actions/checkout@").getFirst()).get("fetch-depth"))
        .as("the base commit must be there to compare with")
        .isEqualTo(0);
    assertThat(Repo.text("infrastructure/terraform/scripts/build-provider.sh"))
        .as("the vendored provider where it exists, the registry otherwise")
        .contains("RESTOMARKET_VENDOR_DIR")
        .contains("../shared/vendor")
        .contains("registry");
  }

  @Test
  void codeQualityScansTheWholeHistoryAndTheFilesystem() {
    Map<String, Object> checkout = CI.stepsUsing("code-quality", "actions/checkout@").getFirst();
    assertThat(Workflow.with(checkout).get("fetch-depth")).as("gitleaks sees every commit").isEqualTo(0);
    Map<String, Object> trivy = Workflow.with(CI.stepsUsing("code-quality", "aquasecurity/trivy-action@").getFirst());
    assertThat(trivy)
        .containsEntry("scan-type", "fs")
        .containsEntry("scanners", "vuln,secret")
        .containsEntry("severity", "HIGH,CRITICAL")
        .containsEntry("exit-code", "1");
  }

  @Test
  void sarifUploadsCanNeverFailTheBuild() {
    for (String job : List.of("code-quality", "docker-build")) {
      List<Map<String, Object>> uploads = CI.stepsUsing(job, "github/codeql-action/upload-sarif@");
      assertThat(uploads).as(job + " uploads SARIF").isNotEmpty();
      for (Map<String, Object> upload : uploads) {
        assertThat(upload.get("continue-on-error")).as(job + " SARIF upload").isEqualTo(true);
        assertThat(String.valueOf(upload.get("if"))).as("uploads after a failed scan too").startsWith("always()");
      }
    }
  }

  @Test
  void testJobUsesTheSamePostgres15AndRedis7AsMakeTest() {
    Map<String, Object> container = Workflow.map(CI.job("test").get("container"));
    assertThat(container.get("image")).as("Debian 12, whose packages local-services.sh installs").isEqualTo("debian:bookworm");
    assertThat(Repo.text("infrastructure/tools/local-services.sh"))
        .contains("/usr/lib/postgresql/15/bin")
        .contains("redis-server");
    assertThat(runs("test")).contains("make ci-test");
  }

  @Test
  void coverageIsUploadedToCodecovAndGatedAt80Percent() {
    Map<String, Object> codecov = Workflow.with(CI.stepsUsing("test", "codecov/codecov-action@").getFirst());
    assertThat(codecov).containsEntry("token", "${{ secrets.CODECOV_TOKEN }}");
    assertThat(String.valueOf(codecov.get("files"))).endsWith("jacoco.xml");
    assertThat(Repo.text("apps/api/pom.xml"))
        .as("the JaCoCo gate that make ci-test runs")
        .contains("<coverage.minimum>0.80</coverage.minimum>")
        .contains("<counter>LINE</counter>");
  }

  @Test
  void buildUploadsTheJarForLaterJobs() {
    Map<String, Object> upload = Workflow.with(CI.stepsUsing("build", "actions/upload-artifact@").getFirst());
    assertThat(upload).containsEntry("path", "apps/api/target/restomarket-api.jar").containsEntry("if-no-files-found", "error");
  }

  @Test
  void imagesAreBuiltOnlyForPushes() {
    assertThat(CI.job("docker-build").get("if")).isEqualTo("github.event_name == 'push'");
  }

  @Test
  void imageIsTaggedShaBranchShaAndLatestOnlyOnTheDefaultBranch() {
    Map<String, Object> meta = Workflow.with(CI.stepsUsing("docker-build", "docker/metadata-action@").getFirst());
    assertThat(String.valueOf(meta.get("tags")).lines().map(String::strip).toList())
        .containsExactly(
            "type=raw,value=${{ steps.names.outputs.tag }}",
            "type=raw,value=${{ github.ref_name }}-${{ steps.names.outputs.tag }}",
            "type=raw,value=latest,enable={{is_default_branch}}");
    assertThat(runs("docker-build")).contains("tag=${GITHUB_SHA::12}");
  }

  @Test
  void theImageIsBuiltOnceScannedThenPushedWithoutALoginBeforeTheScan() {
    List<Map<String, Object>> steps = CI.steps("docker-build");
    List<String> uses = steps.stream().map(s -> String.valueOf(s.get("uses"))).toList();
    List<Map<String, Object>> builds = CI.stepsUsing("docker-build", "docker/build-push-action@");
    assertThat(builds).as("one build").hasSize(1);
    Map<String, Object> build = Workflow.with(builds.getFirst());
    assertThat(build)
        .containsEntry("load", true)
        .doesNotContainKey("push")
        .containsEntry("tags", "${{ steps.meta.outputs.tags }}")
        .containsEntry("cache-from", "type=gha,scope=api")
        .containsEntry("cache-to", "type=gha,scope=api,mode=max");
    int buildAt = indexOf(uses, "docker/build-push-action@");
    int scanAt = indexOf(uses, "aquasecurity/trivy-action@");
    int loginAt = indexOf(uses, "docker/login-action@");
    int pushAt = steps.indexOf(CI.stepNamed("docker-build", "Push the scanned image"));
    assertThat(indexOf(uses, "docker/setup-buildx-action@")).isLessThan(buildAt);
    assertThat(buildAt).as("build, then scan").isLessThan(scanAt);
    assertThat(scanAt).as("scan, then log in").isLessThan(loginAt);
    assertThat(loginAt).as("log in, then push").isLessThan(pushAt);
    assertThat(Workflow.with(steps.get(loginAt))).containsEntry("registry", "${{ env.REGISTRY }}");
    assertThat(CI.tree().get("env")).asString().contains("REGISTRY=ghcr.io");

    Map<String, Object> trivy = Workflow.with(steps.get(scanAt));
    assertThat(trivy)
        .containsEntry("scan-type", "image")
        .containsEntry("image-ref", "${{ steps.names.outputs.image }}:${{ steps.names.outputs.tag }}")
        .containsEntry("severity", "HIGH,CRITICAL")
        .containsEntry("ignore-unfixed", true)
        .containsEntry("exit-code", "1");

    String push = String.valueOf(steps.get(pushAt).get("run"));
    assertThat(push).as("the loaded, scanned image is what goes out").contains("docker push --all-tags \"${IMAGE}\"");
    assertThat(push).contains("echo \"digest=${digest}\"");
    assertThat(CI.job("docker-build").get("outputs")).asString().contains("digest=${{ steps.push.outputs.digest }}");
  }

  @Test
  void thePushedDigestCarriesProvenanceAndAnSbomAttestation() {
    for (String action : List.of("actions/attest-build-provenance@", "actions/attest-sbom@")) {
      Map<String, Object> attest = Workflow.with(CI.stepsUsing("docker-build", action).getFirst());
      assertThat(attest)
          .as(action)
          .containsEntry("subject-name", "${{ steps.names.outputs.image }}")
          .containsEntry("subject-digest", "${{ steps.push.outputs.digest }}")
          .containsEntry("push-to-registry", true);
    }
    assertThat(Workflow.with(CI.stepsUsing("docker-build", "actions/attest-sbom@").getFirst()))
        .containsEntry("sbom-path", "sbom.spdx.json");
  }

  @Test
  void stagingDeploysOnlyFromDevelopPushesInTheStagingEnvironment() {
    Map<String, Object> deploy = CI.job("deploy-staging");
    assertThat(deploy.get("if")).isEqualTo("github.event_name == 'push' && github.ref == 'refs/heads/develop'");
    assertThat(Workflow.map(deploy.get("environment")).get("name")).isEqualTo("staging");
  }

  @Test
  void deploysHaveTheirOwnConcurrencyGroupAndAreNeverCancelled() {
    Map<String, Object> concurrency = Workflow.map(CI.job("deploy-staging").get("concurrency"));
    assertThat(concurrency).containsEntry("group", "deploy-staging").containsEntry("cancel-in-progress", false);
  }

  @Test
  void theDeployIsTheCommandPeopleRunAndNothingElseDeploys() {
    assertThat(String.valueOf(CI.stepNamed("deploy-staging", "Roll the release across the droplets").get("run")))
        .isEqualTo("make ansible-update ENV=staging VIA=vpc TAG=\"${IMAGE_TAG}\" DIGEST=\"${IMAGE_DIGEST}\" LB_URL=\"${STAGING_URL}\"");
    assertThat(Workflow.map(CI.job("deploy-staging").get("env")))
        .as("the droplets run the digest docker-build scanned and pushed")
        .containsEntry("IMAGE_DIGEST", "${{ needs.docker-build.outputs.digest }}");
    for (String job : CI.jobNames()) {
      for (Map<String, Object> step : CI.steps(job)) {
        String what = job + " / " + step.get("name");
        assertThat(String.valueOf(step.get("uses"))).as(what + ": no SSH action deploys around Ansible").doesNotContain("ssh-action");
        assertThat(String.valueOf(step.getOrDefault("run", "")))
            .as(what + ": the engine is reached through update-api.yml only")
            .doesNotContain("deploy.sh")
            .doesNotContain("rollback.sh");
      }
    }
  }

  /** The runner that Ansible registers (roles/ci_runner) is the one the job asks for. */
  @Test
  void theDeployRunsOnTheLabelsOfTheRunnerAnsibleRegisters() {
    Object labels = Repo.yaml(RUNNER_ROLE_DEFAULTS).get("ci_runner_labels");
    assertThat(labels).as(RUNNER_ROLE_DEFAULTS + ": ci_runner_labels").isInstanceOf(List.class);
    assertThat((List<?>) labels).as("ci_runner_labels").isNotEmpty();
    List<Object> wanted = new ArrayList<>(List.of("self-hosted", "linux"));
    wanted.addAll((List<?>) labels);
    assertThat(CI.job("deploy-staging").get("runs-on"))
        .as("deploy-staging runs-on: GitHub's self-hosted and linux, then " + RUNNER_ROLE_DEFAULTS + "'s ci_runner_labels")
        .isEqualTo(wanted);
  }

  @Test
  void theDeployRunsInsideTheVpcWithPinnedHostKeysAndAKeyThatLeavesWithTheJob() {
    String ssh = String.valueOf(CI.stepNamed("deploy-staging", "Prepare SSH for Ansible").get("run"));
    assertThat(ssh)
        .contains("StrictHostKeyChecking=yes")
        .contains("infrastructure/ansible/inventory/staging.known_hosts")
        .doesNotContain("accept-new");
    Map<String, Object> remove = CI.stepNamed("deploy-staging", "Remove the deploy key");
    assertThat(remove.get("if")).isEqualTo("always()");
    assertThat(String.valueOf(remove.get("run"))).contains("rm -rf \"${RUNNER_TEMP}/ssh\"");
    assertThat(String.valueOf(CI.job("deploy-staging"))).as("the job token never reaches the droplets").doesNotContain("GITHUB_TOKEN");
  }

  @Test
  void theJobOutlastsItsStepsSoARollbackAlwaysGetsItsTurn() {
    int steps =
        CI.steps("deploy-staging").stream()
            .map(s -> s.get("timeout-minutes"))
            .filter(t -> t != null)
            .mapToInt(t -> Integer.parseInt(String.valueOf(t)))
            .sum();
    assertThat(steps).as("deploy, smoke tests, rollback and its check each have a limit").isEqualTo(50);
    assertThat(Integer.parseInt(String.valueOf(CI.job("deploy-staging").get("timeout-minutes")))).isGreaterThan(steps);
  }

  @Test
  void deployIsCheckedThroughTheLoadBalancerAndRolledBackOnFailureOrCancellation() {
    assertThat(String.valueOf(CI.stepNamed("deploy-staging", "Health and smoke tests through the load balancer").get("run")))
        .contains("infrastructure/tools/ci/smoke-test.sh \"${STAGING_URL}\" \"${IMAGE_TAG}\"");
    Map<String, Object> rollback = CI.stepNamed("deploy-staging", "Roll back on failure or cancellation");
    assertThat(String.valueOf(rollback.get("if"))).startsWith("(failure() || cancelled())");
    assertThat(String.valueOf(rollback.get("run")))
        .isEqualTo("make ansible-rollback ENV=staging VIA=vpc TAG=\"${PREVIOUS_TAG}\" LB_URL=\"${STAGING_URL}\"");
    assertThat(String.valueOf(CI.stepNamed("deploy-staging", "Check the rolled-back release").get("if")))
        .startsWith("(failure() || cancelled())");
    assertThat(String.valueOf(CI.stepNamed("deploy-staging", "Record the live release").get("run")))
        .contains("smoke-test.sh --live-version");
  }

  @Test
  void slackHearsTheOutcomeOfEveryDeployWhateverHappened() {
    Map<String, Object> slack = CI.stepsUsing("deploy-staging", "slackapi/slack-github-action@").getFirst();
    assertThat(slack.get("if")).isEqualTo("always()");
    assertThat(Workflow.with(slack)).containsEntry("webhook", "${{ secrets.SLACK_WEBHOOK }}");
    List<Map<String, Object>> steps = CI.steps("deploy-staging");
    assertThat(steps.getLast()).as("the notification is the last step").isSameAs(slack);
  }

  @Test
  void noRunScriptExpandsAnExpressionDirectly() {
    // Untrusted values reach scripts through env:, never through ${{ }} inside run:.
    for (String job : CI.jobNames()) {
      for (Map<String, Object> step : CI.steps(job)) {
        assertThat(String.valueOf(step.getOrDefault("run", ""))).as(job + " / " + step.get("name")).doesNotContain("${{");
      }
    }
  }

  private static String runs(String job) {
    return CI.steps(job).stream().map(s -> String.valueOf(s.getOrDefault("run", ""))).collect(Collectors.joining("\n"));
  }

  private static int indexOf(List<String> uses, String prefix) {
    for (int i = 0; i < uses.size(); i++) {
      if (uses.get(i).startsWith(prefix)) {
        return i;
      }
    }
    throw new AssertionError("no step uses " + prefix);
  }
}
