package com.restomarket.api.system;

import static org.assertj.core.api.Assertions.assertThat;

import jakarta.validation.ConstraintViolation;
import jakarta.validation.Validation;
import jakarta.validation.Validator;
import jakarta.validation.ValidatorFactory;
import java.time.Duration;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** The settings' own rules, checked without starting anything. */
class AppPropertiesTest {

  private static final ValidatorFactory FACTORY = Validation.buildDefaultValidatorFactory();
  private static final Validator VALIDATOR = FACTORY.getValidator();

  @AfterAll
  static void close() {
    FACTORY.close();
  }

  private static AppProperties settings(
      String databaseUrl, String databasePassword, String redisHost, int redisPort, String token) {
    return new AppProperties(
        new AppProperties.Database(databaseUrl, "restomarket", databasePassword, 10, 2),
        new AppProperties.Redis(
            redisHost, redisPort, "", false, null, Duration.ofSeconds(1), Duration.ofMinutes(5)),
        new AppProperties.Health(Duration.ofSeconds(2)),
        new AppProperties.Shutdown(Duration.ofSeconds(5)),
        new AppProperties.Api(token));
  }

  private static Set<String> problems(AppProperties properties) {
    return VALIDATOR.validate(properties).stream()
        .map(v -> v.getPropertyPath() + " " + v.getMessage())
        .collect(Collectors.toSet());
  }

  @Test
  void aCompleteConfigurationIsValid() {
    Set<ConstraintViolation<AppProperties>> violations =
        VALIDATOR.validate(settings("jdbc:postgresql://db/r", "pw", "cache", 6379, "x".repeat(16)));
    assertThat(violations).isEmpty();
  }

  @Test
  void eachMissingValueNamesTheVariableToSet() {
    assertThat(problems(settings("", "", "", 6379, "")))
        .anyMatch(p -> p.startsWith("database.url") && p.contains("set DATABASE_URL"))
        .anyMatch(
            p -> p.startsWith("database.password") && p.contains("/run/secrets/DATABASE_PASSWORD"))
        .anyMatch(p -> p.startsWith("redis.host") && p.contains("set REDIS_HOST"))
        .anyMatch(p -> p.startsWith("api.writeToken") && p.contains("set API_WRITE_TOKEN"));
  }

  @Test
  void aPortOutsideTcpRangeIsRefused() {
    assertThat(problems(settings("jdbc:postgresql://db/r", "pw", "cache", 0, "x".repeat(16))))
        .containsExactly("redis.port must be a TCP port: set REDIS_PORT");
    assertThat(problems(settings("jdbc:postgresql://db/r", "pw", "cache", 65536, "x".repeat(16))))
        .containsExactly("redis.port must be a TCP port: set REDIS_PORT");
  }

  @Test
  void aShortWriteTokenIsRefusedWithoutQuotingIt() {
    String shortToken = "fifteen-chars-x";
    Set<String> problems =
        problems(settings("jdbc:postgresql://db/r", "pw", "cache", 6379, shortToken));
    assertThat(problems)
        .singleElement()
        .asString()
        .contains("at least 16 characters")
        .doesNotContain(shortToken);
  }

  @Test
  void aNegativeIdleConnectionCountIsRefused() {
    AppProperties properties =
        new AppProperties(
            new AppProperties.Database("jdbc:postgresql://db/r", "restomarket", "pw", 10, -1),
            new AppProperties.Redis(
                "cache", 6379, "", false, null, Duration.ofSeconds(1), Duration.ofMinutes(5)),
            new AppProperties.Health(Duration.ofSeconds(2)),
            new AppProperties.Shutdown(Duration.ofSeconds(5)),
            new AppProperties.Api("x".repeat(16)));
    assertThat(problems(properties))
        .containsExactly("database.minIdle must be 0 or more: set DATABASE_POOL_MIN_IDLE");
  }

  @Test
  void secretsNeverShowInTheSettingsText() {
    AppProperties properties =
        settings("jdbc:postgresql://db/r", "db-secret", "cache", 6379, "token-secret-0123456");
    assertThat(properties.toString()).doesNotContain("db-secret").doesNotContain("token-secret");
  }
}
