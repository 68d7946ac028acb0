package com.restomarket.api.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import com.restomarket.api.system.AppProperties;
import com.restomarket.api.system.VersionInfo;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.dao.DataAccessResourceFailureException;
import org.springframework.data.redis.RedisConnectionFailureException;
import org.springframework.data.redis.connection.RedisConnection;
import org.springframework.data.redis.connection.RedisConnectionFactory;
import org.springframework.jdbc.core.JdbcTemplate;

/** How the dependency probes add up to one report, without a database or a cache. */
class HealthServiceTest {

  private static final Duration TIMEOUT = Duration.ofMillis(300);

  private final JdbcTemplate jdbc = mock(JdbcTemplate.class);
  private final RedisConnectionFactory redis = mock(RedisConnectionFactory.class);
  private final RedisConnection connection = mock(RedisConnection.class);
  private final CountDownLatch release = new CountDownLatch(1);
  private final HealthService service =
      new HealthService(
          jdbc,
          redis,
          new VersionInfo("1.2.3", "abc", "now"),
          Settings.withHealthTimeout(TIMEOUT),
          Clock.fixed(Instant.parse("2026-12-03T10:00:00Z"), ZoneOffset.UTC));

  @AfterEach
  void stop() {
    release.countDown();
    service.destroy();
  }

  private void databaseAnswers(Integer value) {
    when(jdbc.queryForObject(anyString(), eq(Integer.class))).thenReturn(value);
  }

  private void redisAnswers(String pong) {
    when(redis.getConnection()).thenReturn(connection);
    when(connection.ping()).thenReturn(pong);
  }

  @Test
  void healthyWhenBothAnswer() {
    databaseAnswers(1);
    redisAnswers("PONG");
    HealthReport report = service.check();
    assertThat(report.status()).isEqualTo("healthy");
    assertThat(report.services())
        .containsExactly(
            java.util.Map.entry("database", "connected"),
            java.util.Map.entry("redis", "connected"));
    assertThat(report.version()).isEqualTo("1.2.3");
    assertThat(report.timestamp()).isEqualTo("2026-12-03T10:00:00Z");
  }

  @Test
  void unhealthyWhenRedisIsDownButTheDatabaseStillReportsConnected() {
    databaseAnswers(1);
    when(redis.getConnection())
        .thenThrow(new RedisConnectionFailureException("refused at host:6379"));
    HealthReport report = service.check();
    assertThat(report.status()).isEqualTo("unhealthy");
    assertThat(report.services())
        .containsEntry("database", "connected")
        .containsEntry("redis", "disconnected");
    assertThat(report.checks().get("redis").error())
        .as("the reason names the failure, never the host")
        .isEqualTo("RedisConnectionFailureException");
  }

  @Test
  void unhealthyWhenTheDatabaseFails() {
    redisAnswers("PONG");
    when(jdbc.queryForObject(anyString(), eq(Integer.class)))
        .thenThrow(new DataAccessResourceFailureException("connection to db:5432 refused"));
    HealthReport report = service.check();
    assertThat(report.status()).isEqualTo("unhealthy");
    assertThat(report.checks().get("database").error())
        .isEqualTo("DataAccessResourceFailureException");
  }

  @Test
  void aDatabaseThatAnswersSomethingElseIsDisconnected() {
    redisAnswers("PONG");
    databaseAnswers(2);
    assertThat(service.check().checks().get("database"))
        .extracting(DependencyCheck::status, DependencyCheck::error)
        .containsExactly("disconnected", "unexpected answer");
  }

  @Test
  void aWrongPingAnswerIsDisconnected() {
    databaseAnswers(1);
    redisAnswers("HELLO");
    assertThat(service.check().checks().get("redis").error()).isEqualTo("unexpected answer");
  }

  @Test
  void aHangingDependencyIsReportedAsTimedOutInsteadOfHoldingTheReport() {
    redisAnswers("PONG");
    when(jdbc.queryForObject(anyString(), eq(Integer.class)))
        .thenAnswer(
            invocation -> {
              release.await();
              return 1;
            });
    HealthReport report = service.check();
    assertThat(report.status()).isEqualTo("unhealthy");
    assertThat(report.checks().get("database"))
        .extracting(
            DependencyCheck::status, DependencyCheck::error, DependencyCheck::responseTimeMs)
        .containsExactly("disconnected", "timed out", TIMEOUT.toMillis());
    assertThat(report.checks().get("redis").status()).isEqualTo("connected");
  }

  /** Settings for the unit tests: every section filled with harmless values. */
  static final class Settings {
    private Settings() {}

    static AppProperties withHealthTimeout(Duration timeout) {
      return new AppProperties(
          new AppProperties.Database("jdbc:postgresql://db/x", "u", "p", 5, 2),
          new AppProperties.Redis(
              "cache", 6379, "", false, null, Duration.ofSeconds(1), Duration.ofMinutes(1)),
          new AppProperties.Health(timeout),
          new AppProperties.Shutdown(Duration.ZERO),
          new AppProperties.Api("a-write-token-of-some-length"));
    }
  }
}
