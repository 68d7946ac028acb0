locals {
  # One tag that only this environment's API droplets carry: firewalls,
  # database firewalls, the load balancer and alerts all select by it.
  target_tag = "${var.project}-${var.environment}-${var.service}"
  tags       = distinct(concat([var.project, var.environment, var.service, local.target_tag], var.extra_tags))

  cloud_init = templatefile("${path.module}/templates/cloud-init.yaml.tftpl", {
    deploy_user     = var.deploy_user
    deploy_ssh_keys = var.deploy_ssh_public_keys
    app_dir         = var.app_dir
  })
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
    # A new base image must not replace running API servers; roll them with
    # the deploy engine instead.
    ignore_changes = [image]
  }
}
