package com.restomarket.api.system;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import org.springframework.http.HttpHeaders;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * The headers a browser or a cache needs to treat any answer of this service safely, set before
 * anything else runs so that every response carries them, refusals and errors included:
 *
 * <ul>
 *   <li>{@code X-Content-Type-Options: nosniff}: a browser renders a body only as the type it is
 *       declared as, never as HTML it guessed from the content.
 *   <li>{@code Cache-Control: no-store}: no browser or intermediary keeps an answer unless its
 *       handler chose a policy of its own, which then replaces this one (Spring MVC sets, it does
 *       not add). A handler's policy comes with its answer ({@code ResponseEntity}), so an error it
 *       throws leaves as {@code no-store}; the container's error page gets it set again.
 *   <li>{@code Strict-Transport-Security} only when the request came over TLS: directly, or through
 *       the load balancer that terminates TLS and says so in {@code X-Forwarded-Proto}, which
 *       Tomcat believes from private-network proxies only ({@code server.forward-headers-strategy:
 *       native}). Never over plain HTTP, where RFC 6797 forbids it.
 * </ul>
 */
final class SecurityHeadersFilter extends OncePerRequestFilter {

  static final String NOSNIFF = "nosniff";
  static final String NO_STORE = "no-store";

  /** A year, and the subdomains: the API's hosts serve only HTTPS through the load balancer. */
  static final String HSTS = "max-age=31536000; includeSubDomains";

  @Override
  protected void doFilterInternal(
      HttpServletRequest request, HttpServletResponse response, FilterChain chain)
      throws ServletException, IOException {
    response.setHeader("X-Content-Type-Options", NOSNIFF);
    response.setHeader(HttpHeaders.CACHE_CONTROL, NO_STORE);
    if (request.isSecure()) {
      response.setHeader("Strict-Transport-Security", HSTS);
    }
    chain.doFilter(request, response);
  }

  /** The container's error page is an error too: it gets the headers, and no-store, again. */
  @Override
  protected boolean shouldNotFilterErrorDispatch() {
    return false;
  }
}
