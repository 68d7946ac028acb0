output "droplet_ids" {
  description = "IDs of the API droplets."
  value       = digitalocean_droplet.this[*].id
}

output "droplet_names" {
  description = "Names of the API droplets."
  value       = digitalocean_droplet.this[*].name
}

output "droplet_count" {
  description = "Number of API droplets."
  value       = length(digitalocean_droplet.this)
}

output "droplet_urns" {
  description = "Uniform resource names of the droplets, for project assignment."
  value       = digitalocean_droplet.this[*].urn
}

output "public_ipv4_addresses" {
  description = "Public IPv4 addresses of the droplets (SSH for the deploy engine)."
  value       = digitalocean_droplet.this[*].ipv4_address
}

output "private_ipv4_addresses" {
  description = "VPC-private IPv4 addresses of the droplets."
  value       = digitalocean_droplet.this[*].ipv4_address_private
}

output "target_tag" {
  description = "Tag carried only by this environment's API droplets; select them by it in firewalls, load balancers and alerts."
  value       = digitalocean_tag.this[local.target_tag].name
}

output "tags" {
  description = "All tags on the droplets."
  value       = local.tags
}

output "cloud_init" {
  description = "Rendered cloud-init user data given to every droplet (installs python3 for Ansible; nothing secret)."
  value       = local.cloud_init
}

output "droplet_images" {
  description = "Base image slug of each droplet."
  value       = digitalocean_droplet.this[*].image
}
