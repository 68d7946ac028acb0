# One API droplet for a dev environment in an existing VPC.
provider "digitalocean" {}

variable "vpc_id" {
  description = "ID of an existing VPC in fra1."
  type        = string
}

variable "ssh_key_fingerprint" {
  description = "Fingerprint of an SSH key uploaded to DigitalOcean."
  type        = string
}

module "api" {
  source = "../.."

  environment          = "dev"
  region               = "fra1"
  droplet_count        = 1
  vpc_id               = var.vpc_id
  ssh_key_fingerprints = [var.ssh_key_fingerprint]
}

output "public_ips" {
  description = "Public IPv4 addresses of the example droplets."
  value       = module.api.public_ipv4_addresses
}
