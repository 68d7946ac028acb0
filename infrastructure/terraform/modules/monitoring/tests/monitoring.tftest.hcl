mock_provider "digitalocean" {}

variables {
  name_prefix         = "restomarket-test"
  droplet_tag         = "restomarket-test-api"
  alert_emails        = ["ops@restomarket.example"]
  load_balancer_id    = "lb-0000"
  watch_load_balancer = true
  uptime_check_url    = "https://api.test.restomarket.example/health"
}

run "droplet_alerts_have_the_planned_thresholds" {
  command = apply

  assert {
    condition = (
      digitalocean_monitor_alert.droplet["cpu"].type == "v1/insights/droplet/cpu" &&
      digitalocean_monitor_alert.droplet["cpu"].compare == "GreaterThan" &&
      digitalocean_monitor_alert.droplet["cpu"].value == 80 &&
      digitalocean_monitor_alert.droplet["cpu"].window == "5m"
    )
    error_message = "CPU alert must fire above 80% over 5 minutes."
  }

  assert {
    condition = (
      digitalocean_monitor_alert.droplet["memory"].type == "v1/insights/droplet/memory_utilization_percent" &&
      digitalocean_monitor_alert.droplet["memory"].value == 85 &&
      digitalocean_monitor_alert.droplet["memory"].window == "5m"
    )
    error_message = "Memory alert must fire above 85% over 5 minutes."
  }

  assert {
    condition = (
      digitalocean_monitor_alert.droplet["disk"].type == "v1/insights/droplet/disk_utilization_percent" &&
      digitalocean_monitor_alert.droplet["disk"].value == 90
    )
    error_message = "Disk alert must fire above 90%."
  }

  assert {
    condition     = alltrue([for a in digitalocean_monitor_alert.droplet : a.tags == toset(["restomarket-test-api"]) && a.enabled])
    error_message = "Droplet alerts must watch the API tag and be enabled."
  }
}

run "watches_load_balancer_droplet_health" {
  command = apply

  assert {
    condition = (
      digitalocean_monitor_alert.lb_droplet_health[0].type == "v1/insights/lbaas/droplet_health" &&
      digitalocean_monitor_alert.lb_droplet_health[0].entities == toset(["lb-0000"])
    )
    error_message = "A droplet-health alert must watch the load balancer."
  }
}

run "uptime_check_alerts_when_down" {
  command = apply

  assert {
    condition     = digitalocean_uptime_check.this[0].target == "https://api.test.restomarket.example/health" && digitalocean_uptime_check.this[0].type == "https"
    error_message = "The uptime check must probe the public health URL over HTTPS."
  }

  assert {
    condition     = digitalocean_uptime_alert.down[0].type == "down" && digitalocean_uptime_alert.down[0].check_id == digitalocean_uptime_check.this[0].id
    error_message = "A down alert must be attached to the uptime check."
  }
}

run "notifies_by_email_only_without_a_slack_webhook" {
  command = apply

  assert {
    condition     = alltrue([for a in digitalocean_monitor_alert.droplet : a.alerts[0].email == tolist(["ops@restomarket.example"]) && length(a.alerts[0].slack) == 0])
    error_message = "Without a webhook, alerts go to email only."
  }

  assert {
    condition     = !output.notifies_slack
    error_message = "notifies_slack must be false without a webhook."
  }
}

run "adds_slack_when_a_webhook_is_set" {
  command = apply

  variables {
    slack_webhook_url = "https://hooks.slack.com/triggers/test-only"
  }

  assert {
    condition     = alltrue([for a in digitalocean_monitor_alert.droplet : length(a.alerts[0].slack) == 1])
    error_message = "With a webhook, every droplet alert must also notify Slack."
  }

  assert {
    condition     = length(digitalocean_uptime_alert.down[0].notifications[0].slack) == 1
    error_message = "With a webhook, the uptime alert must also notify Slack."
  }
}

run "skips_the_lb_alert_when_not_watching" {
  command = plan

  variables {
    watch_load_balancer = false
    load_balancer_id    = null
  }

  assert {
    condition     = length(digitalocean_monitor_alert.lb_droplet_health) == 0
    error_message = "No load balancer alert may be created without watch_load_balancer."
  }
}

run "requires_an_lb_id_when_watching" {
  command = plan

  variables {
    load_balancer_id = null
  }

  expect_failures = [digitalocean_monitor_alert.lb_droplet_health]
}

run "rejects_a_threshold_over_100" {
  command = plan

  variables {
    cpu_threshold_percent = 150
  }

  expect_failures = [var.cpu_threshold_percent]
}

run "rejects_an_invalid_email" {
  command = plan

  variables {
    alert_emails = ["not-an-address"]
  }

  expect_failures = [var.alert_emails]
}

run "rejects_a_non_slack_webhook" {
  command = plan

  variables {
    slack_webhook_url = "https://example.com/hook"
  }

  expect_failures = [var.slack_webhook_url]
}
