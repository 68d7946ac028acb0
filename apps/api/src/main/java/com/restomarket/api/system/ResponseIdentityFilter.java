package com.restomarket.api.system;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.UUID;
import java.util.regex.Pattern;
import org.slf4j.MDC;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Stamps every response with the release that served it ({@code X-App-Version}, which the deploy
 * engine uses to prove a switch) and a request id ({@code X-Request-Id}, taken from the caller when
 * well-formed), and puts the request id in the logging context.
 */
final class ResponseIdentityFilter extends OncePerRequestFilter {

  static final String VERSION_HEADER = "X-App-Version";
  static final String REQUEST_ID_HEADER = "X-Request-Id";
  static final String MDC_KEY = "requestId";
  private static final Pattern SAFE_REQUEST_ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  private final String version;

  ResponseIdentityFilter(String version) {
    this.version = version;
  }

  @Override
  protected void doFilterInternal(
      HttpServletRequest request, HttpServletResponse response, FilterChain chain)
      throws ServletException, IOException {
    String requestId = request.getHeader(REQUEST_ID_HEADER);
    if (requestId == null || !SAFE_REQUEST_ID.matcher(requestId).matches()) {
      requestId = UUID.randomUUID().toString();
    }
    response.setHeader(VERSION_HEADER, version);
    response.setHeader(REQUEST_ID_HEADER, requestId);
    MDC.put(MDC_KEY, requestId);
    try {
      chain.doFilter(request, response);
    } finally {
      MDC.remove(MDC_KEY);
    }
  }
}
