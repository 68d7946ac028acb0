package com.restomarket.api.system;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import org.springframework.web.filter.OncePerRequestFilter;
import org.springframework.web.servlet.HandlerExceptionResolver;

/**
 * Refuses request bodies over {@link #MAX_BYTES} with 413 problem details. A declared {@code
 * Content-Length} over the limit is refused before anything is read; a body without one (chunked)
 * is read through a stream that stops at the limit, so no request makes the service read an
 * unbounded body.
 */
final class RequestBodyLimitFilter extends OncePerRequestFilter {

  /** 16 KiB: a restaurant is three short strings. */
  static final int MAX_BYTES = 16 * 1024;

  private final HandlerExceptionResolver errors;

  /** {@code errors} renders the refusal the way every other error is rendered. */
  RequestBodyLimitFilter(HandlerExceptionResolver errors) {
    this.errors = errors;
  }

  @Override
  protected void doFilterInternal(
      HttpServletRequest request, HttpServletResponse response, FilterChain chain)
      throws ServletException, IOException {
    if (request.getContentLengthLong() > MAX_BYTES) {
      if (errors.resolveException(request, response, null, new RequestBodyTooLargeException())
          == null) {
        response.sendError(HttpServletResponse.SC_REQUEST_ENTITY_TOO_LARGE);
      }
      return;
    }
    chain.doFilter(new LimitedRequest(request), response);
  }

  private static final class LimitedRequest extends HttpServletRequestWrapper {

    private LimitedRequest(HttpServletRequest request) {
      super(request);
    }

    @Override
    public ServletInputStream getInputStream() throws IOException {
      return new LimitedInputStream(super.getInputStream());
    }
  }

  /**
   * Reads at most one byte past the limit, then throws {@link RequestBodyTooLargeException}, which
   * is not an {@link IOException} so body parsers pass it on instead of reporting a bad body.
   */
  private static final class LimitedInputStream extends ServletInputStream {

    private final ServletInputStream in;
    private long read;

    private LimitedInputStream(ServletInputStream in) {
      this.in = in;
    }

    @Override
    public int read() throws IOException {
      int b = in.read();
      if (b >= 0) {
        count(1);
      }
      return b;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
      int allowed = (int) Math.min(length, MAX_BYTES + 1 - read);
      int n = in.read(buffer, offset, Math.max(allowed, 1));
      if (n > 0) {
        count(n);
      }
      return n;
    }

    private void count(int n) {
      read += n;
      if (read > MAX_BYTES) {
        throw new RequestBodyTooLargeException();
      }
    }

    @Override
    public boolean isFinished() {
      return in.isFinished();
    }

    @Override
    public boolean isReady() {
      return in.isReady();
    }

    @Override
    public void setReadListener(ReadListener listener) {
      in.setReadListener(listener);
    }

    @Override
    public void close() throws IOException {
      in.close();
    }
  }
}
