package com.restomarket.api.system;

import jakarta.validation.Valid;
import jakarta.validation.constraints.AssertTrue;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotNull;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.validation.annotation.Validated;

/**
 * Every setting the service needs, bound from environment variables or from files in the secrets
 * directory (a config tree), and validated at start-up so a missing value stops the service with a
 * message that names the variable to set.
 */
@Validated
@ConfigurationProperties("restomarket")
public record AppProperties(
    @Valid @NotNull Database database,
    @Valid @NotNull Redis redis,
    @Valid @NotNull Health health,
    @Valid @NotNull Shutdown shutdown,
    @Valid @NotNull Api api) {

  /** PostgreSQL connection. */
  public record Database(
      @NotBlank(
              message =
                  "is missing: set DATABASE_URL (e.g. jdbc:postgresql://host:5432/restomarket)")
          String url,
      @NotBlank(message = "is missing: set DATABASE_USERNAME") String username,
      @NotBlank(
              message =
                  "is missing: set DATABASE_PASSWORD (or the file /run/secrets/DATABASE_PASSWORD)")
          String password,
      @Min(1) @Max(100) int maxPoolSize,
      @Min(value = 0, message = "must be 0 or more: set DATABASE_POOL_MIN_IDLE")
          @Max(value = 100, message = "must be 100 at most: set DATABASE_POOL_MIN_IDLE")
          int minIdle) {

    @Override
    public String toString() {
      return "Database[url=" + url + ", username=" + username + ", password=***]";
    }
  }

  /**
   * Redis connection; the password may be empty for a server without authentication. With {@code
   * ssl} the connection is TLS and the server's certificate and name are verified against the JVM's
   * trusted CAs (managed Valkey on DigitalOcean presents a Let's Encrypt certificate), or only
   * against {@code caCert} (PEM) when it is set, for a cache whose CA is not a public one.
   */
  public record Redis(
      @NotBlank(message = "is missing: set REDIS_HOST") String host,
      @Min(value = 1, message = "must be a TCP port: set REDIS_PORT")
          @Max(value = 65535, message = "must be a TCP port: set REDIS_PORT")
          int port,
      String password,
      boolean ssl,
      String caCert,
      @NotNull Duration timeout,
      @NotNull Duration cacheTtl) {

    @Override
    public String toString() {
      return "Redis[host=" + host + ", port=" + port + ", ssl=" + ssl + ", password=***]";
    }
  }

  /** Dependency checks behind GET /health. */
  public record Health(@NotNull Duration checkTimeout) {}

  /**
   * How long the service keeps answering while it reports "refusing traffic", before the web
   * server's graceful shutdown starts; gives a load balancer time to notice.
   */
  public record Shutdown(@NotNull Duration drainDelay) {}

  /**
   * Who may change data: a caller presenting {@code writeToken} as a bearer token. The length is
   * checked without the value ever appearing in a start-up failure message.
   */
  public record Api(
      @NotBlank(
              message =
                  "is missing: set API_WRITE_TOKEN (or the file /run/secrets/API_WRITE_TOKEN)")
          String writeToken) {

    static final int MIN_WRITE_TOKEN_LENGTH = 16;

    @AssertTrue(message = "is too short: API_WRITE_TOKEN needs at least 16 characters")
    public boolean isWriteTokenLongEnough() {
      return writeToken == null
          || writeToken.isBlank()
          || writeToken.length() >= MIN_WRITE_TOKEN_LENGTH;
    }

    @Override
    public String toString() {
      return "Api[writeToken=***]";
    }
  }
}
