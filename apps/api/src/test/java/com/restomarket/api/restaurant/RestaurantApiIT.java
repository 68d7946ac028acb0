package com.restomarket.api.restaurant;

import static org.assertj.core.api.Assertions.assertThat;

import com.restomarket.api.support.Http;
import com.restomarket.api.support.TestServices;
import com.restomarket.api.system.CacheSchema;
import com.restomarket.api.system.CacheSpec;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.data.redis.cache.RedisCacheManager;
import org.springframework.data.redis.core.StringRedisTemplate;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT)
class RestaurantApiIT {

  private static final JsonMapper JSON = JsonMapper.builder().build();

  @DynamicPropertySource
  static void services(DynamicPropertyRegistry registry) {
    TestServices.register(registry);
  }

  @LocalServerPort int port;
  @Autowired JdbcTemplate jdbc;
  @Autowired StringRedisTemplate redis;
  @Autowired RedisCacheManager cacheManager;
  @Autowired List<CacheSpec> caches;
  Http http;

  @BeforeEach
  void cleanSlate() {
    http = new Http(port);
    jdbc.execute("TRUNCATE restaurant RESTART IDENTITY");
    var keys = redis.keys(CacheSchema.NAMESPACE + "*");
    if (!keys.isEmpty()) {
      redis.delete(keys);
    }
  }

