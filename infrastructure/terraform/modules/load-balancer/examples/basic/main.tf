# An HTTPS load balancer for droplets tagged "example-api", with a Let's
# Encrypt certificate for api.example.com (zone hosted in DigitalOcean DNS).
provider "digitalocean" {}

variable "vpc_id" {
  description = "ID of an existing VPC in fra1."
  type        = string
}

module "lb" {
  source = "../.."

  name        = "example-lb"
  region      = "fra1"
  vpc_id      = var.vpc_id
  droplet_tag = "example-api"
  domains     = ["api.example.com"]
}

output "ip" {
  description = "Public IP to point api.example.com at."
  value       = module.lb.ip
}
