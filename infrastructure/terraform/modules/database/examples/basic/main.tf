# A single-node PostgreSQL in an existing VPC, reachable only from droplets
# tagged "example-api".
provider "digitalocean" {}

variable "vpc_id" {
  description = "ID of an existing VPC in fra1."
  type        = string
}

module "database" {
  source = "../.."

  name                 = "example-pg"
  region               = "fra1"
  size                 = "db-s-1vcpu-1gb"
  node_count           = 1
  vpc_id               = var.vpc_id
  allowed_droplet_tags = ["example-api"]
}

output "host" {
  description = "Private host of the example cluster."
  value       = module.database.host
}

output "connection_string" {
  description = "Private connection string of the example cluster."
  value       = module.database.private_connection_string
  sensitive   = true
}
