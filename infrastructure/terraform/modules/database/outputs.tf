output "cluster_id" {
  description = "ID of the PostgreSQL cluster."
  value       = digitalocean_database_cluster.this.id
}

output "cluster_urn" {
  description = "Uniform resource name of the cluster, for project assignment."
  value       = digitalocean_database_cluster.this.urn
}

output "node_count" {
  description = "Number of nodes in the cluster."
  value       = digitalocean_database_cluster.this.node_count
}

output "engine_version" {
  description = "PostgreSQL major version of the cluster."
  value       = digitalocean_database_cluster.this.version
}

output "host" {
  description = "Private (VPC) hostname of the primary node; what the API should connect to."
  value       = digitalocean_database_cluster.this.private_host
}

output "port" {
  description = "TCP port of the cluster."
  value       = digitalocean_database_cluster.this.port
}

output "database" {
  description = "Name of the application database."
  value       = digitalocean_database_db.app.name
}

output "user" {
  description = "Name of the application user."
  value       = digitalocean_database_user.app.name
}

output "password" {
  description = "Password of the application user."
  value       = digitalocean_database_user.app.password
  sensitive   = true
}

output "private_connection_string" {
  description = "postgresql:// URI for the application user over the VPC, with TLS required (verify-full needs ca_certificate as sslrootcert)."
  value       = "postgresql://${local.credentials}@${digitalocean_database_cluster.this.private_host}:${digitalocean_database_cluster.this.port}/${digitalocean_database_db.app.name}?sslmode=require"
  sensitive   = true
}

output "ca_certificate" {
  description = "PEM CA certificate of the cluster, for verify-full TLS (public, not a secret)."
  value       = data.digitalocean_database_ca.this.certificate
}

output "firewall_tags" {
  description = "Droplet tags admitted by the database firewall."
  value       = sort([for r in digitalocean_database_firewall.this.rule : r.value if r.type == "tag"])
}
