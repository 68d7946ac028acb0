package com.restomarket.api.system;

import static org.assertj.core.api.Assertions.assertThat;

import com.restomarket.api.support.Http;
import com.restomarket.api.support.TestServices;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.PathItem;
import io.swagger.v3.oas.models.SpecVersion;
import io.swagger.v3.oas.models.media.MediaType;
import io.swagger.v3.oas.models.security.SecurityRequirement;
import io.swagger.v3.parser.OpenAPIV3Parser;
import io.swagger.v3.parser.core.models.ParseOptions;
import io.swagger.v3.parser.core.models.SwaggerParseResult;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.web.bind.annotation.RequestMethod;
import org.springframework.web.servlet.mvc.method.annotation.RequestMappingHandlerMapping;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.cfg.JsonNodeFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * The OpenAPI document the running service publishes with SWAGGER_ENABLED=true: valid OpenAPI 3.1,
 * complete (every route Spring MVC serves for us is in it), errors as problem details, and equal to
 * the committed apps/api/openapi.json. With {@code -Dopenapi.update=true} the last test rewrites
 * that file instead of comparing.
 */
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT, properties = "SWAGGER_ENABLED=true")
class ApiDocumentIT {

  static final Path COMMITTED = Path.of("openapi.json");
  static final String OUT_OF_DATE = "apps/api/openapi.json is out of date: run `make openapi`";

  private static final JsonMapper CANONICAL =
      JsonMapper.builder()
          .enable(SerializationFeature.INDENT_OUTPUT)
          .enable(JsonNodeFeature.WRITE_PROPERTIES_SORTED)
          .build();

  @DynamicPropertySource
  static void services(DynamicPropertyRegistry registry) {
    TestServices.register(registry);
  }

  @LocalServerPort int port;

  @Autowired
  @Qualifier("requestMappingHandlerMapping")
  RequestMappingHandlerMapping mappings;

  Http http;

  @BeforeEach
  void client() {
    http = new Http(port);
  }

  @Test
  void isAValidOpenApi31Document() {
    SwaggerParseResult result = parse();
    assertThat(result.getMessages()).as("parser messages").isEmpty();
    OpenAPI api = result.getOpenAPI();
    assertThat(api.getOpenapi()).isEqualTo("3.1.0");
    assertThat(api.getSpecVersion()).isEqualTo(SpecVersion.V31);
    assertThat(api.getInfo().getTitle()).isEqualTo("restomarket API");
    assertThat(api.getInfo().getVersion()).isEqualTo(ApiDocsConfig.API_VERSION);
    assertThat(api.getInfo().getDescription()).isNotBlank();
    assertThat(api.getServers())
        .singleElement()
        .satisfies(s -> assertThat(s.getUrl()).isEqualTo("/"));
  }

  @Test
  void documentsEveryRouteOurControllersServe() {
    OpenAPI api = parse().getOpenAPI();
    List<String> routes = new ArrayList<>();
    mappings
        .getHandlerMethods()
        .forEach(
            (info, handler) -> {
              if (!handler.getBeanType().getPackageName().startsWith("com.restomarket")) {
                return;
              }
              for (String path : info.getPatternValues()) {
                for (RequestMethod method : info.getMethodsCondition().getMethods()) {
                  routes.add(method + " " + path);
                  PathItem item = api.getPaths().get(path);
                  assertThat(item).as("%s %s is documented", method, path).isNotNull();
                  assertThat(item.readOperationsMap())
                      .as("%s %s is documented", method, path)
                      .containsKey(PathItem.HttpMethod.valueOf(method.name()));
                }
              }
            });
    assertThat(routes)
        .contains(
            "GET /health",
            "GET /version",
            "POST /api/v1/restaurants",
            "GET /api/v1/restaurants",
            "GET /api/v1/restaurants/{id}");
  }

  @Test
  void describesEveryErrorAsProblemDetailsWithAnExample() {
    OpenAPI api = parse().getOpenAPI();
    api.getPaths()
        .forEach(
            (path, item) ->
                item.readOperationsMap()
                    .forEach(
                        (method, operation) ->
                            operation
                                .getResponses()
                                .forEach(
                                    (code, response) -> {
                                      if (!code.startsWith("4")) {
                                        return;
                                      }
                                      MediaType problem =
                                          response.getContent().get("application/problem+json");
                                      assertThat(problem)
                                          .as("%s %s %s is problem details", method, path, code)
                                          .isNotNull();
                                      assertThat(problem.getSchema().get$ref())
                                          .endsWith("/Problem");
                                      assertThat(problem.getExamples()).isNotEmpty();
                                    })));
  }

