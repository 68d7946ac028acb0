mock_provider "digitalocean" {
  mock_resource "digitalocean_database_cluster" {
    defaults = {
      private_host = "private-pg.db.ondigitalocean.com"
      port         = 25060
    }
  }

  mock_data "digitalocean_database_ca" {
    defaults = {
      certificate = "-----BEGIN CERTIFICATE-----\nMIIBmock\n-----END CERTIFICATE-----\n"
    }
  }

  mock_resource "digitalocean_database_user" {
    defaults = {
      password = "p@ss/word"
    }
  }
}

variables {
  name                 = "restomarket-test-pg"
  region               = "fra1"
  size                 = "db-s-1vcpu-2gb"
  node_count           = 2
  vpc_id               = "vpc-0000"
  allowed_droplet_tags = ["restomarket-test-api"]
}

run "creates_postgres_with_the_configured_shape" {
  command = apply

  assert {
    condition = (
      digitalocean_database_cluster.this.engine == "pg" &&
      digitalocean_database_cluster.this.version == "15" &&
      digitalocean_database_cluster.this.size == "db-s-1vcpu-2gb" &&
      digitalocean_database_cluster.this.node_count == 2 &&
      digitalocean_database_cluster.this.region == "fra1"
    )
    error_message = "The cluster must be PostgreSQL 15 by default, 2 nodes of db-s-1vcpu-2gb in fra1."
  }

  assert {
    condition     = digitalocean_database_cluster.this.private_network_uuid == "vpc-0000"
    error_message = "The cluster must be attached to the VPC."
  }

  assert {
    condition     = digitalocean_database_cluster.this.maintenance_window[0].day == "sunday" && digitalocean_database_cluster.this.maintenance_window[0].hour == "03:00"
    error_message = "The default maintenance window must be Sunday 03:00 UTC."
  }
}

run "creates_the_application_database_and_user" {
  command = apply

  assert {
    condition     = output.database == "restomarket" && output.user == "restomarket_app"
    error_message = "The application database and user must be created with their default names."
  }

  assert {
    condition     = startswith(output.private_connection_string, "postgresql://restomarket_app:")
    error_message = "The connection string must log in as the application user."
  }

  assert {
    condition     = strcontains(output.private_connection_string, ":p%40ss%2Fword@")
    error_message = "The password must be URI-escaped in the connection string."
  }

  assert {
    condition     = endswith(output.private_connection_string, "@private-pg.db.ondigitalocean.com:25060/restomarket?sslmode=require")
    error_message = "The connection string must use the private host and the app database, and require TLS."
  }
}

run "exposes_the_cluster_ca_for_verify_full" {
  command = apply

  assert {
    condition     = data.digitalocean_database_ca.this.cluster_id == digitalocean_database_cluster.this.id
    error_message = "The CA must be read from this cluster."
  }

  assert {
    condition     = startswith(output.ca_certificate, "-----BEGIN CERTIFICATE-----")
    error_message = "ca_certificate must be the cluster's PEM CA certificate."
  }
}

run "firewall_admits_only_the_app_tag" {
  command = apply

  assert {
    condition     = output.firewall_tags == tolist(["restomarket-test-api"]) && length(digitalocean_database_firewall.this.rule) == 1
    error_message = "The database firewall must admit exactly the app servers' tag."
  }
}

run "rejects_zero_nodes" {
  command = plan

  variables {
    node_count = 0
  }

  expect_failures = [var.node_count]
}

run "rejects_another_major_than_the_tested_one" {
  command = plan

  variables {
    engine_version = "17"
  }

  expect_failures = [var.engine_version]
}

run "rejects_an_open_firewall" {
  command = plan

  variables {
    allowed_droplet_tags = []
  }

  expect_failures = [var.allowed_droplet_tags]
}

run "rejects_an_invalid_maintenance_hour" {
  command = plan

  variables {
    maintenance_window = { day = "sunday", hour = "25:00" }
  }

  expect_failures = [var.maintenance_window]
}
