package com.restomarket.api.restaurant;

import io.swagger.v3.oas.annotations.media.Schema;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.Size;

/** Body of POST /api/v1/restaurants. */
public record NewRestaurant(
    @NotBlank @Size(max = 120) @Schema(example = "Chez Paul") String name,
    @NotBlank @Size(max = 60) @Schema(example = "French") String cuisine,
    @NotBlank @Size(max = 80) @Schema(example = "Lyon") String city) {}
