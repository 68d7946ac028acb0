package com.restomarket.api.system;

import io.swagger.v3.oas.models.Components;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.Operation;
import io.swagger.v3.oas.models.PathItem;
import io.swagger.v3.oas.models.PathItem.HttpMethod;
import io.swagger.v3.oas.models.examples.Example;
import io.swagger.v3.oas.models.info.Info;
import io.swagger.v3.oas.models.media.Content;
import io.swagger.v3.oas.models.media.JsonSchema;
import io.swagger.v3.oas.models.media.MediaType;
import io.swagger.v3.oas.models.media.Schema;
import io.swagger.v3.oas.models.responses.ApiResponse;
import io.swagger.v3.oas.models.responses.ApiResponses;
import io.swagger.v3.oas.models.security.SecurityRequirement;
import io.swagger.v3.oas.models.security.SecurityScheme;
import io.swagger.v3.oas.models.servers.Server;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.springdoc.core.customizers.OpenApiCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The OpenAPI 3.1 document at /v3/api-docs (and Swagger UI), on only when SWAGGER_ENABLED=true.
 * Controllers describe their own operations; the answers every operation shares (problem details
 * for 400, 401, 404, 413, and the write token on changes) are added here from the same rules the
 * service enforces, so the document cannot promise what the code does not do. An operation that
 * names the write token itself without the service demanding it (GET /health, which shows more to
 * it) gets it as optional.
 */
@Configuration(proxyBeanMethods = false)
class ApiDocsConfig {

  /** The version of the HTTP contract, not of the release (that is X-App-Version). */
  static final String API_VERSION = "1.0.0";

  static final String PROBLEM_JSON = "application/problem+json";
  static final String WRITE_TOKEN_SCHEME = "writeToken";
  private static final String PROBLEM = "Problem";
  private static final String FIELD_PROBLEM = "FieldProblem";

  @Bean
  OpenAPI apiDocument() {
    return new OpenAPI()
        .info(
            new Info()
                .title("restomarket API")
                .version(API_VERSION)
                .description(
                    "Restaurants of the restomarket marketplace, and the service's own health and"
                        + " version. Reads are public; changes need the write token as a bearer"
                        + " token. Errors are RFC 9457 problem details. Every response carries"
                        + " X-App-Version (the release), X-Request-Id, X-Content-Type-Options:"
                        + " nosniff and Cache-Control: no-store, except reads of the restaurant"
                        + " catalogue (no-cache); over HTTPS also Strict-Transport-Security."))
        .servers(List.of(new Server().url("/").description("the host serving this document")))
        .path("/livez", probe("livez", "Liveness: the process is up; dependencies are not asked"))
        .path(
            "/readyz",
            probe(
                "readyz",
                "Readiness: the database answers and no SIGTERM arrived; 503 means send no"
                    + " traffic"))
        .components(
            new Components()
                .addSecuritySchemes(
                    WRITE_TOKEN_SCHEME,
                    new SecurityScheme()
                        .type(SecurityScheme.Type.HTTP)
                        .scheme("bearer")
                        .description("The service's API_WRITE_TOKEN setting.")));
  }

  /** Spring Boot's health probes, which actuator serves on the main port beside our routes. */
  private static PathItem probe(String operationId, String summary) {
    Schema<Object> status = typed("string", "UP when the probe passes");
    status.setEnum(List.of("UP", "DOWN", "OUT_OF_SERVICE"));
    Schema<Object> body = typed("object", "The probe's state");
    body.addProperty("status", status);
    body.setRequired(List.of("status"));
    return new PathItem()
        .get(
            new Operation()
                .operationId(operationId)
                .summary(summary)
                .addTagsItem("operations")
                .responses(
                    new ApiResponses()
                        .addApiResponse("200", probeAnswer("The probe passes", body, "UP"))
                        .addApiResponse(
                            "503", probeAnswer("The probe fails", body, "OUT_OF_SERVICE"))));
  }

  private static ApiResponse probeAnswer(String description, Schema<Object> body, String status) {
    MediaType answer =
        new MediaType()
            .schema(body)
            .examples(Map.of(status, new Example().value(Map.of("status", status))));
    // Actuator's own media type unless the caller accepts only application/json.
    return new ApiResponse()
        .description(description)
        .content(
            new Content()
                .addMediaType("application/vnd.spring-boot.actuator.v3+json", answer)
                .addMediaType("application/json", answer));
  }

