package com.restomarket.api.health;

import static org.assertj.core.api.Assertions.assertThat;

import com.restomarket.api.support.Http;
import com.restomarket.api.support.TcpProxy;
import com.restomarket.api.support.TestServices;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * /health against the real PostgreSQL and Redis, reached through loopback proxies that the test can
 * cut (a stopped server) or freeze (a hanging one).
 */
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT)
class HealthEndpointIT {

  private static final JsonMapper JSON = JsonMapper.builder().build();
  private static final Duration ANSWER_WITHIN = Duration.ofSeconds(2);
  private static final TcpProxy DATABASE =
      new TcpProxy("127.0.0.1", portOf(TestServices.databaseUrl()));
  private static final TcpProxy REDIS =
      new TcpProxy(TestServices.redisHost(), TestServices.redisPort());

  @DynamicPropertySource
  static void services(DynamicPropertyRegistry registry) {
    TestServices.register(registry);
    registry.add(
        "restomarket.database.url",
        () ->
            TestServices.databaseUrl()
                .replace(":" + portOf(TestServices.databaseUrl()), ":" + DATABASE.port()));
    registry.add("restomarket.redis.port", REDIS::port);
  }

  @LocalServerPort int port;
  Http http;

  @BeforeEach
  void healthyToStartWith() {
    http = new Http(port);
    awaitHealth(r -> r.statusCode() == 200, Duration.ofSeconds(20));
  }

  @AfterEach
  void restoreDependencies() {
    DATABASE.restore();
    REDIS.restore();
  }

  @AfterAll
  static void closeProxies() {
    DATABASE.close();
    REDIS.close();
  }

  @Test
  void reportsHealthyWithEveryServiceConnected() {
    HttpResponse<String> response = http.get("/health");
    assertThat(response.statusCode()).isEqualTo(200);
    JsonNode body = JSON.readTree(response.body());
    assertThat(body.get("status").asString()).isEqualTo("healthy");
    assertThat(body.get("services").get("database").asString()).isEqualTo("connected");
    assertThat(body.get("services").get("redis").asString()).isEqualTo("connected");
    assertThat(body.get("uptime").asLong()).isGreaterThanOrEqualTo(0);
    assertThat(body.get("timestamp").asString()).endsWith("Z");
    assertThat(response.headers().allValues("Cache-Control")).containsExactly("no-store");
  }

  @Test
  void showsTheDiagnosticsOnlyToTheWriteToken() {
    HttpResponse<String> operator = healthWith("Bearer " + TestServices.WRITE_TOKEN);
    assertThat(operator.statusCode()).isEqualTo(200);
    JsonNode body = JSON.readTree(operator.body());
    assertThat(body.get("checks").get("database").get("responseTimeMs").asLong())
        .isGreaterThanOrEqualTo(0);
    assertThat(body.get("memory").get("heapUsedMb").asLong()).isPositive();

    for (HttpResponse<String> anonymous :
        List.of(
            http.get("/health"),
            healthWith("Bearer not-the-write-token"),
            healthWith("Basic " + TestServices.WRITE_TOKEN))) {
      assertThat(anonymous.statusCode()).isEqualTo(200);
      JsonNode shown = JSON.readTree(anonymous.body());
      assertThat(shown.has("status") && shown.has("uptime") && shown.has("services")).isTrue();
      assertThat(shown.has("memory") || shown.has("checks"))
          .as("diagnostics in %s", anonymous.body())
          .isFalse();
    }
  }

  @Test
  void keeps503ForTheOperatorToo() {
    REDIS.refuse();
    HttpResponse<String> operator = healthWith("Bearer " + TestServices.WRITE_TOKEN);
    assertThat(operator.statusCode()).isEqualTo(503);
    assertThat(JSON.readTree(operator.body()).get("checks").get("redis").get("error").asString())
        .isNotBlank();
  }

  @Test
  void neverRevealsHostsOrCredentials() {
    String body = http.get("/health").body();
    assertThat(body)
        .doesNotContain("127.0.0.1")
        .doesNotContain(TestServices.databasePassword())
        .doesNotContain(TestServices.redisPassword())
        .doesNotContain("jdbc:");
  }

