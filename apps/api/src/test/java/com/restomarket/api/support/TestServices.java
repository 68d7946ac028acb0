package com.restomarket.api.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.springframework.test.context.DynamicPropertyRegistry;

/**
 * Connection settings of the real PostgreSQL and Redis that {@code
 * infrastructure/tools/local-services.sh} runs for the tests. Tests use the {@code
 * restomarket_test} database so a developer's local data is never touched.
 */
public final class TestServices {

  /** The API_WRITE_TOKEN every test application runs with. */
  public static final String WRITE_TOKEN = "test-write-token-0123456789";

  private static final String ENV_FILE = ".run/local-services.env";
  private static final Map<String, String> SETTINGS = load();

  private TestServices() {}

  public static String databaseUrl() {
    return SETTINGS.get("DATABASE_URL") + "_test";
  }

  public static String databaseUser() {
    return SETTINGS.get("DATABASE_USERNAME");
  }

  public static String databasePassword() {
    return SETTINGS.get("DATABASE_PASSWORD");
  }

  public static String redisHost() {
    return SETTINGS.get("REDIS_HOST");
  }

  public static int redisPort() {
    return Integer.parseInt(SETTINGS.get("REDIS_PORT"));
  }

  public static String redisPassword() {
    return SETTINGS.get("REDIS_PASSWORD");
  }

  /**
   * Points a Spring test context at the real services, with the test write token and the management
   * server on a free port (several test contexts run at once).
   */
  public static void register(DynamicPropertyRegistry registry) {
    registry.add("restomarket.database.url", TestServices::databaseUrl);
    registry.add("restomarket.database.username", TestServices::databaseUser);
    registry.add("restomarket.database.password", TestServices::databasePassword);
    registry.add("restomarket.redis.host", TestServices::redisHost);
    registry.add("restomarket.redis.port", TestServices::redisPort);
    registry.add("restomarket.redis.password", TestServices::redisPassword);
    registry.add("restomarket.api.write-token", () -> WRITE_TOKEN);
    registry.add("management.server.port", () -> 0);
  }

  /** The same settings as command-line arguments for a hand-started application. */
  public static String[] arguments() {
    return new String[] {
      "--DATABASE_URL=" + databaseUrl(),
      "--DATABASE_USERNAME=" + databaseUser(),
      "--DATABASE_PASSWORD=" + databasePassword(),
      "--REDIS_HOST=" + redisHost(),
      "--REDIS_PORT=" + redisPort(),
      "--REDIS_PASSWORD=" + redisPassword(),
      "--API_WRITE_TOKEN=" + WRITE_TOKEN,
      "--MANAGEMENT_PORT=0",
    };
  }

  private static Map<String, String> load() {
    Path file = locate();
    Map<String, String> settings = new HashMap<>();
    try {
      for (String line : Files.readAllLines(file)) {
        int eq = line.indexOf('=');
        if (eq > 0) {
          settings.put(line.substring(0, eq), line.substring(eq + 1));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return settings;
  }

  private static Path locate() {
    for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      Path candidate = dir.resolve(ENV_FILE);
      if (Files.isRegularFile(candidate)) {
        return candidate;
      }
    }
    throw new IllegalStateException(
        "No "
            + ENV_FILE
            + " found: the tests need the real PostgreSQL and Redis. Run `make test`, or start"
            + " them with `infrastructure/tools/local-services.sh start`.");
  }
}
