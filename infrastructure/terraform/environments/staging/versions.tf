terraform {
  required_version = ">= 1.11.0"

  required_providers {
    digitalocean = {
      source  = "digitalocean/digitalocean"
      version = "2.99.1"
    }
  }
}

# The API token comes from DIGITALOCEAN_TOKEN in the environment, never from a file.
provider "digitalocean" {}
