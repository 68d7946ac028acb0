package com.restomarket.api.system;

import java.util.List;
import java.util.Map;
import org.apache.tomcat.util.http.InvalidParameterException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.http.converter.HttpMessageNotReadableException;
import org.springframework.validation.FieldError;
import org.springframework.web.bind.MethodArgumentNotValidException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.context.request.WebRequest;
import org.springframework.web.method.annotation.HandlerMethodValidationException;
import org.springframework.web.servlet.mvc.method.annotation.ResponseEntityExceptionHandler;

/**
 * Every error leaves as RFC 9457 problem details. Validation problems name each offending field in
 * {@code errors}; unexpected failures are logged with the request id and answered without a stack
 * trace or internal detail.
 */
@RestControllerAdvice
class ApiExceptionHandler extends ResponseEntityExceptionHandler {

  private static final Logger log = LoggerFactory.getLogger(ApiExceptionHandler.class);

  /** One invalid input: where it was and what is wrong with it. */
  record FieldProblem(String field, String message) {}

  @Override
  protected @Nullable ResponseEntity<Object> handleMethodArgumentNotValid(
      MethodArgumentNotValidException ex,
      HttpHeaders headers,
      HttpStatusCode status,
      WebRequest request) {
    List<FieldProblem> problems =
        ex.getBindingResult().getFieldErrors().stream()
            .map(ApiExceptionHandler::toProblem)
            .toList();
    return ResponseEntity.status(status).body(validationProblem(problems));
  }

  @Override
  protected @Nullable ResponseEntity<Object> handleHandlerMethodValidationException(
      HandlerMethodValidationException ex,
      HttpHeaders headers,
      HttpStatusCode status,
      WebRequest request) {
    List<FieldProblem> problems =
        ex.getParameterValidationResults().stream()
            .flatMap(
                result ->
                    result.getResolvableErrors().stream()
                        .map(
                            error ->
                                new FieldProblem(
                                    String.valueOf(result.getMethodParameter().getParameterName()),
                                    String.valueOf(error.getDefaultMessage()))))
            .toList();
    return ResponseEntity.status(status).body(validationProblem(problems));
  }

  /**
   * The body limit can trip inside a JSON string value, where the parser wraps what the stream
   * threw into an unreadable-message error: that is still a body over the limit, so 413.
   */
  @Override
  protected @Nullable ResponseEntity<Object> handleHttpMessageNotReadable(
      HttpMessageNotReadableException ex,
      HttpHeaders headers,
      HttpStatusCode status,
      WebRequest request) {
    for (Throwable cause = ex.getCause(); cause != null; cause = cause.getCause()) {
      if (cause instanceof RequestBodyTooLargeException tooLarge) {
        return handleErrorResponseException(
            tooLarge, tooLarge.getHeaders(), tooLarge.getStatusCode(), request);
      }
    }
    return super.handleHttpMessageNotReadable(ex, headers, status, request);
  }

  @ExceptionHandler(NotFoundException.class)
  ProblemDetail notFound(NotFoundException ex) {
    ProblemDetail problem = ProblemDetail.forStatusAndDetail(HttpStatus.NOT_FOUND, ex.getMessage());
    problem.setTitle("Not Found");
    return problem;
  }

  /**
   * A query string Tomcat cannot decode (a lone {@code %}, a bad escape) is the client's mistake:
   * Tomcat throws when the parameters are first read, after the request reached the API.
   */
  @ExceptionHandler(InvalidParameterException.class)
  ProblemDetail undecodableQuery(InvalidParameterException ex) {
    ProblemDetail problem =
        ProblemDetail.forStatusAndDetail(
            HttpStatus.BAD_REQUEST, "Invalid request: the query string could not be decoded.");
    problem.setTitle("Bad Request");
    return problem;
  }

  @ExceptionHandler(Exception.class)
  ProblemDetail unexpected(Exception ex) {
    log.error("unhandled error", ex);
    ProblemDetail problem =
        ProblemDetail.forStatusAndDetail(
            HttpStatus.INTERNAL_SERVER_ERROR,
            "The request could not be completed; quote the X-Request-Id header when reporting it.");
    problem.setTitle("Internal Server Error");
    return problem;
  }

  private static FieldProblem toProblem(FieldError error) {
    return new FieldProblem(error.getField(), String.valueOf(error.getDefaultMessage()));
  }

  private static ProblemDetail validationProblem(List<FieldProblem> problems) {
    String detail =
        problems.stream()
            .map(p -> p.field() + " " + p.message())
            .reduce((a, b) -> a + "; " + b)
            .map(s -> "Invalid request: " + s)
            .orElse("Invalid request");
    ProblemDetail problem = ProblemDetail.forStatusAndDetail(HttpStatus.BAD_REQUEST, detail);
    problem.setTitle("Bad Request");
    problem.setProperties(Map.of("errors", problems));
    return problem;
  }
}