  /**
   * Adds what every operation shares: 400 where it takes input, 413 where it takes a body, the
   * write token and 401 where {@link WriteTokenInterceptor} asks for it, and problem details with
   * an example as the body of every 4xx answer.
   */
  @Bean
  OpenApiCustomizer sharedResponses() {
    return document -> {
      // Added here, after springdoc dropped the schemas no controller referred to.
      document
          .getComponents()
          .addSchemas(PROBLEM, problemSchema())
          .addSchemas(FIELD_PROBLEM, fieldProblemSchema());
      document
          .getPaths()
          .forEach(
              (path, item) ->
                  item.readOperationsMap()
                      .forEach((method, operation) -> describeShared(path, method, operation)));
    };
  }

  private static void describeShared(String path, HttpMethod method, Operation operation) {
    ApiResponses responses = operation.getResponses();
    boolean takesBody = operation.getRequestBody() != null;
    boolean takesParameters =
        operation.getParameters() != null && !operation.getParameters().isEmpty();
    if (takesBody || takesParameters) {
      addIfAbsent(responses, "400", "The request is invalid.");
    }
    if (takesBody) {
      addIfAbsent(
          responses, "413", "The body is over " + RequestBodyLimitFilter.MAX_BYTES + " bytes.");
    }
    if (WriteTokenInterceptor.requiresToken(method.name(), path)) {
      operation.setSecurity(List.of(new SecurityRequirement().addList(WRITE_TOKEN_SCHEME)));
      addIfAbsent(
          responses, "401", "The write token is missing or wrong (WWW-Authenticate: Bearer).");
    } else if (operation.getSecurity() != null && !operation.getSecurity().isEmpty()) {
      // A token an operation names but the service does not demand is optional: {} comes first.
      List<SecurityRequirement> optional = new ArrayList<>(operation.getSecurity());
      optional.addFirst(new SecurityRequirement());
      operation.setSecurity(optional);
    }
    responses.forEach(
        (code, response) -> {
          if (code.startsWith("4")) {
            response.setContent(problemContent(code, path));
          }
        });
  }

  private static void addIfAbsent(ApiResponses responses, String code, String description) {
    if (!responses.containsKey(code)) {
      responses.addApiResponse(code, new ApiResponse().description(description));
    }
  }

  private static Content problemContent(String code, String path) {
    return new Content()
        .addMediaType(
            PROBLEM_JSON,
            new MediaType()
                .schema(reference(PROBLEM))
                .examples(Map.of("problem", new Example().value(exampleProblem(code, path)))));
  }

  private static Map<String, Object> exampleProblem(String code, String path) {
    Map<String, Object> problem = new LinkedHashMap<>();
    switch (code) {
      case "400" -> {
        problem.put("title", "Bad Request");
        problem.put("detail", "Invalid request: size must be less than or equal to 100");
        problem.put(
            "errors",
            List.of(Map.of("field", "size", "message", "must be less than or equal to 100")));
      }
      case "401" -> {
        problem.put("title", "Unauthorized");
        problem.put("detail", WriteTokenRejectedException.missing().getBody().getDetail());
      }
      case "404" -> {
        problem.put("title", "Not Found");
        problem.put("detail", "No restaurant with id 42");
      }
      case "413" -> {
        problem.put("title", "Content Too Large");
        problem.put("detail", new RequestBodyTooLargeException().getBody().getDetail());
      }
      default -> problem.put("title", "Error");
    }
    problem.put("status", Integer.parseInt(code));
    problem.put("instance", path);
    return problem;
  }

  private static Schema<Object> problemSchema() {
    Schema<Object> errors = typed("array", "For a 400: each invalid input.");
    errors.setItems(reference(FIELD_PROBLEM));
    Schema<Object> problem = typed("object", "An RFC 9457 problem details document.");
    problem.addProperty("type", typed("string", "A URI naming the kind of problem."));
    problem.addProperty("title", typed("string", "Short summary of the problem kind."));
    problem.addProperty("status", typed("integer", "The HTTP status code."));
    problem.addProperty("detail", typed("string", "What went wrong with this request."));
    problem.addProperty("instance", typed("string", "The path of the request."));
    problem.addProperty("errors", errors);
    problem.setRequired(List.of("title", "status"));
    return problem;
  }

  private static Schema<Object> fieldProblemSchema() {
    Schema<Object> field = typed("object", "One invalid input.");
    field.addProperty("field", typed("string", "The body field or query parameter, e.g. size."));
    field.addProperty("message", typed("string", "What is wrong with it."));
    field.setRequired(List.of("field", "message"));
    return field;
  }

  private static Schema<Object> reference(String schema) {
    Schema<Object> reference = new JsonSchema();
    reference.set$ref("#/components/schemas/" + schema);
    return reference;
  }

  private static Schema<Object> typed(String type, String description) {
    Schema<Object> schema = new JsonSchema();
    schema.setTypes(Set.of(type));
    schema.setDescription(description);
    return schema;
  }
}
