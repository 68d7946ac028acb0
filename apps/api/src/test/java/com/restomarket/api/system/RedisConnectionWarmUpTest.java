package com.restomarket.api.system;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNoException;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.timeout;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import org.junit.jupiter.api.Test;
import org.springframework.boot.web.server.WebServer;
import org.springframework.boot.web.server.context.WebServerGracefulShutdownLifecycle;
import org.springframework.data.redis.RedisConnectionFailureException;
import org.springframework.data.redis.connection.RedisConnection;
import org.springframework.data.redis.connection.RedisConnectionFactory;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;

/**
 * The Redis connection opens during start-up, off the main thread; a Redis outage stops nothing.
 */
class RedisConnectionWarmUpTest {

  @Test
  void opensAndReleasesAConnectionOnAThreadOfItsOwn() {
    RedisConnectionFactory factory = mock(RedisConnectionFactory.class);
    RedisConnection connection = mock(RedisConnection.class);
    when(factory.getConnection()).thenReturn(connection);
    RedisConnectionWarmUp warmUp = new RedisConnectionWarmUp(factory);

    warmUp.start();

    assertThat(warmUp.isRunning()).isTrue();
    verify(connection, timeout(5_000)).ping();
    verify(connection, timeout(5_000)).close();
    warmUp.stop();
    assertThat(warmUp.isRunning()).isFalse();
  }

  @Test
  void aRedisOutageIsNoStartUpFailure() {
    RedisConnectionFactory factory = mock(RedisConnectionFactory.class);
    when(factory.getConnection()).thenThrow(new RedisConnectionFailureException("refused"));

    RedisConnectionWarmUp warmUp = new RedisConnectionWarmUp(factory);

    assertThatNoException().isThrownBy(warmUp::connect);
    verify(factory).getConnection();
  }

  @Test
  void startsAfterTheConnectionFactoryAndBeforeTheWebServer() {
    RedisConnectionWarmUp warmUp = new RedisConnectionWarmUp(mock(RedisConnectionFactory.class));

    // The factory refuses connections until it has started; the web server's lifecycles run in
    // late phases, next to the graceful shutdown's.
    assertThat(warmUp.getPhase())
        .isGreaterThan(new LettuceConnectionFactory().getPhase())
        .isLessThan(new WebServerGracefulShutdownLifecycle(mock(WebServer.class)).getPhase());
  }
}
