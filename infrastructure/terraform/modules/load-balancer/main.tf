# Let's Encrypt issues the certificate once DNS for the domain is hosted by
# DigitalOcean; the load balancer refers to it by name because Let's Encrypt
# renewals change the certificate's ID.
locals {
  # A failing droplet leaves rotation after unhealthy_threshold failed checks,
  # each given up to the timeout: drain_seconds (outputs.tf) follows from them.
  # Both are the smallest DigitalOcean accepts, so a lost droplet costs as few
  # failed requests as the load balancer allows (2 x (3 s + 3 s) at the default
  # interval); a returning droplet needs healthy_threshold passes in a row.
  health_check_unhealthy_threshold = 2
  health_check_timeout_seconds     = 3
  health_check_healthy_threshold   = 3
  # Idle keep-alive connections (client and droplet side) close after this.
  # Each droplet's proxy keeps idle connections longer (the deploy engine's
  # PROXY_KEEPALIVE_TIMEOUT, 75 s), so the load balancer always closes first
  # and never reuses a connection the proxy is closing.
  http_idle_timeout_seconds = 60
}

resource "digitalocean_certificate" "this" {
  name    = "${var.name}-cert"
  type    = "lets_encrypt"
  domains = var.domains

  lifecycle {
    create_before_destroy = true
  }
}

resource "digitalocean_loadbalancer" "this" {
  name        = var.name
  region      = var.region
  size_unit   = var.size_unit
  vpc_uuid    = var.vpc_id
  droplet_tag = var.droplet_tag

  redirect_http_to_https    = true
  enable_backend_keepalive  = true
  http_idle_timeout_seconds = local.http_idle_timeout_seconds
  # TLS 1.2+ with forward-secret AEAD suites only: DEFAULT also offers RSA key
  # exchange and CBC suites, which the security audit flags (issue #17).
  tls_cipher_policy = "STRONG"

  forwarding_rule {
    entry_protocol   = "https"
    entry_port       = 443
    target_protocol  = "http"
    target_port      = var.target_port
    certificate_name = digitalocean_certificate.this.name
  }

  # Needed for the HTTP to HTTPS redirect: the load balancer only answers
  # on ports that have a rule.
  forwarding_rule {
    entry_protocol  = "http"
    entry_port      = 80
    target_protocol = "http"
    target_port     = var.target_port
  }

  healthcheck {
    protocol                 = "http"
    port                     = var.target_port
    path                     = var.health_check_path
    check_interval_seconds   = var.health_check_interval_seconds
    response_timeout_seconds = local.health_check_timeout_seconds
    unhealthy_threshold      = local.health_check_unhealthy_threshold
    healthy_threshold        = local.health_check_healthy_threshold
  }

  # The API keeps no session state, so any droplet may serve any request.
  sticky_sessions {
    type = "none"
  }
}
