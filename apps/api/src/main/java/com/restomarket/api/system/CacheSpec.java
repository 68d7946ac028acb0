package com.restomarket.api.system;

/**
 * A Redis cache a feature declares: its name and the type of its values, stored as JSON of that
 * type so entries survive restarts and new releases that keep the shape.
 */
public record CacheSpec(String name, Class<?> valueType) {}
