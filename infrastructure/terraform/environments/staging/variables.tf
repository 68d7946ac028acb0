variable "region" {
  description = "DigitalOcean region for every staging resource."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{3}[0-9]$", var.region))
    error_message = "region must be a DigitalOcean region slug such as fra1, ams3 or nyc3."
  }
}

variable "vpc_ip_range" {
  description = "Private IPv4 range of the staging VPC."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_ip_range, 0))
    error_message = "vpc_ip_range must be a valid IPv4 CIDR block, for example 10.20.0.0/20."
  }
}

variable "admin_cidrs" {
  description = "Operator networks allowed to SSH to the droplets. Nothing else reaches them except the load balancer."
  type        = list(string)

  validation {
    condition     = length(var.admin_cidrs) > 0 && alltrue([for c in var.admin_cidrs : can(cidrhost(c, 0))])
    error_message = "admin_cidrs must list at least one valid CIDR block, for example 203.0.113.10/32."
  }

  validation {
    condition     = !anytrue([for c in var.admin_cidrs : endswith(c, "/0")])
    error_message = "admin_cidrs must not contain a /0 block: SSH may not be open to the whole internet."
  }
}

variable "domain" {
  description = "Public hostname of the staging API, for example api.staging.example.com. Its zone must be hosted in DigitalOcean DNS (Let's Encrypt)."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain))
    error_message = "domain must be a lowercase fully qualified domain name."
  }
}

variable "droplet_count" {
  description = "Number of API droplets behind the load balancer."
  type        = number

  validation {
    condition     = var.droplet_count >= 2 && floor(var.droplet_count) == var.droplet_count
    error_message = "Staging needs at least 2 API droplets so a deploy or a failure never takes the API down."
  }
}

variable "droplet_size" {
  description = "Size slug of the API droplets."
  type        = string
}

variable "ssh_key_fingerprints" {
  description = "Fingerprints of SSH keys uploaded to DigitalOcean, installed for root when a droplet is created (Ansible's first run logs in with one; the deploy keys live in the Ansible inventory). Set in a local *.auto.tfvars or TF_VAR_ssh_key_fingerprints."
  type        = list(string)
}

variable "host_keys" {
  description = "SSH host key pairs (ed25519), one per API droplet in droplet order, installed by cloud-init when a droplet is created so that its known_hosts line (output api_known_hosts) exists before it boots. Generated outside the repository by infrastructure/tools/host-keys.sh staging, which prints them as JSON for TF_VAR_host_keys; never in terraform.tfvars. Empty: the droplets generate their own host keys."
  type = list(object({
    private_key = string
    public_key  = string
  }))
  default   = []
  sensitive = true
}

variable "ci_runner_size" {
  description = "Size slug of the CI runner droplet (the deploy job's self-hosted GitHub Actions runner)."
  type        = string
  default     = "s-1vcpu-2gb"
}

variable "ci_runner_host_keys" {
  description = "SSH host key pair (ed25519) of the CI runner droplet, a list of one, installed by cloud-init when the droplet is created so that its known_hosts line (output ci_runner_known_hosts) exists before it boots. Generated outside the repository by infrastructure/tools/host-keys.sh staging --service ci-runner --count 1, which prints it as JSON for TF_VAR_ci_runner_host_keys; never in terraform.tfvars. Empty: the droplet generates its own host keys."
  type = list(object({
    private_key = string
    public_key  = string
  }))
  default   = []
  sensitive = true
}

variable "postgres_size" {
  description = "Size slug of the PostgreSQL nodes."
  type        = string
}

variable "postgres_node_count" {
  description = "Number of PostgreSQL nodes; staging runs a primary with a standby."
  type        = number

  validation {
    condition     = var.postgres_node_count >= 2 && floor(var.postgres_node_count) == var.postgres_node_count
    error_message = "Staging PostgreSQL needs at least 2 nodes (primary and standby)."
  }
}

variable "valkey_size" {
  description = "Size slug of the Valkey node."
  type        = string
}

variable "alert_emails" {
  description = "Addresses notified by monitoring and uptime alerts (verified on the DigitalOcean team)."
  type        = list(string)
}

variable "slack_channel" {
  description = "Slack channel for alerts; used only when slack_webhook_url is set."
  type        = string
  default     = "#restomarket-staging-alerts"
}

variable "slack_webhook_url" {
  description = "Slack incoming-webhook URL for alerts; null disables Slack. Only via TF_VAR_slack_webhook_url."
  type        = string
  default     = null
  sensitive   = true
}
