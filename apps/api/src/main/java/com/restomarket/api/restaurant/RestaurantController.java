package com.restomarket.api.restaurant;

import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import java.net.URI;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/** The restaurant catalogue over HTTP. */
@RestController
@RequestMapping("/api/v1/restaurants")
class RestaurantController {

  private final RestaurantService service;

  RestaurantController(RestaurantService service) {
    this.service = service;
  }

  @PostMapping
  ResponseEntity<Restaurant> create(@Valid @RequestBody NewRestaurant restaurant) {
    Restaurant created = service.create(restaurant);
    return ResponseEntity.created(URI.create("/api/v1/restaurants/" + created.id())).body(created);
  }

  @GetMapping("/{id}")
  Restaurant get(@PathVariable @Min(1) long id) {
    return service.get(id);
  }

  @GetMapping
  RestaurantPage list(
      @RequestParam(defaultValue = "0") @Min(0) int page,
      @RequestParam(defaultValue = "20") @Min(1) @Max(100) int size) {
    return service.list(page, size);
  }
}
