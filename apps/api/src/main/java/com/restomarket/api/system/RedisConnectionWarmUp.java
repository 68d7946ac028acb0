package com.restomarket.api.system;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.InitializingBean;
import org.springframework.data.redis.connection.RedisConnection;
import org.springframework.data.redis.connection.RedisConnectionFactory;
import org.springframework.stereotype.Component;

/**
 * Opens the Redis connection while the rest of the application starts, on a thread of its own,
 * instead of in the first request that reads the cache or asks {@code /health}: that connection
 * (the client's event loops and their classes included) takes a few hundred milliseconds in a new
 * JVM. It begins as soon as this bean exists, in the middle of the context's refresh: the
 * connection factory it is given has started already (Lettuce's factory starts when it is built,
 * its "early start-up"). Redis only caches, so a failure here is logged and start-up goes on; the
 * first cache read tries again.
 */
@Component
class RedisConnectionWarmUp implements InitializingBean {

  private static final Logger log = LoggerFactory.getLogger(RedisConnectionWarmUp.class);

  private final RedisConnectionFactory redis;

  RedisConnectionWarmUp(RedisConnectionFactory redis) {
    this.redis = redis;
  }

  @Override
  public void afterPropertiesSet() {
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
}
