variable "name" {
  description = "Name of the VPC; also the prefix of the firewall name. Lowercase letters, digits and dashes."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.name))
    error_message = "name must be 3-63 characters of lowercase letters, digits and dashes, starting and ending with a letter or digit."
  }
}

variable "region" {
  description = "DigitalOcean region slug for the VPC, for example fra1 or nyc3."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{3}[0-9]$", var.region))
    error_message = "region must be a DigitalOcean region slug such as fra1, ams3 or nyc3."
  }
}

variable "ip_range" {
  description = "Private IPv4 range of the VPC in CIDR notation (a /16 to /28 inside RFC 1918 space)."
  type        = string

  validation {
    condition     = can(cidrhost(var.ip_range, 0)) && can(regex("^(10\\.|172\\.(1[6-9]|2[0-9]|3[01])\\.|192\\.168\\.)", var.ip_range))
    error_message = "ip_range must be a valid private IPv4 CIDR block, for example 10.10.0.0/20."
  }

  validation {
    condition     = can(cidrhost(var.ip_range, 0)) && try(tonumber(split("/", var.ip_range)[1]) >= 16 && tonumber(split("/", var.ip_range)[1]) <= 28, false)
    error_message = "ip_range prefix length must be between /16 and /28."
  }
}

variable "description" {
  description = "Free-text description shown in the DigitalOcean control panel."
  type        = string
  default     = "Managed by Terraform"
}

variable "create_firewall" {
  description = "Whether to create the cloud firewall for the tagged droplets."
  type        = bool
  default     = true
}

variable "firewall_droplet_tags" {
  description = "Droplet tags the firewall applies to. Required (non-empty) when create_firewall is true."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for t in var.firewall_droplet_tags : can(regex("^[A-Za-z0-9:_-]{1,255}$", t))])
    error_message = "firewall_droplet_tags may contain only letters, digits, colons, dashes and underscores."
  }
}

variable "inbound_rules" {
  description = "Inbound firewall rules. Each rule allows one protocol/port range from addresses, droplet tags or load balancers."
  type = list(object({
    protocol                  = string
    port_range                = optional(string)
    source_addresses          = optional(list(string), [])
    source_tags               = optional(list(string), [])
    source_load_balancer_uids = optional(list(string), [])
  }))
  default = []

  validation {
    condition     = alltrue([for r in var.inbound_rules : contains(["tcp", "udp", "icmp"], r.protocol)])
    error_message = "Every inbound rule protocol must be tcp, udp or icmp."
  }

  validation {
    condition     = alltrue([for r in var.inbound_rules : alltrue([for a in r.source_addresses : can(cidrhost(a, 0))])])
    error_message = "Every inbound rule source address must be a valid CIDR block, for example 203.0.113.10/32."
  }

  validation {
    condition     = alltrue([for r in var.inbound_rules : r.protocol == "icmp" || r.port_range != null])
    error_message = "tcp and udp inbound rules need a port_range such as \"22\" or \"8000-8100\"."
  }
}

variable "extra_firewalls" {
  description = "Further cloud firewalls in the VPC, by a short key, for droplets that must not get the main firewall's inbound rules (a CI runner, for example): firewall KEY is named NAME-KEY-fw (NAME: the name variable) and applies to its droplet_tags, admitting only its inbound_rules (shaped like inbound_rules; none by default), with the same outbound_rules as the main firewall."
  type = map(object({
    droplet_tags = list(string)
    inbound_rules = optional(list(object({
      protocol                  = string
      port_range                = optional(string)
      source_addresses          = optional(list(string), [])
      source_tags               = optional(list(string), [])
      source_load_balancer_uids = optional(list(string), [])
    })), [])
  }))
  default = {}

  validation {
    condition     = alltrue([for key in keys(var.extra_firewalls) : can(regex("^[a-z][a-z0-9-]{1,30}$", key)) && key != "main"])
    error_message = "extra_firewalls keys must be 2-31 characters of lowercase letters, digits and dashes, starting with a letter, and not \"main\" (the main firewall's)."
  }

  validation {
    condition     = alltrue([for fw in values(var.extra_firewalls) : alltrue([for t in fw.droplet_tags : can(regex("^[A-Za-z0-9:_-]{1,255}$", t))])])
    error_message = "extra_firewalls droplet_tags may contain only letters, digits, colons, dashes and underscores."
  }

  validation {
    condition     = alltrue([for fw in values(var.extra_firewalls) : alltrue([for r in fw.inbound_rules : contains(["tcp", "udp", "icmp"], r.protocol)])])
    error_message = "Every extra_firewalls inbound rule protocol must be tcp, udp or icmp."
  }

  validation {
    condition = alltrue([
      for fw in values(var.extra_firewalls) : alltrue([for r in fw.inbound_rules : alltrue([for a in r.source_addresses : can(cidrhost(a, 0))])])
    ])
    error_message = "Every extra_firewalls inbound rule source address must be a valid CIDR block, for example 203.0.113.10/32."
  }

  validation {
    condition     = alltrue([for fw in values(var.extra_firewalls) : alltrue([for r in fw.inbound_rules : r.protocol == "icmp" || r.port_range != null])])
    error_message = "tcp and udp inbound rules of extra_firewalls need a port_range such as \"22\" or \"8000-8100\"."
  }
}

variable "outbound_rules" {
  description = "Outbound rules of every firewall (the main one and extra_firewalls). The default allows all egress, which droplets need for package installs and image pulls."
  type = list(object({
    protocol              = string
    port_range            = optional(string)
    destination_addresses = optional(list(string), [])
    destination_tags      = optional(list(string), [])
  }))
  default = [
    { protocol = "tcp", port_range = "1-65535", destination_addresses = ["0.0.0.0/0", "::/0"] },
    { protocol = "udp", port_range = "1-65535", destination_addresses = ["0.0.0.0/0", "::/0"] },
    { protocol = "icmp", destination_addresses = ["0.0.0.0/0", "::/0"] },
  ]

  validation {
    condition     = alltrue([for r in var.outbound_rules : contains(["tcp", "udp", "icmp"], r.protocol)])
    error_message = "Every outbound rule protocol must be tcp, udp or icmp."
  }

  validation {
    condition     = alltrue([for r in var.outbound_rules : alltrue([for a in r.destination_addresses : can(cidrhost(a, 0))])])
    error_message = "Every outbound rule destination address must be a valid CIDR block."
  }
}
