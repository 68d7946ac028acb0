package com.restomarket.api.restaurant;

import static org.assertj.core.api.Assertions.assertThat;

import com.restomarket.api.support.Http;
import com.restomarket.api.support.TestServices;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.data.redis.core.StringRedisTemplate;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT)
class RestaurantApiTest {

  private static final JsonMapper JSON = JsonMapper.builder().build();

  @DynamicPropertySource
  static void services(DynamicPropertyRegistry registry) {
    TestServices.register(registry);
  }

  @LocalServerPort int port;
  @Autowired JdbcTemplate jdbc;
  @Autowired StringRedisTemplate redis;
  Http http;

  @BeforeEach
  void cleanSlate() {
    http = new Http(port);
    jdbc.execute("TRUNCATE restaurant RESTART IDENTITY");
    var keys = redis.keys("restomarket:*");
    if (!keys.isEmpty()) {
      redis.delete(keys);
    }
  }

  @Test
  void createsAndReadsBackARestaurant() {
    HttpResponse<String> created = create("Chez Paul", "French", "Lyon");
    assertThat(created.statusCode()).isEqualTo(201);
    JsonNode body = JSON.readTree(created.body());
    long id = body.get("id").asLong();
    assertThat(created.headers().firstValue("Location")).contains("/api/v1/restaurants/" + id);
    assertThat(body.get("createdAt").asString()).isNotBlank();

    HttpResponse<String> read = http.get("/api/v1/restaurants/" + id);
    assertThat(read.statusCode()).isEqualTo(200);
    JsonNode restaurant = JSON.readTree(read.body());
    assertThat(restaurant.get("name").asString()).isEqualTo("Chez Paul");
    assertThat(restaurant.get("cuisine").asString()).isEqualTo("French");
    assertThat(restaurant.get("city").asString()).isEqualTo("Lyon");
  }

  @Test
  void listsNewestFirstWithPaging() {
    create("First", "Thai", "Paris");
    create("Second", "Thai", "Paris");
    create("Third", "Thai", "Paris");

    JsonNode page = JSON.readTree(http.get("/api/v1/restaurants?page=0&size=2").body());
    assertThat(page.get("total").asLong()).isEqualTo(3);
    assertThat(page.get("items")).hasSize(2);
    assertThat(page.get("items").get(0).get("name").asString()).isEqualTo("Third");

    JsonNode second = JSON.readTree(http.get("/api/v1/restaurants?page=1&size=2").body());
    assertThat(second.get("items")).hasSize(1);
    assertThat(second.get("items").get(0).get("name").asString()).isEqualTo("First");
  }

  @Test
  void rejectsInvalidRestaurantWithProblemDetailsNamingTheField() {
    HttpResponse<String> response =
        http.postJson(
            "/api/v1/restaurants",
            "{\"name\":\"\",\"cuisine\":\"Thai\",\"city\":\"Paris\"}",
            TestServices.WRITE_TOKEN);
    assertThat(response.statusCode()).isEqualTo(400);
    assertThat(response.headers().firstValue("Content-Type"))
        .hasValueSatisfying(t -> assertThat(t).startsWith("application/problem+json"));
    JsonNode problem = JSON.readTree(response.body());
    assertThat(problem.get("status").asInt()).isEqualTo(400);
    assertThat(problem.get("errors").get(0).get("field").asString()).isEqualTo("name");
    assertThat(problem.get("detail").asString()).contains("name");
    assertThat(response.body()).doesNotContain("Exception").doesNotContain("\tat ");
  }

  @Test
  void rejectsMalformedJsonWithoutAStackTrace() {
    HttpResponse<String> response =
        http.postJson("/api/v1/restaurants", "{not json", TestServices.WRITE_TOKEN);
    assertThat(response.statusCode()).isEqualTo(400);
    assertThat(response.body()).contains("\"status\":400").doesNotContain("\tat ");
  }

  @Test
  void rejectsOutOfRangePageSizeNamingTheParameter() {
    HttpResponse<String> response = http.get("/api/v1/restaurants?size=1000");
    assertThat(response.statusCode()).isEqualTo(400);
    assertThat(JSON.readTree(response.body()).get("errors").get(0).get("field").asString())
        .isEqualTo("size");
  }

  @Test
  void rejectsAPagePastTheBoundNamingThePage() {
    assertThat(http.get("/api/v1/restaurants?page=" + RestaurantController.MAX_PAGE).statusCode())
        .isEqualTo(200);
    HttpResponse<String> response =
        http.get("/api/v1/restaurants?page=" + (RestaurantController.MAX_PAGE + 1));
    assertThat(response.statusCode()).isEqualTo(400);
    assertThat(response.headers().firstValue("Content-Type"))
        .hasValueSatisfying(t -> assertThat(t).startsWith("application/problem+json"));
    assertThat(JSON.readTree(response.body()).get("errors").get(0).get("field").asString())
        .isEqualTo("page");
  }

