package com.restomarket.ci;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;

/** Files of the repository under test, read as text or as YAML/JSON trees. */
final class Repo {

  static final Path ROOT = Path.of(System.getProperty("repo.root", "../..")).toAbsolutePath().normalize();

  private Repo() {}

  static Path path(String relative) {
    return ROOT.resolve(relative);
  }

  static String text(String relative) {
    try {
      return Files.readString(path(relative));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A YAML (or JSON) document as maps, lists and scalars. */
  static Map<String, Object> yaml(String relative) {
    LoaderOptions options = new LoaderOptions();
    options.setAllowDuplicateKeys(false);
    return new Yaml(options).load(text(relative));
  }

  static List<String> files(String directory, String suffix) {
    try (Stream<Path> paths = Files.list(path(directory))) {
      return paths
          .filter(p -> p.getFileName().toString().endsWith(suffix))
          .map(p -> ROOT.relativize(p).toString())
          .sorted()
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static List<String> workflowFiles() {
    return files(".github/workflows", ".yml");
  }
}
