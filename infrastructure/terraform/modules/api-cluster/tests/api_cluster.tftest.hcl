mock_provider "digitalocean" {}

variables {
  environment            = "staging"
  region                 = "fra1"
  droplet_count          = 2
  vpc_id                 = "vpc-0000"
  ssh_key_fingerprints   = ["aa:bb:cc:dd"]
  deploy_ssh_public_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOnlyForTests ci@restomarket"]
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

run "cloud_init_installs_docker_and_creates_the_deploy_user" {
  command = plan

  assert {
    condition     = strcontains(output.cloud_init, "docker.io") && strcontains(output.cloud_init, "docker-compose-v2")
    error_message = "cloud-init must install Docker and the Compose plugin."
  }

  assert {
    condition     = strcontains(output.cloud_init, "- name: deploy") && strcontains(output.cloud_init, "groups: [docker]")
    error_message = "cloud-init must create the deploy user in the docker group."
  }

  assert {
    condition     = strcontains(output.cloud_init, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOnlyForTests")
    error_message = "cloud-init must authorise the deploy keys."
  }

  assert {
    condition     = can(yamldecode(output.cloud_init))
    error_message = "The rendered cloud-init must be valid YAML."
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

run "rejects_a_malformed_deploy_key" {
  command = plan

  variables {
    deploy_ssh_public_keys = ["not a key"]
  }

  expect_failures = [var.deploy_ssh_public_keys]
}
