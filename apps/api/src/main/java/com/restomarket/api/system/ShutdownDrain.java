package com.restomarket.api.system;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.context.ApplicationListener;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.stereotype.Component;

/**
 * On SIGTERM (context close) report readiness as refusing traffic at once, then keep serving for
 * the configured drain delay before the web server's graceful shutdown begins. In-flight requests
 * then get the graceful-shutdown timeout to finish.
 */
@Component
class ShutdownDrain implements ApplicationListener<ContextClosedEvent> {

  private static final Logger log = LoggerFactory.getLogger(ShutdownDrain.class);

  private final AppProperties properties;

  ShutdownDrain(AppProperties properties) {
    this.properties = properties;
  }

  @Override
  public void onApplicationEvent(ContextClosedEvent event) {
    AvailabilityChangeEvent.publish(event.getApplicationContext(), ReadinessState.REFUSING_TRAFFIC);
    long delayMillis = properties.shutdown().drainDelay().toMillis();
    log.info(
        "shutdown requested: readiness is now REFUSING_TRAFFIC, draining for {} ms", delayMillis);
    if (delayMillis <= 0) {
      return;
    }
    try {
      Thread.sleep(delayMillis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
