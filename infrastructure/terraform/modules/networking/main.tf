resource "digitalocean_vpc" "this" {
  name        = var.name
  region      = var.region
  ip_range    = var.ip_range
  description = var.description
}

locals {
  # The main firewall (create_firewall, inbound_rules) under the key "main",
  # and each of extra_firewalls under its own key: one resource declares them
  # all, so every firewall in the VPC gets the same outbound rules.
  firewalls = merge(
    var.create_firewall ? {
      main = { name = "${var.name}-fw", droplet_tags = var.firewall_droplet_tags, inbound_rules = var.inbound_rules }
    } : {},
    {
      for key, fw in var.extra_firewalls :
      key => { name = "${var.name}-${key}-fw", droplet_tags = fw.droplet_tags, inbound_rules = fw.inbound_rules }
    },
  )

  # Each firewall's inbound rules as planned, sources sorted, for the outputs.
  planned_inbound_rules = {
    for key, fw in digitalocean_firewall.this : key => [
      for r in fw.inbound_rule : {
        protocol                  = r.protocol
        port_range                = r.port_range
        source_addresses          = sort(r.source_addresses)
        source_tags               = sort(r.source_tags)
        source_load_balancer_uids = sort(r.source_load_balancer_uids)
      }
    ]
  }
}

resource "digitalocean_firewall" "this" {
  for_each = local.firewalls

  name = each.value.name
  tags = each.value.droplet_tags

  lifecycle {
    precondition {
      condition     = length(each.value.droplet_tags) > 0
      error_message = "firewall_droplet_tags (when create_firewall is true) and the droplet_tags of every extra_firewalls entry must name at least one droplet tag."
    }
  }

  dynamic "inbound_rule" {
    for_each = each.value.inbound_rules
    content {
      protocol                  = inbound_rule.value.protocol
      port_range                = inbound_rule.value.port_range
      source_addresses          = inbound_rule.value.source_addresses
      source_tags               = inbound_rule.value.source_tags
      source_load_balancer_uids = inbound_rule.value.source_load_balancer_uids
    }
  }

  dynamic "outbound_rule" {
    for_each = var.outbound_rules
    content {
      protocol              = outbound_rule.value.protocol
      port_range            = outbound_rule.value.port_range
      destination_addresses = outbound_rule.value.destination_addresses
      destination_tags      = outbound_rule.value.destination_tags
    }
  }
}

# The main firewall was once the only one (count); it keeps its place in state.
moved {
  from = digitalocean_firewall.this[0]
  to   = digitalocean_firewall.this["main"]
}
