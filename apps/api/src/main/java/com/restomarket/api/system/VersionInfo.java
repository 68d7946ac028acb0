package com.restomarket.api.system;

import io.swagger.v3.oas.annotations.media.Schema;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Properties;

/**
 * The release identity (version, git commit, build time). The image names its own release file in
 * {@value #RELEASE_FILE_ENV}, written in its last layer, so that a new tag of unchanged code
 * rebuilds no jar; without it (tests, a local run) the jar's build-time file answers.
 */
public record VersionInfo(
    @Schema(example = "1.4.0") String version,
    @Schema(example = "3f2c1e9") String commit,
    @Schema(example = "2026-01-15T09:30:00Z") String buildTime) {

  static final String RESOURCE = "/restomarket-version.properties";
  static final String RELEASE_FILE_ENV = "RESTOMARKET_RELEASE_FILE";

  static VersionInfo load() {
    return load(System.getenv(RELEASE_FILE_ENV));
  }

  static VersionInfo load(String releaseFile) {
    Properties properties = new Properties();
    String source = releaseFile == null || releaseFile.isBlank() ? RESOURCE : releaseFile;
    try (InputStream in = open(releaseFile)) {
      properties.load(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    String version = properties.getProperty("version");
    if (version == null || version.isBlank()) {
      throw new IllegalStateException(source + " has no version");
    }
    return new VersionInfo(
        version, properties.getProperty("commit"), properties.getProperty("buildTime"));
  }

  private static InputStream open(String releaseFile) throws IOException {
    if (releaseFile == null || releaseFile.isBlank()) {
      InputStream in = VersionInfo.class.getResourceAsStream(RESOURCE);
      if (in == null) {
        throw new IllegalStateException(RESOURCE + " is missing from the build");
      }
      return in;
    }
    try {
      return Files.newInputStream(Path.of(releaseFile));
    } catch (NoSuchFileException e) {
      throw new IllegalStateException(
          RELEASE_FILE_ENV + " names " + releaseFile + ", which does not exist", e);
    }
  }
}
