package com.restomarket.ci;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The pre-commit hooks and the gitleaks rules (.pre-commit-config.yaml, .gitleaks.toml). */
class SecretHygieneConfigTest {

  private static List<Map<String, Object>> hooks() {
    List<?> repos = (List<?>) Repo.yaml(".pre-commit-config.yaml").get("repos");
    assertThat(repos).hasSize(1);
    Map<String, Object> local = Workflow.map(repos.getFirst());
    assertThat(local.get("repo")).as("hook repositories live on GitHub, which the build machines cannot reach").isEqualTo("local");
    return ((List<?>) local.get("hooks")).stream().map(Workflow::map).toList();
  }

  @Test
  void everyCommitIsScannedForSecretsAndLinted() {
    assertThat(hooks().stream().map(h -> h.get("id")))
        .containsExactly("gitleaks", "shellcheck", "terraform-fmt", "yamllint", "trailing-whitespace", "end-of-file");
    Map<String, Object> gitleaks = hooks().getFirst();
    assertThat(gitleaks)
        .containsEntry("entry", "infrastructure/tools/ci/gitleaks.sh staged")
        .containsEntry("pass_filenames", false)
        .containsEntry("always_run", true);
  }

  @Test
  void pythonHooksArePinned() {
    for (Map<String, Object> hook : hooks()) {
      if ("python".equals(hook.get("language"))) {
        assertThat((List<?>) hook.get("additional_dependencies"))
            .as(hook.get("id") + " dependencies")
            .isNotEmpty()
            .allSatisfy(d -> assertThat(String.valueOf(d)).matches("[\\w.-]+==[\\w.]+"));
      }
    }
  }

  @Test
  void gitleaksExtendsTheDefaultRulesAndAllowsOnlyTheExampleFilesPlaceholders() {
    String toml = Repo.text(".gitleaks.toml");
    assertThat(toml).contains("[extend]\nuseDefault = true");
    assertThat(toml).doesNotContain("[[rules]]").doesNotContain("disabledRules");
    String[] parts = toml.split("\\[\\[allowlists]]");
    assertThat(parts).hasSize(5);
    Pattern path = Pattern.compile("paths = \\['''\\^(.+?)\\$''']");
    List<String> files = new ArrayList<>();
    for (String block : List.of(parts).subList(1, parts.length)) {
      assertThat(block).contains("description = \"").contains("condition = \"AND\"").contains("regexTarget = \"line\"");
      Matcher m = path.matcher(block);
      assertThat(m.find()).as("one anchored path per allowlist").isTrue();
      files.add(m.group(1).replace("\\", ""));
    }
    assertThat(files).containsExactly(".env.example", "apps/api/.env.example", ".env.development.example", ".env.staging.example");
    for (String file : files) {
      assertThat(Repo.path(file)).as(file + " exists").exists();
    }
  }
}
