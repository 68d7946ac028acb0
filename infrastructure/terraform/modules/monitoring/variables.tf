variable "name_prefix" {
  description = "Prefix for alert descriptions and uptime check names, for example restomarket-staging."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,40}$", var.name_prefix))
    error_message = "name_prefix must be 2-41 characters of lowercase letters, digits and dashes."
  }
}

variable "droplet_tag" {
  description = "Droplet tag the CPU, memory and disk alerts watch (the API droplets' target tag)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9:_-]{1,255}$", var.droplet_tag))
    error_message = "droplet_tag may contain only letters, digits, colons, dashes and underscores."
  }
}

variable "alert_emails" {
  description = "Addresses notified of every alert; they must be verified on the DigitalOcean team."
  type        = list(string)

  validation {
    condition     = length(var.alert_emails) > 0 && alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alert_emails must contain at least one valid email address."
  }
}

variable "slack_channel" {
  description = "Slack channel for notifications; used only when slack_webhook_url is set."
  type        = string
  default     = "#alerts"
}

variable "slack_webhook_url" {
  description = "Slack incoming-webhook URL. Null disables Slack notifications. Pass it via TF_VAR_slack_webhook_url, never in a tfvars file."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.slack_webhook_url == null || can(regex("^https://hooks\\.slack\\.com/", var.slack_webhook_url))
    error_message = "slack_webhook_url must be a https://hooks.slack.com/ URL or null."
  }
}

variable "cpu_threshold_percent" {
  description = "Alert when droplet CPU use stays above this percentage for cpu_window."
  type        = number
  default     = 80

  validation {
    condition     = var.cpu_threshold_percent > 0 && var.cpu_threshold_percent < 100
    error_message = "cpu_threshold_percent must be between 0 and 100."
  }
}

variable "cpu_window" {
  description = "How long CPU must stay above the threshold."
  type        = string
  default     = "5m"

  validation {
    condition     = contains(["5m", "10m", "30m", "1h"], var.cpu_window)
    error_message = "cpu_window must be one of 5m, 10m, 30m, 1h."
  }
}

variable "memory_threshold_percent" {
  description = "Alert when droplet memory use stays above this percentage for memory_window."
  type        = number
  default     = 85

  validation {
    condition     = var.memory_threshold_percent > 0 && var.memory_threshold_percent < 100
    error_message = "memory_threshold_percent must be between 0 and 100."
  }
}

variable "memory_window" {
  description = "How long memory must stay above the threshold."
  type        = string
  default     = "5m"

  validation {
    condition     = contains(["5m", "10m", "30m", "1h"], var.memory_window)
    error_message = "memory_window must be one of 5m, 10m, 30m, 1h."
  }
}

variable "disk_threshold_percent" {
  description = "Alert when droplet disk use is above this percentage."
  type        = number
  default     = 90

  validation {
    condition     = var.disk_threshold_percent > 0 && var.disk_threshold_percent < 100
    error_message = "disk_threshold_percent must be between 0 and 100."
  }
}

variable "disk_window" {
  description = "Evaluation window of the disk alert (the shortest DigitalOcean allows)."
  type        = string
  default     = "5m"

  validation {
    condition     = contains(["5m", "10m", "30m", "1h"], var.disk_window)
    error_message = "disk_window must be one of 5m, 10m, 30m, 1h."
  }
}

variable "watch_load_balancer" {
  description = "Whether to alert on the droplet health reported by the load balancer in load_balancer_id."
  type        = bool
  default     = false
}

variable "load_balancer_id" {
  description = "ID of the load balancer whose droplet health is watched; required when watch_load_balancer is true."
  type        = string
  default     = null
}

variable "lb_unhealthy_droplets_threshold" {
  description = "Alert when more than this many droplets behind the load balancer are unhealthy."
  type        = number
  default     = 0

  validation {
    condition     = var.lb_unhealthy_droplets_threshold >= 0
    error_message = "lb_unhealthy_droplets_threshold must not be negative."
  }
}

variable "lb_health_window" {
  description = "Evaluation window of the load balancer droplet-health alert."
  type        = string
  default     = "5m"

  validation {
    condition     = contains(["5m", "10m", "30m", "1h"], var.lb_health_window)
    error_message = "lb_health_window must be one of 5m, 10m, 30m, 1h."
  }
}

variable "uptime_check_url" {
  description = "Public URL probed by DigitalOcean Uptime, for example https://api.staging.example.com/health; null skips the check."
  type        = string
  default     = null

  validation {
    condition     = var.uptime_check_url == null || can(regex("^https?://[^/\\s]+(/\\S*)?$", var.uptime_check_url))
    error_message = "uptime_check_url must be an http:// or https:// URL, or null."
  }
}

variable "uptime_check_regions" {
  description = "Regions the uptime check probes from."
  type        = list(string)
  default     = ["eu_west", "us_east"]

  validation {
    condition     = length(var.uptime_check_regions) > 0 && alltrue([for r in var.uptime_check_regions : contains(["us_east", "us_west", "eu_west", "se_asia"], r)])
    error_message = "uptime_check_regions must be a non-empty subset of us_east, us_west, eu_west, se_asia."
  }
}

variable "uptime_alert_period" {
  description = "How long the target must be down before the uptime alert fires."
  type        = string
  default     = "2m"

  validation {
    condition     = contains(["2m", "3m", "5m", "10m", "15m", "30m", "1h"], var.uptime_alert_period)
    error_message = "uptime_alert_period must be one of 2m, 3m, 5m, 10m, 15m, 30m, 1h."
  }
}
