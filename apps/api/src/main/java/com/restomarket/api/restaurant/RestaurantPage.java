package com.restomarket.api.restaurant;

import io.swagger.v3.oas.annotations.media.Schema;
import java.util.List;

/** One page of restaurants, newest first. */
public record RestaurantPage(
    List<Restaurant> items,
    @Schema(example = "0") int page,
    @Schema(example = "20") int size,
    @Schema(description = "Restaurants in the whole catalogue", example = "137") long total) {}
