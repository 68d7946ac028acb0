package com.restomarket.api.health;

import io.swagger.v3.oas.annotations.media.Schema;
import java.util.Map;

/** The body of GET /health. */
public record HealthReport(
    @Schema(allowableValues = {HealthReport.HEALTHY, HealthReport.UNHEALTHY}) String status,
    @Schema(description = "Seconds since start", example = "3600") long uptime,
    @Schema(example = "2026-01-15T09:30:00.123Z") String timestamp,
    @Schema(example = "1.4.0") String version,
    Map<String, String> services,
    Map<String, DependencyCheck> checks,
    Memory memory) {

  static final String HEALTHY = "healthy";
  static final String UNHEALTHY = "unhealthy";

  /** JVM memory in MiB. */
  public record Memory(long heapUsedMb, long heapCommittedMb, long heapMaxMb, long nonHeapUsedMb) {}

  boolean isHealthy() {
    return HEALTHY.equals(status);
  }
}
