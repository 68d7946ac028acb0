package com.restomarket.api.system;

import io.swagger.v3.oas.annotations.media.Schema;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/** The release identity baked into the jar at build time (version, git commit, build time). */
public record VersionInfo(
    @Schema(example = "1.4.0") String version,
    @Schema(example = "3f2c1e9") String commit,
    @Schema(example = "2026-01-15T09:30:00Z") String buildTime) {

  static final String RESOURCE = "/restomarket-version.properties";

  static VersionInfo load() {
    Properties properties = new Properties();
    try (InputStream in = VersionInfo.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException(RESOURCE + " is missing from the build");
      }
      properties.load(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new VersionInfo(
        properties.getProperty("version"),
        properties.getProperty("commit"),
        properties.getProperty("buildTime"));
  }
}
