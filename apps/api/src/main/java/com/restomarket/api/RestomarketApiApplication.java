package com.restomarket.api;

import java.util.Arrays;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;

/**
 * Entry point. {@code java -jar api.jar} serves HTTP; {@code java -jar api.jar migrate} applies the
 * Flyway migrations and exits, which is how the deploy engine migrates once before a release
 * switches traffic.
 */
@SpringBootApplication
@ConfigurationPropertiesScan
public class RestomarketApiApplication {

  static final String MIGRATE_COMMAND = "migrate";

  public static void main(String[] args) {
    builder(args).run(args);
  }

  static SpringApplicationBuilder builder(String... args) {
    SpringApplicationBuilder builder =
        new SpringApplicationBuilder(RestomarketApiApplication.class);
    if (Arrays.asList(args).contains(MIGRATE_COMMAND)) {
      builder
          .web(WebApplicationType.NONE)
          .properties("spring.flyway.enabled=true", "spring.main.keep-alive=false");
      builder.listeners(new MigrationOnlyExit());
    }
    return builder;
  }
}
