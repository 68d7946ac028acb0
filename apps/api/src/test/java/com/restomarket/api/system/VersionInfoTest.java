package com.restomarket.api.system;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VersionInfoTest {

  @TempDir Path dir;

  @Test
  void withoutAReleaseFileTheJarsBuildTimeFileAnswers() {
    VersionInfo info = VersionInfo.load(null);
    assertThat(info.version()).isNotBlank().doesNotContain("@");
    assertThat(VersionInfo.load("")).isEqualTo(info);
  }

  @Test
  void theImagesReleaseFileWinsOverTheJars() throws IOException {
    Path file = dir.resolve("release.properties");
    Files.writeString(file, "version=v42\ncommit=abc1234\nbuildTime=2026-12-02T10:00:00Z\n");
    assertThat(VersionInfo.load(file.toString()))
        .isEqualTo(new VersionInfo("v42", "abc1234", "2026-12-02T10:00:00Z"));
  }

  @Test
  void aMissingReleaseFileIsAClearError() {
    String missing = dir.resolve("nope.properties").toString();
    assertThatThrownBy(() -> VersionInfo.load(missing))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining(VersionInfo.RELEASE_FILE_ENV)
        .hasMessageContaining(missing);
  }

  @Test
  void aReleaseFileWithoutAVersionIsRefused() throws IOException {
    Path file = dir.resolve("empty.properties");
    Files.writeString(file, "commit=abc\n");
    assertThatThrownBy(() -> VersionInfo.load(file.toString()))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("has no version");
  }
}