  @Test
  void answers400ToAQueryStringThatCannotBeDecoded() throws IOException {
    // java.net.URI refuses to build such a request: sent raw, as a careless client sends it.
    try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
      socket.setSoTimeout(10_000);
      socket
          .getOutputStream()
          .write(
              "GET /api/v1/restaurants?q=% HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                  .getBytes(StandardCharsets.US_ASCII));
      String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(answer).startsWith("HTTP/1.1 400").contains("application/problem+json");
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
    awaitCached(restaurantKey(CacheSchema.KEY_PREFIX, id));

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
  void keysEveryCachedValueWithTheCacheSchemaVersion() {
    assertThat(CacheSchema.KEY_PREFIX).isEqualTo(CacheSchema.keyPrefix(CacheSchema.VERSION));
    assertThat(cacheManager.getCacheNames())
        .containsAll(caches.stream().map(CacheSpec::name).toList());
    for (String name : cacheManager.getCacheNames()) {
      assertThat(cacheManager.getCacheConfigurations().get(name).getKeyPrefixFor(name))
          .as("key prefix of cache %s", name)
          .isEqualTo(CacheSchema.KEY_PREFIX + name + "::");
    }

    long id = JSON.readTree(create("Keyed", "Greek", "Athens").body()).get("id").asLong();
    assertThat(http.get("/api/v1/restaurants/" + id).statusCode()).isEqualTo(200);
    assertThat(http.get("/api/v1/restaurants").statusCode()).isEqualTo(200);
    awaitCached(restaurantKey(CacheSchema.KEY_PREFIX, id));

    Set<String> keys = new HashSet<>(redis.keys(CacheSchema.NAMESPACE + "*"));
    // The pages' generation counter is the one key shared by every release, on purpose.
    assertThat(keys.remove(RestaurantPageGeneration.KEY)).isTrue();
    assertThat(keys)
        .as("every cached value's key carries the cache schema version")
        .allSatisfy(key -> assertThat(key).startsWith(CacheSchema.KEY_PREFIX))
        .contains(restaurantKey(CacheSchema.KEY_PREFIX, id), firstPageKey());
  }

  @Test
  void neverServesARestaurantCachedUnderAnotherCacheSchemaVersion() {
    long id = JSON.readTree(create("Fresh", "Greek", "Athens").body()).get("id").asLong();
    Map<String, String> otherReleases = new LinkedHashMap<>();
    // The release before cache keys carried a version.
    otherReleases.put(CacheSchema.NAMESPACE + RestaurantCaches.BY_ID + "::" + id, "not json");
    // An older schema: another shape altogether.
    otherReleases.put(
        restaurantKey(CacheSchema.keyPrefix(CacheSchema.VERSION - 1), id),
        "{\"id\":" + id + ",\"title\":\"Older shape\",\"stars\":[5]}");
    // A newer schema whose entry this release could even read: it must not.
    otherReleases.put(
        restaurantKey(CacheSchema.keyPrefix(CacheSchema.VERSION + 1), id),
        "{\"id\":"
            + id
            + ",\"name\":\"Newer release\",\"cuisine\":\"Fusion\",\"city\":\"Elsewhere\","
            + "\"createdAt\":\"2020-01-01T00:00:00Z\",\"rating\":5}");
    String own = restaurantKey(CacheSchema.KEY_PREFIX, id);
    assertThat(otherReleases).doesNotContainKey(own);
    otherReleases.forEach(redis.opsForValue()::set);

    JsonNode read = JSON.readTree(http.get("/api/v1/restaurants/" + id).body());
    assertThat(read.get("name").asString()).isEqualTo("Fresh");
    assertThat(read.get("city").asString()).isEqualTo("Athens");
    awaitCached(own);
    assertUntouched(otherReleases);

    // This release's own entry is what it serves.
    ObjectNode entry = (ObjectNode) JSON.readTree(redis.opsForValue().get(own));
    entry.put("name", "From this release's cache");
    redis.opsForValue().set(own, JSON.writeValueAsString(entry));
    JsonNode cached = JSON.readTree(http.get("/api/v1/restaurants/" + id).body());
    assertThat(cached.get("name").asString()).isEqualTo("From this release's cache");
  }

  @Test
  void neverServesAPageCachedUnderAnotherCacheSchemaVersion() {
    long id = JSON.readTree(create("Fresh", "Greek", "Athens").body()).get("id").asLong();
    String generation = redis.opsForValue().get(RestaurantPageGeneration.KEY);
    assertThat(generation).isNotNull();
    Map<String, String> otherReleases = new LinkedHashMap<>();
    // The release before cache keys carried a version, in the same (shared) generation.
    otherReleases.put(pageKey(CacheSchema.NAMESPACE, generation), "not json");
    otherReleases.put(
        pageKey(CacheSchema.keyPrefix(CacheSchema.VERSION - 1), generation),
        "{\"restaurants\":[{\"title\":\"Older shape\"}],\"count\":99}");
    otherReleases.put(
        pageKey(CacheSchema.keyPrefix(CacheSchema.VERSION + 1), generation),
        "{\"items\":[{\"id\":"
            + id
            + ",\"name\":\"Newer release\",\"cuisine\":\"Fusion\",\"city\":\"Elsewhere\","
            + "\"createdAt\":\"2020-01-01T00:00:00Z\"}],\"page\":0,\"size\":20,\"total\":99,"
            + "\"next\":1}");
    String own = pageKey(CacheSchema.KEY_PREFIX, generation);
    assertThat(otherReleases).doesNotContainKey(own);
    otherReleases.forEach(redis.opsForValue()::set);

    JsonNode page = JSON.readTree(http.get("/api/v1/restaurants").body());
    assertThat(page.get("total").asLong()).isEqualTo(1);
    assertThat(page.get("items").get(0).get("name").asString()).isEqualTo("Fresh");
    assertThat(firstPageKey()).isEqualTo(own);
    assertThat(redis.hasKey(own)).as("page cached before the response").isTrue();
    assertUntouched(otherReleases);

    // This release's own entry is what it serves.
    ObjectNode entry = (ObjectNode) JSON.readTree(redis.opsForValue().get(own));
    ((ObjectNode) entry.get("items").get(0)).put("name", "From this release's cache");
    redis.opsForValue().set(own, JSON.writeValueAsString(entry));
    JsonNode cached = JSON.readTree(http.get("/api/v1/restaurants").body());
    assertThat(cached.get("items").get(0).get("name").asString())
        .isEqualTo("From this release's cache");
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

  /** This release's cache key of page 0 (size 20) in the current generation. */
  private String firstPageKey() {
    return pageKey(CacheSchema.KEY_PREFIX, redis.opsForValue().get(RestaurantPageGeneration.KEY));
  }

  /** The cache key of page 0 (size 20) in a generation, under a release's key prefix. */
  private static String pageKey(String prefix, @Nullable String generation) {
    return prefix + RestaurantCaches.PAGES + "::" + generation + ":0:20";
  }

  /** Every planted entry of another release still holds exactly what was planted. */
  private void assertUntouched(Map<String, String> entries) {
    entries.forEach(
        (key, value) ->
            assertThat(redis.opsForValue().get(key))
                .as("entry %s untouched", key)
                .isEqualTo(value));
  }

  /** The cache key of a restaurant under a release's key prefix. */
  private static String restaurantKey(String prefix, long id) {
    return prefix + RestaurantCaches.BY_ID + "::" + id;
  }

  private HttpResponse<String> create(String name, String cuisine, String city) {
    return http.postJson(
        "/api/v1/restaurants",
        "{\"name\":\"" + name + "\",\"cuisine\":\"" + cuisine + "\",\"city\":\"" + city + "\"}",
        TestServices.WRITE_TOKEN);
  }
}
