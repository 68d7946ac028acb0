package com.restomarket.api.system;

import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;
import org.springframework.web.ErrorResponseException;

/**
 * 401 for a change without a valid write token, with the {@code WWW-Authenticate} challenge of RFC
 * 6750. The answer says what to send, never anything about the expected token.
 */
final class WriteTokenRejectedException extends ErrorResponseException {

  private static final long serialVersionUID = 1L;
  private static final String REALM = "Bearer realm=\"restomarket\"";

  private WriteTokenRejectedException(String detail, String challenge) {
    super(HttpStatus.UNAUTHORIZED, problem(detail), null);
    getHeaders().set(HttpHeaders.WWW_AUTHENTICATE, challenge);
  }

  static WriteTokenRejectedException missing() {
    return new WriteTokenRejectedException(
        "This request changes data: send the header Authorization: Bearer <write token>.", REALM);
  }

  static WriteTokenRejectedException wrong() {
    return new WriteTokenRejectedException(
        "The bearer token is not the write token.", REALM + ", error=\"invalid_token\"");
  }

  private static ProblemDetail problem(String detail) {
    ProblemDetail problem = ProblemDetail.forStatusAndDetail(HttpStatus.UNAUTHORIZED, detail);
    problem.setTitle("Unauthorized");
    return problem;
  }
}
