# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "registry.terraform.io/digitalocean/digitalocean" {
  version     = "2.99.1"
  constraints = "2.99.1"
  hashes = [
    "h1:wAlTKXb4RDM9c8NJZwD0x3M7Z4yCJ67vmHqZ43MUQTw=",
  ]
}
