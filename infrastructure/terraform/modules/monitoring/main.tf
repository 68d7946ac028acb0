locals {
  # Droplet alert policies, keyed by a short name. Thresholds are percentages.
  droplet_alerts = {
    cpu = {
      type        = "v1/insights/droplet/cpu"
      value       = var.cpu_threshold_percent
      window      = var.cpu_window
      description = "CPU above ${var.cpu_threshold_percent}% for ${var.cpu_window}"
    }
    memory = {
      type        = "v1/insights/droplet/memory_utilization_percent"
      value       = var.memory_threshold_percent
      window      = var.memory_window
      description = "Memory above ${var.memory_threshold_percent}% for ${var.memory_window}"
    }
    disk = {
      type        = "v1/insights/droplet/disk_utilization_percent"
      value       = var.disk_threshold_percent
      window      = var.disk_window
      description = "Disk above ${var.disk_threshold_percent}%"
    }
  }

  # Whether Slack is configured is not itself a secret; the URL stays sensitive.
  slack_enabled = nonsensitive(var.slack_webhook_url != null)
}

resource "digitalocean_monitor_alert" "droplet" {
  for_each = local.droplet_alerts

  description = "${var.name_prefix}: ${each.value.description}"
  type        = each.value.type
  compare     = "GreaterThan"
  value       = each.value.value
  window      = each.value.window
  tags        = [var.droplet_tag]
  enabled     = true

  alerts {
    email = var.alert_emails

    dynamic "slack" {
      for_each = local.slack_enabled ? [var.slack_channel] : []
      content {
        channel = slack.value
        url     = var.slack_webhook_url
      }
    }
  }
}

# Fires when the load balancer's health check marks droplets unhealthy,
# i.e. when /health stops answering on one of the API servers.
resource "digitalocean_monitor_alert" "lb_droplet_health" {
  # A separate flag, because the load balancer's ID is unknown until apply
  # and count must be known at plan time.
  count = var.watch_load_balancer ? 1 : 0

  description = "${var.name_prefix}: load balancer sees more than ${var.lb_unhealthy_droplets_threshold} unhealthy droplet(s)"
  type        = "v1/insights/lbaas/droplet_health"
  compare     = "GreaterThan"
  value       = var.lb_unhealthy_droplets_threshold
  window      = var.lb_health_window
  entities    = [var.load_balancer_id]
  enabled     = true

  lifecycle {
    precondition {
      condition     = var.load_balancer_id != null
      error_message = "load_balancer_id must be set when watch_load_balancer is true."
    }
  }

  alerts {
    email = var.alert_emails

    dynamic "slack" {
      for_each = local.slack_enabled ? [var.slack_channel] : []
      content {
        channel = slack.value
        url     = var.slack_webhook_url
      }
    }
  }
}

resource "digitalocean_uptime_check" "this" {
  count = var.uptime_check_url == null ? 0 : 1

  name    = "${var.name_prefix}-uptime"
  target  = var.uptime_check_url
  type    = startswith(var.uptime_check_url, "https://") ? "https" : "http"
  regions = var.uptime_check_regions
  enabled = true
}

resource "digitalocean_uptime_alert" "down" {
  count = var.uptime_check_url == null ? 0 : 1

  name     = "${var.name_prefix}-down"
  check_id = digitalocean_uptime_check.this[0].id
  type     = "down"
  period   = var.uptime_alert_period

  notifications {
    email = var.alert_emails

    dynamic "slack" {
      for_each = local.slack_enabled ? [var.slack_channel] : []
      content {
        channel = slack.value
        url     = var.slack_webhook_url
      }
    }
  }
}
