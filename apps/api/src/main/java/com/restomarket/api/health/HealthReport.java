package com.restomarket.api.health;

import java.util.Map;

/** The body of GET /health. */
public record HealthReport(
    String status,
    long uptime,
    String timestamp,
    String version,
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
