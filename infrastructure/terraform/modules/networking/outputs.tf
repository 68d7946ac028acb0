output "vpc_id" {
  description = "ID (UUID) of the VPC; pass it to droplets, databases and load balancers."
  value       = digitalocean_vpc.this.id
}

output "vpc_urn" {
  description = "Uniform resource name of the VPC, for project assignment."
  value       = digitalocean_vpc.this.urn
}

output "vpc_name" {
  description = "Name of the VPC."
  value       = digitalocean_vpc.this.name
}

output "vpc_ip_range" {
  description = "Private IPv4 range of the VPC."
  value       = digitalocean_vpc.this.ip_range
}

output "region" {
  description = "Region the VPC lives in."
  value       = digitalocean_vpc.this.region
}

output "firewall_id" {
  description = "ID of the main cloud firewall, or null when create_firewall is false."
  value       = try(digitalocean_firewall.this["main"].id, null)
}

output "firewall_inbound_rules" {
  description = "Inbound rules of the main firewall as planned (empty when no firewall is created)."
  value       = try(local.planned_inbound_rules["main"], [])
}

output "extra_firewall_inbound_rules" {
  description = "Inbound rules of the extra_firewalls as planned, by key."
  value       = { for key, rules in local.planned_inbound_rules : key => rules if key != "main" }
}
