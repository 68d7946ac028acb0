# Staging: production-like. Two API droplets behind an HTTPS load balancer,
# a two-node PostgreSQL, Valkey, a firewall that admits only SSH (from the
# operators and the CI runner) and the API port (from the load balancer),
# and alerts. The CI runner, the deploy job's self-hosted GitHub Actions
# runner, is a droplet of its own in the VPC that only the operators reach.
locals {
  environment = "staging"
  name        = "restomarket-${local.environment}"
  api_port    = 3001
  # The load balancer routes on readiness (the database; 503 while an API
  # shuts down), as the deploy engine gates on it (HEALTH_PATH): Redis only
  # caches, so a Valkey outage keeps every droplet in rotation. The uptime
  # alert watches /health, which also reports Redis, so people hear of it.
  ready_path  = "/readyz"
  health_path = "/health"
}

module "network" {
  source = "../../modules/networking"

  name                  = local.name
  region                = var.region
  ip_range              = var.vpc_ip_range
  description           = "Restomarket ${local.environment}"
  firewall_droplet_tags = [module.api.target_tag]

  inbound_rules = [
    { protocol = "tcp", port_range = "22", source_addresses = var.admin_cidrs, source_tags = [module.ci_runner.target_tag] },
    { protocol = "tcp", port_range = tostring(local.api_port), source_load_balancer_uids = [module.lb.id] },
  ]

  # The runner only dials out (GitHub, the registry, apt, the API droplets),
  # so nothing but the operators' SSH comes in.
  extra_firewalls = {
    ci-runner = {
      droplet_tags  = [module.ci_runner.target_tag]
      inbound_rules = [{ protocol = "tcp", port_range = "22", source_addresses = var.admin_cidrs }]
    }
  }
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

# A host like the API droplets (Debian 12, provisioned by Ansible), with a tag
# of its own so that the load balancer, the databases and the alerts, which
# select the API tag, never include it.
module "ci_runner" {
  source = "../../modules/api-cluster"

  environment          = local.environment
  service              = "ci-runner"
  region               = var.region
  droplet_count        = 1
  droplet_size         = var.ci_runner_size
  vpc_id               = module.network.vpc_id
  ssh_key_fingerprints = var.ssh_key_fingerprints
  host_keys            = var.ci_runner_host_keys
}

module "lb" {
  source = "../../modules/load-balancer"

  name              = "${local.name}-lb"
  region            = var.region
  vpc_id            = module.network.vpc_id
  droplet_tag       = module.api.target_tag
  domains           = [var.domain]
  target_port       = local.api_port
  health_check_path = local.ready_path
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

module "monitoring" {
  source = "../../modules/monitoring"

  name_prefix         = local.name
  droplet_tag         = module.api.target_tag
  load_balancer_id    = module.lb.id
  watch_load_balancer = true
  uptime_check_url    = "https://${var.domain}${local.health_path}"
  alert_emails        = var.alert_emails
  slack_channel       = var.slack_channel
  slack_webhook_url   = var.slack_webhook_url
}
