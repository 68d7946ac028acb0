mock_provider "digitalocean" {
  mock_resource "digitalocean_database_cluster" {
    defaults = {
      private_host = "private-valkey.db.ondigitalocean.com"
      port         = 25061
      user         = "default"
      password     = "s3cret"
    }
  }
}

variables {
  name                 = "restomarket-test-valkey"
  region               = "fra1"
  vpc_id               = "vpc-0000"
  allowed_droplet_tags = ["restomarket-test-api"]
}

run "creates_valkey_in_the_vpc" {
  command = apply

  assert {
    condition = (
      digitalocean_database_cluster.this.engine == "valkey" &&
      digitalocean_database_cluster.this.version == "8" &&
      digitalocean_database_cluster.this.size == "db-s-1vcpu-1gb" &&
      digitalocean_database_cluster.this.node_count == 1
    )
    error_message = "The cluster must be a single small Valkey 8 node by default."
  }

  assert {
    condition     = digitalocean_database_cluster.this.private_network_uuid == "vpc-0000"
    error_message = "The cluster must be attached to the VPC."
  }

  assert {
    condition     = output.eviction_policy == "allkeys_lru"
    error_message = "A cache must evict least-recently-used keys by default."
  }
}

run "connection_string_is_private_and_tls" {
  command = apply

  assert {
    condition     = startswith(output.private_connection_string, "rediss://default:")
    error_message = "The connection string must use TLS (rediss://) and the default user."
  }

  assert {
    condition     = endswith(output.private_connection_string, "@private-valkey.db.ondigitalocean.com:25061")
    error_message = "The connection string must point at the private host."
  }
}

run "firewall_admits_only_the_app_tag" {
  command = apply

  assert {
    condition     = output.firewall_tags == tolist(["restomarket-test-api"])
    error_message = "The cluster firewall must admit exactly the app servers' tag."
  }
}

run "honours_a_configured_eviction_policy" {
  command = apply

  variables {
    eviction_policy = "volatile_ttl"
  }

  assert {
    condition     = digitalocean_database_cluster.this.eviction_policy == "volatile_ttl"
    error_message = "The configured eviction policy must be applied."
  }
}

run "rejects_an_unknown_eviction_policy" {
  command = plan

  variables {
    eviction_policy = "allkeys-lru"
  }

  expect_failures = [var.eviction_policy]
}

run "rejects_zero_nodes" {
  command = plan

  variables {
    node_count = 0
  }

  expect_failures = [var.node_count]
}
