package com.restomarket.api.health;

/**
 * Outcome of probing one dependency: {@code connected} or {@code disconnected}, how long the probe
 * took, and on failure a short reason that never contains hosts or credentials.
 */
public record DependencyCheck(String status, long responseTimeMs, String error) {

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
