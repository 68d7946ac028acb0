package com.restomarket.api.system;

import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.cache.Cache;
import org.springframework.cache.annotation.CachingConfigurer;
import org.springframework.cache.annotation.EnableCaching;
import org.springframework.cache.interceptor.CacheErrorHandler;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.data.redis.cache.RedisCacheConfiguration;
import org.springframework.data.redis.cache.RedisCacheManager;
import org.springframework.data.redis.connection.RedisConnectionFactory;
import org.springframework.data.redis.serializer.JacksonJsonRedisSerializer;
import org.springframework.data.redis.serializer.RedisSerializationContext.SerializationPair;

/**
 * Redis-backed caches. The cache is an optimisation: when Redis is down, reads fall through to the
 * database and the error is logged instead of failing the request. Every cache's keys carry the
 * {@linkplain CacheSchema cache schema version}, so two releases running at once never read each
 * other's entries.
 */
@Configuration(proxyBeanMethods = false)
@EnableCaching
class CacheConfig implements CachingConfigurer {

  private static final Logger log = LoggerFactory.getLogger(CacheConfig.class);

  @Bean
  RedisCacheManager cacheManager(
      RedisConnectionFactory connectionFactory, AppProperties properties, List<CacheSpec> caches) {
    RedisCacheConfiguration defaults =
        RedisCacheConfiguration.defaultCacheConfig()
            .entryTtl(properties.redis().cacheTtl())
            .prefixCacheNameWith(CacheSchema.KEY_PREFIX)
            .disableCachingNullValues();
    RedisCacheManager.RedisCacheManagerBuilder builder =
        RedisCacheManager.builder(connectionFactory).cacheDefaults(defaults);
    for (CacheSpec cache : caches) {
      builder.withCacheConfiguration(
          cache.name(),
          defaults.serializeValuesWith(
              SerializationPair.fromSerializer(
                  new JacksonJsonRedisSerializer<>(cache.valueType()))));
    }
    // Statistics feed the cache_gets{result="hit"|"miss"} metrics.
    return builder.disableCreateOnMissingCache().enableStatistics().build();
  }

  @Override
  public CacheErrorHandler errorHandler() {
    return new LoggingCacheErrorHandler();
  }

  /** Logs cache failures and lets the call continue without the cache. */
  static final class LoggingCacheErrorHandler implements CacheErrorHandler {

    @Override
    public void handleCacheGetError(RuntimeException e, Cache cache, Object key) {
      log.warn(
          "cache read failed, serving from the database: cache={} error={}",
          cache.getName(),
          e.toString());
    }

    @Override
    public void handleCachePutError(RuntimeException e, Cache cache, Object key, Object value) {
      log.warn("cache write failed: cache={} error={}", cache.getName(), e.toString());
    }

    @Override
    public void handleCacheEvictError(RuntimeException e, Cache cache, Object key) {
      log.error(
          "cache eviction failed, entries may be stale until their TTL: cache={} error={}",
          cache.getName(),
          e.toString());
    }

    @Override
    public void handleCacheClearError(RuntimeException e, Cache cache) {
      log.error(
          "cache clear failed, entries may be stale until their TTL: cache={} error={}",
          cache.getName(),
          e.toString());
    }
  }
}
