package com.restomarket.api.system;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.restomarket.api.RestomarketApiApplicationAccess;
import com.restomarket.api.support.Http;
import com.restomarket.api.support.TestServices;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * Closing the context is what the JVM's SIGTERM hook does. An in-flight request must complete,
 * readiness must turn to refusing traffic at once, and new connections must be refused after.
 */
class GracefulShutdownIT {

  static final CountDownLatch SLOW_REQUEST_STARTED = new CountDownLatch(1);

  @TestConfiguration(proxyBeanMethods = false)
  static class SlowEndpoint {
    @Bean
    SlowController slowController() {
      return new SlowController();
    }
  }

  @RestController
  static class SlowController {
    @GetMapping("/test/slow")
    String slow() throws InterruptedException {
      SLOW_REQUEST_STARTED.countDown();
      Thread.sleep(2500);
      return "finished";
    }
  }

  @Test
  void completesInFlightRequestAndRefusesTrafficAfterSigterm() throws Exception {
    ConfigurableApplicationContext context =
        RestomarketApiApplicationAccess.start(
            SlowEndpoint.class,
            concat(
                TestServices.arguments(),
                "--server.port=0",
                "--SHUTDOWN_DRAIN_DELAY=1500ms",
                "--SHUTDOWN_TIMEOUT=10s"));
    int port = ((WebServerApplicationContext) context).getWebServer().getPort();
    Http http = new Http(port);
    assertThat(http.get("/readyz").statusCode()).isEqualTo(200);

    CompletableFuture<HttpResponse<String>> inFlight =
        CompletableFuture.supplyAsync(() -> http.get("/test/slow"));
    assertThat(SLOW_REQUEST_STARTED.await(10, TimeUnit.SECONDS)).isTrue();

    CompletableFuture<Void> shutdown = CompletableFuture.runAsync(context::close);
    Thread.sleep(500);
    assertThat(http.get("/readyz").statusCode())
        .as("readiness during the drain window")
        .isEqualTo(503);

    HttpResponse<String> completed = inFlight.get(15, TimeUnit.SECONDS);
    assertThat(completed.statusCode()).isEqualTo(200);
    assertThat(completed.body()).isEqualTo("finished");

    shutdown.get(20, TimeUnit.SECONDS);
    assertThatThrownBy(() -> http.get("/health")).hasMessageContaining("failed");
  }

  private static String[] concat(String[] first, String... rest) {
    String[] all = new String[first.length + rest.length];
    System.arraycopy(first, 0, all, 0, first.length);
    System.arraycopy(rest, 0, all, first.length, rest.length);
    return all;
  }
}
