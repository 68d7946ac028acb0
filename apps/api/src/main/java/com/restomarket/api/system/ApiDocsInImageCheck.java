package com.restomarket.api.system;

import org.springframework.aot.AotDetector;
import org.springframework.boot.EnvironmentPostProcessor;
import org.springframework.boot.SpringApplication;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.Environment;

/**
 * Refuses SWAGGER_ENABLED=true where it cannot work, before anything connects. The image runs the
 * bean definitions Spring's AOT processing generated when the jar was built, with SWAGGER_ENABLED
 * false, so the OpenAPI document and Swagger UI are not in it; ignoring the setting would answer
 * 404 to someone who asked for them. The dev stack ({@code make up}) serves both.
 */
final class ApiDocsInImageCheck implements EnvironmentPostProcessor {

  static final String SWAGGER_ENABLED = "springdoc.api-docs.enabled";

  @Override
  public void postProcessEnvironment(
      ConfigurableEnvironment environment, SpringApplication application) {
    check(AotDetector.useGeneratedArtifacts(), environment);
  }

  static void check(boolean generatedBeanDefinitions, Environment environment) {
    if (generatedBeanDefinitions
        && environment.getProperty(SWAGGER_ENABLED, Boolean.class, false)) {
      throw new IllegalStateException(
          "SWAGGER_ENABLED=true, but this image was built without the OpenAPI document: unset it"
              + " (the dev stack, make up, serves the document and Swagger UI)");
    }
  }
}
