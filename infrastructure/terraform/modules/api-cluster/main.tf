locals {
  # One tag that only this environment's API droplets carry: firewalls,
  # database firewalls, the load balancer and alerts all select by it.
  target_tag = "${var.project}-${var.environment}-${var.service}"
  tags       = distinct(concat([var.project, var.environment, var.service, local.target_tag], var.extra_tags))

  # Ansible does all the provisioning; this only lets it connect.
  cloud_init = templatefile("${path.module}/templates/cloud-init.yaml.tftpl", {})
}

resource "digitalocean_tag" "this" {
  for_each = toset(local.tags)
  name     = each.value
}

resource "digitalocean_droplet" "this" {
  count = var.droplet_count

  name       = format("%s-%s-%s-%02d", var.project, var.environment, var.service, count.index + 1)
  region     = var.region
  size       = var.droplet_size
  image      = var.image
  vpc_uuid   = var.vpc_id
  ssh_keys   = var.ssh_key_fingerprints
  monitoring = true
  ipv6       = false
  tags       = [for t in local.tags : digitalocean_tag.this[t].name]

  user_data = local.cloud_init

  lifecycle {
    # Each of these forces a new droplet, and none of them matters after the
    # first boot: a new base image is rolled out by replacing hosts on
    # purpose, root's keys only serve Ansible's first run (Ansible manages
    # every key after it), and the cloud-init user data runs once. Rotating a
    # key must never destroy a running API server.
    ignore_changes = [image, ssh_keys, user_data]
  }
}
