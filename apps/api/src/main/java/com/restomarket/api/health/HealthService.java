package com.restomarket.api.health;

import com.restomarket.api.system.AppProperties;
import com.restomarket.api.system.VersionInfo;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.data.redis.connection.RedisConnection;
import org.springframework.data.redis.connection.RedisConnectionFactory;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Service;

/**
 * Probes PostgreSQL ({@code SELECT 1}) and Redis ({@code PING}) concurrently, each bounded by its
 * own timeout, so the report is ready within that timeout even when a dependency hangs.
 */
@Service
class HealthService implements DisposableBean {

  private static final long MIB = 1024 * 1024;

  private final JdbcTemplate jdbc;
  private final RedisConnectionFactory redis;
  private final VersionInfo versionInfo;
  private final Duration timeout;
  private final Clock clock;
  private final Instant startedAt;
  private final ExecutorService probes = Executors.newVirtualThreadPerTaskExecutor();

  HealthService(
      JdbcTemplate jdbc,
      RedisConnectionFactory redis,
      VersionInfo versionInfo,
      AppProperties properties,
      Clock clock) {
    this.jdbc = jdbc;
    this.redis = redis;
    this.versionInfo = versionInfo;
    this.timeout = properties.health().checkTimeout();
    this.clock = clock;
    this.startedAt = clock.instant();
  }

  HealthReport check() {
    CompletableFuture<DependencyCheck> database = probe(this::pingDatabase);
    CompletableFuture<DependencyCheck> cache = probe(this::pingRedis);
    Map<String, DependencyCheck> checks = new LinkedHashMap<>();
    checks.put("database", database.join());
    checks.put("redis", cache.join());
    Map<String, String> services = new LinkedHashMap<>();
    checks.forEach((name, result) -> services.put(name, result.status()));
    boolean healthy = checks.values().stream().allMatch(DependencyCheck::isConnected);
    Instant now = clock.instant();
    return new HealthReport(
        healthy ? HealthReport.HEALTHY : HealthReport.UNHEALTHY,
        Duration.between(startedAt, now).toSeconds(),
        now.truncatedTo(ChronoUnit.MILLIS).toString(),
        versionInfo.version(),
        services,
        checks,
        memory());
  }

  private CompletableFuture<DependencyCheck> probe(Supplier<DependencyCheck> check) {
    return CompletableFuture.supplyAsync(check, probes)
        .completeOnTimeout(
            DependencyCheck.disconnected(timeout.toMillis(), "timed out"),
            timeout.toMillis(),
            TimeUnit.MILLISECONDS);
  }

  private DependencyCheck pingDatabase() {
    long start = System.nanoTime();
    try {
      Integer one = jdbc.queryForObject("SELECT 1", Integer.class);
      if (one == null || one != 1) {
        return DependencyCheck.disconnected(elapsedMillis(start), "unexpected answer");
      }
      return DependencyCheck.connected(elapsedMillis(start));
    } catch (RuntimeException e) {
      return DependencyCheck.disconnected(elapsedMillis(start), e.getClass().getSimpleName());
    }
  }

  private DependencyCheck pingRedis() {
    long start = System.nanoTime();
    try (RedisConnection connection = redis.getConnection()) {
      String pong = connection.ping();
      if (!"PONG".equalsIgnoreCase(pong)) {
        return DependencyCheck.disconnected(elapsedMillis(start), "unexpected answer");
      }
      return DependencyCheck.connected(elapsedMillis(start));
    } catch (RuntimeException e) {
      return DependencyCheck.disconnected(elapsedMillis(start), e.getClass().getSimpleName());
    }
  }

  private static long elapsedMillis(long startNanos) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
  }

  private static HealthReport.Memory memory() {
    MemoryMXBean bean = ManagementFactory.getMemoryMXBean();
    return new HealthReport.Memory(
        bean.getHeapMemoryUsage().getUsed() / MIB,
        bean.getHeapMemoryUsage().getCommitted() / MIB,
        bean.getHeapMemoryUsage().getMax() / MIB,
        bean.getNonHeapMemoryUsage().getUsed() / MIB);
  }

  @Override
  public void destroy() {
    probes.shutdownNow();
  }
}
