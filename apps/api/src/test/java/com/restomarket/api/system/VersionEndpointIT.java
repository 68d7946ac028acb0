package com.restomarket.api.system;

import static org.assertj.core.api.Assertions.assertThat;

import com.restomarket.api.support.Http;
import com.restomarket.api.support.TestServices;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT)
class VersionEndpointIT {

  @DynamicPropertySource
  static void services(DynamicPropertyRegistry registry) {
    TestServices.register(registry);
  }

  @LocalServerPort int port;

  @Test
  void reportsTheBuiltVersionCommitAndTimeMatchingTheHeader() {
    HttpResponse<String> response = new Http(port).get("/version");
    assertThat(response.statusCode()).isEqualTo(200);
    JsonNode body = JsonMapper.builder().build().readTree(response.body());
    String version = body.get("version").asString();
    assertThat(version).isNotBlank().doesNotContain("@");
    assertThat(body.get("commit").asString()).isNotBlank().doesNotContain("@");
    assertThat(body.get("buildTime").asString()).matches("\\d{4}-\\d{2}-\\d{2}T.*Z");
    assertThat(response.headers().firstValue("X-App-Version")).contains(version);
  }

  @Test
  void livenessAndReadinessProbesAnswerOnTheMainPort() {
    Http http = new Http(port);
    assertThat(http.get("/livez").statusCode()).isEqualTo(200);
    assertThat(http.get("/readyz").statusCode()).isEqualTo(200);
  }
}
