# A VPC with a firewall that admits SSH from one office range to droplets
# tagged "example-api".
provider "digitalocean" {}

module "network" {
  source = "../.."

  name                  = "example-net"
  region                = "fra1"
  ip_range              = "10.100.0.0/20"
  firewall_droplet_tags = ["example-api"]

  inbound_rules = [
    { protocol = "tcp", port_range = "22", source_addresses = ["203.0.113.0/28"] },
  ]
}

output "vpc_id" {
  description = "ID of the example VPC."
  value       = module.network.vpc_id
}
