output "vpc_id" {
  description = "ID of the dev VPC."
  value       = module.network.vpc_id
}

output "droplet_count" {
  description = "Number of API droplets."
  value       = module.api.droplet_count
}

output "api_public_ips" {
  description = "Public IPv4 addresses of the API droplets; the API answers on port 3001 for admin_cidrs."
  value       = module.api.public_ipv4_addresses
}

output "api_private_ips" {
  description = "VPC-private IPv4 addresses of the API droplets."
  value       = module.api.private_ipv4_addresses
}

output "api_target_tag" {
  description = "Tag that selects the dev API droplets."
  value       = module.api.target_tag
}

output "firewall_inbound_rules" {
  description = "Inbound rules of the droplet firewall."
  value       = module.network.firewall_inbound_rules
}

output "postgres_host" {
  description = "Private hostname of PostgreSQL."
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
  description = "Private postgresql:// URI for the API (sensitive: terraform output -raw postgres_connection_string)."
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
