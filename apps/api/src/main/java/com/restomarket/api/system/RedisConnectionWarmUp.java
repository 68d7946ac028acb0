package com.restomarket.api.system;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.data.redis.connection.RedisConnection;
import org.springframework.data.redis.connection.RedisConnectionFactory;
import org.springframework.stereotype.Component;

/**
 * Opens the Redis connection while the rest of the application starts, on a thread of its own,
 * instead of in the first request that reads the cache: that connection (the client's event loops
 * and their classes included) is the slowest step of a new instance's first requests. Redis only
 * caches, so a failure here is logged and start-up goes on; the first cache read tries again.
 */
@Component
class RedisConnectionWarmUp implements SmartLifecycle {

  private static final Logger log = LoggerFactory.getLogger(RedisConnectionWarmUp.class);

  /** Right after the connection factory (phase 0), before the web server. */
  private static final int PHASE = 1;

  private final RedisConnectionFactory redis;
  private volatile boolean running;

  RedisConnectionWarmUp(RedisConnectionFactory redis) {
    this.redis = redis;
  }

  @Override
  public void start() {
    running = true;
    Thread.ofVirtual().name("redis-warm-up").start(this::connect);
  }

  void connect() {
    long began = System.nanoTime();
    try (RedisConnection connection = redis.getConnection()) {
      connection.ping();
      log.info("Redis connection ready in {} ms", (System.nanoTime() - began) / 1_000_000);
    } catch (RuntimeException e) {
      log.info("Redis not reachable at start, the first cache read connects: {}", e.toString());
    }
  }

  @Override
  public void stop() {
    running = false;
  }

  @Override
  public boolean isRunning() {
    return running;
  }

  @Override
  public int getPhase() {
    return PHASE;
  }
}
