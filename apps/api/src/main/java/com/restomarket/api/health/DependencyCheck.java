package com.restomarket.api.health;

import io.swagger.v3.oas.annotations.media.Schema;

/**
 * Outcome of probing one dependency: {@code connected} or {@code disconnected}, how long the probe
 * took, and on failure a short reason that never contains hosts or credentials.
 */
public record DependencyCheck(
    @Schema(allowableValues = {DependencyCheck.CONNECTED, DependencyCheck.DISCONNECTED})
        String status,
    @Schema(example = "3") long responseTimeMs,
    @Schema(description = "Why it is disconnected", example = "timed out") String error) {

  static final String CONNECTED = "connected";
  static final String DISCONNECTED = "disconnected";

  static DependencyCheck connected(long responseTimeMs) {
    return new DependencyCheck(CONNECTED, responseTimeMs, null);
  }

  static DependencyCheck disconnected(long responseTimeMs, String error) {
    return new DependencyCheck(DISCONNECTED, responseTimeMs, error);
  }

  boolean isConnected() {
    return CONNECTED.equals(status);
  }
}
