package com.restomarket.api.health;

import com.restomarket.api.system.WriteToken;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.security.SecurityRequirement;
import io.swagger.v3.oas.annotations.tags.Tag;
import org.jspecify.annotations.Nullable;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RestController;

/**
 * GET /health: 200 when every dependency answers, 503 otherwise, whoever asks. The diagnostics in
 * the body go only to a caller presenting the write token; a missing or wrong token is not refused
 * (load balancers and uptime checks send none), it just gets the public part.
 */
@RestController
@Tag(name = "operations", description = "Health and identity of the running service")
class HealthController {

  private final HealthService healthService;
  private final WriteToken writeToken;

  HealthController(HealthService healthService, WriteToken writeToken) {
    this.healthService = healthService;
    this.writeToken = writeToken;
  }

  @GetMapping("/health")
  @Operation(
      operationId = "health",
      summary = "Check PostgreSQL and Redis",
      description =
          "Answers within about a second even when a dependency hangs. With the write token as a"
              + " bearer token the body also holds each probe's time and failure reason (checks)"
              + " and JVM memory (memory); without it, or with a wrong one, the answer is the same"
              + " but for those.",
      security = @SecurityRequirement(name = "writeToken"))
  @ApiResponse(responseCode = "200", description = "Every dependency is connected")
  @ApiResponse(
      responseCode = "503",
      description = "A dependency is disconnected",
      content =
          @Content(
              mediaType = "application/json",
              schema = @Schema(implementation = HealthReport.class)))
  ResponseEntity<HealthReport> health(
      @RequestHeader(name = HttpHeaders.AUTHORIZATION, required = false) @Parameter(hidden = true)
          @Nullable String authorization) {
    HealthReport report = healthService.check();
    HttpStatus status = report.isHealthy() ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE;
    HealthReport body =
        writeToken.isPresentedIn(authorization) ? report : report.withoutDiagnostics();
    return ResponseEntity.status(status).header("Cache-Control", "no-store").body(body);
  }
}
