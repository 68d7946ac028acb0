resource "digitalocean_vpc" "this" {
  name        = var.name
  region      = var.region
  ip_range    = var.ip_range
  description = var.description
}

resource "digitalocean_firewall" "this" {
  count = var.create_firewall ? 1 : 0

  name = "${var.name}-fw"
  tags = var.firewall_droplet_tags

  lifecycle {
    precondition {
      condition     = length(var.firewall_droplet_tags) > 0
      error_message = "firewall_droplet_tags must name at least one droplet tag when create_firewall is true."
    }
  }

  dynamic "inbound_rule" {
    for_each = var.inbound_rules
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
