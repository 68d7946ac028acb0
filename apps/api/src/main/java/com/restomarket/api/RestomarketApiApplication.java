package com.restomarket.api;

import java.util.Arrays;
import org.springframework.aot.AotDetector;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;
import org.springframework.core.SpringProperties;

/**
 * Entry point. {@code java -jar api.jar} serves HTTP; {@code java -jar api.jar migrate} applies the
 * Flyway migrations and exits, which is how the deploy engine migrates once before a release
 * switches traffic.
 *
 * <p>The image runs the bean definitions Spring's AOT processing generated for the web service when
 * the jar was built ({@code -Dspring.aot.enabled=true}); {@code migrate} builds a smaller, web-less
 * context, so it evaluates the auto-configuration at run time instead.
 */
@SpringBootApplication(
    // Auto-configuration for what the API does not use, each of which loads classes at every
    // start (Spring Data's web support and the actuator's Jackson 2 mapper alone pull in Jackson 2,
    // about 600 classes): no repositories, paged web arguments, reactive Redis, info endpoint or
    // scheduled tasks here.
    excludeName = {
      "org.springframework.boot.data.autoconfigure.web.DataWebAutoConfiguration",
      "org.springframework.boot.data.autoconfigure.metrics.DataRepositoryMetricsAutoConfiguration",
      "org.springframework.boot.data.redis.autoconfigure.DataRedisReactiveAutoConfiguration",
      "org.springframework.boot.actuate.autoconfigure.endpoint.jackson.Jackson2EndpointAutoConfiguration",
      "org.springframework.boot.autoconfigure.info.ProjectInfoAutoConfiguration",
      "org.springframework.boot.actuate.autoconfigure.info.InfoContributorAutoConfiguration",
      "org.springframework.boot.autoconfigure.task.TaskSchedulingAutoConfiguration",
      "org.springframework.boot.micrometer.observation.autoconfigure.ScheduledTasksObservationAutoConfiguration"
    })
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
      // Not the generated bean definitions, which are the web service's (see above).
      SpringProperties.setProperty(AotDetector.AOT_ENABLED, "false");
      // A migration waits out a database that answers late (restarting, or a new JVM's first TLS
      // connection slower than the pool's 2 s on a busy host): Flyway tries again after 1, 2, 4,
      // then every 5 s, 10 times. Serving start-up keeps failing fast on a bad database.
      builder
          .web(WebApplicationType.NONE)
          .properties(
              "spring.flyway.enabled=true",
              "spring.main.keep-alive=false",
              "spring.flyway.connect-retries=10",
              "spring.flyway.connect-retries-interval=5s");
      builder.listeners(new MigrationOnlyExit());
    }
    return builder;
  }
}
