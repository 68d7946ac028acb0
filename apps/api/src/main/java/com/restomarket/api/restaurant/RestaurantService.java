package com.restomarket.api.restaurant;

import com.restomarket.api.system.NotFoundException;
import java.util.Objects;
import java.util.OptionalLong;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.cache.Cache;
import org.springframework.cache.CacheManager;
import org.springframework.cache.annotation.Cacheable;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/**
 * Restaurant use cases. Single restaurants and list pages are cached in Redis. A new restaurant
 * shifts every page, so it moves the pages to a new cache generation ({@link
 * RestaurantPageGeneration}) instead of clearing them.
 */
@Service
class RestaurantService {

  private static final Logger log = LoggerFactory.getLogger(RestaurantService.class);

  private final RestaurantRepository repository;
  private final RestaurantPageGeneration generation;
  private final Cache pages;

  RestaurantService(
      RestaurantRepository repository,
      RestaurantPageGeneration generation,
      CacheManager cacheManager) {
    this.repository = repository;
    this.generation = generation;
    this.pages = Objects.requireNonNull(cacheManager.getCache(RestaurantCaches.PAGES));
  }

  /** Inserts (committed), then moves the pages to a new generation before answering. */
  Restaurant create(NewRestaurant restaurant) {
    Restaurant created = repository.insert(restaurant);
    generation.advance();
    return created;
  }

  @Cacheable(cacheNames = RestaurantCaches.BY_ID, key = "#id")
  Restaurant get(long id) {
    return repository
        .findById(id)
        .orElseThrow(() -> new NotFoundException("No restaurant with id " + id));
  }

  /**
   * A page from the cache of the current generation, else from the database (one read-only
   * transaction, so items and total agree), written to the cache before it is returned.
   */
  @Transactional(readOnly = true)
  RestaurantPage list(int page, int size) {
    OptionalLong current = generation.current();
    if (current.isEmpty()) {
      return load(page, size);
    }
    String key = current.getAsLong() + ":" + page + ":" + size;
    RestaurantPage cached = cached(key);
    if (cached != null) {
      return cached;
    }
    RestaurantPage loaded = load(page, size);
    try {
      pages.put(key, loaded);
    } catch (RuntimeException e) {
      log.warn("cache write failed: cache={} error={}", pages.getName(), e.toString());
    }
    return loaded;
  }

  private RestaurantPage load(int page, int size) {
    return new RestaurantPage(repository.findPage(page, size), page, size, repository.count());
  }

  private @Nullable RestaurantPage cached(String key) {
    try {
      return pages.get(key, RestaurantPage.class);
    } catch (RuntimeException e) {
      log.warn(
          "cache read failed, serving from the database: cache={} error={}",
          pages.getName(),
          e.toString());
      return null;
    }
  }
}
