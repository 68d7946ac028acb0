// Command terraform-provider-digitalocean serves the upstream DigitalOcean
// provider as a Terraform plugin. It exists because the upstream module's v2
// tags lack a /v2 module path and its go.mod has replace directives, so
// `go install` cannot build it; requiring it from this module can.
// build-provider.sh adds the pinned requirement before building.
package main

import (
	"github.com/digitalocean/terraform-provider-digitalocean/digitalocean"
	"github.com/hashicorp/terraform-plugin-sdk/v2/plugin"
)

func main() {
	plugin.Serve(&plugin.ServeOpts{
		ProviderFunc: digitalocean.Provider,
		ProviderAddr: "registry.terraform.io/digitalocean/digitalocean",
	})
}
