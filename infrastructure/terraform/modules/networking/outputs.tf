output "vpc_id" {
  description = "ID (UUID) of the VPC; pass it to droplets, databases and load balancers."
  value       = digitalocean_vpc.this.id
}

output "vpc_urn" {
  description = "Uniform resource name of the VPC, for project assignment."
  value       = digitalocean_vpc.this.urn
}

output "vpc_name" {
  description = "Name of the VPC."
  value       = digitalocean_vpc.this.name
}

output "vpc_ip_range" {
  description = "Private IPv4 range of the VPC."
  value       = digitalocean_vpc.this.ip_range
}

output "region" {
  description = "Region the VPC lives in."
  value       = digitalocean_vpc.this.region
}

output "firewall_id" {
  description = "ID of the cloud firewall, or null when create_firewall is false."
  value       = one(digitalocean_firewall.this[*].id)
}

output "firewall_inbound_rules" {
  description = "Inbound rules of the firewall as planned (empty when no firewall is created)."
  value = flatten([
    for fw in digitalocean_firewall.this : [
      for r in fw.inbound_rule : {
        protocol                  = r.protocol
        port_range                = r.port_range
        source_addresses          = sort(r.source_addresses)
        source_tags               = sort(r.source_tags)
        source_load_balancer_uids = sort(r.source_load_balancer_uids)
      }
    ]
  ])
}
