# DigitalOcean retired Managed Caching (Redis) in 2025; Valkey is the
# Redis-compatible engine that replaced it, so this module runs Valkey.
resource "digitalocean_database_cluster" "this" {
  name                 = var.name
  engine               = "valkey"
  version              = var.engine_version
  size                 = var.size
  region               = var.region
  node_count           = var.node_count
  private_network_uuid = var.vpc_id
  eviction_policy      = var.eviction_policy
  tags                 = var.tags

  maintenance_window {
    day  = var.maintenance_window.day
    hour = var.maintenance_window.hour
  }
}

locals {
  # user:password for the connection URI; the password may hold URI delimiters.
  credentials = "${digitalocean_database_cluster.this.user}:${urlencode(digitalocean_database_cluster.this.password)}"
}

resource "digitalocean_database_firewall" "this" {
  cluster_id = digitalocean_database_cluster.this.id

  dynamic "rule" {
    for_each = toset(var.allowed_droplet_tags)
    content {
      type  = "tag"
      value = rule.value
    }
  }
}
