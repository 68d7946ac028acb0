# Dev: one API droplet that developers reach directly, a single-node
# PostgreSQL and a small Valkey, all inside one VPC.
locals {
  environment = "dev"
  name        = "restomarket-${local.environment}"
  api_port    = 3001
  # Developers reach the API directly: the firewall admits the API port from
  # these addresses on the public interface (Ansible binds the proxy to match).
  api_public_cidrs = var.admin_cidrs
}

module "network" {
  source = "../../modules/networking"

  name                  = local.name
  region                = var.region
  ip_range              = var.vpc_ip_range
  description           = "Restomarket ${local.environment}"
  firewall_droplet_tags = [module.api.target_tag]

  inbound_rules = [
    { protocol = "tcp", port_range = "22", source_addresses = var.admin_cidrs },
    { protocol = "tcp", port_range = tostring(local.api_port), source_addresses = local.api_public_cidrs },
  ]
}

module "api" {
  source = "../../modules/api-cluster"

  environment          = local.environment
  region               = var.region
  droplet_count        = var.droplet_count
  droplet_size         = var.droplet_size
  vpc_id               = module.network.vpc_id
  ssh_key_fingerprints = var.ssh_key_fingerprints
  host_keys            = var.host_keys
}

module "database" {
  source = "../../modules/database"

  name                 = "${local.name}-pg"
  region               = var.region
  size                 = var.postgres_size
  node_count           = var.postgres_node_count
  vpc_id               = module.network.vpc_id
  allowed_droplet_tags = [module.api.target_tag]
  tags                 = [local.environment]
}

module "cache" {
  source = "../../modules/redis"

  name                 = "${local.name}-valkey"
  region               = var.region
  size                 = var.valkey_size
  vpc_id               = module.network.vpc_id
  allowed_droplet_tags = [module.api.target_tag]
  tags                 = [local.environment]
}
