package com.restomarket.api.system;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.util.Set;
import org.springframework.http.HttpHeaders;
import org.springframework.http.server.PathContainer;
import org.springframework.web.servlet.HandlerInterceptor;
import org.springframework.web.util.pattern.PathPattern;
import org.springframework.web.util.pattern.PathPatternParser;

/**
 * Changes to the API's data need {@code Authorization: Bearer <API_WRITE_TOKEN>}; reads stay
 * public. Runs before the handler reads the body, so a caller without the token is turned away
 * before anything it sent is parsed. The API documentation asks {@link #requiresToken} too, so it
 * cannot drift from what is enforced.
 */
final class WriteTokenInterceptor implements HandlerInterceptor {

  static final String PROTECTED_PATHS = "/api/**";

  private static final PathPattern PROTECTED =
      PathPatternParser.defaultInstance.parse(PROTECTED_PATHS);
  private static final Set<String> READS = Set.of("GET", "HEAD", "OPTIONS");

  private final WriteToken writeToken;

  WriteTokenInterceptor(WriteToken writeToken) {
    this.writeToken = writeToken;
  }

  /** Whether a request with this method to this path (or path template) needs the token. */
  static boolean requiresToken(String method, String path) {
    return !READS.contains(method) && PROTECTED.matches(PathContainer.parsePath(path));
  }

  @Override
  public boolean preHandle(
      HttpServletRequest request, HttpServletResponse response, Object handler) {
    if (READS.contains(request.getMethod())) {
      return true;
    }
    return switch (writeToken.check(request.getHeader(HttpHeaders.AUTHORIZATION))) {
      case NONE -> throw WriteTokenRejectedException.missing();
      case WRONG -> throw WriteTokenRejectedException.wrong();
      case VALID -> true;
    };
  }
}
