package com.restomarket.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.restomarket.api.support.TestServices;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.datasource.DriverManagerDataSource;

/** {@code migrate} applies the schema and returns, without serving HTTP. */
class MigrateCommandTest {

  @Test
  void migrateAppliesFlywayMigrationsAndExits() {
    String[] args =
        Stream.concat(Arrays.stream(TestServices.arguments()), Stream.of("migrate"))
            .toArray(String[]::new);
    ConfigurableApplicationContext context = RestomarketApiApplicationAccess.start(args);
    assertThat(context.isActive()).as("context closed after migrating").isFalse();

    JdbcTemplate jdbc =
        new JdbcTemplate(
            new DriverManagerDataSource(
                TestServices.databaseUrl(),
                TestServices.databaseUser(),
                TestServices.databasePassword()));
    Integer applied =
        jdbc.queryForObject(
            "SELECT count(*) FROM flyway_schema_history WHERE success AND version = '1'",
            Integer.class);
    assertThat(applied).isEqualTo(1);
  }
}
