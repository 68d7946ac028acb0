package com.restomarket.ci;

import java.util.List;
import java.util.Map;
import java.util.Set;

/** One GitHub Actions workflow file, with accessors for what the tests look at. */
record Workflow(String file, Map<String, Object> tree) {

  static Workflow load(String file) {
    return new Workflow(file, Repo.yaml(file));
  }

  /**
   * The {@code on:} section. YAML 1.1 reads a bare {@code on} key as the boolean true, which is
   * how SnakeYAML hands it over.
   */
  Map<String, Object> triggers() {
    Object on = tree.containsKey("on") ? tree.get("on") : tree.get(Boolean.TRUE);
    return map(on);
  }

  Map<String, Object> jobs() {
    return map(tree.get("jobs"));
  }

  Set<String> jobNames() {
    return jobs().keySet();
  }

  Map<String, Object> job(String name) {
    Object job = jobs().get(name);
    if (job == null) {
      throw new AssertionError(file + " has no job '" + name + "'");
    }
    return map(job);
  }

  List<String> needs(String job) {
    Object needs = job(job).get("needs");
    if (needs == null) {
      return List.of();
    }
    return needs instanceof List<?> list ? list.stream().map(String::valueOf).toList() : List.of(String.valueOf(needs));
  }

  List<Map<String, Object>> steps(String job) {
    Object steps = job(job).get("steps");
    return steps == null ? List.of() : ((List<?>) steps).stream().map(Workflow::map).toList();
  }

  /** Steps of a job whose {@code uses:} starts with the given action, e.g. "actions/checkout@". */
  List<Map<String, Object>> stepsUsing(String job, String actionPrefix) {
    return steps(job).stream().filter(s -> String.valueOf(s.get("uses")).startsWith(actionPrefix)).toList();
  }

  Map<String, Object> stepNamed(String job, String name) {
    return steps(job).stream()
        .filter(s -> name.equals(s.get("name")))
        .findFirst()
        .orElseThrow(() -> new AssertionError(file + " job " + job + " has no step named '" + name + "'"));
  }

  static Map<String, Object> with(Map<String, Object> step) {
    return map(step.getOrDefault("with", Map.of()));
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> map(Object value) {
    if (!(value instanceof Map<?, ?>)) {
      throw new AssertionError("expected a mapping, got " + value);
    }
    return (Map<String, Object>) value;
  }
}
