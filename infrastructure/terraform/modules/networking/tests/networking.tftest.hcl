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
    condition     = length(digitalocean_firewall.this) == 1 && digitalocean_firewall.this["main"].tags == toset(["restomarket-test-api"]) && digitalocean_firewall.this["main"].name == "restomarket-test-fw"
    error_message = "One firewall must apply to the configured droplet tag."
  }

  assert {
    condition = anytrue([
      for r in digitalocean_firewall.this["main"].inbound_rule :
      r.port_range == "22" && toset(r.source_addresses) == toset(["203.0.113.0/28"])
    ])
    error_message = "SSH must be allowed from the configured address range."
  }

  assert {
    condition = anytrue([
      for r in digitalocean_firewall.this["main"].inbound_rule :
      r.port_range == "3001" && toset(r.source_load_balancer_uids) == toset(["lb-uid-1"]) && length(r.source_addresses) == 0
    ])
    error_message = "Port 3001 must be allowed from the load balancer only."
  }

  assert {
    condition     = length(digitalocean_firewall.this["main"].outbound_rule) == 3
    error_message = "The default outbound rules (tcp, udp, icmp) must be applied."
  }
}

run "an_extra_firewall_admits_only_its_own_rules" {
  command = apply

  variables {
    extra_firewalls = {
      ci-runner = {
        droplet_tags  = ["restomarket-test-ci-runner"]
        inbound_rules = [{ protocol = "tcp", port_range = "22", source_addresses = ["203.0.113.0/28"] }]
      }
      quiet = { droplet_tags = ["restomarket-test-quiet"] }
    }
  }

  assert {
    condition = (
      digitalocean_firewall.this["ci-runner"].name == "restomarket-test-ci-runner-fw" &&
      digitalocean_firewall.this["ci-runner"].tags == toset(["restomarket-test-ci-runner"])
    )
    error_message = "An extra firewall must be named <name>-<key>-fw and apply to its own droplet tags."
  }

  assert {
    condition = (
      join(",", keys(output.extra_firewall_inbound_rules)) == "ci-runner,quiet" &&
      length(output.extra_firewall_inbound_rules["ci-runner"]) == 1 &&
      length(output.extra_firewall_inbound_rules["quiet"]) == 0
    )
    error_message = "Each extra firewall must admit its own inbound rules and nothing else (none when it has none)."
  }

  assert {
    condition = alltrue([
      for r in output.extra_firewall_inbound_rules["ci-runner"] :
      r.protocol == "tcp" && r.port_range == "22" && r.source_addresses == tolist(["203.0.113.0/28"]) &&
      length(r.source_tags) == 0 && length(r.source_load_balancer_uids) == 0
    ])
    error_message = "The ci-runner firewall must admit SSH from 203.0.113.0/28 only."
  }

  assert {
    condition     = length(output.firewall_inbound_rules) == 2 && !contains(keys(output.extra_firewall_inbound_rules), "main")
    error_message = "The main firewall keeps its own rules, apart from the extra firewalls."
  }

  assert {
    condition     = alltrue([for fw in digitalocean_firewall.this : length(fw.outbound_rule) == 3])
    error_message = "Every firewall, extra ones included, must get the outbound rules."
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

run "rejects_an_extra_firewall_named_main" {
  command = plan

  variables {
    extra_firewalls = { main = { droplet_tags = ["restomarket-test-other"] } }
  }

  expect_failures = [var.extra_firewalls]
}

run "rejects_an_invalid_extra_firewall_source_address" {
  command = plan

  variables {
    extra_firewalls = {
      ci-runner = {
        droplet_tags  = ["restomarket-test-ci-runner"]
        inbound_rules = [{ protocol = "tcp", port_range = "22", source_addresses = ["0.0.0.300/32"] }]
      }
    }
  }

  expect_failures = [var.extra_firewalls]
}

run "rejects_an_extra_firewall_without_tags" {
  command = plan

  variables {
    extra_firewalls = { ci-runner = { droplet_tags = [] } }
  }

  expect_failures = [digitalocean_firewall.this]
}

run "rejects_a_firewall_without_tags" {
  command = plan

  variables {
    firewall_droplet_tags = []
  }

  expect_failures = [digitalocean_firewall.this]
}