  @Test
  void asksForTheWriteTokenExactlyWhereTheServiceDoes() {
    OpenAPI api = parse().getOpenAPI();
    assertThat(api.getComponents().getSecuritySchemes().get(ApiDocsConfig.WRITE_TOKEN_SCHEME))
        .satisfies(s -> assertThat(s.getScheme()).isEqualTo("bearer"));
    api.getPaths()
        .forEach(
            (path, item) ->
                item.readOperationsMap()
                    .forEach(
                        (method, operation) -> {
                          List<SecurityRequirement> security =
                              operation.getSecurity() == null ? List.of() : operation.getSecurity();
                          // An empty requirement among them makes the token optional.
                          boolean required =
                              !security.isEmpty() && !security.contains(new SecurityRequirement());
                          assertThat(required)
                              .as("%s %s demands the write token", method, path)
                              .isEqualTo(WriteTokenInterceptor.requiresToken(method.name(), path));
                          if (required) {
                            assertThat(operation.getResponses()).containsKey("401");
                          }
                          if (operation.getRequestBody() != null) {
                            assertThat(operation.getResponses()).containsKeys("400", "413");
                          }
                        }));
    assertThat(api.getPaths().get("/api/v1/restaurants").getPost().getSecurity()).isNotNull();
    assertThat(api.getPaths().get("/health").getGet().getSecurity())
        .as("GET /health shows more to the token, refuses nobody")
        .containsExactly(
            new SecurityRequirement(),
            new SecurityRequirement().addList(ApiDocsConfig.WRITE_TOKEN_SCHEME));
  }

  @Test
  void everyDocumentedReadWithoutParametersIsServed() {
    parse()
        .getOpenAPI()
        .getPaths()
        .forEach(
            (path, item) -> {
              if (item.getGet() != null && !path.contains("{")) {
                assertThat(http.get(path).statusCode()).as("GET %s", path).isIn(200, 503);
              }
            });
  }

  @Test
  void servesSwaggerUiFromItsWebjar() {
    HttpResponse<String> redirect = http.get("/swagger-ui.html");
    assertThat(redirect.statusCode()).isEqualTo(302);
    assertThat(redirect.headers().firstValue("Location"))
        .hasValueSatisfying(l -> assertThat(l).endsWith("/swagger-ui/index.html"));
    HttpResponse<String> page = http.get("/swagger-ui/index.html");
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.headers().firstValue("Content-Type"))
        .hasValueSatisfying(t -> assertThat(t).startsWith("text/html"));
    assertThat(page.body()).contains("swagger-ui");
    assertThat(http.get("/swagger-ui/swagger-ui-bundle.js").statusCode()).isEqualTo(200);
  }

  @Test
  void committedDocumentMatchesTheRunningApi() throws IOException {
    String current = canonical(document());
    if (Boolean.getBoolean("openapi.update")) {
      Files.writeString(COMMITTED, current);
      return;
    }
    assertThat(Files.isRegularFile(COMMITTED))
        .withFailMessage("apps/api/openapi.json is missing: run `make openapi`")
        .isTrue();
    String committed = Files.readString(COMMITTED);
    assertThat(committed)
        .withFailMessage(() -> OUT_OF_DATE + " (" + firstDifference(committed, current) + ")")
        .isEqualTo(current);
  }

  private String document() {
    HttpResponse<String> response = http.get("/v3/api-docs");
    assertThat(response.statusCode()).isEqualTo(200);
    return response.body();
  }

  private SwaggerParseResult parse() {
    ParseOptions options = new ParseOptions();
    options.setResolve(true);
    return new OpenAPIV3Parser().readContents(document(), null, options);
  }

  /** Pretty printed with keys sorted, so the committed file diffs well and never reorders. */
  static String canonical(String json) {
    return CANONICAL.writeValueAsString(CANONICAL.readTree(json)) + "\n";
  }

  private static String firstDifference(String committed, String current) {
    String[] expected = current.split("\n", -1);
    String[] actual = committed.split("\n", -1);
    for (int i = 0; i < Math.min(expected.length, actual.length); i++) {
      if (!expected[i].equals(actual[i])) {
        return "line "
            + (i + 1)
            + ": committed "
            + actual[i].strip()
            + ", served "
            + expected[i].strip();
      }
    }
    return "committed has " + actual.length + " lines, served " + expected.length;
  }
}
