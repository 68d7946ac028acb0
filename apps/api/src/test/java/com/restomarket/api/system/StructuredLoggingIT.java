package com.restomarket.api.system;

import static org.assertj.core.api.Assertions.assertThat;

import com.restomarket.api.RestomarketApiApplicationAccess;
import com.restomarket.api.support.Http;
import com.restomarket.api.support.TestServices;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** JSON (ECS) log lines name this service and the release GET /version reports. */
@ExtendWith(OutputCaptureExtension.class)
class StructuredLoggingIT {

  private static final JsonMapper JSON = JsonMapper.builder().build();

  @Test
  void everyJsonLogLineCarriesTheReleaseVersion(CapturedOutput output) {
    String[] args =
        Stream.concat(
                Stream.of(TestServices.arguments()),
                Stream.of("--server.port=0", "--LOG_FORMAT=ecs"))
            .toArray(String[]::new);
    String version;
    try (ConfigurableApplicationContext context = RestomarketApiApplicationAccess.start(args)) {
      int port = ((WebServerApplicationContext) context).getWebServer().getPort();
      version = JSON.readTree(new Http(port).get("/version").body()).get("version").asString();
    }
    List<JsonNode> lines =
        output.getOut().lines().filter(l -> l.startsWith("{")).map(JSON::readTree).toList();
    assertThat(lines).isNotEmpty();
    assertThat(lines)
        .allSatisfy(
            line -> {
              assertThat(line.at("/service/version").asString()).isEqualTo(version);
              assertThat(line.at("/service/name").asString()).isEqualTo("restomarket-api");
            });
  }
}
