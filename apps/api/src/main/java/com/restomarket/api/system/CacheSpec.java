package com.restomarket.api.system;

/**
 * A Redis cache a feature declares: its name and the type of its values, stored as JSON of that
 * type so entries survive restarts and new releases with the same {@link CacheSchema#VERSION}.
 * Changing the shape of a value type means bumping that version in the same change.
 */
public record CacheSpec(String name, Class<?> valueType) {}
