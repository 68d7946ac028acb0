# Staging values. No secrets here: the API token, Spaces keys, SSH keys and
# the Slack webhook come from the environment or an untracked *.auto.tfvars.
region       = "fra1"
vpc_ip_range = "10.20.0.0/20"

# Replace with the office/VPN address ranges that may SSH to staging.
admin_cidrs = ["203.0.113.0/28"]

# Zone must be hosted in DigitalOcean DNS for the Let's Encrypt certificate.
domain = "api.staging.restomarket.example"

droplet_count = 2
droplet_size  = "s-2vcpu-2gb"

postgres_size       = "db-s-1vcpu-2gb"
postgres_node_count = 2

valkey_size = "db-s-1vcpu-1gb"

alert_emails = ["ops@restomarket.example"]
