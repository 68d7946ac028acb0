package com.restomarket.api.system;

import static org.assertj.core.api.Assertions.assertThat;

import com.restomarket.api.support.Http;
import com.restomarket.api.support.TestServices;
import java.time.Duration;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.web.server.LocalManagementPort;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.data.redis.core.StringRedisTemplate;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.json.JsonMapper;

/** Prometheus metrics on the management port only; the main port serves no actuator. */
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT)
class MetricsIT {

  @DynamicPropertySource
  static void services(DynamicPropertyRegistry registry) {
    TestServices.register(registry);
  }

  @LocalServerPort int port;
  @LocalManagementPort int managementPort;
  @Autowired StringRedisTemplate redis;
  Http http;
  Http management;

  @BeforeEach
  void clients() {
    http = new Http(port);
    management = new Http(managementPort);
    var keys = redis.keys("restomarket:*");
    if (!keys.isEmpty()) {
      redis.delete(keys);
    }
  }

  @Test
  void exposesRequestJvmPoolAndCacheMetricsOnTheManagementPort() {
    String created =
        http.postJson(
                "/api/v1/restaurants",
                "{\"name\":\"Metered\",\"cuisine\":\"Thai\",\"city\":\"Oslo\"}",
                TestServices.WRITE_TOKEN)
            .body();
    long id = JsonMapper.builder().build().readTree(created).get("id").asLong();
    assertThat(http.get("/api/v1/restaurants").statusCode()).isEqualTo(200);
    assertThat(http.get("/api/v1/restaurants").statusCode()).isEqualTo(200);
    assertThat(http.get("/api/v1/restaurants/" + id).statusCode()).isEqualTo(200);
    assertThat(http.get("/api/v1/restaurants/999999").statusCode()).isEqualTo(404);

    awaitMetric(
        "http_server_requests_seconds_count\\{[^}]*status=\"200\"[^}]*uri=\"/api/v1/restaurants/\\{id}\"");
    awaitMetric(
        "http_server_requests_seconds_count\\{[^}]*status=\"404\"[^}]*uri=\"/api/v1/restaurants/\\{id}\"");
    awaitMetric(
        "http_server_requests_seconds_count\\{[^}]*status=\"201\"[^}]*uri=\"/api/v1/restaurants\"");
    awaitMetric("jvm_memory_used_bytes\\{");
    awaitMetric("hikaricp_connections\\{[^}]*pool=\"restomarket-db\"");
    awaitMetric(
        "cache_gets_total\\{[^}]*cache=\"restaurant-pages\"[^}]*result=\"miss\"[^}]*} [1-9]");
    awaitMetric(
        "cache_gets_total\\{[^}]*cache=\"restaurant-pages\"[^}]*result=\"hit\"[^}]*} [1-9]");
    awaitMetric("cache_gets_total\\{[^}]*cache=\"restaurant\"[^}]*result=\"miss\"[^}]*} [1-9]");
  }

  @Test
  void servesHealthOnTheManagementPort() {
    assertThat(management.get("/actuator/health").statusCode()).isEqualTo(200);
  }

  @Test
  void answers404ForDiagnosticsOnTheMainPortButKeepsTheProbes() {
    for (String path :
        new String[] {
          "/actuator",
          "/actuator/prometheus",
          "/actuator/health",
          "/actuator/env",
          "/actuator/heapdump",
          "/metrics",
          "/prometheus"
        }) {
      assertThat(http.get(path).statusCode()).as("GET %s on the main port", path).isEqualTo(404);
    }
    assertThat(http.get("/livez").statusCode()).isEqualTo(200);
    assertThat(http.get("/readyz").statusCode()).isEqualTo(200);
  }

  /** Request timers are recorded once the response is complete, so the scrape may lag a little. */
  private void awaitMetric(String regex) {
    Pattern pattern = Pattern.compile(regex);
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    String scrape = "";
    while (System.nanoTime() < deadline) {
      var response = management.get("/actuator/prometheus");
      assertThat(response.statusCode()).isEqualTo(200);
      scrape = response.body();
      if (pattern.matcher(scrape).find()) {
        return;
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
    throw new AssertionError("no metric matching " + regex + " in:\n" + scrape);
  }
}
