package com.restomarket.api.system;

import static org.assertj.core.api.Assertions.assertThat;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.FilterChain;
import jakarta.servlet.RequestDispatcher;
import jakarta.servlet.http.HttpServletResponse;
import org.junit.jupiter.api.Test;
import org.springframework.http.HttpHeaders;
import org.springframework.mock.web.MockHttpServletRequest;
import org.springframework.mock.web.MockHttpServletResponse;

/** The headers every response gets, on their own, without a server. */
class SecurityHeadersFilterTest {

  private static final FilterChain ANSWERS = (request, response) -> {};
  private final SecurityHeadersFilter filter = new SecurityHeadersFilter();

  @Test
  void forbidsSniffingAndStoringOnEveryAnswer() throws Exception {
    MockHttpServletResponse response = run(new MockHttpServletRequest("GET", "/"), ANSWERS);
    assertThat(response.getHeader("X-Content-Type-Options")).isEqualTo("nosniff");
    assertThat(response.getHeaders(HttpHeaders.CACHE_CONTROL)).containsExactly("no-store");
  }

  @Test
  void sendsHstsOverTls() throws Exception {
    MockHttpServletRequest request = new MockHttpServletRequest("GET", "/health");
    request.setSecure(true);
    assertThat(run(request, ANSWERS).getHeader("Strict-Transport-Security"))
        .isEqualTo("max-age=31536000; includeSubDomains");
  }

  @Test
  void neverSendsHstsOverPlainHttpWhateverTheRequestClaims() throws Exception {
    MockHttpServletRequest request = new MockHttpServletRequest("GET", "/health");
    // Only Tomcat's remote-IP valve may turn this header into a secure request, never the filter.
    request.addHeader("X-Forwarded-Proto", "https");
    assertThat(run(request, ANSWERS).containsHeader("Strict-Transport-Security")).isFalse();
  }

  @Test
  void keepsTheCachePolicyAHandlerChose() throws Exception {
    FilterChain handler =
        (request, response) ->
            ((HttpServletResponse) response).setHeader(HttpHeaders.CACHE_CONTROL, "no-cache");
    MockHttpServletResponse response = run(new MockHttpServletRequest("GET", "/"), handler);
    assertThat(response.getHeaders(HttpHeaders.CACHE_CONTROL)).containsExactly("no-cache");
  }

  @Test
  void setsTheHeadersAgainOnTheContainersErrorPage() throws Exception {
    MockHttpServletRequest request = new MockHttpServletRequest("GET", "/error");
    request.setDispatcherType(DispatcherType.ERROR);
    request.setAttribute(RequestDispatcher.ERROR_REQUEST_URI, "/api/v1/restaurants");
    MockHttpServletResponse response = new MockHttpServletResponse();
    response.setHeader(HttpHeaders.CACHE_CONTROL, "no-cache");
    filter.doFilter(request, response, ANSWERS);
    assertThat(response.getHeader("X-Content-Type-Options")).isEqualTo("nosniff");
    assertThat(response.getHeaders(HttpHeaders.CACHE_CONTROL)).containsExactly("no-store");
  }

  private MockHttpServletResponse run(MockHttpServletRequest request, FilterChain chain)
      throws Exception {
    MockHttpServletResponse response = new MockHttpServletResponse();
    filter.doFilter(request, response, chain);
    return response;
  }
}
