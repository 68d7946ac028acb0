package com.restomarket.api.restaurant;

import java.sql.Timestamp;
import java.util.List;
import java.util.Optional;
import org.springframework.jdbc.core.RowMapper;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** SQL for restaurants; the schema is owned by the Flyway migrations. */
@Repository
class RestaurantRepository {

  private static final RowMapper<Restaurant> ROW =
      (rs, n) ->
          new Restaurant(
              rs.getLong("id"),
              rs.getString("name"),
              rs.getString("cuisine"),
              rs.getString("city"),
              rs.getObject("created_at", Timestamp.class).toInstant());

  private final JdbcClient jdbc;

  RestaurantRepository(JdbcClient jdbc) {
    this.jdbc = jdbc;
  }

  Restaurant insert(NewRestaurant restaurant) {
    return jdbc.sql(
            "INSERT INTO restaurant (name, cuisine, city) VALUES (:name, :cuisine, :city)"
                + " RETURNING id, name, cuisine, city, created_at")
        .paramSource(restaurant)
        .query(ROW)
        .single();
  }

  Optional<Restaurant> findById(long id) {
    return jdbc.sql("SELECT id, name, cuisine, city, created_at FROM restaurant WHERE id = :id")
        .param("id", id)
        .query(ROW)
        .optional();
  }

  List<Restaurant> findPage(int page, int size) {
    return jdbc.sql(
            "SELECT id, name, cuisine, city, created_at FROM restaurant"
                + " ORDER BY id DESC LIMIT :limit OFFSET :offset")
        .param("limit", size)
        .param("offset", (long) page * size)
        .query(ROW)
        .list();
  }

  long count() {
    return jdbc.sql("SELECT count(*) FROM restaurant").query(Long.class).single();
  }
}
