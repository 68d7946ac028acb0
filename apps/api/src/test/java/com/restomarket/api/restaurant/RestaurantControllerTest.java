package com.restomarket.api.restaurant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyInt;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import com.restomarket.api.system.AppProperties;
import com.restomarket.api.system.NotFoundException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.webmvc.test.autoconfigure.WebMvcTest;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.ComponentScan;
import org.springframework.context.annotation.FilterType;
import org.springframework.context.annotation.Import;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.test.context.bean.override.mockito.MockitoBean;
import org.springframework.test.web.servlet.assertj.MockMvcTester;
import org.springframework.test.web.servlet.assertj.MvcTestResult;

/**
 * The web layer alone (a slice: controller, error handling, request guards, the filters every
 * response passes) with the service replaced: paging bounds, problem details, the write token and
 * the response headers, in milliseconds and without a database.
 */
@WebMvcTest(
    controllers = RestaurantController.class,
    // The system package keeps its filter configuration to itself, so it is picked by name.
    includeFilters =
        @ComponentScan.Filter(type = FilterType.REGEX, pattern = ".*\\.system\\.WebConfig"))
@Import(RestaurantControllerTest.Settings.class)
class RestaurantControllerTest {

  private static final String TOKEN = "a-write-token-of-some-length";
  private static final Restaurant PAUL =
      new Restaurant(42, "Chez Paul", "French", "Lyon", Instant.parse("2026-01-15T09:30:00Z"));

  @Autowired private MockMvcTester mvc;
  @MockitoBean private RestaurantService service;

  @TestConfiguration
  static class Settings {
    @Bean
    AppProperties appProperties() {
      return new AppProperties(
          new AppProperties.Database("jdbc:postgresql://db/x", "u", "p", 5, 2),
          new AppProperties.Redis(
              "cache", 6379, "", false, null, Duration.ofSeconds(1), Duration.ofMinutes(1)),
          new AppProperties.Health(Duration.ofSeconds(1)),
          new AppProperties.Shutdown(Duration.ZERO),
          new AppProperties.Api(TOKEN));
    }
  }

  @Test
  void listsTheFirstPageOfTwentyByDefault() {
    when(service.list(0, 20)).thenReturn(new RestaurantPage(List.of(PAUL), 0, 20, 1));
    assertThat(mvc.get().uri("/api/v1/restaurants"))
        .hasStatusOk()
        .bodyJson()
        .extractingPath("$.items[0].name")
        .isEqualTo("Chez Paul");
  }

  @Test
  void acceptsTheLastAllowedPageAndSize() {
    int last = RestaurantController.MAX_PAGE;
    when(service.list(last, 100)).thenReturn(new RestaurantPage(List.of(), last, 100, 0));
    assertThat(mvc.get().uri("/api/v1/restaurants?page={p}&size=100", last)).hasStatusOk();
  }

  @Test
  void refusesPagingOutOfBoundsAsProblemDetailsNamingTheParameter() {
    for (String query :
        List.of("size=101", "size=0", "page=-1", "page=" + (RestaurantController.MAX_PAGE + 1))) {
      MvcTestResult result = mvc.get().uri("/api/v1/restaurants?" + query).exchange();
      assertThat(result)
          .as(query)
          .hasStatus(400)
          .hasContentType(MediaType.APPLICATION_PROBLEM_JSON);
      assertThat(result)
          .bodyJson()
          .extractingPath("$.errors[0].field")
          .isEqualTo(query.substring(0, query.indexOf('=')));
    }
    verify(service, never()).list(anyInt(), anyInt());
  }

  @Test
  void anUnknownRestaurantIsA404ProblemDetail() {
    when(service.get(7)).thenThrow(new NotFoundException("No restaurant with id 7"));
    MvcTestResult result = mvc.get().uri("/api/v1/restaurants/7").exchange();
    assertThat(result).hasStatus(404).hasContentType(MediaType.APPLICATION_PROBLEM_JSON);
    assertThat(result).bodyJson().extractingPath("$.title").isEqualTo("Not Found");
    assertThat(result).bodyJson().extractingPath("$.detail").isEqualTo("No restaurant with id 7");
  }

  @Test
  void anUnexpectedFailureIsA500WithoutItsInternals() throws Exception {
    when(service.get(9)).thenThrow(new IllegalStateException("pool exhausted at db.internal:5432"));
    MvcTestResult result = mvc.get().uri("/api/v1/restaurants/9").exchange();
    assertThat(result).hasStatus(500);
    assertThat(result.getResponse().getContentAsString())
        .doesNotContain("db.internal")
        .doesNotContain("pool");
  }

