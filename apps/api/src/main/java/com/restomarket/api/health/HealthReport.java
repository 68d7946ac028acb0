package com.restomarket.api.health;

import io.swagger.v3.oas.annotations.media.Schema;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The body of GET /health. Everyone sees the status, uptime, timestamp, release and each service's
 * state; the diagnostics ({@code checks}, {@code memory}) describe the process from inside and go
 * only to an operator who presents the write token.
 */
public record HealthReport(
    @Schema(allowableValues = {HealthReport.HEALTHY, HealthReport.UNHEALTHY}) String status,
    @Schema(description = "Seconds since start", example = "3600") long uptime,
    @Schema(example = "2026-01-15T09:30:00.123Z") String timestamp,
    @Schema(example = "1.4.0") String version,
    Map<String, String> services,
    @Schema(description = "Each probe's time and failure reason; only with the write token")
        @Nullable Map<String, DependencyCheck> checks,
    @Schema(description = "JVM memory; only with the write token") @Nullable Memory memory) {

  static final String HEALTHY = "healthy";
  static final String UNHEALTHY = "unhealthy";

  /** JVM memory in MiB. */
  public record Memory(long heapUsedMb, long heapCommittedMb, long heapMaxMb, long nonHeapUsedMb) {}

  boolean isHealthy() {
    return HEALTHY.equals(status);
  }

  /** The same report without the diagnostics, for a caller who did not present the write token. */
  HealthReport withoutDiagnostics() {
    return new HealthReport(status, uptime, timestamp, version, services, null, null);
  }
}
