package com.restomarket.api;

import org.springframework.context.ConfigurableApplicationContext;

/** Starts the real application the way {@code main} does, for tests that own its lifecycle. */
public final class RestomarketApiApplicationAccess {

  private RestomarketApiApplicationAccess() {}

  public static ConfigurableApplicationContext start(Class<?> extraConfig, String... args) {
    return RestomarketApiApplication.builder(args).sources(extraConfig).run(args);
  }

  public static ConfigurableApplicationContext start(String... args) {
    return RestomarketApiApplication.builder(args).run(args);
  }
}
