package com.restomarket.api.system;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.flyway.autoconfigure.FlywayMigrationStrategy;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;

/**
 * Migrates at start only when FLYWAY_ENABLED ({@code spring.flyway.enabled}) says so when the
 * process starts. In normal mode Boot's condition on that setting already leaves Flyway out; the
 * image runs the bean definitions Spring's AOT processing generated when the jar was built, with
 * Flyway in, so this check is what keeps FLYWAY_ENABLED=false a run-time switch there.
 */
@Configuration(proxyBeanMethods = false)
class FlywayConfig {

  static final String ENABLED = "spring.flyway.enabled";

  private static final Logger log = LoggerFactory.getLogger(FlywayConfig.class);

  @Bean
  FlywayMigrationStrategy migrateWhenEnabled(Environment environment) {
    boolean enabled = environment.getProperty(ENABLED, Boolean.class, true);
    return flyway -> {
      if (enabled) {
        flyway.migrate();
      } else {
        log.info("migrations not applied at start: FLYWAY_ENABLED=false");
      }
    };
  }
}
