package com.restomarket.api.health;

import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** GET /health: 200 when every dependency answers, 503 otherwise. */
@RestController
class HealthController {

  private final HealthService healthService;

  HealthController(HealthService healthService) {
    this.healthService = healthService;
  }

  @GetMapping("/health")
  ResponseEntity<HealthReport> health() {
    HealthReport report = healthService.check();
    HttpStatus status = report.isHealthy() ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE;
    return ResponseEntity.status(status).header("Cache-Control", "no-store").body(report);
  }
}
