output "droplet_ids" {
  description = "IDs of the droplets."
  value       = digitalocean_droplet.this[*].id
}

output "droplet_names" {
  description = "Names of the droplets."
  value       = digitalocean_droplet.this[*].name
}

output "droplet_count" {
  description = "Number of droplets."
  value       = length(digitalocean_droplet.this)
}

output "droplet_urns" {
  description = "Uniform resource names of the droplets, for project assignment."
  value       = digitalocean_droplet.this[*].urn
}

output "public_ipv4_addresses" {
  description = "Public IPv4 addresses of the droplets."
  value       = digitalocean_droplet.this[*].ipv4_address
}

output "private_ipv4_addresses" {
  description = "VPC-private IPv4 addresses of the droplets."
  value       = digitalocean_droplet.this[*].ipv4_address_private
}

output "target_tag" {
  description = "Tag carried only by this environment's droplets of this service; select them by it in firewalls, load balancers and alerts."
  value       = digitalocean_tag.this[local.target_tag].name
}

output "tags" {
  description = "All tags on the droplets."
  value       = local.tags
}

output "cloud_init" {
  description = "Rendered cloud-init user data without a host key, what every droplet gets when host_keys is empty (installs python3 for Ansible; nothing secret). With host_keys, each droplet's user data adds its own ssh_keys section, which is not output."
  value       = local.cloud_init
}

output "droplet_images" {
  description = "Base image slug of each droplet."
  value       = digitalocean_droplet.this[*].image
}

output "droplet_vpc_ids" {
  description = "ID of the VPC each droplet joined."
  value       = digitalocean_droplet.this[*].vpc_uuid
}

# Not sensitive although host_keys is: only the public halves are read, and
# they are unmarked in main.tf (local.host_public_keys). A sensitive output
# would be hidden from `terraform output` and from the Ansible inventory.
output "known_hosts" {
  description = "known_hosts lines, one per droplet in droplet order: \"PUBLIC_IP,PRIVATE_IP ssh-ed25519 KEY\", KEY being the base64 of the droplet's public key in host_keys (its comment dropped); empty when host_keys is empty. Written to a known_hosts file so that Ansible and CI connect with StrictHostKeyChecking=yes and never trust a host key on first use. It reflects host_keys, not the droplets: a droplet keeps the key it was created with."
  value = [
    for i, key in local.host_public_keys :
    "${digitalocean_droplet.this[i].ipv4_address},${digitalocean_droplet.this[i].ipv4_address_private} ${key}"
  ]
}
