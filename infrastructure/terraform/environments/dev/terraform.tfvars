# Dev values. No secrets here: the API token, Spaces keys and SSH keys come
# from the environment or an untracked *.auto.tfvars (see README.md).
region       = "fra1"
vpc_ip_range = "10.10.0.0/20"

# Replace with the office/VPN address ranges that may reach dev.
admin_cidrs = ["203.0.113.0/28"]

droplet_count = 1
droplet_size  = "s-1vcpu-2gb"

postgres_size       = "db-s-1vcpu-1gb"
postgres_node_count = 1

valkey_size = "db-s-1vcpu-1gb"
