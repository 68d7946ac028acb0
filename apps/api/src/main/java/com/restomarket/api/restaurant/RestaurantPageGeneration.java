package com.restomarket.api.restaurant;

import com.restomarket.api.system.CacheSchema;
import java.time.Clock;
import java.util.OptionalLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.data.redis.core.StringRedisTemplate;
import org.springframework.stereotype.Component;

/**
 * The generation of the cached restaurant pages: part of every page's cache key, advanced by each
 * change. A page computed before a change but written to the cache after it lands under the old
 * generation, which no reader asks for any more, so it can never be served (clearing the cache
 * instead would lose that race). Old generations expire with the cache TTL.
 *
 * <p>The counter is deliberately <em>not</em> versioned with {@link CacheSchema#VERSION}, unlike
 * the pages themselves: during a blue/green deploy or a rollback both live releases share it, so a
 * restaurant created through either release invalidates the pages cached by both. A versioned
 * counter would let a write through the new release leave the old release serving pages that miss
 * the new restaurant until their TTL. Sharing it is safe because the pages' keys still carry the
 * version, so a shared generation number never makes one release read the other's pages, and the
 * counter is a plain decimal number whose meaning no cached type's shape changes. A release that
 * changes what the counter holds must give it a new key instead.
 */
@Component
class RestaurantPageGeneration {

  /** Shared by every release, whatever its cache schema version: see the class comment. */
  static final String KEY = CacheSchema.NAMESPACE + "restaurant-pages:generation";

  private static final Logger log = LoggerFactory.getLogger(RestaurantPageGeneration.class);

  private final StringRedisTemplate redis;
  private final Clock clock;

  RestaurantPageGeneration(StringRedisTemplate redis, Clock clock) {
    this.redis = redis;
    this.clock = clock;
  }

  /** The current generation, or empty when Redis cannot be reached (then nothing is cached). */
  OptionalLong current() {
    try {
      return OptionalLong.of(read());
    } catch (RuntimeException e) {
      log.warn("page cache generation unavailable, serving pages uncached: {}", e.toString());
      return OptionalLong.empty();
    }
  }

  /** Moves to a new generation, so no page cached before this call is served after it. */
  void advance() {
    try {
      read();
      redis.opsForValue().increment(KEY);
    } catch (RuntimeException e) {
      log.error(
          "page cache generation not advanced, pages may be stale until their TTL: {}",
          e.toString());
    }
  }

  /**
   * A missing counter (first start, Redis flushed or the key evicted) starts from the clock, never
   * from a number an earlier counter may have used while its pages are still cached.
   */
  private long read() {
    String value = redis.opsForValue().get(KEY);
    if (value == null) {
      redis.opsForValue().setIfAbsent(KEY, Long.toString(clock.millis()));
      value = redis.opsForValue().get(KEY);
    }
    if (value == null) {
      throw new IllegalStateException(KEY + " vanished right after it was set");
    }
    return Long.parseLong(value);
  }
}
