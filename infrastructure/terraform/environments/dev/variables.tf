variable "region" {
  description = "DigitalOcean region for every dev resource."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{3}[0-9]$", var.region))
    error_message = "region must be a DigitalOcean region slug such as fra1, ams3 or nyc3."
  }
}

variable "vpc_ip_range" {
  description = "Private IPv4 range of the dev VPC."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_ip_range, 0))
    error_message = "vpc_ip_range must be a valid IPv4 CIDR block, for example 10.10.0.0/20."
  }
}

variable "admin_cidrs" {
  description = "Operator networks allowed to SSH to the droplets and to call the API directly (dev has no load balancer)."
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

variable "droplet_count" {
  description = "Number of API droplets."
  type        = number

  validation {
    condition     = var.droplet_count >= 1 && floor(var.droplet_count) == var.droplet_count
    error_message = "droplet_count must be a whole number of at least 1."
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
  description = "SSH host key pairs (ed25519), one per API droplet in droplet order, installed by cloud-init when a droplet is created so that its known_hosts line (output api_known_hosts) exists before it boots. Generated outside the repository by infrastructure/tools/host-keys.sh dev, which prints them as JSON for TF_VAR_host_keys; never in terraform.tfvars. Empty: the droplets generate their own host keys."
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
  description = "Number of PostgreSQL nodes."
  type        = number

  validation {
    condition     = var.postgres_node_count >= 1 && floor(var.postgres_node_count) == var.postgres_node_count
    error_message = "postgres_node_count must be a whole number of at least 1."
  }
}

variable "valkey_size" {
  description = "Size slug of the Valkey node."
  type        = string
}
