mock_provider "digitalocean" {}

variables {
  name                  = "restomarket-test"
  region                = "fra1"
  ip_range              = "10.30.0.0/20"
  firewall_droplet_tags = ["restomarket-test-api"]
  inbound_rules = [
    { protocol = "tcp", port_range = "22", source_addresses = ["203.0.113.0/28"] },
    { protocol = "tcp", port_range = "3001", source_load_balancer_uids = ["lb-uid-1"] },
  ]
}

run "creates_vpc_with_the_configured_range" {
  command = apply

  assert {
    condition     = digitalocean_vpc.this.ip_range == "10.30.0.0/20" && digitalocean_vpc.this.region == "fra1"
    error_message = "The VPC must use the configured region and IP range."
  }

  assert {
    condition     = output.vpc_id == digitalocean_vpc.this.id && output.vpc_ip_range == "10.30.0.0/20"
    error_message = "The outputs must expose the VPC ID and range."
  }
}

run "firewall_applies_the_configured_rules_to_the_tag" {
  command = apply

  assert {
    condition     = length(digitalocean_firewall.this) == 1 && digitalocean_firewall.this[0].tags == toset(["restomarket-test-api"])
    error_message = "One firewall must apply to the configured droplet tag."
  }

  assert {
    condition = anytrue([
      for r in digitalocean_firewall.this[0].inbound_rule :
      r.port_range == "22" && toset(r.source_addresses) == toset(["203.0.113.0/28"])
    ])
    error_message = "SSH must be allowed from the configured address range."
  }

  assert {
    condition = anytrue([
      for r in digitalocean_firewall.this[0].inbound_rule :
      r.port_range == "3001" && toset(r.source_load_balancer_uids) == toset(["lb-uid-1"]) && length(r.source_addresses) == 0
    ])
    error_message = "Port 3001 must be allowed from the load balancer only."
  }

  assert {
    condition     = length(digitalocean_firewall.this[0].outbound_rule) == 3
    error_message = "The default outbound rules (tcp, udp, icmp) must be applied."
  }
}

run "no_firewall_when_disabled" {
  command = apply

  variables {
    create_firewall       = false
    firewall_droplet_tags = []
  }

  assert {
    condition     = length(digitalocean_firewall.this) == 0 && output.firewall_id == null
    error_message = "create_firewall = false must not create a firewall."
  }
}

run "rejects_an_invalid_cidr" {
  command = plan

  variables {
    ip_range = "10.30.0.0/33"
  }

  expect_failures = [var.ip_range]
}

run "rejects_a_public_range" {
  command = plan

  variables {
    ip_range = "8.8.8.0/24"
  }

  expect_failures = [var.ip_range]
}

run "rejects_an_invalid_source_address" {
  command = plan

  variables {
    inbound_rules = [{ protocol = "tcp", port_range = "22", source_addresses = ["10.0.0.300/32"] }]
  }

  expect_failures = [var.inbound_rules]
}

run "rejects_a_firewall_without_tags" {
  command = plan

  variables {
    firewall_droplet_tags = []
  }

  expect_failures = [digitalocean_firewall.this]
}
