package com.restomarket.api.system;

import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.tags.Tag;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** GET /version: which release this process is. */
@RestController
@Tag(name = "operations")
class VersionController {

  private final VersionInfo versionInfo;

  VersionController(VersionInfo versionInfo) {
    this.versionInfo = versionInfo;
  }

  @GetMapping("/version")
  @Operation(operationId = "version", summary = "Which release this process is")
  VersionInfo version() {
    return versionInfo;
  }
}
