package com.restomarket.api.system;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.restomarket.api.RestomarketApiApplicationAccess;
import com.restomarket.api.support.Http;
import com.restomarket.api.support.TestServices;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/** Start-up configuration: fail fast naming what is missing, and read secrets from files. */
@ExtendWith(OutputCaptureExtension.class)
class ConfigurationIT {

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
  void failsToStartNamingTheMissingWriteToken() {
    String[] args = without(TestServices.arguments(), "--API_WRITE_TOKEN=", "--API_WRITE_TOKEN=");
    assertThatThrownBy(() -> RestomarketApiApplicationAccess.start(with(args, "--server.port=0")))
        .hasStackTraceContaining(
            "is missing: set API_WRITE_TOKEN (or the file /run/secrets/API_WRITE_TOKEN)");
  }

  @Test
  void refusesAShortWriteTokenWithoutPrintingIt(CapturedOutput output) {
    String shortToken = "fifteen-chars-x";
    String[] args =
        without(TestServices.arguments(), "--API_WRITE_TOKEN=", "--API_WRITE_TOKEN=" + shortToken);
    Throwable failure =
        catchThrowable(() -> RestomarketApiApplicationAccess.start(with(args, "--server.port=0")));
    assertThat(failure).hasStackTraceContaining("API_WRITE_TOKEN needs at least 16 characters");
    StringWriter trace = new StringWriter();
    failure.printStackTrace(new PrintWriter(trace));
    assertThat(trace.toString()).doesNotContain(shortToken);
    assertThat(output.getAll()).contains("API_WRITE_TOKEN").doesNotContain(shortToken);
  }

  @Test
  void readsSecretsFromFilesInTheSecretsDirectory(@TempDir Path secrets) throws Exception {
    Files.writeString(secrets.resolve("DATABASE_PASSWORD"), TestServices.databasePassword());
    Files.writeString(secrets.resolve("REDIS_PASSWORD"), TestServices.redisPassword());
    String fileToken = "token-from-a-secret-file";
    Files.writeString(secrets.resolve("API_WRITE_TOKEN"), fileToken + "\n");
    String[] args =
        Stream.of(TestServices.arguments())
            .filter(
                a ->
                    !a.startsWith("--DATABASE_PASSWORD=")
                        && !a.startsWith("--REDIS_PASSWORD=")
                        && !a.startsWith("--API_WRITE_TOKEN="))
            .toArray(String[]::new);
    try (ConfigurableApplicationContext context =
        RestomarketApiApplicationAccess.start(
            with(args, "--server.port=0", "--SECRETS_DIR=" + secrets.toAbsolutePath()))) {
      int port = ((WebServerApplicationContext) context).getWebServer().getPort();
      Http http = new Http(port);
      // The first connections can outlast one health check on a busy machine; 200 proves both
      // passwords were read.
      awaitHealthy(http);
      assertThat(
              http.postJson(
                      "/api/v1/restaurants",
                      "{\"name\":\"Secret\",\"cuisine\":\"Thai\",\"city\":\"Rome\"}",
                      fileToken)
                  .statusCode())
          .isEqualTo(201);
    }
  }

  @Test
  void maskesPasswordsWhenSettingsArePrinted() {
    AppProperties.Database db =
        new AppProperties.Database("jdbc:postgresql://x/y", "u", "s3cr3t", 5, 2);
    AppProperties.Redis redis =
        new AppProperties.Redis(
            "h",
            6379,
            "r3d1s",
            true,
            "",
            java.time.Duration.ofSeconds(1),
            java.time.Duration.ofMinutes(1));
    AppProperties.Api api = new AppProperties.Api("0123456789abcdef-write");
    assertThat(db.toString()).doesNotContain("s3cr3t");
    assertThat(redis.toString()).doesNotContain("r3d1s");
    assertThat(api.toString()).doesNotContain("0123456789abcdef-write");
  }

  private static void awaitHealthy(Http http) throws InterruptedException {
    long deadline = System.nanoTime() + java.time.Duration.ofSeconds(15).toNanos();
    int status = http.get("/health").statusCode();
    while (status != 200 && System.nanoTime() < deadline) {
      Thread.sleep(200);
      status = http.get("/health").statusCode();
    }
    assertThat(status).as("/health with passwords from files").isEqualTo(200);
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
