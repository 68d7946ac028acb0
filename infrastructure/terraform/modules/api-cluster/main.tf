locals {
  # One tag that only this environment's droplets of this service carry
  # (restomarket-staging-api): firewalls, database firewalls, the load
  # balancer and alerts all select by it.
  target_tag = "${var.project}-${var.environment}-${var.service}"
  tags       = distinct(concat([var.project, var.environment, var.service, local.target_tag], var.extra_tags))

  # Ansible does all the provisioning; this only lets it connect. Rendered
  # without a host key, it holds nothing secret (the cloud_init output).
  cloud_init_template = "${path.module}/templates/cloud-init.yaml.tftpl"
  cloud_init          = templatefile(local.cloud_init_template, { host_key = null })

  # User data per droplet: droplet i's rendering holds host key pair i and is
  # sensitive (the private key); without host_keys every droplet gets the
  # key-less rendering above, not sensitive. How many pairs were given is no
  # secret, and each rendering is marked on its own (not the list, not
  # through a conditional, which would mark both outcomes), so droplets
  # without host keys keep exactly the user data they had before host_keys.
  # The validation of host_keys makes the list all one kind or the other.
  host_key_count = nonsensitive(length(var.host_keys))
  user_data = concat(
    [for i in range(local.host_key_count) : templatefile(local.cloud_init_template, { host_key = var.host_keys[i] })],
    [for i in range(var.droplet_count - local.host_key_count) : local.cloud_init],
  )

  # The public halves as "<type> <base64>", their comments dropped, for
  # known_hosts. A public key is not secret, but it arrives inside the
  # sensitive host_keys, which would make the known_hosts output sensitive and
  # hide it from `terraform output` and the Ansible inventory script; so only
  # the public_key attributes are unmarked, never the private keys.
  host_public_keys = [
    for key in nonsensitive(var.host_keys[*].public_key) : join(" ", slice(split(" ", trimspace(key)), 0, 2))
  ]
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

  # Each droplet's own host key (count.index), when host_keys is set.
  user_data = local.user_data[count.index]

  lifecycle {
    # Each of these forces a new droplet, and none of them matters after the
    # first boot: a new base image is rolled out by replacing hosts on
    # purpose, root's keys only serve Ansible's first run (Ansible manages
    # every key after it), and the cloud-init user data runs once. Rotating a
    # key must never destroy a running API server. That includes the SSH host
    # keys in user_data: they are installed at creation only, so changing
    # host_keys does nothing to an existing droplet; rotating a droplet's
    # host key means replacing the droplet on purpose (terraform apply
    # -replace=...) with the new pair in host_keys.
    ignore_changes = [image, ssh_keys, user_data]
  }
}
