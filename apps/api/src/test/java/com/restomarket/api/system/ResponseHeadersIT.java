package com.restomarket.api.system;

import static org.assertj.core.api.Assertions.assertThat;

import com.restomarket.api.support.Http;
import com.restomarket.api.support.TestServices;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The headers of every kind of answer from the real server, and HSTS decided by Tomcat's reading of
 * X-Forwarded-Proto, as the load balancer sends it through HAProxy. The test talks from loopback, a
 * private address, so it stands where HAProxy stands.
 */
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT)
class ResponseHeadersIT {

  private static final String HSTS = "Strict-Transport-Security";

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
  void sendsHstsWhenTheLoadBalancerSaysTheClientUsedHttps() {
    for (String path : new String[] {"/health", "/api/v1/restaurants", "/no/such/path"}) {
      HttpResponse<String> response = getWith(path, "X-Forwarded-Proto", "https");
      assertThat(response.headers().allValues(HSTS))
          .as("GET %s forwarded from https", path)
          .containsExactly("max-age=31536000; includeSubDomains");
    }
  }

  @Test
  void neverSendsHstsOverPlainHttp() {
    assertThat(http.get("/health").headers().firstValue(HSTS)).isEmpty();
    assertThat(getWith("/health", "X-Forwarded-Proto", "http").headers().firstValue(HSTS))
        .isEmpty();
  }

  @Test
  void forbidsSniffingOnEveryAnswerAndStoringAllButCatalogueReads() {
    Map<String, HttpResponse<String>> answers = new LinkedHashMap<>();
    for (String path :
        new String[] {
          "/health", "/readyz", "/livez", "/version", "/api/v1/restaurants/999999", "/no/such/path"
        }) {
      answers.put("GET " + path, http.get(path));
    }
    String restaurant = "{\"name\":\"Headers\",\"cuisine\":\"Thai\",\"city\":\"Oslo\"}";
    answers.put("POST without token", http.postJson("/api/v1/restaurants", restaurant));
    answers.put(
        "POST with token",
        http.postJson("/api/v1/restaurants", restaurant, TestServices.WRITE_TOKEN));
    answers.forEach(
        (request, response) -> {
          assertThat(response.headers().allValues("X-Content-Type-Options"))
              .as(request)
              .containsExactly("nosniff");
          assertThat(response.headers().allValues("Cache-Control"))
              .as("%s (%d)", request, response.statusCode())
              .containsExactly("no-store");
        });
    assertThat(answers.get("POST with token").statusCode()).isEqualTo(201);

    HttpResponse<String> list = http.get("/api/v1/restaurants");
    assertThat(list.statusCode()).isEqualTo(200);
    assertThat(list.headers().allValues("Cache-Control")).containsExactly("no-cache");
    assertThat(list.headers().allValues("X-Content-Type-Options")).containsExactly("nosniff");
  }

  private HttpResponse<String> getWith(String path, String header, String value) {
    HttpRequest.Builder request = http.request(path).header(header, value).GET();
    return http.send(request);
  }
}
