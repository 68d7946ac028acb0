variable "name" {
  description = "Name of the load balancer; also the prefix of the certificate name."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,55}[a-z0-9]$", var.name))
    error_message = "name must be 3-57 characters of lowercase letters, digits and dashes."
  }
}

variable "region" {
  description = "DigitalOcean region slug; must match the droplets' region."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{3}[0-9]$", var.region))
    error_message = "region must be a DigitalOcean region slug such as fra1, ams3 or nyc3."
  }
}

variable "vpc_id" {
  description = "ID of the VPC shared with the droplets; traffic to them stays private."
  type        = string

  validation {
    condition     = length(trimspace(var.vpc_id)) > 0
    error_message = "vpc_id must not be empty."
  }
}

variable "droplet_tag" {
  description = "Droplets carrying this tag are attached automatically, including ones created later."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9:_-]{1,255}$", var.droplet_tag))
    error_message = "droplet_tag may contain only letters, digits, colons, dashes and underscores."
  }
}

variable "domains" {
  description = "Fully qualified names on the Let's Encrypt certificate, for example [\"api.staging.example.com\"]. Their DNS zone must be hosted by DigitalOcean."
  type        = list(string)

  validation {
    condition     = length(var.domains) > 0 && alltrue([for d in var.domains : can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", d))])
    error_message = "domains must list at least one lowercase fully qualified domain name."
  }
}

variable "target_port" {
  description = "Port the API listens on inside the droplets."
  type        = number
  default     = 3001

  validation {
    condition     = var.target_port >= 1 && var.target_port <= 65535
    error_message = "target_port must be a TCP port number (1-65535)."
  }
}

variable "health_check_path" {
  description = "HTTP path the load balancer probes on target_port; a droplet is healthy while it answers 2xx."
  type        = string
  default     = "/readyz"

  validation {
    condition     = startswith(var.health_check_path, "/")
    error_message = "health_check_path must start with a slash."
  }
}

variable "health_check_interval_seconds" {
  description = "Seconds between two health checks of one droplet (3, the default, is DigitalOcean's smallest: the fastest failover)."
  type        = number
  default     = 3

  validation {
    condition     = var.health_check_interval_seconds >= 3 && var.health_check_interval_seconds <= 300
    error_message = "health_check_interval_seconds must be between 3 and 300."
  }
}

variable "size_unit" {
  description = "Number of load balancer nodes (capacity units)."
  type        = number
  default     = 1

  validation {
    condition     = var.size_unit >= 1 && var.size_unit <= 100 && floor(var.size_unit) == var.size_unit
    error_message = "size_unit must be a whole number from 1 to 100."
  }
}
