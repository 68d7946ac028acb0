package com.restomarket.api.system;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import org.jspecify.annotations.Nullable;

/**
 * The API_WRITE_TOKEN as a caller presents it, {@code Authorization: Bearer <token>}: it lets a
 * caller change data ({@link WriteTokenInterceptor}) and see the service's internals on GET
 * /health. One secret for the operator, checked one way, in constant time.
 */
public final class WriteToken {

  /** What an {@code Authorization} header holds, as far as the write token goes. */
  enum Presented {
    NONE,
    WRONG,
    VALID
  }

  private static final String BEARER = "Bearer ";

  private final byte[] expected;

  WriteToken(String writeToken) {
    this.expected = writeToken.getBytes(StandardCharsets.UTF_8);
  }

  /** Whether {@code authorization} (the header's value, or null) carries the write token. */
  public boolean isPresentedIn(@Nullable String authorization) {
    return check(authorization) == Presented.VALID;
  }

  Presented check(@Nullable String authorization) {
    String presented = bearerToken(authorization);
    if (presented == null) {
      return Presented.NONE;
    }
    // Constant time in the presented token's length, whatever it shares with the expected one.
    return MessageDigest.isEqual(presented.getBytes(StandardCharsets.UTF_8), expected)
        ? Presented.VALID
        : Presented.WRONG;
  }

  private static @Nullable String bearerToken(@Nullable String authorization) {
    if (authorization == null
        || !authorization.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
      return null;
    }
    String token = authorization.substring(BEARER.length()).strip();
    return token.isEmpty() ? null : token;
  }

  @Override
  public String toString() {
    return "WriteToken[***]";
  }
}
