# CPU, memory and disk alerts for droplets tagged "example-api", plus an
# uptime check with a down alert, notified by email.
provider "digitalocean" {}

module "monitoring" {
  source = "../.."

  name_prefix      = "example"
  droplet_tag      = "example-api"
  alert_emails     = ["ops@example.com"]
  uptime_check_url = "https://api.example.com/health"
}

output "droplet_alerts" {
  description = "Alert policies created by the example."
  value       = module.monitoring.droplet_alerts
}
