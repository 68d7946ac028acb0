package com.restomarket.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.restomarket.api.support.TestServices;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.datasource.DriverManagerDataSource;

/** {@code migrate} applies the schema and returns, without serving HTTP. */
class MigrateCommandIT {

  @Test
  void migrateAppliesFlywayMigrationsAndExits() {
    String[] args =
        Stream.concat(Arrays.stream(TestServices.arguments()), Stream.of("migrate"))
            .toArray(String[]::new);
    ConfigurableApplicationContext context = RestomarketApiApplicationAccess.start(args);
    assertThat(context.isActive()).as("context closed after migrating").isFalse();

    JdbcTemplate jdbc =
        new JdbcTemplate(
            new DriverManagerDataSource(
                TestServices.databaseUrl(),
                TestServices.databaseUser(),
                TestServices.databasePassword()));
    Integer applied =
        jdbc.queryForObject(
            "SELECT count(*) FROM flyway_schema_history WHERE success AND version = '1'",
            Integer.class);
    assertThat(applied).isEqualTo(1);
  }

  /**
   * A database that answers only seconds after migrate starts (restarting, or slow to accept the
   * first connection) is waited for: Flyway retries instead of failing the deploy.
   */
  @Test
  void migrateWaitsForADatabaseThatAnswersLate() throws Exception {
    URI database = URI.create(TestServices.databaseUrl().substring("jdbc:".length()));
    int port;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = probe.getLocalPort();
    }
    String lateUrl =
        "jdbc:postgresql://127.0.0.1:"
            + port
            + database.getRawPath()
            + (database.getRawQuery() == null ? "" : "?" + database.getRawQuery());
    String[] args =
        Stream.concat(
                Arrays.stream(TestServices.arguments())
                    .map(a -> a.startsWith("--DATABASE_URL=") ? "--DATABASE_URL=" + lateUrl : a),
                Stream.of("migrate"))
            .toArray(String[]::new);

    CompletableFuture<ConfigurableApplicationContext> migrate =
        CompletableFuture.supplyAsync(() -> RestomarketApiApplicationAccess.start(args));
    Thread.sleep(Duration.ofSeconds(3));
    assertThat(migrate).as("still waiting while nothing listens").isNotDone();
    try (ServerSocket listener = new ServerSocket(port, 50, InetAddress.getLoopbackAddress())) {
      Thread.ofVirtual().start(() -> forward(listener, database.getHost(), database.getPort()));
      ConfigurableApplicationContext context = migrate.get(90, TimeUnit.SECONDS);
      assertThat(context.isActive()).as("context closed after migrating").isFalse();
    }
  }

  /** Accepts connections on LISTENER and pipes each to HOST:PORT, both ways, until closed. */
  private static void forward(ServerSocket listener, String host, int port) {
    while (!listener.isClosed()) {
      try {
        Socket client = listener.accept();
        Socket server = new Socket(host, port);
        Thread.ofVirtual().start(() -> pipe(client, server));
        Thread.ofVirtual().start(() -> pipe(server, client));
      } catch (IOException closed) {
        return;
      }
    }
  }

  private static void pipe(Socket from, Socket to) {
    try (InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream()) {
      in.transferTo(out);
    } catch (IOException ignored) {
      // the other side closed
    } finally {
      try {
        from.close();
        to.close();
      } catch (IOException ignored) {
        // already closed
      }
    }
  }
}
