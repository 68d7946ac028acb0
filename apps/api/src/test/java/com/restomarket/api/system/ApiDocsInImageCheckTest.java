package com.restomarket.api.system;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;

import org.junit.jupiter.api.Test;
import org.springframework.mock.env.MockEnvironment;

class ApiDocsInImageCheckTest {

  private final MockEnvironment swaggerOn =
      new MockEnvironment().withProperty(ApiDocsInImageCheck.SWAGGER_ENABLED, "true");

  @Test
  void refusesSwaggerEnabledWithTheGeneratedBeanDefinitions() {
    assertThatIllegalStateException()
        .isThrownBy(() -> ApiDocsInImageCheck.check(true, swaggerOn))
        .withMessageContaining("SWAGGER_ENABLED=true");
  }

  @Test
  void allowsSwaggerEnabledWhenConditionsAreEvaluatedAtStart() {
    assertThatCode(() -> ApiDocsInImageCheck.check(false, swaggerOn)).doesNotThrowAnyException();
  }

  @Test
  void startsWithTheGeneratedBeanDefinitionsWhenSwaggerIsOff() {
    assertThatCode(() -> ApiDocsInImageCheck.check(true, new MockEnvironment()))
        .doesNotThrowAnyException();
  }
}
