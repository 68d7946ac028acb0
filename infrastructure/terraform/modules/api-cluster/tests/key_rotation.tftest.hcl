# Rotating the keys that DigitalOcean installs for root must never replace a
# running API server: after the first boot Ansible manages every key, and a
# replaced droplet would lose its deployed release.
#
# ssh_keys forces a new droplet in the real provider, but Terraform 1.11's
# mock_provider updates in place instead of replacing, so equal ids alone
# would also pass without the protection. What proves it is the second
# assertion: the droplets keep the keys they were created with, i.e. the
# change is ignored and nothing, let alone a replacement, is planned. (Without
# ignore_changes this run fails; check.sh's plan with the real provider shows
# the replacement it would otherwise be.)
mock_provider "digitalocean" {}

variables {
  environment          = "staging"
  region               = "fra1"
  droplet_count        = 2
  vpc_id               = "vpc-0000"
  ssh_key_fingerprints = ["aa:bb:cc:dd"]
}

run "create_the_droplets" {
  command = apply

  assert {
    condition     = length(output.droplet_ids) == 2
    error_message = "Two droplets must be created."
  }
}

run "rotated_root_keys_keep_the_same_droplets" {
  command = apply

  variables {
    ssh_key_fingerprints = ["ee:ff:00:11", "22:33:44:55"]
  }

  assert {
    condition     = output.droplet_ids == run.create_the_droplets.droplet_ids
    error_message = "Changing ssh_key_fingerprints replaced droplets; the droplets must ignore changes to ssh_keys."
  }

  assert {
    condition     = alltrue([for d in digitalocean_droplet.this : d.ssh_keys == toset(["aa:bb:cc:dd"])])
    error_message = "Existing droplets must keep the keys they were created with; Ansible manages keys after the first boot."
  }
}
