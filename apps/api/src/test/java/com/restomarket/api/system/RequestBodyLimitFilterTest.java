package com.restomarket.api.system;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jakarta.servlet.FilterChain;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.mock.web.MockHttpServletRequest;
import org.springframework.mock.web.MockHttpServletResponse;
import org.springframework.web.servlet.HandlerExceptionResolver;
import org.springframework.web.servlet.ModelAndView;

/** The body limit on its own, without a server. */
class RequestBodyLimitFilterTest {

  private final List<Exception> resolved = new ArrayList<>();
  private final HandlerExceptionResolver errors =
      (request, response, handler, ex) -> {
        resolved.add(ex);
        return new ModelAndView();
      };
  private final RequestBodyLimitFilter filter = new RequestBodyLimitFilter(errors);

  @Test
  void refusesADeclaredLengthOverTheLimitWithoutReadingTheBody() throws Exception {
    MockHttpServletRequest request = new MockHttpServletRequest("POST", "/api/v1/restaurants");
    request.setContent(new byte[RequestBodyLimitFilter.MAX_BYTES + 1]);
    FilterChain chain =
        (req, res) -> {
          throw new AssertionError("the request went on");
        };
    filter.doFilter(request, new MockHttpServletResponse(), chain);
    assertThat(resolved).singleElement().isInstanceOf(RequestBodyTooLargeException.class);
  }

  @Test
  void stopsReadingABodyOfUnknownLengthOneBytePastTheLimit() {
    MockHttpServletRequest request = chunked(RequestBodyLimitFilter.MAX_BYTES * 4);
    int[] read = {0};
    FilterChain chain =
        (req, res) -> {
          var in = req.getInputStream();
          byte[] buffer = new byte[RequestBodyLimitFilter.MAX_BYTES * 2];
          int n;
          while ((n = in.read(buffer, 0, buffer.length)) >= 0) {
            read[0] += n;
          }
        };
    assertThatThrownBy(() -> filter.doFilter(request, new MockHttpServletResponse(), chain))
        .isInstanceOf(RequestBodyTooLargeException.class);
    assertThat(read[0]).isLessThanOrEqualTo(RequestBodyLimitFilter.MAX_BYTES);
  }

  @Test
  void passesABodyOfExactlyTheLimit() throws Exception {
    MockHttpServletRequest request = chunked(RequestBodyLimitFilter.MAX_BYTES);
    int[] read = {0};
    FilterChain chain =
        (req, res) -> {
          var in = req.getInputStream();
          while (in.read() >= 0) {
            read[0]++;
          }
        };
    filter.doFilter(request, new MockHttpServletResponse(), chain);
    assertThat(read[0]).isEqualTo(RequestBodyLimitFilter.MAX_BYTES);
    assertThat(resolved).isEmpty();
  }

  /** A request whose body has no declared length, like a chunked one. */
  private static MockHttpServletRequest chunked(int bytes) {
    MockHttpServletRequest request =
        new MockHttpServletRequest("POST", "/api/v1/restaurants") {
          @Override
          public long getContentLengthLong() {
            return -1;
          }
        };
    request.setContent(new byte[bytes]);
    return request;
  }
}
