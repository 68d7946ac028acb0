# Runs against terraform.tfvars (the real staging values) with a mocked
# provider, and checks the numbers the devops plan asks for.
mock_provider "digitalocean" {}

variables {
  ssh_key_fingerprints = ["aa:bb:cc:dd"]
}

run "staging_runs_two_api_droplets_and_a_two_node_postgres" {
  command = apply

  assert {
    condition     = output.droplet_count == 2
    error_message = "Staging must run two API droplets."
  }

  assert {
    condition     = output.postgres_node_count == 2
    error_message = "Staging PostgreSQL must have two nodes."
  }

  assert {
    condition     = module.cache.engine == "valkey"
    error_message = "The cache must be Valkey."
  }
}

run "load_balancer_terminates_tls_and_forwards_to_the_api" {
  command = apply

  assert {
    condition = anytrue([
      for r in output.load_balancer_forwarding_rules :
      r.entry_protocol == "https" && r.entry_port == 443 && r.target_protocol == "http" && r.target_port == 3001 &&
      r.certificate_name == module.lb.certificate_name
    ])
    error_message = "The load balancer must forward HTTPS 443 to HTTP 3001 with the Let's Encrypt certificate."
  }

  assert {
    condition     = module.lb.redirect_http_to_https
    error_message = "HTTP must be redirected to HTTPS."
  }

  assert {
    condition     = output.load_balancer_healthcheck.path == "/readyz" && output.load_balancer_healthcheck.port == 3001 && output.load_balancer_healthcheck.protocol == "http"
    error_message = "The health check must probe the readiness path /readyz on port 3001."
  }

  assert {
    condition     = module.lb.sticky_sessions_type == "none"
    error_message = "Sticky sessions must be off."
  }

  assert {
    condition     = module.lb.droplet_tag == output.api_target_tag
    error_message = "The load balancer must attach the API droplets by their tag."
  }

  assert {
    condition     = output.load_balancer_ip != null
    error_message = "The load balancer IP must be exported."
  }
}

run "firewall_admits_ssh_from_admins_and_the_runner_and_the_api_port_from_the_lb_only" {
  command = apply

  assert {
    condition     = length(output.firewall_inbound_rules) == 2
    error_message = "Staging must have exactly two inbound rules."
  }

  assert {
    condition = anytrue([
      for r in output.firewall_inbound_rules :
      r.port_range == "22" && r.source_addresses == sort(var.admin_cidrs) && length(r.source_load_balancer_uids) == 0 &&
      r.source_tags == tolist([output.ci_runner_target_tag])
    ])
    error_message = "SSH must be open to admin_cidrs and the CI runner's tag only."
  }

  assert {
    condition = anytrue([
      for r in output.firewall_inbound_rules :
      r.port_range == "3001" && r.source_load_balancer_uids == tolist([output.load_balancer_id]) && length(r.source_addresses) == 0 && length(r.source_tags) == 0
    ])
    error_message = "Port 3001 must be open to the load balancer only."
  }
}

run "alerts_fire_at_the_planned_thresholds" {
  command = apply

  assert {
    condition     = output.droplet_alerts.cpu.value == 80 && output.droplet_alerts.cpu.window == "5m" && output.droplet_alerts.cpu.compare == "GreaterThan"
    error_message = "CPU alert: above 80% for 5 minutes."
  }

  assert {
    condition     = output.droplet_alerts.memory.value == 85 && output.droplet_alerts.memory.window == "5m"
    error_message = "Memory alert: above 85% for 5 minutes."
  }

  assert {
    condition     = output.droplet_alerts.disk.value == 90 && output.droplet_alerts.disk.type == "v1/insights/droplet/disk_utilization_percent"
    error_message = "Disk alert: above 90%."
  }

  assert {
    condition     = output.lb_droplet_health_alert.type == "v1/insights/lbaas/droplet_health" && output.lb_droplet_health_alert.entities == toset([output.load_balancer_id])
    error_message = "A droplet-health alert must watch the load balancer."
  }

  assert {
    condition     = output.uptime_alert.type == "down"
    error_message = "An uptime check must alert when the API is down."
  }
}

