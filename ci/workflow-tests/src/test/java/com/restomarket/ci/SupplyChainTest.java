package com.restomarket.ci;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** What keeps third-party code pinned and the pins fresh. */
class SupplyChainTest {

  @Test
  void dependabotWatchesEveryEcosystemThisRepositoryPins() {
    List<?> updates = (List<?>) Repo.yaml(".github/dependabot.yml").get("updates");
    Map<String, Map<String, Object>> byEcosystem =
        updates.stream().map(Workflow::map).collect(Collectors.toMap(u -> String.valueOf(u.get("package-ecosystem")), u -> u));
    assertThat(byEcosystem.keySet()).containsExactlyInAnyOrder("github-actions", "maven", "pip", "terraform", "docker");
    Set<String> manifests = Set.of("pom.xml", "requirements-ci.txt", ".terraform.lock.hcl", "Dockerfile");
    for (Map<String, Object> update : byEcosystem.values()) {
      assertThat(update.get("target-branch")).as(update.get("package-ecosystem") + " updates go to develop").isEqualTo("develop");
      List<String> dirs =
          update.containsKey("directories")
              ? ((List<?>) update.get("directories")).stream().map(String::valueOf).toList()
              : List.of(String.valueOf(update.get("directory")));
      for (String dir : dirs) {
        assertThat(Files.isDirectory(Repo.path(dir.substring(1)))).as(dir + " exists").isTrue();
        if (!dir.equals("/")) {
          assertThat(manifests.stream().anyMatch(m -> Files.exists(Repo.path(dir.substring(1) + "/" + m))))
              .as(dir + " holds what " + update.get("package-ecosystem") + " reads")
              .isTrue();
        }
      }
    }
  }
}
