package com.restomarket.api.restaurant;

import java.time.Instant;

/** A restaurant listed on the marketplace. */
public record Restaurant(long id, String name, String cuisine, String city, Instant createdAt) {}
