package com.restomarket.api.system;

import static org.assertj.core.api.Assertions.assertThat;

import com.restomarket.api.support.Http;
import com.restomarket.api.support.TestServices;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/** Without SWAGGER_ENABLED (the default) neither the document nor Swagger UI is served. */
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT)
class ApiDocsDisabledIT {

  @DynamicPropertySource
  static void services(DynamicPropertyRegistry registry) {
    TestServices.register(registry);
  }

  @LocalServerPort int port;

  @Test
  void answers404ForTheDocumentAndSwaggerUiByDefault() {
    Http http = new Http(port);
    for (String path :
        new String[] {
          "/v3/api-docs",
          "/swagger-ui.html",
          "/swagger-ui/index.html",
          "/webjars/swagger-ui/index.html"
        }) {
      assertThat(http.get(path).statusCode()).as("GET %s", path).isEqualTo(404);
    }
  }
}