run "rejects_fewer_than_two_droplets" {
  command = plan

  variables {
    droplet_count = 1
  }

  expect_failures = [var.droplet_count]
}

run "rejects_zero_droplets" {
  command = plan

  variables {
    droplet_count = 0
  }

  expect_failures = [var.droplet_count]
}

run "rejects_a_single_node_database" {
  command = plan

  variables {
    postgres_node_count = 1
  }

  expect_failures = [var.postgres_node_count]
}

run "rejects_an_invalid_admin_cidr" {
  command = plan

  variables {
    admin_cidrs = ["not-a-cidr"]
  }

  expect_failures = [var.admin_cidrs]
}

run "staging_matches_what_ansible_and_the_api_are_tested_on" {
  command = plan

  assert {
    condition     = alltrue([for d in module.api.droplet_images : d == "debian-12-x64"])
    error_message = "The API droplets must run debian-12-x64, the OS the Ansible roles are tested on."
  }

  assert {
    condition     = module.database.engine_version == "15"
    error_message = "PostgreSQL must be 15, the version of Debian 12, the compose stacks and the tests."
  }
}

run "ansible_gets_the_api_port_and_address_ranges_from_the_outputs" {
  command = apply

  assert {
    condition     = output.api_port == 3001 && alltrue([for r in output.load_balancer_forwarding_rules : r.target_port == output.api_port])
    error_message = "api_port must be the port the load balancer forwards to."
  }

  assert {
    condition     = output.vpc_ip_range == var.vpc_ip_range && output.admin_cidrs == var.admin_cidrs
    error_message = "vpc_ip_range and admin_cidrs must be exported as configured."
  }

  assert {
    condition     = length(output.api_public_cidrs) == 0
    error_message = "Staging admits the API port from the load balancer only: api_public_cidrs must be empty."
  }
}

# THROWAWAY TEST KEYS: the public keys were generated for the tests only and
# their private halves deleted; the private keys are placeholders (only their
# OpenSSH armour lines are checked), assembled with format() so that secret
# scanners do not take them for keys. Real pairs come from
# infrastructure/tools/host-keys.sh staging through TF_VAR_host_keys.
run "known_hosts_pair_each_droplet_with_its_host_key" {
  command = apply
  # Droplets created with the keys (the ones above ignore later user data).
  state_key = "host_keys"

  variables {
    host_keys = [
      {
        public_key  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDlE8M31GDW45Yznr70/DfmKbpPyg9nnuOftldSq3Mv5 throwaway-test-k1"
        private_key = format("-----%s OPENSSH PRIVATE KEY-----\nthrowaway-test-private-key-1\n-----%s OPENSSH PRIVATE KEY-----\n", "BEGIN", "END")
      },
      {
        public_key  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHgT6vqQiARIrrXnDqf/vE9mVmsvyXD3qVYr9UJ5IbFU throwaway-test-k2"
        private_key = format("-----%s OPENSSH PRIVATE KEY-----\nthrowaway-test-private-key-2\n-----%s OPENSSH PRIVATE KEY-----\n", "BEGIN", "END")
      },
    ]
  }

  assert {
    condition     = length(output.api_known_hosts) == output.droplet_count
    error_message = "api_known_hosts must hold one line per API droplet."
  }

  assert {
    condition = output.api_known_hosts == [
      "${output.api_public_ips[0]},${output.api_private_ips[0]} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDlE8M31GDW45Yznr70/DfmKbpPyg9nnuOftldSq3Mv5",
      "${output.api_public_ips[1]},${output.api_private_ips[1]} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHgT6vqQiARIrrXnDqf/vE9mVmsvyXD3qVYr9UJ5IbFU",
    ]
    error_message = "Line N of api_known_hosts must be \"<public ip>,<private ip> ssh-ed25519 <key>\" of droplet N, without the key comment."
  }
}

