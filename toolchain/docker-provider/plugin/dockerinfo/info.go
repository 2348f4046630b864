// Package dockerinfo maps the Terraform docker provider onto the Pulumi names that the
// pulumi-docker 4.0.x SDKs use.
package dockerinfo

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	ptokens "github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"github.com/terraform-providers/terraform-provider-docker/shim"
)

// Version is set at link time with -X.
var Version = "0.0.0-dev"

// UpstreamRepoPath points the schema generator at upstream's docs/ (descriptions only).
var UpstreamRepoPath = ""

// lowerFirst gives the module-file part of a token: Network -> network.
func lowerFirst(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return s
	}
	return string(s[0]+('a'-'A')) + s[1:]
}

func resource(name string) *tfbridge.ResourceInfo {
	return &tfbridge.ResourceInfo{Tok: ptokens.Type("docker:index/" + lowerFirst(name) + ":" + name)}
}

func function(name string) *tfbridge.DataSourceInfo {
	return &tfbridge.DataSourceInfo{Tok: ptokens.ModuleMember("docker:index/" + lowerFirst(name) + ":" + name)}
}

// Provider returns the bridge configuration.
func Provider() tfbridge.ProviderInfo {
	container := resource("Container")
	// Replacing a container that has a fixed name must remove the old one first.
	container.DeleteBeforeReplace = true
	// The SDKs keep these two names singular although they are lists.
	container.Fields = map[string]*tfbridge.SchemaInfo{
		"command":           {Name: "command"},
		"networks_advanced": {Name: "networksAdvanced"},
	}
	remoteImage := resource("RemoteImage")
	// An image name is chosen by the user, never auto-generated.
	remoteImage.Fields = map[string]*tfbridge.SchemaInfo{"name": {Name: "name"}}

	prov := tfbridge.ProviderInfo{
		P:                shimv2.NewProvider(shim.NewProvider()),
		Name:             "docker",
		Version:          Version,
		Description:      "Docker resources for Pulumi (offline build of the bridged Terraform provider)",
		Keywords:         []string{"pulumi", "docker"},
		License:          "Apache-2.0",
		UpstreamRepoPath: UpstreamRepoPath,
		Config: map[string]*tfbridge.SchemaInfo{
			"host": {Default: &tfbridge.DefaultInfo{EnvVars: []string{"DOCKER_HOST"}}},
			// A list in the SDKs, under a singular name.
			"registry_auth": {Name: "registryAuth", MaxItemsOne: tfbridge.False()},
		},
		Resources: map[string]*tfbridge.ResourceInfo{
			"docker_config":         resource("ServiceConfig"),
			"docker_container":      container,
			"docker_image":          remoteImage,
			"docker_network":        resource("Network"),
			"docker_plugin":         resource("Plugin"),
			"docker_registry_image": resource("RegistryImage"),
			"docker_secret":         resource("Secret"),
			"docker_service":        resource("Service"),
			"docker_tag":            resource("Tag"),
			"docker_volume":         resource("Volume"),
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"docker_image":          function("getRemoteImage"),
			"docker_logs":           function("getLogs"),
			"docker_network":        function("getNetwork"),
			"docker_plugin":         function("getPlugin"),
			"docker_registry_image": function("getRegistryImage"),
		},
	}
	// Anything upstream has that is not listed above still gets a docker:index token.
	prov.MustComputeTokens(tokens.SingleModule("docker_", "index", tokens.MakeStandard("docker")))
	// A string input called "name" becomes optional: Pulumi proposes <name>-<random>.
	prov.SetAutonaming(255, "-")
	return prov
}
