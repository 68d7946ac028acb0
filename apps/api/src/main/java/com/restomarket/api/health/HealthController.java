package com.restomarket.api.health;

import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** GET /health: 200 when every dependency answers, 503 otherwise. */
@RestController
@Tag(name = "operations", description = "Health and identity of the running service")
class HealthController {

  private final HealthService healthService;

  HealthController(HealthService healthService) {
    this.healthService = healthService;
  }

  @GetMapping("/health")
  @Operation(
      operationId = "health",
      summary = "Check PostgreSQL and Redis",
      description = "Answers within about a second even when a dependency hangs.")
  @ApiResponse(responseCode = "200", description = "Every dependency is connected")
  @ApiResponse(
      responseCode = "503",
      description = "A dependency is disconnected",
      content =
          @Content(
              mediaType = "application/json",
              schema = @Schema(implementation = HealthReport.class)))
  ResponseEntity<HealthReport> health() {
    HealthReport report = healthService.check();
    HttpStatus status = report.isHealthy() ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE;
    return ResponseEntity.status(status).header("Cache-Control", "no-store").body(report);
  }
}
