output "cluster_id" {
  description = "ID of the Valkey cluster."
  value       = digitalocean_database_cluster.this.id
}

output "cluster_urn" {
  description = "Uniform resource name of the cluster, for project assignment."
  value       = digitalocean_database_cluster.this.urn
}

output "engine" {
  description = "Engine slug of the cluster (valkey)."
  value       = digitalocean_database_cluster.this.engine
}

output "host" {
  description = "Private (VPC) hostname of the cluster."
  value       = digitalocean_database_cluster.this.private_host
}

output "port" {
  description = "TCP port of the cluster (TLS only)."
  value       = digitalocean_database_cluster.this.port
}

output "user" {
  description = "Default user of the cluster."
  value       = digitalocean_database_cluster.this.user
}

output "password" {
  description = "Password of the default user."
  value       = digitalocean_database_cluster.this.password
  sensitive   = true
}

output "private_connection_string" {
  description = "rediss:// URI (TLS) over the VPC; Redis clients accept it unchanged."
  value       = "rediss://${local.credentials}@${digitalocean_database_cluster.this.private_host}:${digitalocean_database_cluster.this.port}"
  sensitive   = true
}

output "eviction_policy" {
  description = "Eviction policy applied to the cluster."
  value       = digitalocean_database_cluster.this.eviction_policy
}

output "firewall_tags" {
  description = "Droplet tags admitted by the cluster firewall."
  value       = sort([for r in digitalocean_database_firewall.this.rule : r.value if r.type == "tag"])
}
