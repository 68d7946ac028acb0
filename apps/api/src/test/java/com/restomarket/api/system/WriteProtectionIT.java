package com.restomarket.api.system;

import static org.assertj.core.api.Assertions.assertThat;

import com.restomarket.api.support.Http;
import com.restomarket.api.support.TestServices;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.json.JsonMapper;

/** Changes need the write token; no body may be larger than the limit, however it is sent. */
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT)
class WriteProtectionIT {

  private static final String RESTAURANTS = "/api/v1/restaurants";
  private static final String VALID =
      "{\"name\":\"Guarded\",\"cuisine\":\"Thai\",\"city\":\"Bern\"}";

  @DynamicPropertySource
  static void services(DynamicPropertyRegistry registry) {
    TestServices.register(registry);
  }

  @LocalServerPort int port;
  Http http;

  @BeforeEach
  void client() {
    http = new Http(port);
  }

  @Test
  void refusesAChangeWithoutTheWriteTokenWithABearerChallenge() {
    HttpResponse<String> response = http.postJson(RESTAURANTS, VALID);
    assertUnauthorized(response);
    assertThat(response.headers().firstValue("WWW-Authenticate"))
        .hasValueSatisfying(v -> assertThat(v).startsWith("Bearer").doesNotContain("error="));
  }

  @Test
  void refusesAChangeWithAWrongTokenWithoutRevealingTheRightOne() {
    HttpResponse<String> response =
        http.postJson(RESTAURANTS, VALID, TestServices.WRITE_TOKEN + "x");
    assertUnauthorized(response);
    assertThat(response.headers().firstValue("WWW-Authenticate"))
        .hasValueSatisfying(v -> assertThat(v).startsWith("Bearer").contains("invalid_token"));
  }

  @Test
  void refusesAnAuthorizationThatIsNotABearerToken() {
    assertUnauthorized(
        http.send(
            http.request(RESTAURANTS)
                .header("Content-Type", "application/json")
                .header("Authorization", "Basic " + TestServices.WRITE_TOKEN)
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(VALID))));
  }

  @Test
  void acceptsAChangeWithTheWriteToken() {
    assertThat(http.postJson(RESTAURANTS, VALID, TestServices.WRITE_TOKEN).statusCode())
        .isEqualTo(201);
  }

  @Test
  void keepsReadsPublic() {
    assertThat(http.get(RESTAURANTS).statusCode()).isEqualTo(200);
  }

  @Test
  void refusesABodyDeclaredOverTheLimitWith413() {
    HttpResponse<String> response =
        http.postJson(RESTAURANTS, paddedBody(RequestBodyLimitFilter.MAX_BYTES + 1));
    assertContentTooLarge(response);
  }

  @Test
  void refusesAChunkedBodyOverTheLimitWith413() {
    HttpResponse<String> response =
        http.postJsonChunked(
            RESTAURANTS,
            paddedBody(RequestBodyLimitFilter.MAX_BYTES + 1),
            TestServices.WRITE_TOKEN);
    assertContentTooLarge(response);
  }

  @Test
  void refusesAChunkedBodyWhoseLimitFallsInsideAStringWith413() {
    String longName = "a".repeat(RequestBodyLimitFilter.MAX_BYTES);
    HttpResponse<String> response =
        http.postJsonChunked(
            RESTAURANTS,
            "{\"name\":\"" + longName + "\",\"cuisine\":\"Thai\",\"city\":\"Bern\"}",
            TestServices.WRITE_TOKEN);
    assertContentTooLarge(response);
  }

  @Test
  void acceptsAChunkedBodyOfExactlyTheLimit() {
    HttpResponse<String> response =
        http.postJsonChunked(
            RESTAURANTS, paddedBody(RequestBodyLimitFilter.MAX_BYTES), TestServices.WRITE_TOKEN);
    assertThat(response.statusCode()).isEqualTo(201);
  }

  /** A valid restaurant padded with whitespace to exactly {@code bytes} bytes. */
  private static String paddedBody(int bytes) {
    return VALID.substring(0, VALID.length() - 1) + " ".repeat(bytes - VALID.length()) + "}";
  }

  private static void assertUnauthorized(HttpResponse<String> response) {
    assertThat(response.statusCode()).isEqualTo(401);
    assertProblem(response, 401);
    assertThat(response.body()).doesNotContain(TestServices.WRITE_TOKEN);
  }

  private static void assertContentTooLarge(HttpResponse<String> response) {
    assertThat(response.statusCode()).isEqualTo(413);
    assertProblem(response, 413);
  }

  private static void assertProblem(HttpResponse<String> response, int status) {
    assertThat(response.headers().firstValue("Content-Type"))
        .hasValueSatisfying(t -> assertThat(t).startsWith("application/problem+json"));
    assertThat(JsonMapper.builder().build().readTree(response.body()).get("status").asInt())
        .isEqualTo(status);
  }
}