  @Test
  void answers404ProblemForUnknownRestaurant() {
    HttpResponse<String> response = http.get("/api/v1/restaurants/424242");
    assertThat(response.statusCode()).isEqualTo(404);
    JsonNode problem = JSON.readTree(response.body());
    assertThat(problem.get("status").asInt()).isEqualTo(404);
    assertThat(problem.get("detail").asString()).contains("424242");
  }

  @Test
  void servesRestaurantFromRedisCacheOnceRead() {
    long id = JSON.readTree(create("Cached", "Greek", "Athens").body()).get("id").asLong();
    http.get("/api/v1/restaurants/" + id);
    awaitCached("restomarket:restaurant::" + id);

    // Changed behind the service's back: a cached read must not see it.
    jdbc.update("UPDATE restaurant SET name = 'Changed' WHERE id = ?", id);
    JsonNode cached = JSON.readTree(http.get("/api/v1/restaurants/" + id).body());
    assertThat(cached.get("name").asString()).isEqualTo("Cached");
  }

  @Test
  void servesPagesFromRedisCacheOnceRead() {
    create("Cached", "Greek", "Athens");
    http.get("/api/v1/restaurants");
    assertThat(redis.hasKey(firstPageKey())).as("page cached before the response").isTrue();

    jdbc.update("UPDATE restaurant SET name = 'Changed'");
    JsonNode page = JSON.readTree(http.get("/api/v1/restaurants").body());
    assertThat(page.get("items").get(0).get("name").asString()).isEqualTo("Cached");
  }

  @Test
  void neverServesAPageComputedBeforeARestaurantWasCreated() {
    create("One", "Sushi", "Tokyo");
    assertThat(JSON.readTree(http.get("/api/v1/restaurants").body()).get("total").asLong())
        .isEqualTo(1);
    String before = firstPageKey();
    String stalePage = redis.opsForValue().get(before);
    assertThat(stalePage).isNotNull();

    assertThat(create("Two", "Sushi", "Tokyo").statusCode()).isEqualTo(201);
    // A slow list request that read the database before the create writes its page after it.
    redis.opsForValue().set(before, stalePage);

    JsonNode page = JSON.readTree(http.get("/api/v1/restaurants").body());
    assertThat(page.get("total").asLong()).isEqualTo(2);
    assertThat(page.get("items").get(0).get("name").asString()).isEqualTo("Two");
    assertThat(firstPageKey()).isNotEqualTo(before);
  }

  @Test
  void stampsTheVersionAndARequestIdOnEveryResponse() {
    for (HttpResponse<String> response :
        java.util.List.of(
            http.get("/health"),
            http.get("/api/v1/restaurants"),
            http.get("/api/v1/restaurants/999999"),
            http.get("/no-such-path"),
            http.postJson("/api/v1/restaurants", "{}"))) {
      assertThat(response.headers().firstValue("X-App-Version"))
          .as("version header on %s", response.uri())
          .hasValueSatisfying(v -> assertThat(v).isNotBlank().doesNotContain("@"));
      assertThat(response.headers().firstValue("X-Request-Id")).isPresent();
    }
  }

  @Test
  void echoesAWellFormedRequestIdAndReplacesAnUnsafeOne() {
    var builder =
        java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + port + "/version"))
            .header("X-Request-Id", "trace-123");
    assertThat(http.send(builder).headers().firstValue("X-Request-Id")).contains("trace-123");

    var unsafe =
        java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + port + "/version"))
            .header("X-Request-Id", "bad id with spaces");
    assertThat(http.send(unsafe).headers().firstValue("X-Request-Id"))
        .hasValueSatisfying(v -> assertThat(v).isNotEqualTo("bad id with spaces"));
  }

  /** Cache writes may land just after the response; wait briefly for the entry. */
  private void awaitCached(String key) {
    long deadline = System.nanoTime() + java.time.Duration.ofSeconds(3).toNanos();
    while (!Boolean.TRUE.equals(redis.hasKey(key))) {
      assertThat(System.nanoTime()).as("cache entry %s written", key).isLessThan(deadline);
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
  }

  /** The cache key of page 0 (size 20) in the current generation. */
  private String firstPageKey() {
    return "restomarket:restaurant-pages::"
        + redis.opsForValue().get(RestaurantPageGeneration.KEY)
        + ":0:20";
  }

  private HttpResponse<String> create(String name, String cuisine, String city) {
    return http.postJson(
        "/api/v1/restaurants",
        "{\"name\":\"" + name + "\",\"cuisine\":\"" + cuisine + "\",\"city\":\"" + city + "\"}",
        TestServices.WRITE_TOKEN);
  }
}
