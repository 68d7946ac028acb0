package com.restomarket.api.system;

import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;

import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;
import org.springframework.mock.env.MockEnvironment;

class FlywayConfigTest {

  private final Flyway flyway = mock(Flyway.class);

  @Test
  void migratesByDefault() {
    new FlywayConfig().migrateWhenEnabled(new MockEnvironment()).migrate(flyway);
    verify(flyway).migrate();
  }

  @Test
  void skipsMigrationsWhenFlywayEnabledIsFalseAtStart() {
    MockEnvironment environment = new MockEnvironment().withProperty(FlywayConfig.ENABLED, "false");
    new FlywayConfig().migrateWhenEnabled(environment).migrate(flyway);
    verify(flyway, never()).migrate();
  }
}
