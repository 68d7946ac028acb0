package com.restomarket.api.restaurant;

import com.restomarket.api.system.NotFoundException;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.cache.Cache;
import org.springframework.cache.CacheManager;
import org.springframework.cache.annotation.Cacheable;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/**
 * Restaurant use cases. Single restaurants and list pages are cached in Redis; a new restaurant
 * evicts every cached page, since it shifts all of them.
 */
@Service
class RestaurantService {

  private static final Logger log = LoggerFactory.getLogger(RestaurantService.class);

  private final RestaurantRepository repository;
  private final Cache pages;

  RestaurantService(RestaurantRepository repository, CacheManager cacheManager) {
    this.repository = repository;
    this.pages = Objects.requireNonNull(cacheManager.getCache(RestaurantCaches.PAGES));
  }

  /**
   * Inserts, then invalidates the cached pages before answering. {@code invalidate()} is used
   * rather than {@code @CacheEvict(allEntries = true)}, whose clear may finish after the response,
   * letting the caller read a stale page.
   */
  Restaurant create(NewRestaurant restaurant) {
    Restaurant created = repository.insert(restaurant);
    try {
      pages.invalidate();
    } catch (RuntimeException e) {
      log.error("cache invalidation failed, pages may be stale until their TTL: {}", e.toString());
    }
    return created;
  }

  @Cacheable(cacheNames = RestaurantCaches.BY_ID, key = "#id")
  Restaurant get(long id) {
    return repository
        .findById(id)
        .orElseThrow(() -> new NotFoundException("No restaurant with id " + id));
  }

  @Cacheable(cacheNames = RestaurantCaches.PAGES, key = "#page + ':' + #size")
  @Transactional(readOnly = true)
  RestaurantPage list(int page, int size) {
    return new RestaurantPage(repository.findPage(page, size), page, size, repository.count());
  }
}
