package com.restomarket.api.system;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The Redis CA setting: a value that is no certificate stops start-up and names the setting. */
class InfrastructureConfigTest {

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