run "without_host_keys_there_is_no_known_hosts_line" {
  command = apply

  assert {
    condition     = output.api_known_hosts == []
    error_message = "Without TF_VAR_host_keys, api_known_hosts must be empty (the droplets generate their own keys)."
  }
}

run "one_ci_runner_droplet_in_the_vpc_with_a_tag_of_its_own" {
  command = apply

  assert {
    condition     = module.ci_runner.droplet_count == 1 && join(",", module.ci_runner.droplet_names) == "restomarket-staging-ci-runner-01"
    error_message = "Staging must run one CI runner droplet, restomarket-staging-ci-runner-01."
  }

  assert {
    condition     = alltrue([for id in module.ci_runner.droplet_vpc_ids : id == output.vpc_id])
    error_message = "The CI runner must join the staging VPC, where it reaches the API droplets."
  }

  assert {
    condition     = output.ci_runner_target_tag == "restomarket-staging-ci-runner" && !contains(module.ci_runner.tags, output.api_target_tag)
    error_message = "The CI runner must carry restomarket-staging-ci-runner and not the API tag (the load balancer, databases and alerts select by it)."
  }

  assert {
    condition = (
      output.ci_runner_public_ip == module.ci_runner.public_ipv4_addresses[0] &&
      output.ci_runner_private_ip == module.ci_runner.private_ipv4_addresses[0]
    )
    error_message = "The CI runner's public and private addresses must be exported for the Ansible inventory."
  }

  assert {
    condition     = alltrue([for d in module.ci_runner.droplet_images : d == "debian-12-x64"])
    error_message = "The CI runner must run debian-12-x64, the OS the Ansible roles are tested on."
  }
}

run "ci_runner_firewall_admits_nothing_but_ssh_from_admins" {
  command = apply

  assert {
    condition     = join(",", keys(module.network.extra_firewall_inbound_rules)) == "ci-runner"
    error_message = "The CI runner must have one firewall of its own, and no other extra firewall may exist."
  }

  assert {
    condition = length(module.network.extra_firewall_inbound_rules["ci-runner"]) == 1 && alltrue([
      for r in module.network.extra_firewall_inbound_rules["ci-runner"] :
      r.protocol == "tcp" && r.port_range == "22" && r.source_addresses == sort(var.admin_cidrs) &&
      length(r.source_tags) == 0 && length(r.source_load_balancer_uids) == 0
    ])
    error_message = "The CI runner's firewall must admit SSH from admin_cidrs and nothing else."
  }
}

# A throwaway test key like the ones above (private half deleted, private key
# a placeholder); the real pair comes from infrastructure/tools/host-keys.sh
# staging --service ci-runner --count 1 through TF_VAR_ci_runner_host_keys.
run "known_hosts_pair_the_ci_runner_with_its_host_key" {
  command   = apply
  state_key = "ci_runner_host_keys"

  variables {
    ci_runner_host_keys = [
      {
        public_key  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK4D9a/BYuLczMzJzmItcHS0900d2ELmjSD5Cq5xCvZ4 throwaway-test-runner"
        private_key = format("-----%s OPENSSH PRIVATE KEY-----\nthrowaway-test-private-key-runner\n-----%s OPENSSH PRIVATE KEY-----\n", "BEGIN", "END")
      },
    ]
  }

  assert {
    condition = output.ci_runner_known_hosts == [
      "${output.ci_runner_public_ip},${output.ci_runner_private_ip} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK4D9a/BYuLczMzJzmItcHS0900d2ELmjSD5Cq5xCvZ4",
    ]
    error_message = "ci_runner_known_hosts must be the one line \"<public ip>,<private ip> ssh-ed25519 <key>\" of the runner, without the key comment."
  }

  assert {
    condition     = output.api_known_hosts == []
    error_message = "The runner's host key must not reach api_known_hosts."
  }
}

run "without_ci_runner_host_keys_there_is_no_runner_known_hosts_line" {
  command = apply

  assert {
    condition     = output.ci_runner_known_hosts == []
    error_message = "Without TF_VAR_ci_runner_host_keys, ci_runner_known_hosts must be empty (the runner generates its own keys)."
  }
}
