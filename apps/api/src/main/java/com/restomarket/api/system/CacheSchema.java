package com.restomarket.api.system;

/**
 * The version of the shape of everything this release keeps in the Redis caches, carried in every
 * cached value's key ({@code restomarket:v1:restaurant::42}).
 *
 * <p>During a blue/green deploy or a rollback two releases run at once against the same Redis.
 * Values are stored as JSON of their type ({@link CacheSpec}), so a release that changed a cached
 * type would otherwise read entries the other release wrote and fail, or serve wrong data.
 *
 * <p><b>Bump {@link #VERSION} in the same change that alters the shape of any cached type</b> (a
 * field added, removed, renamed or retyped in a cached record or anything it contains, or a new
 * meaning for a cache key). Releases with different versions then use disjoint keys and never read
 * each other's entries; the old version's keys are no longer read by the new release and expire
 * with the cache TTL. Keys that are not cached values of such a type, like the restaurant pages'
 * generation counter, stay under the unversioned {@link #NAMESPACE} on purpose.
 */
public final class CacheSchema {

  /** The cache schema version of this release. */
  public static final int VERSION = 1;

  /** The namespace of every key this application keeps in Redis. */
  public static final String NAMESPACE = "restomarket:";

  /** The prefix of every cached value's key in this release, e.g. {@code restomarket:v1:}. */
  public static final String KEY_PREFIX = keyPrefix(VERSION);

  private CacheSchema() {}

  /** The prefix of the cached values' keys of the given schema version. */
  public static String keyPrefix(int version) {
    return NAMESPACE + "v" + version + ":";
  }
}
