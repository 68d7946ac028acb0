package com.restomarket.api.system;

import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;
import org.springframework.web.ErrorResponseException;

/** 413: the request body is over {@link RequestBodyLimitFilter#MAX_BYTES}. */
final class RequestBodyTooLargeException extends ErrorResponseException {

  private static final long serialVersionUID = 1L;

  RequestBodyTooLargeException() {
    super(HttpStatus.CONTENT_TOO_LARGE, problem(), null);
  }

  private static ProblemDetail problem() {
    ProblemDetail problem =
        ProblemDetail.forStatusAndDetail(
            HttpStatus.CONTENT_TOO_LARGE,
            "The request body is over the limit of "
                + RequestBodyLimitFilter.MAX_BYTES
                + " bytes.");
    problem.setTitle("Content Too Large");
    return problem;
  }
}
