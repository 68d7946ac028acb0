package com.restomarket.api.restaurant;

import io.swagger.v3.oas.annotations.media.Schema;
import java.time.Instant;

/** A restaurant listed on the marketplace. */
public record Restaurant(
    @Schema(example = "42") long id,
    @Schema(example = "Chez Paul") String name,
    @Schema(example = "French") String cuisine,
    @Schema(example = "Lyon") String city,
    @Schema(example = "2026-01-15T09:30:00Z") Instant createdAt) {}
