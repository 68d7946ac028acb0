mock_provider "digitalocean" {}

variables {
  name        = "restomarket-test-lb"
  region      = "fra1"
  vpc_id      = "vpc-0000"
  droplet_tag = "restomarket-test-api"
  domains     = ["api.test.restomarket.example"]
}

run "terminates_https_on_443_and_forwards_to_3001" {
  command = apply

  assert {
    condition = anytrue([
      for r in digitalocean_loadbalancer.this.forwarding_rule :
      r.entry_protocol == "https" && r.entry_port == 443 && r.target_protocol == "http" && r.target_port == 3001 &&
      r.certificate_name == digitalocean_certificate.this.name
    ])
    error_message = "HTTPS on 443 must be forwarded to HTTP 3001 with the Let's Encrypt certificate."
  }

  assert {
    condition     = digitalocean_certificate.this.type == "lets_encrypt" && digitalocean_certificate.this.domains == toset(["api.test.restomarket.example"])
    error_message = "The certificate must be a Let's Encrypt certificate for the configured domain."
  }
}

run "redirects_http_to_https" {
  command = apply

  assert {
    condition     = digitalocean_loadbalancer.this.redirect_http_to_https
    error_message = "Plain HTTP must be redirected to HTTPS."
  }

  assert {
    condition = anytrue([
      for r in digitalocean_loadbalancer.this.forwarding_rule : r.entry_protocol == "http" && r.entry_port == 80
    ])
    error_message = "An HTTP rule on port 80 must exist for the redirect to answer."
  }
}

run "health_checks_the_api_health_path" {
  command = apply

  assert {
    condition = (
      digitalocean_loadbalancer.this.healthcheck[0].protocol == "http" &&
      digitalocean_loadbalancer.this.healthcheck[0].port == 3001 &&
      digitalocean_loadbalancer.this.healthcheck[0].path == "/readyz"
    )
    error_message = "The health check must probe http://<droplet>:3001/readyz (readiness)."
  }

  assert {
    condition     = output.healthcheck.path == "/readyz"
    error_message = "The health check must be exported."
  }
}

run "idle_connections_close_at_the_load_balancer_first" {
  command = apply

  assert {
    condition     = digitalocean_loadbalancer.this.enable_backend_keepalive && output.idle_timeout_seconds == 60
    error_message = "Keep-alive to the droplets with a 60 s idle timeout: below the droplets' proxy keep-alive (75 s)."
  }
}

run "drain_seconds_at_the_fastest_settings" {
  command = apply

  assert {
    condition     = output.drain_seconds == 12 && digitalocean_loadbalancer.this.healthcheck[0].check_interval_seconds == 3 && digitalocean_loadbalancer.this.healthcheck[0].response_timeout_seconds == 3 && digitalocean_loadbalancer.this.healthcheck[0].unhealthy_threshold == 2
    error_message = "At DigitalOcean's smallest settings (3 s interval, 3 s timeout, 2 failures) a failing droplet is out of rotation after 2 × (3 + 3) = 12 s."
  }
}

run "drain_seconds_follows_the_interval" {
  command = apply

  variables {
    health_check_interval_seconds = 20
  }

  assert {
    condition     = output.drain_seconds == 46 && digitalocean_loadbalancer.this.healthcheck[0].check_interval_seconds == 20
    error_message = "At a 20 s interval a failing droplet is out of rotation after 2 × (20 + 3) = 46 s."
  }
}

run "stateless_and_attached_by_tag" {
  command = apply

  assert {
    condition     = digitalocean_loadbalancer.this.sticky_sessions[0].type == "none"
    error_message = "Sticky sessions must be off for the stateless API."
  }

  assert {
    condition     = digitalocean_loadbalancer.this.droplet_tag == "restomarket-test-api" && digitalocean_loadbalancer.this.vpc_uuid == "vpc-0000"
    error_message = "Droplets must be attached by tag, inside the VPC."
  }
}

run "rejects_a_relative_health_path" {
  command = plan

  variables {
    health_check_path = "health"
  }

  expect_failures = [var.health_check_path]
}

run "rejects_an_empty_domain_list" {
  command = plan

  variables {
    domains = []
  }

  expect_failures = [var.domains]
}
