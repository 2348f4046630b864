// Package shim exposes the upstream provider (in an internal package) to the bridge.
package shim

import (
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"

	"github.com/terraform-providers/terraform-provider-docker/internal/provider"
)

// NewProvider returns the Terraform provider: its schema and CRUD functions.
func NewProvider() *schema.Provider {
	return provider.New("2.23.0")()
}
