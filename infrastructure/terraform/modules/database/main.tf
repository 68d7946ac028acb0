locals {
  # user:password for the connection URI; the password may hold URI delimiters.
  credentials = "${digitalocean_database_user.app.name}:${urlencode(digitalocean_database_user.app.password)}"
}

resource "digitalocean_database_cluster" "this" {
  name                 = var.name
  engine               = "pg"
  version              = var.engine_version
  size                 = var.size
  region               = var.region
  node_count           = var.node_count
  private_network_uuid = var.vpc_id
  tags                 = var.tags

  maintenance_window {
    day  = var.maintenance_window.day
    hour = var.maintenance_window.hour
  }
}

resource "digitalocean_database_db" "app" {
  cluster_id = digitalocean_database_cluster.this.id
  name       = var.database_name
}

resource "digitalocean_database_user" "app" {
  cluster_id = digitalocean_database_cluster.this.id
  name       = var.app_user_name
}

# The cluster's own CA: the API verifies the server certificate against it
# (sslmode=verify-full). Read after the cluster exists, so plans of a new
# cluster show it as known after apply.
data "digitalocean_database_ca" "this" {
  cluster_id = digitalocean_database_cluster.this.id
}

# Only droplets carrying one of these tags (the API servers) may connect;
# without a firewall rule a managed cluster accepts any source.
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
