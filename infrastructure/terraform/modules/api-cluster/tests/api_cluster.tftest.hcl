mock_provider "digitalocean" {}

variables {
  environment          = "staging"
  region               = "fra1"
  droplet_count        = 2
  vpc_id               = "vpc-0000"
  ssh_key_fingerprints = ["aa:bb:cc:dd"]
}

run "creates_the_requested_number_of_droplets" {
  command = apply

  assert {
    condition     = length(digitalocean_droplet.this) == 2 && output.droplet_count == 2
    error_message = "droplet_count = 2 must create two droplets."
  }

  assert {
    condition     = join(",", output.droplet_names) == "restomarket-staging-api-01,restomarket-staging-api-02"
    error_message = "Droplets must be named <project>-<environment>-<service>-NN."
  }

  assert {
    condition     = length(output.public_ipv4_addresses) == 2 && length(output.private_ipv4_addresses) == 2
    error_message = "Public and private IPs of every droplet must be exported."
  }
}

run "droplets_have_monitoring_vpc_keys_and_tags" {
  command = apply

  assert {
    condition     = alltrue([for d in digitalocean_droplet.this : d.monitoring && d.vpc_uuid == "vpc-0000"])
    error_message = "Every droplet must have the monitoring agent and join the VPC."
  }

  assert {
    condition     = alltrue([for d in digitalocean_droplet.this : d.ssh_keys == toset(["aa:bb:cc:dd"])])
    error_message = "Every droplet must get the configured SSH keys."
  }

  assert {
    condition = alltrue([
      for d in digitalocean_droplet.this :
      length(setsubtract(["restomarket", "staging", "api", "restomarket-staging-api"], d.tags)) == 0
    ])
    error_message = "Droplets must carry the project, environment, service and target tags."
  }

  assert {
    condition     = output.target_tag == "restomarket-staging-api"
    error_message = "The target tag must combine project, environment and service."
  }
}

run "runs_debian_12_the_os_ansible_is_tested_on" {
  command = plan

  assert {
    condition     = alltrue([for d in digitalocean_droplet.this : d.image == "debian-12-x64"])
    error_message = "The droplets must run debian-12-x64, the OS the Ansible roles are tested on."
  }
}

run "cloud_init_only_prepares_the_host_for_ansible" {
  command = plan

  assert {
    condition     = yamldecode(output.cloud_init).packages == ["python3"]
    error_message = "cloud-init must install python3 (what Ansible needs to connect) and nothing else."
  }

  assert {
    condition = alltrue([
      for key in ["users", "groups", "write_files", "runcmd", "ssh_authorized_keys"] :
      !contains(keys(yamldecode(output.cloud_init)), key)
    ])
    error_message = "Users, keys, files and commands belong to Ansible, not to cloud-init."
  }

  assert {
    condition     = !strcontains(output.cloud_init, "docker")
    error_message = "Docker is installed by Ansible's docker_host role, not by cloud-init."
  }
}

run "rejects_zero_droplets" {
  command = plan

  variables {
    droplet_count = 0
  }

  expect_failures = [var.droplet_count]
}

run "rejects_an_unknown_environment" {
  command = plan

  variables {
    environment = "prod"
  }

  expect_failures = [var.environment]
}

run "rejects_an_image_ansible_is_not_tested_on" {
  command = plan

  variables {
    image = "ubuntu-24-04-x64"
  }

  expect_failures = [var.image]
}
