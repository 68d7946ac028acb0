variable "project" {
  description = "Project name used in droplet names and tags."
  type        = string
  default     = "restomarket"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.project))
    error_message = "project must be 2-31 characters of lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "environment" {
  description = "Environment the droplets belong to; becomes a tag and part of every name."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "production"], var.environment)
    error_message = "environment must be dev, staging or production."
  }
}

variable "service" {
  description = "Service the droplets run; becomes a tag and part of every name."
  type        = string
  default     = "api"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.service))
    error_message = "service must be 2-21 characters of lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "region" {
  description = "DigitalOcean region slug; must match the VPC's region."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{3}[0-9]$", var.region))
    error_message = "region must be a DigitalOcean region slug such as fra1, ams3 or nyc3."
  }
}

variable "droplet_count" {
  description = "Number of droplets."
  type        = number

  validation {
    condition     = var.droplet_count >= 1 && var.droplet_count <= 10 && floor(var.droplet_count) == var.droplet_count
    error_message = "droplet_count must be a whole number from 1 to 10."
  }
}

variable "droplet_size" {
  description = "Droplet size slug, for example s-1vcpu-2gb."
  type        = string
  default     = "s-1vcpu-2gb"

  validation {
    condition     = can(regex("^[a-z0-9]+(-[a-z0-9]+)+$", var.droplet_size))
    error_message = "droplet_size must be a DigitalOcean size slug such as s-1vcpu-2gb."
  }
}

variable "image" {
  description = "Base image slug. Debian 12 is the OS the Ansible roles are tested on (infrastructure/ansible)."
  type        = string
  default     = "debian-12-x64"

  validation {
    condition     = var.image == "debian-12-x64"
    error_message = "image must be debian-12-x64, the OS the Ansible roles that provision the droplets are tested on."
  }
}

variable "vpc_id" {
  description = "ID of the VPC the droplets join (private networking to the databases)."
  type        = string

  validation {
    condition     = length(trimspace(var.vpc_id)) > 0
    error_message = "vpc_id must not be empty."
  }
}

variable "ssh_key_fingerprints" {
  description = "Fingerprints (or IDs) of SSH keys already uploaded to DigitalOcean, installed for root at creation; Ansible's first run logs in with one. Changing them later does not touch existing droplets."
  type        = list(string)

  validation {
    condition     = length(var.ssh_key_fingerprints) > 0
    error_message = "ssh_key_fingerprints must contain at least one key, otherwise nobody can log in."
  }
}

variable "extra_tags" {
  description = "Additional tags for the droplets."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for t in var.extra_tags : can(regex("^[A-Za-z0-9:_-]{1,255}$", t))])
    error_message = "extra_tags may contain only letters, digits, colons, dashes and underscores."
  }
}

# The first validation refers to var.droplet_count, which needs Terraform 1.9
# (versions.tf). The private key is opaque here: only its armour is checked.
variable "host_keys" {
  description = "SSH host key pairs (ed25519, OpenSSH format), one per droplet in droplet order. When given, each droplet's cloud-init deletes the image's host keys, generates none and installs its own pair, so known_hosts can be written from the known_hosts output before the droplet boots. Used at creation only. Empty: the image generates its own keys, which must then be learned another way."
  type = list(object({
    private_key = string
    public_key  = string
  }))
  default   = []
  sensitive = true

  validation {
    condition     = length(var.host_keys) == 0 || length(var.host_keys) == var.droplet_count
    error_message = "host_keys must hold exactly one key pair per droplet (as many as droplet_count), or be empty to let the image generate its own host keys."
  }

  validation {
    condition     = alltrue([for key in var.host_keys : can(regex("^ssh-ed25519 [A-Za-z0-9+/]+={0,2}( [^\n]*)?$", key.public_key))])
    error_message = "Every host_keys public_key must be one line \"ssh-ed25519 <base64> [comment]\" without a trailing newline: the content of the .pub file written by ssh-keygen -t ed25519."
  }

  validation {
    condition     = alltrue([for key in var.host_keys : can(regex("(?s)-{5}BEGIN OPENSSH PRIVATE KEY-{5}.*-{5}END OPENSSH PRIVATE KEY-{5}", key.private_key))])
    error_message = "Every host_keys private_key must be a whole OpenSSH private key, from its BEGIN to its END line, as written by ssh-keygen -t ed25519 -N '' (no passphrase: cloud-init installs it unattended)."
  }
}
