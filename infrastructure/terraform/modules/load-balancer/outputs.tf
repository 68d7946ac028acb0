output "id" {
  description = "ID of the load balancer; firewalls admit traffic from it by this ID."
  value       = digitalocean_loadbalancer.this.id
}

output "urn" {
  description = "Uniform resource name of the load balancer, for project assignment."
  value       = digitalocean_loadbalancer.this.urn
}

output "ip" {
  description = "Public IPv4 address of the load balancer; point the DNS A record here."
  value       = digitalocean_loadbalancer.this.ip
}

output "certificate_name" {
  description = "Name of the Let's Encrypt certificate used on port 443."
  value       = digitalocean_certificate.this.name
}

output "forwarding_rules" {
  description = "Forwarding rules of the load balancer (entry and target protocol/port)."
  value = [for r in digitalocean_loadbalancer.this.forwarding_rule : {
    entry_protocol   = r.entry_protocol
    entry_port       = r.entry_port
    target_protocol  = r.target_protocol
    target_port      = r.target_port
    certificate_name = r.certificate_name
  }]
}

output "healthcheck" {
  description = "Health check settings (protocol, port, path)."
  value = {
    protocol = digitalocean_loadbalancer.this.healthcheck[0].protocol
    port     = digitalocean_loadbalancer.this.healthcheck[0].port
    path     = digitalocean_loadbalancer.this.healthcheck[0].path
  }
}

# Read from the health check itself, so it cannot drift from what the load
# balancer does: the deploy engine waits this long before it replaces a
# droplet's proxy (PROXY_HANDOVER_WAIT, through the Ansible inventory). The
# worst case: each failed check may wait its interval and then its whole
# timeout (a dead droplet does not refuse, it never answers).
output "drain_seconds" {
  description = "Seconds after a droplet starts failing health checks until the load balancer surely sends it no new connections: unhealthy threshold × (interval + response timeout)."
  value = (
    digitalocean_loadbalancer.this.healthcheck[0].unhealthy_threshold * (
      digitalocean_loadbalancer.this.healthcheck[0].check_interval_seconds
      + digitalocean_loadbalancer.this.healthcheck[0].response_timeout_seconds
    )
  )
}

output "idle_timeout_seconds" {
  description = "Seconds an idle keep-alive connection stays open; each droplet's proxy must keep its own longer."
  value       = digitalocean_loadbalancer.this.http_idle_timeout_seconds
}

output "redirect_http_to_https" {
  description = "Whether plain HTTP is redirected to HTTPS."
  value       = digitalocean_loadbalancer.this.redirect_http_to_https
}

output "sticky_sessions_type" {
  description = "Sticky-session mode (none for the stateless API)."
  value       = digitalocean_loadbalancer.this.sticky_sessions[0].type
}

output "droplet_tag" {
  description = "Tag by which droplets are attached."
  value       = digitalocean_loadbalancer.this.droplet_tag
}
