// The plugin's module: the bridge mapping (dockerinfo), the schema generator and the
// plugin's main. toolchain/docker_provider.sh copies it to <work>/plugin and builds it
// there; the first build fills in the indirect requirements and go.sum from the module
// proxy (-mod=mod), so only what the build needs is listed here.
module pulumi-docker-offline

go 1.24.7

require (
	// Newest bridge the proxy serves; it brings pulumi pkg/sdk v3.218.0 via MVS.
	github.com/pulumi/pulumi-terraform-bridge/v3 v3.120.0
	// The Terraform docker provider, v2.23.0, under the module path its go.mod gives
	// itself; the replace below points at the copy the build script makes.
	github.com/terraform-providers/terraform-provider-docker v0.0.0
)

replace (
	// The bridge only works with Pulumi's fork of the plugin SDK; replaces in
	// dependencies do not apply, so we repeat the one the bridge's own go.mod names.
	github.com/hashicorp/terraform-plugin-sdk/v2 => github.com/pulumi/terraform-plugin-sdk/v2 v2.0.0-20250923233607-7f1981c8674a
	// github.com/kreuzwerker/terraform-provider-docker at DOCKER_TF_VERSION (see
	// docker_provider.sh), copied out of the module cache with ../shim added to it: the
	// provider's constructor is in an internal package, so the shim has to live inside
	// that module.
	github.com/terraform-providers/terraform-provider-docker => ../upstream
)
