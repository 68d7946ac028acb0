variable "name" {
  description = "Name of the Valkey cluster. Lowercase letters, digits and dashes."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.name))
    error_message = "name must be 3-63 characters of lowercase letters, digits and dashes."
  }
}

variable "region" {
  description = "DigitalOcean region slug; keep it the same as the VPC and the droplets."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{3}[0-9]$", var.region))
    error_message = "region must be a DigitalOcean region slug such as fra1, ams3 or nyc3."
  }
}

variable "engine_version" {
  description = "Major Valkey version."
  type        = string
  default     = "8"

  validation {
    condition     = contains(["7", "8"], var.engine_version)
    error_message = "engine_version must be a Valkey major offered by DigitalOcean: 7 or 8."
  }
}

variable "size" {
  description = "Node size slug, for example db-s-1vcpu-1gb."
  type        = string
  default     = "db-s-1vcpu-1gb"

  validation {
    condition     = can(regex("^(db|gd|m)-[a-z0-9-]+$", var.size))
    error_message = "size must be a DigitalOcean database size slug such as db-s-1vcpu-1gb."
  }
}

variable "node_count" {
  description = "Number of nodes: 1 is a single primary, 2 adds a standby for failover."
  type        = number
  default     = 1

  validation {
    condition     = var.node_count >= 1 && var.node_count <= 2 && floor(var.node_count) == var.node_count
    error_message = "node_count must be 1 or 2."
  }
}

variable "vpc_id" {
  description = "ID of the VPC the cluster is attached to."
  type        = string

  validation {
    condition     = length(trimspace(var.vpc_id)) > 0
    error_message = "vpc_id must not be empty."
  }
}

variable "allowed_droplet_tags" {
  description = "Droplet tags admitted by the cluster firewall (the API servers' tag)."
  type        = list(string)

  validation {
    condition     = length(var.allowed_droplet_tags) > 0
    error_message = "allowed_droplet_tags must name at least one droplet tag, otherwise the cluster accepts connections from anywhere."
  }

  validation {
    condition     = alltrue([for t in var.allowed_droplet_tags : can(regex("^[A-Za-z0-9:_-]{1,255}$", t))])
    error_message = "allowed_droplet_tags may contain only letters, digits, colons, dashes and underscores."
  }
}

variable "eviction_policy" {
  description = "What Valkey evicts when memory is full, in DigitalOcean API spelling. allkeys_lru suits a cache."
  type        = string
  default     = "allkeys_lru"

  validation {
    condition     = contains(["noeviction", "allkeys_lru", "allkeys_random", "volatile_lru", "volatile_random", "volatile_ttl"], var.eviction_policy)
    error_message = "eviction_policy must be one of noeviction, allkeys_lru, allkeys_random, volatile_lru, volatile_random, volatile_ttl."
  }
}

variable "maintenance_window" {
  description = "Weekly window (UTC) in which DigitalOcean may apply updates."
  type = object({
    day  = string
    hour = string
  })
  default = {
    day  = "sunday"
    hour = "04:00"
  }

  validation {
    condition     = contains(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"], var.maintenance_window.day)
    error_message = "maintenance_window.day must be a lowercase weekday name."
  }

  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$", var.maintenance_window.hour))
    error_message = "maintenance_window.hour must be HH:MM in 24-hour UTC time."
  }
}

variable "tags" {
  description = "Tags attached to the cluster itself (for billing and filtering)."
  type        = list(string)
  default     = []
}
