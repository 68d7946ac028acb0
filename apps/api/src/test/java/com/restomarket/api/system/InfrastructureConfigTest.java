package com.restomarket.api.system;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The connection pool's sizes, and the Redis CA setting: a value that is no certificate stops
 * start-up and names the setting.
 */
class InfrastructureConfigTest {

  static AppProperties withPool(int maxPoolSize, int minIdle) {
    return new AppProperties(
        new AppProperties.Database("jdbc:postgresql://db/r", "u", "pw", maxPoolSize, minIdle),
        new AppProperties.Redis(
            "cache", 6379, "", false, null, Duration.ofSeconds(1), Duration.ofMinutes(5)),
        new AppProperties.Health(Duration.ofSeconds(1)),
        new AppProperties.Shutdown(Duration.ZERO),
        new AppProperties.Api("x".repeat(16)));
  }

  /** Building the pool connects nothing: Hikari opens connections on first use. */
  @Test
  void thePoolKeepsTheIdleConnectionsItIsToldAndGrowsToItsSize() {
    try (HikariDataSource pool =
        (HikariDataSource) new InfrastructureConfig().dataSource(withPool(10, 2))) {
      assertThat(pool.getMaximumPoolSize()).isEqualTo(10);
      assertThat(pool.getMinimumIdle()).isEqualTo(2);
    }
  }

  @Test
  void moreIdleConnectionsThanThePoolHoldsAreCappedAtItsSize() {
    try (HikariDataSource pool =
        (HikariDataSource) new InfrastructureConfig().dataSource(withPool(3, 8))) {
      assertThat(pool.getMinimumIdle()).isEqualTo(3);
    }
  }

  @Test
  void refusesARedisCaThatIsNoCertificate() {
    assertThatThrownBy(() -> InfrastructureConfig.trusting("not a certificate"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("REDIS_CA_CERT");
  }

  @Test
  void refusesAnEmptyRedisCa() {
    assertThatThrownBy(() -> InfrastructureConfig.trusting("\n"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("REDIS_CA_CERT");
  }
}
