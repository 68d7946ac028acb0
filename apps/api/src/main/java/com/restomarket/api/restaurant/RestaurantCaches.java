package com.restomarket.api.restaurant;

import com.restomarket.api.system.CacheSpec;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The caches of the restaurant feature and the types they hold. */
@Configuration(proxyBeanMethods = false)
class RestaurantCaches {

  static final String BY_ID = "restaurant";
  static final String PAGES = "restaurant-pages";

  @Bean
  CacheSpec restaurantCache() {
    return new CacheSpec(BY_ID, Restaurant.class);
  }

  @Bean
  CacheSpec restaurantPageCache() {
    return new CacheSpec(PAGES, RestaurantPage.class);
  }
}
