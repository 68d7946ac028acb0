output "droplet_alerts" {
  description = "Droplet alert policies by name (cpu, memory, disk): type, comparison, threshold and window."
  value = { for k, a in digitalocean_monitor_alert.droplet : k => {
    uuid    = a.uuid
    type    = a.type
    compare = a.compare
    value   = a.value
    window  = a.window
  } }
}

output "lb_droplet_health_alert" {
  description = "Load balancer droplet-health alert policy, or null when watch_load_balancer is false."
  value = one([for a in digitalocean_monitor_alert.lb_droplet_health : {
    uuid     = a.uuid
    type     = a.type
    compare  = a.compare
    value    = a.value
    window   = a.window
    entities = a.entities
  }])
}

output "uptime_check_id" {
  description = "ID of the uptime check, or null."
  value       = one(digitalocean_uptime_check.this[*].id)
}

output "uptime_alert" {
  description = "Uptime down-alert settings, or null."
  value = one([for a in digitalocean_uptime_alert.down : {
    id     = a.id
    type   = a.type
    period = a.period
  }])
}

output "notifies_slack" {
  description = "Whether notifications also go to Slack."
  value       = local.slack_enabled
}
