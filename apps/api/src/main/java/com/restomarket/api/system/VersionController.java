package com.restomarket.api.system;

import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** GET /version: which release this process is. */
@RestController
class VersionController {

  private final VersionInfo versionInfo;

  VersionController(VersionInfo versionInfo) {
    this.versionInfo = versionInfo;
  }

  @GetMapping("/version")
  VersionInfo version() {
    return versionInfo;
  }
}
