package com.restomarket.ci;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** infrastructure/docs/secrets-management.md documents exactly the secrets the workflows read. */
class SecretsDocumentationTest {

  private static final String DOC = "infrastructure/docs/secrets-management.md";
  private static final String SECTION = "## Secrets the workflows use";
  private static final Pattern EXPRESSION = Pattern.compile("\\$\\{\\{(.*?)}}");
  private static final Pattern SECRET_REFERENCE = Pattern.compile("\\bsecrets\\.([A-Za-z0-9_]+)");
  private static final Pattern ROW = Pattern.compile("^\\|\\s*`([A-Z0-9_]+)`\\s*\\|(.*)\\|\\s*$");

  private static Set<String> referencedByWorkflows() {
    Set<String> names = new TreeSet<>();
    for (String file : Repo.workflowFiles()) {
      // Only inside ${{ }} expressions: comments may mention secrets-management.md.
      Matcher expression = EXPRESSION.matcher(Repo.text(file));
      while (expression.find()) {
        Matcher m = SECRET_REFERENCE.matcher(expression.group(1));
        while (m.find()) {
          names.add(m.group(1));
        }
      }
    }
    return names;
  }

  /** Secret name to its table cells (purpose, scope, rotation) in the doc's section. */
  private static Map<String, List<String>> documented() {
    Map<String, List<String>> rows = new LinkedHashMap<>();
    boolean inSection = false;
    for (String line : Repo.text(DOC).lines().toList()) {
      if (line.startsWith("## ")) {
        inSection = line.strip().equals(SECTION);
        continue;
      }
      Matcher m = ROW.matcher(line);
      if (inSection && m.matches()) {
        List<String> cells = List.of(m.group(2).split("(?<!\\\\)\\|")).stream().map(String::strip).toList();
        assertThat(rows.put(m.group(1), cells)).as(m.group(1) + " documented twice").isNull();
      }
    }
    return rows;
  }

  @Test
  void theDocumentedSecretsAreExactlyTheOnesTheWorkflowsUse() {
    assertThat(documented().keySet()).containsExactlyInAnyOrderElementsOf(referencedByWorkflows());
  }

  @Test
  void everySecretHasAPurposeAScopeAndARotation() {
    documented()
        .forEach(
            (name, cells) -> {
              assertThat(cells).as(name + ": purpose | scope | rotation").hasSize(3);
              assertThat(cells.get(0)).as(name + " purpose").isNotBlank();
              assertThat(cells.get(1)).as(name + " scope").matches("repository|environment: staging|automatic.*");
              assertThat(cells.get(2)).as(name + " rotation").matches("every 90 days.*|automatic.*");
            });
  }

  @Test
  void deploySecretsLiveOnlyInTheStagingEnvironment() {
    Workflow ci = Workflow.load(".github/workflows/ci-cd.yml");
    String deployJob = String.valueOf(ci.job("deploy-staging"));
    Map<String, List<String>> documented = documented();
    for (String name : List.of("STAGING_SSH_KEY", "SLACK_WEBHOOK")) {
      assertThat(deployJob).contains("secrets." + name);
      assertThat(documented.get(name)).as(name).element(1).isEqualTo("environment: staging");
    }
  }
}
