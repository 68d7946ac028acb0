output "load_balancer_ip" {
  description = "Public IPv4 of the load balancer: the A record for var.domain must point here."
  value       = module.lb.ip
}

output "load_balancer_id" {
  description = "ID of the load balancer."
  value       = module.lb.id
}

output "api_url" {
  description = "Public HTTPS URL of the staging API."
  value       = "https://${var.domain}"
}

output "load_balancer_forwarding_rules" {
  description = "Forwarding rules of the load balancer."
  value       = module.lb.forwarding_rules
}

output "load_balancer_healthcheck" {
  description = "Health check of the load balancer."
  value       = module.lb.healthcheck
}

output "vpc_id" {
  description = "ID of the staging VPC."
  value       = module.network.vpc_id
}

output "droplet_count" {
  description = "Number of API droplets."
  value       = module.api.droplet_count
}

output "api_public_ips" {
  description = "Public IPv4 addresses of the API droplets (SSH from admin_cidrs only)."
  value       = module.api.public_ipv4_addresses
}

output "api_private_ips" {
  description = "VPC-private IPv4 addresses of the API droplets."
  value       = module.api.private_ipv4_addresses
}

output "api_known_hosts" {
  description = "known_hosts lines of the API droplets, \"PUBLIC_IP,PRIVATE_IP ssh-ed25519 KEY\" (KEY: the base64 public key), from host_keys (empty without them). infrastructure/tools/ansible-inventory.sh writes them to infrastructure/ansible/inventory/staging.known_hosts; CI connects with StrictHostKeyChecking=yes against that file."
  value       = module.api.known_hosts
}

output "api_target_tag" {
  description = "Tag that selects the staging API droplets."
  value       = module.api.target_tag
}

output "firewall_inbound_rules" {
  description = "Inbound rules of the API droplets' firewall."
  value       = module.network.firewall_inbound_rules
}

output "ci_runner_public_ip" {
  description = "Public IPv4 address of the CI runner droplet (SSH from admin_cidrs only)."
  value       = module.ci_runner.public_ipv4_addresses[0]
}

output "ci_runner_private_ip" {
  description = "VPC-private IPv4 address of the CI runner droplet: the API droplets' ufw admits SSH from it."
  value       = module.ci_runner.private_ipv4_addresses[0]
}

output "ci_runner_known_hosts" {
  description = "known_hosts line of the CI runner droplet, \"PUBLIC_IP,PRIVATE_IP ssh-ed25519 KEY\", from ci_runner_host_keys (empty without them). infrastructure/tools/ansible-inventory.sh adds it to infrastructure/ansible/inventory/staging.known_hosts."
  value       = module.ci_runner.known_hosts
}

output "ci_runner_target_tag" {
  description = "Tag that selects the staging CI runner droplet; the API droplets' firewall admits SSH from it."
  value       = module.ci_runner.target_tag
}

output "postgres_host" {
  description = "Private hostname of the PostgreSQL primary."
  value       = module.database.host
}

output "postgres_port" {
  description = "PostgreSQL port."
  value       = module.database.port
}

output "postgres_database" {
  description = "Application database name."
  value       = module.database.database
}

output "postgres_user" {
  description = "Application database user."
  value       = module.database.user
}

output "postgres_node_count" {
  description = "Number of PostgreSQL nodes."
  value       = module.database.node_count
}

output "postgres_connection_string" {
  description = "Private postgresql:// URI for the API (sensitive)."
  value       = module.database.private_connection_string
  sensitive   = true
}

output "valkey_host" {
  description = "Private hostname of Valkey."
  value       = module.cache.host
}

output "valkey_port" {
  description = "Valkey port (TLS)."
  value       = module.cache.port
}

output "valkey_connection_string" {
  description = "Private rediss:// URI for the API (sensitive)."
  value       = module.cache.private_connection_string
  sensitive   = true
}

output "droplet_alerts" {
  description = "CPU, memory and disk alert policies."
  value       = module.monitoring.droplet_alerts
}

output "lb_droplet_health_alert" {
  description = "Load balancer droplet-health alert policy."
  value       = module.monitoring.lb_droplet_health_alert
}

output "uptime_alert" {
  description = "Uptime down-alert on https://<domain>/health."
  value       = module.monitoring.uptime_alert
}

# Read by infrastructure/tools/ansible-inventory.sh: the hosts' firewall,
# proxy port, bind address and proxy handover wait follow these, so nothing
# is copied by hand.
output "api_port" {
  description = "Port of the API proxy on each droplet (the load balancer forwards to it)."
  value       = local.api_port
}

output "vpc_ip_range" {
  description = "IP range of the VPC (the load balancer reaches the droplets in it)."
  value       = var.vpc_ip_range
}

output "admin_cidrs" {
  description = "Address ranges admitted to SSH."
  value       = var.admin_cidrs
}

output "api_public_cidrs" {
  description = "Address ranges outside the VPC admitted to the API port: none, only the load balancer reaches it."
  value       = []
}

output "lb_drain_seconds" {
  description = "Seconds after a droplet starts failing health checks until the load balancer sends it no new connections; the deploy engine waits this long before it replaces the droplet's proxy."
  value       = module.lb.drain_seconds
}

output "postgres_ca_certificate" {
  description = "PEM CA certificate of the PostgreSQL cluster: the API verifies the server against it (verify-full)."
  value       = module.database.ca_certificate
}
