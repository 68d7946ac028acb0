package com.restomarket.api.system;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNoException;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.timeout;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import io.lettuce.core.resource.ClientResources;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.data.redis.RedisConnectionFailureException;
import org.springframework.data.redis.connection.RedisConnection;
import org.springframework.data.redis.connection.RedisConnectionFactory;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;

/**
 * The Redis connection opens during start-up, off the main thread, as soon as the bean exists; a
 * Redis outage stops nothing.
 */
class RedisConnectionWarmUpTest {

  @Test
  void opensAndReleasesAConnectionOnAThreadOfItsOwn() {
    RedisConnectionFactory factory = mock(RedisConnectionFactory.class);
    RedisConnection connection = mock(RedisConnection.class);
    when(factory.getConnection()).thenReturn(connection);
    RedisConnectionWarmUp warmUp = new RedisConnectionWarmUp(factory);

    warmUp.afterPropertiesSet();

    verify(connection, timeout(5_000)).ping();
    verify(connection, timeout(5_000)).close();
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
  void theFactoryItIsGivenHasStartedAlready() {
    // The factory InfrastructureConfig builds starts when it is built (Lettuce's early start-up,
    // left on): a connection can be asked for as soon as this bean exists. Building it here
    // connects nothing (that is afterPropertiesSet's start).
    InfrastructureConfig config = new InfrastructureConfig();
    ClientResources resources = config.redisClientResources();
    try {
      LettuceConnectionFactory factory =
          config.redisConnectionFactory(InfrastructureConfigTest.withPool(10, 2), resources);
      assertThat(factory.isEarlyStartup()).isTrue();
    } finally {
      assertThat(resources.shutdown().awaitUninterruptibly(5, TimeUnit.SECONDS)).isTrue();
    }
  }
}
