package com.restomarket.api.restaurant;

import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.headers.Header;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import java.net.URI;
import org.springframework.http.CacheControl;
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
@Tag(name = "restaurants", description = "The restaurant catalogue")
class RestaurantController {

  /** Deeper pages are refused: OFFSET makes the database walk every row before the page. */
  static final int MAX_PAGE = 1000;

  /**
   * Reads of the catalogue, which is public: any cache may store them but must ask again before
   * reusing one, because a new restaurant is in the very next list ({@link
   * RestaurantPageGeneration}) and a max-age would let a cache hide it. Without a validator (ETag)
   * yet, asking again is a full GET. Everything else, errors included, is {@code no-store}.
   */
  static final CacheControl CATALOGUE_READ = CacheControl.noCache();

  private final RestaurantService service;

  RestaurantController(RestaurantService service) {
    this.service = service;
  }

  @PostMapping
  @Operation(operationId = "createRestaurant", summary = "List a new restaurant")
  @ApiResponse(
      responseCode = "201",
      description = "Created",
      headers = @Header(name = "Location", description = "The new restaurant's URL"))
  ResponseEntity<Restaurant> create(@Valid @RequestBody NewRestaurant restaurant) {
    Restaurant created = service.create(restaurant);
    return ResponseEntity.created(URI.create("/api/v1/restaurants/" + created.id())).body(created);
  }

  @GetMapping("/{id}")
  @Operation(operationId = "getRestaurant", summary = "Read one restaurant")
  @ApiResponse(responseCode = "200", description = "The restaurant")
  @ApiResponse(responseCode = "404", description = "No restaurant has this id")
  ResponseEntity<Restaurant> get(@PathVariable @Min(1) @Parameter(example = "42") long id) {
    return ResponseEntity.ok().cacheControl(CATALOGUE_READ).body(service.get(id));
  }

  @GetMapping
  @Operation(operationId = "listRestaurants", summary = "List restaurants, newest first")
  @ApiResponse(responseCode = "200", description = "One page of restaurants")
  ResponseEntity<RestaurantPage> list(
      @RequestParam(defaultValue = "0")
          @Min(0)
          @Max(MAX_PAGE)
          @Parameter(description = "Page number, from 0")
          int page,
      @RequestParam(defaultValue = "20")
          @Min(1)
          @Max(100)
          @Parameter(description = "Restaurants per page")
          int size) {
    return ResponseEntity.ok().cacheControl(CATALOGUE_READ).body(service.list(page, size));
  }
}