  @Test
  void createsWithTheTokenAndAnswersWhereTheNewRestaurantIs() {
    when(service.create(any())).thenReturn(PAUL);
    MvcTestResult result =
        mvc.post()
            .uri("/api/v1/restaurants")
            .header(HttpHeaders.AUTHORIZATION, "Bearer " + TOKEN)
            .contentType(MediaType.APPLICATION_JSON)
            .content("{\"name\":\"Chez Paul\",\"cuisine\":\"French\",\"city\":\"Lyon\"}")
            .exchange();
    assertThat(result).hasStatus(201).hasHeader(HttpHeaders.LOCATION, "/api/v1/restaurants/42");
  }

  @Test
  void refusesAWriteWithoutTheTokenBeforeReadingIt() {
    assertThat(
            mvc.post()
                .uri("/api/v1/restaurants")
                .contentType(MediaType.APPLICATION_JSON)
                .content("{\"name\":\"Chez Paul\",\"cuisine\":\"French\",\"city\":\"Lyon\"}"))
        .hasStatus(401)
        .hasHeader(HttpHeaders.WWW_AUTHENTICATE, "Bearer realm=\"restomarket\"");
    verify(service, never()).create(any());
  }

  @Test
  void refusesAnInvalidBodyNamingEveryBadField() {
    MvcTestResult result =
        mvc.post()
            .uri("/api/v1/restaurants")
            .header(HttpHeaders.AUTHORIZATION, "Bearer " + TOKEN)
            .contentType(MediaType.APPLICATION_JSON)
            .content("{\"name\":\"\",\"cuisine\":\"French\",\"city\":\"" + "x".repeat(81) + "\"}")
            .exchange();
    assertThat(result).hasStatus(400).hasContentType(MediaType.APPLICATION_PROBLEM_JSON);
    assertThat(result)
        .bodyJson()
        .extractingPath("$.errors[*].field")
        .asArray()
        .containsExactlyInAnyOrder("name", "city");
    verify(service, never()).create(any());
  }

  @Test
  void catalogueReadsMayBeStoredButMustBeAskedForAgain() {
    when(service.list(0, 20)).thenReturn(new RestaurantPage(List.of(PAUL), 0, 20, 1));
    when(service.get(42)).thenReturn(PAUL);
    for (String path : List.of("/api/v1/restaurants", "/api/v1/restaurants/42")) {
      MvcTestResult result = mvc.get().uri(path).exchange();
      assertThat(result).as(path).hasStatusOk().hasHeader("X-Content-Type-Options", "nosniff");
      assertThat(result.getResponse().getHeaders(HttpHeaders.CACHE_CONTROL))
          .as("%s: the handler's policy, alone", path)
          .containsExactly("no-cache");
    }
  }

  @Test
  void errorsAndWritesAreNeverStoredNorSniffed() {
    when(service.get(7)).thenThrow(new NotFoundException("No restaurant with id 7"));
    when(service.create(any())).thenReturn(PAUL);
    String body = "{\"name\":\"Chez Paul\",\"cuisine\":\"French\",\"city\":\"Lyon\"}";
    List<MvcTestResult> results =
        List.of(
            mvc.get().uri("/api/v1/restaurants/7").exchange(),
            mvc.get().uri("/api/v1/restaurants?size=101").exchange(),
            mvc.get().uri("/no/such/path").exchange(),
            mvc.post()
                .uri("/api/v1/restaurants")
                .contentType(MediaType.APPLICATION_JSON)
                .content(body)
                .exchange(),
            mvc.post()
                .uri("/api/v1/restaurants")
                .header(HttpHeaders.AUTHORIZATION, "Bearer " + TOKEN)
                .contentType(MediaType.APPLICATION_JSON)
                .content(body)
                .exchange());
    assertThat(results)
        .extracting(r -> r.getResponse().getStatus())
        .containsExactly(404, 400, 404, 401, 201);
    for (MvcTestResult result : results) {
      int status = result.getResponse().getStatus();
      assertThat(result).as("%d", status).hasHeader("X-Content-Type-Options", "nosniff");
      assertThat(result.getResponse().getHeaders(HttpHeaders.CACHE_CONTROL))
          .as("%d", status)
          .containsExactly("no-store");
    }
  }

  @Test
  void sendsHstsOnlyOverTls() {
    when(service.list(0, 20)).thenReturn(new RestaurantPage(List.of(), 0, 20, 0));
    when(service.get(7)).thenThrow(new NotFoundException("No restaurant with id 7"));
    assertThat(mvc.get().uri("/api/v1/restaurants").secure(true))
        .hasHeader("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    assertThat(mvc.get().uri("/api/v1/restaurants/7").secure(true))
        .as("errors too")
        .hasStatus(404)
        .hasHeader("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
    assertThat(mvc.get().uri("/api/v1/restaurants"))
        .doesNotContainHeader("Strict-Transport-Security");
  }
}