  @Test
  void returns503WithDatabaseDisconnectedWhileDatabaseIsStoppedThenRecovers() {
    DATABASE.refuse();
    HttpResponse<String> down = timedHealth();
    assertThat(down.statusCode()).isEqualTo(503);
    JsonNode body = JSON.readTree(down.body());
    assertThat(body.get("status").asString()).isEqualTo("unhealthy");
    assertThat(body.get("services").get("database").asString()).isEqualTo("disconnected");
    assertThat(body.get("services").get("redis").asString()).isEqualTo("connected");

    DATABASE.restore();
    awaitHealth(r -> r.statusCode() == 200, Duration.ofSeconds(15));
  }

  @Test
  void answersWithin2sWith503WhenTheDatabaseHangs() {
    DATABASE.blackhole();
    HttpResponse<String> down = timedHealth();
    assertThat(down.statusCode()).isEqualTo(503);
    assertThat(JSON.readTree(down.body()).get("services").get("database").asString())
        .isEqualTo("disconnected");
  }

  @Test
  void returns503WithRedisDisconnectedWhileRedisIsStoppedThenRecovers() {
    REDIS.refuse();
    HttpResponse<String> down = timedHealth();
    assertThat(down.statusCode()).isEqualTo(503);
    JsonNode body = JSON.readTree(down.body());
    assertThat(body.get("services").get("redis").asString()).isEqualTo("disconnected");
    assertThat(body.get("services").get("database").asString()).isEqualTo("connected");

    REDIS.restore();
    awaitHealth(r -> r.statusCode() == 200, Duration.ofSeconds(15));
  }

  @Test
  void answersWithin2sWith503WhenRedisHangs() {
    REDIS.blackhole();
    HttpResponse<String> down = timedHealth();
    assertThat(down.statusCode()).isEqualTo(503);
    assertThat(JSON.readTree(down.body()).get("services").get("redis").asString())
        .isEqualTo("disconnected");
  }

  @Test
  void keepsServingRestaurantsFromTheDatabaseWhenRedisIsDown() {
    REDIS.refuse();
    HttpResponse<String> list = http.get("/api/v1/restaurants");
    assertThat(list.statusCode()).isEqualTo(200);
  }

  @Test
  void readinessIgnoresRedisWhichOnlyCaches() {
    REDIS.refuse();
    assertThat(timedHealth().statusCode()).isEqualTo(503);
    HttpResponse<String> ready = http.get("/readyz");
    assertThat(ready.statusCode()).isEqualTo(200);
    assertThat(ready.body()).doesNotContain("redis").doesNotContain("db");
    assertThat(http.get("/api/v1/restaurants").statusCode()).isEqualTo(200);
  }

  @Test
  void readinessFollowsTheDatabaseButLivenessDoesNot() {
    DATABASE.refuse();
    assertThat(http.get("/readyz").statusCode()).isEqualTo(503);
    assertThat(http.get("/livez").statusCode()).isEqualTo(200);
  }

  private HttpResponse<String> healthWith(String authorization) {
    return http.send(http.request("/health").header("Authorization", authorization).GET());
  }

  private HttpResponse<String> timedHealth() {
    long start = System.nanoTime();
    HttpResponse<String> response = http.get("/health");
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    assertThat(took).as("/health answer time").isLessThan(ANSWER_WITHIN);
    return response;
  }

  private void awaitHealth(Predicate<HttpResponse<String>> condition, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    HttpResponse<String> last = null;
    while (System.nanoTime() < deadline) {
      last = http.get("/health");
      if (condition.test(last)) {
        return;
      }
      sleep(200);
    }
    throw new AssertionError(
        "health did not reach the expected state within "
            + timeout
            + ": "
            + (last == null ? "no answer" : last.body()));
  }

  private static int portOf(String jdbcUrl) {
    String afterHost = jdbcUrl.substring(jdbcUrl.indexOf("//") + 2);
    String hostPort = afterHost.substring(0, afterHost.indexOf('/'));
    return Integer.parseInt(hostPort.substring(hostPort.indexOf(':') + 1));
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
