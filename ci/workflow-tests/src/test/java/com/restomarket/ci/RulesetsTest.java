package com.restomarket.ci;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Branch rules as code: .github/rulesets/*.json, applied by apply-rulesets.sh. */
class RulesetsTest {

  // The rule types of the repository rulesets REST API that these files may use.
  private static final Set<String> KNOWN_RULE_TYPES =
      Set.of("deletion", "non_fast_forward", "required_linear_history", "pull_request", "required_status_checks", "creation", "update", "required_signatures");
  private static final int GITHUB_ACTIONS_APP_ID = 15368;

  private static Map<String, Object> ruleset(String branch) {
    return Repo.yaml(".github/rulesets/" + branch + ".json");
  }

  private static Map<String, Map<String, Object>> rulesByType(String branch) {
    return ((List<?>) ruleset(branch).get("rules"))
        .stream().map(Workflow::map).collect(Collectors.toMap(r -> String.valueOf(r.get("type")), r -> r));
  }

  private static Map<String, Object> parameters(String branch, String type) {
    return Workflow.map(rulesByType(branch).get(type).get("parameters"));
  }

  @Test
  void thereIsOneActiveBranchRulesetPerProtectedBranch() {
    assertThat(Repo.files(".github/rulesets", ".json")).containsExactly(".github/rulesets/develop.json", ".github/rulesets/main.json");
    for (String branch : List.of("main", "develop")) {
      Map<String, Object> ruleset = ruleset(branch);
      assertThat(ruleset).containsEntry("name", branch).containsEntry("target", "branch").containsEntry("enforcement", "active");
      Map<String, Object> refName = Workflow.map(Workflow.map(ruleset.get("conditions")).get("ref_name"));
      assertThat(refName.get("include")).isEqualTo(List.of("refs/heads/" + branch));
      assertThat(ruleset.get("bypass_actors")).as(branch + ": nobody bypasses").isEqualTo(List.of());
      assertThat(rulesByType(branch).keySet()).as(branch + " rule types").isSubsetOf(KNOWN_RULE_TYPES);
    }
  }

  @Test
  void mainNeedsAPullRequestWithOneFreshApproval() {
    Map<String, Object> pr = parameters("main", "pull_request");
    assertThat(pr).containsEntry("required_approving_review_count", 1).containsEntry("dismiss_stale_reviews_on_push", true);
  }

  @Test
  void mainKeepsALinearHistoryThatCannotBeRewrittenOrDeleted() {
    assertThat(rulesByType("main")).containsKeys("required_linear_history", "non_fast_forward", "deletion");
    assertThat(parameters("main", "pull_request").get("allowed_merge_methods"))
        .as("merge commits would break the linear history")
        .isEqualTo(List.of("squash", "rebase"));
  }

  @Test
  void developCannotBeForcePushedOrDeleted() {
    assertThat(rulesByType("develop")).containsKeys("non_fast_forward", "deletion");
  }

  @Test
  void developTooChangesOnlyThroughAnApprovedPullRequest() {
    Map<String, Object> pr = parameters("develop", "pull_request");
    assertThat(pr).containsEntry("required_approving_review_count", 1).containsEntry("dismiss_stale_reviews_on_push", true);
  }

  @Test
  void onlyDevelopDeploysToStagingAndSomeoneElseApprovesIt() {
    assertThat(Repo.files(".github/environments", ".json")).containsExactly(".github/environments/staging.json");
    Map<String, Object> staging = Repo.yaml(".github/environments/staging.json");
    assertThat(staging.get("name"))
        .as("the environment the deploy job names")
        .isEqualTo(Workflow.map(Workflow.load(".github/workflows/ci-cd.yml").job("deploy-staging").get("environment")).get("name"));
    assertThat(Workflow.map(staging.get("deployment_branch_policy")))
        .containsEntry("protected_branches", false)
        .containsEntry("custom_branch_policies", true);
    assertThat(staging.get("branch_policies")).isEqualTo(List.of(Map.of("name", "develop", "type", "branch")));
    assertThat((List<?>) staging.get("reviewers")).as("a required reviewer").isNotEmpty();
    assertThat(staging).containsEntry("prevent_self_review", true);
  }

  @Test
  void bothBranchesRequireCiOkFromGitHubActionsOnly() {
    String aggregate = String.valueOf(Workflow.load(".github/workflows/ci-cd.yml").job("ci-ok").get("name"));
    for (String branch : List.of("main", "develop")) {
      List<?> checks = (List<?>) parameters(branch, "required_status_checks").get("required_status_checks");
      assertThat(checks)
          .as(branch + ": the single required check is the ci-cd aggregate job")
          .isEqualTo(List.of(Map.of("context", aggregate, "integration_id", GITHUB_ACTIONS_APP_ID)));
    }
  }
}
