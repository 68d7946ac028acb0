package com.restomarket.api.restaurant;

import java.util.List;

/** One page of restaurants, newest first. */
public record RestaurantPage(List<Restaurant> items, int page, int size, long total) {}
