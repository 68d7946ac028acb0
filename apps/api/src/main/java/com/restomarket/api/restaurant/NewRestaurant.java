package com.restomarket.api.restaurant;

import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.Size;

/** Body of POST /api/v1/restaurants. */
public record NewRestaurant(
    @NotBlank @Size(max = 120) String name,
    @NotBlank @Size(max = 60) String cuisine,
    @NotBlank @Size(max = 80) String city) {}
