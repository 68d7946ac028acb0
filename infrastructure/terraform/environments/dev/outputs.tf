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

output "api_known_hosts" {
  description = "known_hosts lines of the API droplets, \"PUBLIC_IP,PRIVATE_IP ssh-ed25519 KEY\" (KEY: the base64 public key), from host_keys (empty without them). infrastructure/tools/ansible-inventory.sh writes them to infrastructure/ansible/inventory/dev.known_hosts; CI connects with StrictHostKeyChecking=yes against that file."
  value       = module.api.known_hosts
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

# Read by infrastructure/tools/ansible-inventory.sh: the hosts' firewall,
# proxy port, bind address and proxy handover wait follow these, so nothing
# is copied by hand.
output "api_port" {
  description = "Port of the API proxy on each droplet (the firewall admits it from api_public_cidrs)."
  value       = local.api_port
}

output "vpc_ip_range" {
  description = "IP range of the VPC (the API port is open to it)."
  value       = var.vpc_ip_range
}

output "admin_cidrs" {
  description = "Address ranges admitted to SSH."
  value       = var.admin_cidrs
}

output "api_public_cidrs" {
  description = "Address ranges outside the VPC admitted to the API port: admin_cidrs (developers reach the API directly)."
  value       = local.api_public_cidrs
}

output "lb_drain_seconds" {
  description = "Seconds a load balancer needs to stop sending a failing droplet new connections: 0, because dev has no load balancer (the deploy engine replaces a proxy without waiting)."
  value       = 0
}

output "postgres_ca_certificate" {
  description = "PEM CA certificate of the PostgreSQL cluster: the API verifies the server against it (verify-full)."
  value       = module.database.ca_certificate
}
