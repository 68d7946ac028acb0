package com.restomarket.api.system;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.springframework.http.HttpHeaders;
import org.springframework.mock.web.MockHttpServletRequest;
import org.springframework.mock.web.MockHttpServletResponse;

/** The token check on its own, without a server. */
class WriteTokenInterceptorTest {

  private static final String TOKEN = "a-write-token-of-some-length";
  private final WriteTokenInterceptor interceptor =
      new WriteTokenInterceptor(new WriteToken(TOKEN));

  @Test
  void asksForTheTokenOnChangesUnderApiOnly() {
    assertThat(WriteTokenInterceptor.requiresToken("POST", "/api/v1/restaurants")).isTrue();
    assertThat(WriteTokenInterceptor.requiresToken("DELETE", "/api/v1/restaurants/{id}")).isTrue();
    assertThat(WriteTokenInterceptor.requiresToken("GET", "/api/v1/restaurants")).isFalse();
    assertThat(WriteTokenInterceptor.requiresToken("HEAD", "/api/v1/restaurants")).isFalse();
    assertThat(WriteTokenInterceptor.requiresToken("POST", "/health")).isFalse();
  }

  @Test
  void letsReadsThroughWithoutAToken() {
    assertThat(preHandle("GET", null)).isTrue();
  }

  @Test
  void acceptsTheTokenWhateverTheCaseOfTheScheme() {
    assertThat(preHandle("POST", "Bearer " + TOKEN)).isTrue();
    assertThat(preHandle("POST", "bearer " + TOKEN)).isTrue();
  }

  @Test
  void refusesAMissingOrEmptyTokenWithAPlainChallenge() {
    for (String authorization : new String[] {null, "Bearer ", "Basic " + TOKEN}) {
      assertThatThrownBy(() -> preHandle("POST", authorization))
          .isInstanceOfSatisfying(
              WriteTokenRejectedException.class,
              e ->
                  assertThat(e.getHeaders().getFirst(HttpHeaders.WWW_AUTHENTICATE))
                      .isEqualTo("Bearer realm=\"restomarket\""));
    }
  }

  @Test
  void refusesAWrongTokenAsInvalidWithoutNamingTheRightOne() {
    for (String wrong : new String[] {TOKEN + "x", TOKEN.substring(1), "x"}) {
      assertThatThrownBy(() -> preHandle("PUT", "Bearer " + wrong))
          .isInstanceOfSatisfying(
              WriteTokenRejectedException.class,
              e -> {
                assertThat(e.getHeaders().getFirst(HttpHeaders.WWW_AUTHENTICATE))
                    .contains("error=\"invalid_token\"");
                assertThat(e.getBody().getDetail()).doesNotContain(TOKEN);
              });
    }
  }

  private boolean preHandle(String method, String authorization) {
    MockHttpServletRequest request = new MockHttpServletRequest(method, "/api/v1/restaurants");
    if (authorization != null) {
      request.addHeader(HttpHeaders.AUTHORIZATION, authorization);
    }
    return interceptor.preHandle(request, new MockHttpServletResponse(), new Object());
  }
}
