# A small Valkey cache in an existing VPC, reachable only from droplets tagged
# "example-api".
provider "digitalocean" {}

variable "vpc_id" {
  description = "ID of an existing VPC in fra1."
  type        = string
}

module "cache" {
  source = "../.."

  name                 = "example-valkey"
  region               = "fra1"
  vpc_id               = var.vpc_id
  allowed_droplet_tags = ["example-api"]
}

output "connection_string" {
  description = "Private rediss:// URI of the example cache."
  value       = module.cache.private_connection_string
  sensitive   = true
}
