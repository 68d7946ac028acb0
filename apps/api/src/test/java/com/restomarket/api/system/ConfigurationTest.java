package com.restomarket.api.system;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.restomarket.api.RestomarketApiApplicationAccess;
import com.restomarket.api.support.Http;
import com.restomarket.api.support.TestServices;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/** Start-up configuration: fail fast naming what is missing, and read secrets from files. */
class ConfigurationTest {

  @Test
  void failsToStartNamingTheMissingDatabaseUrl() {
    String[] args = without(TestServices.arguments(), "--DATABASE_URL=", "--DATABASE_URL=");
    assertThatThrownBy(() -> RestomarketApiApplicationAccess.start(with(args, "--server.port=0")))
        .hasStackTraceContaining("DATABASE_URL");
  }

  @Test
  void failsToStartNamingTheMissingRedisHost() {
    String[] args = without(TestServices.arguments(), "--REDIS_HOST=", "--REDIS_HOST=");
    assertThatThrownBy(() -> RestomarketApiApplicationAccess.start(with(args, "--server.port=0")))
        .hasStackTraceContaining("REDIS_HOST");
  }

  @Test
  void readsSecretsFromFilesInTheSecretsDirectory(@TempDir Path secrets) throws Exception {
    Files.writeString(secrets.resolve("DATABASE_PASSWORD"), TestServices.databasePassword());
    Files.writeString(secrets.resolve("REDIS_PASSWORD"), TestServices.redisPassword());
    String[] args =
        Stream.of(TestServices.arguments())
            .filter(
                a -> !a.startsWith("--DATABASE_PASSWORD=") && !a.startsWith("--REDIS_PASSWORD="))
            .toArray(String[]::new);
    try (ConfigurableApplicationContext context =
        RestomarketApiApplicationAccess.start(
            with(args, "--server.port=0", "--SECRETS_DIR=" + secrets.toAbsolutePath()))) {
      int port = ((WebServerApplicationContext) context).getWebServer().getPort();
      assertThat(new Http(port).get("/health").statusCode()).isEqualTo(200);
    }
  }

  @Test
  void maskesPasswordsWhenSettingsArePrinted() {
    AppProperties.Database db =
        new AppProperties.Database("jdbc:postgresql://x/y", "u", "s3cr3t", 5);
    AppProperties.Redis redis =
        new AppProperties.Redis(
            "h",
            6379,
            "r3d1s",
            true,
            java.time.Duration.ofSeconds(1),
            java.time.Duration.ofMinutes(1));
    assertThat(db.toString()).doesNotContain("s3cr3t");
    assertThat(redis.toString()).doesNotContain("r3d1s");
  }

  /** Replaces the argument with the given prefix (keeps the rest). */
  private static String[] without(String[] args, String prefix, String replacement) {
    return Arrays.stream(args)
        .map(a -> a.startsWith(prefix) ? replacement : a)
        .toArray(String[]::new);
  }

  private static String[] with(String[] args, String... more) {
    return Stream.concat(Arrays.stream(args), Arrays.stream(more)).toArray(String[]::new);
  }
}
