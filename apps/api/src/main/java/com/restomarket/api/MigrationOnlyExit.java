package com.restomarket.api;

import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.ApplicationListener;

/** Closes the context once migrations ran, so {@code migrate} exits with status 0. */
final class MigrationOnlyExit implements ApplicationListener<ApplicationReadyEvent> {

  @Override
  public void onApplicationEvent(ApplicationReadyEvent event) {
    event.getApplicationContext().close();
  }
}
