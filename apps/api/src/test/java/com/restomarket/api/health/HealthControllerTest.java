package com.restomarket.api.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.when;

import com.restomarket.api.system.AppProperties;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.webmvc.test.autoconfigure.WebMvcTest;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.ComponentScan;
import org.springframework.context.annotation.FilterType;
import org.springframework.context.annotation.Import;
import org.springframework.http.HttpHeaders;
import org.springframework.test.context.bean.override.mockito.MockitoBean;
import org.springframework.test.web.servlet.assertj.MockMvcTester;
import org.springframework.test.web.servlet.assertj.MvcTestResult;
import tools.jackson.databind.json.JsonMapper;

/**
 * Who sees what on GET /health, with the probes replaced: the public part for everyone, the
 * diagnostics only with the write token, and the same status code either way.
 */
@WebMvcTest(
    controllers = HealthController.class,
    // The write token and the response filters come from the system package's own configuration.
    includeFilters =
        @ComponentScan.Filter(type = FilterType.REGEX, pattern = ".*\\.system\\.WebConfig"))
@Import(HealthControllerTest.Settings.class)
class HealthControllerTest {

  private static final String TOKEN = "a-write-token-of-some-length";
  private static final JsonMapper JSON = JsonMapper.builder().build();
  private static final List<String> PUBLIC =
      List.of("status", "uptime", "timestamp", "version", "services");

  @Autowired private MockMvcTester mvc;
  @MockitoBean private HealthService healthService;

  @TestConfiguration
  static class Settings {
    @Bean
    AppProperties appProperties() {
      return HealthServiceTest.Settings.withHealthTimeout(Duration.ofSeconds(1));
    }
  }

  @Test
  void showsOnlyThePublicPartWithoutTheToken() throws Exception {
    when(healthService.check()).thenReturn(report(true));
    MvcTestResult result = mvc.get().uri("/health").exchange();
    assertThat(result).hasStatusOk();
    assertThat(fields(result)).containsExactlyInAnyOrderElementsOf(PUBLIC);
  }

  @Test
  void showsOnlyThePublicPartWithAWrongOrForeignCredential() throws Exception {
    when(healthService.check()).thenReturn(report(true));
    for (String authorization :
        List.of("Bearer " + TOKEN + "x", "Bearer not-the-token", "Basic " + TOKEN, "Bearer ")) {
      MvcTestResult result =
          mvc.get().uri("/health").header(HttpHeaders.AUTHORIZATION, authorization).exchange();
      assertThat(result).as(authorization).hasStatusOk();
      assertThat(fields(result)).as(authorization).containsExactlyInAnyOrderElementsOf(PUBLIC);
    }
  }

  @Test
  void showsTheDiagnosticsToTheWriteToken() {
    when(healthService.check()).thenReturn(report(true));
    MvcTestResult result =
        mvc.get().uri("/health").header(HttpHeaders.AUTHORIZATION, "Bearer " + TOKEN).exchange();
    assertThat(result).hasStatusOk();
    assertThat(result).bodyJson().extractingPath("$.memory.heapUsedMb").isEqualTo(100);
    assertThat(result).bodyJson().extractingPath("$.checks.database.responseTimeMs").isEqualTo(3);
  }

  @Test
  void answers503ToEveryoneWhenADependencyIsDown() throws Exception {
    when(healthService.check()).thenReturn(report(false));
    MvcTestResult anonymous = mvc.get().uri("/health").exchange();
    assertThat(anonymous).hasStatus(503);
    assertThat(anonymous).bodyJson().extractingPath("$.services.redis").isEqualTo("disconnected");
    assertThat(fields(anonymous)).containsExactlyInAnyOrderElementsOf(PUBLIC);
    assertThat(
            mvc.get()
                .uri("/health")
                .header(HttpHeaders.AUTHORIZATION, "Bearer " + TOKEN)
                .exchange())
        .hasStatus(503)
        .bodyJson()
        .extractingPath("$.checks.redis.error")
        .isEqualTo("timed out");
  }

  @Test
  void isNeverStored() {
    when(healthService.check()).thenReturn(report(true));
    for (String authorization : List.of("", "Bearer " + TOKEN)) {
      MvcTestResult result =
          mvc.get().uri("/health").header(HttpHeaders.AUTHORIZATION, authorization).exchange();
      assertThat(result.getResponse().getHeaders(HttpHeaders.CACHE_CONTROL))
          .containsExactly("no-store");
    }
  }

  private static List<String> fields(MvcTestResult result) throws Exception {
    return JSON.readTree(result.getResponse().getContentAsString()).properties().stream()
        .map(Map.Entry::getKey)
        .toList();
  }

  private static HealthReport report(boolean healthy) {
    Map<String, DependencyCheck> checks = new LinkedHashMap<>();
    checks.put("database", DependencyCheck.connected(3));
    checks.put(
        "redis",
        healthy ? DependencyCheck.connected(1) : DependencyCheck.disconnected(1000, "timed out"));
    Map<String, String> services = new LinkedHashMap<>();
    checks.forEach((name, check) -> services.put(name, check.status()));
    return new HealthReport(
        healthy ? HealthReport.HEALTHY : HealthReport.UNHEALTHY,
        3600,
        "2026-12-03T10:00:00Z",
        "1.2.3",
        services,
        checks,
        new HealthReport.Memory(100, 200, 512, 80));
  }
}
