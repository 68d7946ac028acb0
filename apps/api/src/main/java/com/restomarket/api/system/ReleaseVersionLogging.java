package com.restomarket.api.system;

import java.util.Map;
import org.springframework.boot.EnvironmentPostProcessor;
import org.springframework.boot.SpringApplication;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.MapPropertySource;

/**
 * Puts this release's version (the one GET /version reports) into every JSON log line as {@code
 * service.version}. Without it Spring Boot takes the version from whichever jar manifest it finds,
 * which under Maven is not ours. Runs before logging starts; an explicit setting still wins.
 */
final class ReleaseVersionLogging implements EnvironmentPostProcessor {

  static final String PROPERTY = "logging.structured.ecs.service.version";

  @Override
  public void postProcessEnvironment(
      ConfigurableEnvironment environment, SpringApplication application) {
    environment
        .getPropertySources()
        .addLast(
            new MapPropertySource(
                "restomarketReleaseVersion", Map.of(PROPERTY, VersionInfo.load().version())));
  }
}
