# SSH host keys given to the module reach each droplet's own cloud-init, and
# the known_hosts output lists them against the droplets' addresses, so CI
# never has to trust a host key on first use.
#
# THROWAWAY TEST KEYS. The public keys were generated for these tests only
# (ssh-keygen -t ed25519 -N '' -C throwaway-test-kN) and their private halves
# were deleted; no host uses them. The private keys are placeholders: the
# module only checks their OpenSSH armour lines, which format() assembles so
# that secret scanners (gitleaks' private-key rule) do not take them for keys.
mock_provider "digitalocean" {}

# Two droplets with known addresses (the mock would invent random strings).
override_resource {
  target = digitalocean_droplet.this[0]
  values = {
    ipv4_address         = "203.0.113.11"
    ipv4_address_private = "10.20.0.11"
  }
}

override_resource {
  target = digitalocean_droplet.this[1]
  values = {
    ipv4_address         = "203.0.113.12"
    ipv4_address_private = "10.20.0.12"
  }
}

variables {
  environment          = "staging"
  region               = "fra1"
  droplet_count        = 2
  vpc_id               = "vpc-0000"
  ssh_key_fingerprints = ["aa:bb:cc:dd"]

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

run "each_droplet_gets_its_own_host_key" {
  command = apply

  assert {
    condition = alltrue([
      for i, d in digitalocean_droplet.this :
      yamldecode(d.user_data).ssh_keys.ed25519_private == var.host_keys[i].private_key &&
      yamldecode(d.user_data).ssh_keys.ed25519_public == var.host_keys[i].public_key
    ])
    error_message = "Droplet N's user data must install host key pair N (private key as a block scalar, public key beside it)."
  }

  assert {
    condition = (
      strcontains(digitalocean_droplet.this[0].user_data, "throwaway-test-private-key-1") &&
      strcontains(digitalocean_droplet.this[0].user_data, "throwaway-test-k1") &&
      !strcontains(digitalocean_droplet.this[0].user_data, "throwaway-test-private-key-2") &&
      !strcontains(digitalocean_droplet.this[0].user_data, "throwaway-test-k2") &&
      strcontains(digitalocean_droplet.this[1].user_data, "throwaway-test-private-key-2") &&
      strcontains(digitalocean_droplet.this[1].user_data, "throwaway-test-k2") &&
      !strcontains(digitalocean_droplet.this[1].user_data, "throwaway-test-private-key-1") &&
      !strcontains(digitalocean_droplet.this[1].user_data, "throwaway-test-k1")
    )
    error_message = "A droplet's user data must hold its own host key pair and never another droplet's."
  }

  assert {
    condition = alltrue([
      for d in digitalocean_droplet.this :
      strcontains(d.user_data, "\nssh_deletekeys: true\n") &&
      yamldecode(d.user_data).ssh_deletekeys == true && yamldecode(d.user_data).ssh_genkeytypes == []
    ])
    error_message = "With host keys, cloud-init must delete the image's host keys and generate none."
  }

  assert {
    condition     = alltrue([for d in digitalocean_droplet.this : yamldecode(d.user_data).packages == ["python3"]])
    error_message = "The host key must be added to the usual cloud-init, not replace it."
  }

  assert {
    condition     = !strcontains(output.cloud_init, "ssh_keys") && !strcontains(output.cloud_init, "throwaway-test")
    error_message = "The cloud_init output must stay the key-less rendering: host keys never appear in it."
  }
}

run "known_hosts_lists_each_droplet_with_its_public_key" {
  command = apply

  assert {
    condition = output.known_hosts == [
      "203.0.113.11,10.20.0.11 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDlE8M31GDW45Yznr70/DfmKbpPyg9nnuOftldSq3Mv5",
      "203.0.113.12,10.20.0.12 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHgT6vqQiARIrrXnDqf/vE9mVmsvyXD3qVYr9UJ5IbFU",
    ]
    error_message = "known_hosts must hold \"<public ipv4>,<private ipv4> ssh-ed25519 <base64>\" per droplet, in droplet order, without the key comment."
  }

  assert {
    condition     = !anytrue([for line in output.known_hosts : strcontains(line, "PRIVATE")])
    error_message = "known_hosts must never contain private key material."
  }
}

# Host keys are installed at creation only: new pairs change no droplet (the
# user data is ignored after creation, so nothing is replaced either), and
# rotating a droplet's host key means replacing that droplet on purpose.
run "new_host_keys_change_no_existing_droplet" {
  command = apply

  variables {
    host_keys = [
      {
        public_key  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDbySDGVX1s7Z5k/N3oERPHT0CVg8FRmFWbmoGNJ51+g throwaway-test-k3"
        private_key = format("-----%s OPENSSH PRIVATE KEY-----\nthrowaway-test-private-key-3\n-----%s OPENSSH PRIVATE KEY-----\n", "BEGIN", "END")
      },
      {
        public_key  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHgT6vqQiARIrrXnDqf/vE9mVmsvyXD3qVYr9UJ5IbFU throwaway-test-k2"
        private_key = format("-----%s OPENSSH PRIVATE KEY-----\nthrowaway-test-private-key-2\n-----%s OPENSSH PRIVATE KEY-----\n", "BEGIN", "END")
      },
    ]
  }

  assert {
    condition     = output.droplet_ids == run.each_droplet_gets_its_own_host_key.droplet_ids
    error_message = "Changing host_keys replaced droplets; the droplets must ignore changes to user_data."
  }

  assert {
    condition     = strcontains(digitalocean_droplet.this[0].user_data, "throwaway-test-private-key-1") && !strcontains(digitalocean_droplet.this[0].user_data, "throwaway-test-private-key-3")
    error_message = "An existing droplet must keep the user data (and host key) it was created with."
  }
}

# A state of its own: the droplets above keep the user data they were created with.
run "without_host_keys_the_image_keeps_its_own" {
  command   = apply
  state_key = "without_host_keys"

  variables {
    host_keys = []
  }

  assert {
    condition     = output.known_hosts == []
    error_message = "Without host_keys, known_hosts must be an empty list."
  }

  assert {
    condition = alltrue([
      for d in digitalocean_droplet.this :
      d.user_data == output.cloud_init && !strcontains(d.user_data, "ssh_keys") && !strcontains(d.user_data, "ssh_deletekeys")
    ])
    error_message = "Without host_keys, every droplet must get the key-less cloud-init, with no ssh_keys section."
  }
}

run "rejects_fewer_host_keys_than_droplets" {
  command = plan

  variables {
    host_keys = [
      {
        public_key  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDlE8M31GDW45Yznr70/DfmKbpPyg9nnuOftldSq3Mv5 throwaway-test-k1"
        private_key = format("-----%s OPENSSH PRIVATE KEY-----\nthrowaway-test-private-key-1\n-----%s OPENSSH PRIVATE KEY-----\n", "BEGIN", "END")
      },
    ]
  }

  expect_failures = [var.host_keys]
}

run "rejects_a_public_key_that_is_not_ed25519" {
  command = plan

  variables {
    host_keys = [
      {
        public_key  = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ throwaway-test-rsa"
        private_key = format("-----%s OPENSSH PRIVATE KEY-----\nthrowaway-test-private-key-1\n-----%s OPENSSH PRIVATE KEY-----\n", "BEGIN", "END")
      },
      {
        public_key  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHgT6vqQiARIrrXnDqf/vE9mVmsvyXD3qVYr9UJ5IbFU throwaway-test-k2"
        private_key = format("-----%s OPENSSH PRIVATE KEY-----\nthrowaway-test-private-key-2\n-----%s OPENSSH PRIVATE KEY-----\n", "BEGIN", "END")
      },
    ]
  }

  expect_failures = [var.host_keys]
}

run "rejects_a_malformed_public_key" {
  command = plan

  variables {
    host_keys = [
      {
        public_key  = "ssh-ed25519 not*base64 throwaway-test-k1"
        private_key = format("-----%s OPENSSH PRIVATE KEY-----\nthrowaway-test-private-key-1\n-----%s OPENSSH PRIVATE KEY-----\n", "BEGIN", "END")
      },
      {
        public_key  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHgT6vqQiARIrrXnDqf/vE9mVmsvyXD3qVYr9UJ5IbFU throwaway-test-k2"
        private_key = format("-----%s OPENSSH PRIVATE KEY-----\nthrowaway-test-private-key-2\n-----%s OPENSSH PRIVATE KEY-----\n", "BEGIN", "END")
      },
    ]
  }

  expect_failures = [var.host_keys]
}

# A PEM (ssh-keygen -m PEM) key instead of the OpenSSH format.
run "rejects_a_private_key_that_is_not_openssh" {
  command = plan

  variables {
    host_keys = [
      {
        public_key  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDlE8M31GDW45Yznr70/DfmKbpPyg9nnuOftldSq3Mv5 throwaway-test-k1"
        private_key = format("-----%s RSA PRIVATE KEY-----\nthrowaway-test-private-key-1\n-----%s RSA PRIVATE KEY-----\n", "BEGIN", "END")
      },
      {
        public_key  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHgT6vqQiARIrrXnDqf/vE9mVmsvyXD3qVYr9UJ5IbFU throwaway-test-k2"
        private_key = format("-----%s OPENSSH PRIVATE KEY-----\nthrowaway-test-private-key-2\n-----%s OPENSSH PRIVATE KEY-----\n", "BEGIN", "END")
      },
    ]
  }

  expect_failures = [var.host_keys]
}
