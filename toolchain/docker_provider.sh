# shellcheck shell=bash
# Builds the Pulumi Docker resource plugin (pulumi-resource-docker) offline, from Go
# module zips only. Source this file, then run:  build_docker_provider <work_dir> <out_dir>
#
# Why this is not simply "build pulumi-docker's provider module":
#   The Go module proxy here refuses every version of github.com/pulumi/pulumi-docker/
#   provider/v2..v5 (all release commits, as pseudo-versions), and the Terraform docker
#   provider (kreuzwerker/terraform-provider-docker) only at the commit of its v2.23.0.
#   So we write the small Pulumi glue ourselves: a bridge mapping that gives every
#   Terraform resource the same Pulumi token and property names as pulumi-docker 4.0.1
#   (the release built on that same v2.23.0), a schema generator, and the plugin main.
#
# What you get: docker:index/{Container,Network,Volume,RemoteImage,RegistryImage,Service,
#   ServiceConfig,Secret,Plugin,Tag} and the get* functions, schema-identical by name to
#   pulumi-docker 4.0.1; requirements.txt pins the Python SDK to that version.
# What you do not get: the native docker.Image (build-and-push) resource of 4.x, and
#   pulumi-docker's own patches to the upstream code (e.g. reading DOCKER_* env through
#   the Docker client's FromEnv); `host` still defaults to DOCKER_HOST or the local socket.
#
# Needs: go (GOTOOLCHAIN=local is forced), a configured module proxy. No git, no cgo.

# --- Version facts -----------------------------------------------------------------
# The pulumi-docker release whose names we reproduce; stamped as the plugin version so
# the engine finds it when the Python SDK asks for that version.
DOCKER_PROVIDER_VERSION="4.0.1"
# Terraform docker provider v2.23.0 (commit 3489fbbafc7b). Its go.mod calls itself
# github.com/terraform-providers/terraform-provider-docker, so it is fetched under the
# GitHub path and used through a replace.
DOCKER_TF_MODULE="github.com/kreuzwerker/terraform-provider-docker"
DOCKER_TF_VERSION="v0.0.0-20221102105757-3489fbbafc7b"
DOCKER_TF_MODULE_PATH="github.com/terraform-providers/terraform-provider-docker"
# Newest bridge the proxy serves; it brings pulumi pkg/sdk v3.218.0 via MVS.
DOCKER_BRIDGE_VERSION="v3.120.0"
# The bridge only works with Pulumi's fork of the plugin SDK; replaces in dependencies
# do not apply, so we repeat the one the bridge's own go.mod names.
DOCKER_TF_SDK_FORK="github.com/pulumi/terraform-plugin-sdk/v2"
DOCKER_TF_SDK_FORK_VERSION="v2.0.0-20250923233607-7f1981c8674a"

# <work_dir> is scratch space: its upstream/, src/ and gen/ are recreated on every build
# (Go's module and build caches make a rebuild take seconds). Only the plugin goes to
# <out_dir>.
build_docker_provider() {
  local work="${1:?usage: build_docker_provider <work_dir> <out_dir>}"
  local out_dir="${2:?usage: build_docker_provider <work_dir> <out_dir>}"
  local stamp="${DOCKER_PROVIDER_VERSION} ${DOCKER_TF_VERSION} ${DOCKER_BRIDGE_VERSION} ${DOCKER_TF_SDK_FORK_VERSION}"

  # Skip when this exact recipe already produced the binary.
  if [[ -x "$out_dir/pulumi-resource-docker" && -f "$out_dir/.pulumi-resource-docker.stamp" ]] &&
    [[ "$(cat "$out_dir/.pulumi-resource-docker.stamp")" == "$stamp" ]]; then
    echo "pulumi-resource-docker ${DOCKER_PROVIDER_VERSION} already built in $out_dir"
    return 0
  fi

  (
    set -euo pipefail
    export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod"
    # The checksum database has no entry for this pseudo-version (lookups answer 404);
    # the proxy still serves the zip. Exempt only this one module from the lookup.
    export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}${DOCKER_TF_MODULE}"

    rm -rf "$work/upstream" "$work/src" "$work/gen"
    mkdir -p "$work" "$out_dir"
    out_dir="$(cd "$out_dir" && pwd)" # we cd below; keep a relative <out_dir> valid

    # 1. A writable copy of the upstream module: its provider constructor is in an
    #    internal package, so our shim has to live inside that module.
    local upstream_dir
    cd "$work" # outside any module, so the download is not tied to one
    upstream_dir="$(go mod download -json "${DOCKER_TF_MODULE}@${DOCKER_TF_VERSION}" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [[ -d "$upstream_dir" ]] || { echo "download of ${DOCKER_TF_MODULE}@${DOCKER_TF_VERSION} failed" >&2; exit 1; }
    cp -r "$upstream_dir" "$work/upstream"
    chmod -R u+w "$work/upstream"
    mkdir -p "$work/upstream/shim"
    cat >"$work/upstream/shim/shim.go" <<'EOF'
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
EOF

    # 2. Our main module: mapping, schema generator, plugin.
    mkdir -p "$work/src/dockerinfo" "$work/src/cmd/gen-schema" "$work/src/cmd/pulumi-resource-docker"
    cat >"$work/src/go.mod" <<EOF
module pulumi-docker-offline

go 1.24.7

require (
	github.com/pulumi/pulumi-terraform-bridge/v3 ${DOCKER_BRIDGE_VERSION}
	${DOCKER_TF_MODULE_PATH} v0.0.0
)

replace (
	github.com/hashicorp/terraform-plugin-sdk/v2 => ${DOCKER_TF_SDK_FORK} ${DOCKER_TF_SDK_FORK_VERSION}
	${DOCKER_TF_MODULE_PATH} => ../upstream
)
EOF
    cat >"$work/src/dockerinfo/info.go" <<'EOF'
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
EOF
    cat >"$work/src/cmd/gen-schema/main.go" <<'EOF'
// gen-schema writes schema.json for the plugin: gen-schema schema --skip-examples --out DIR
// (examples are skipped: converting them needs a pulumi CLI).
package main

import (
	"os"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	"pulumi-docker-offline/dockerinfo"
)

func main() {
	dockerinfo.UpstreamRepoPath = os.Getenv("UPSTREAM_REPO_PATH")
	tfgen.Main("docker", dockerinfo.Version, dockerinfo.Provider())
}
EOF
    cat >"$work/src/cmd/pulumi-resource-docker/main.go" <<'EOF'
// pulumi-resource-docker serves the bridged Terraform docker provider to the Pulumi engine.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	"pulumi-docker-offline/dockerinfo"
)

// schema.json is generated by cmd/gen-schema just before this package is built.
//
//go:embed schema.json
var schema []byte

func main() {
	tfbridge.Main("docker", dockerinfo.Version, dockerinfo.Provider(), schema)
}
EOF

    cd "$work/src"
    # 3. Generate the schema the plugin embeds. -mod=mod (in GOFLAGS) lets this first
    #    build fill in go.mod/go.sum from the proxy; unlike `go mod tidy` it fetches only
    #    modules the build needs (about 1.7 GB of module cache instead of 2.2 GB).
    local ldflags="-s -w -X pulumi-docker-offline/dockerinfo.Version=${DOCKER_PROVIDER_VERSION}"
    go build -trimpath -ldflags "$ldflags" -o "$work/gen-schema" ./cmd/gen-schema
    # Upstream's docs trigger many harmless markdown warnings: keep them in a log.
    UPSTREAM_REPO_PATH="$work/upstream" PULUMI_SKIP_UPDATE_CHECK=true \
      "$work/gen-schema" schema --skip-examples --out "$work/gen" >"$work/gen-schema.log" 2>&1 ||
      { tail -20 "$work/gen-schema.log" >&2; exit 1; }
    cp "$work/gen/schema.json" cmd/pulumi-resource-docker/schema.json
    # 4. The plugin. no_compose is the tag pulumi-docker releases use; harmless here.
    go build -trimpath -tags no_compose -ldflags "$ldflags" \
      -o "$out_dir/pulumi-resource-docker" ./cmd/pulumi-resource-docker

    [[ "$("$out_dir/pulumi-resource-docker" -version)" == "$DOCKER_PROVIDER_VERSION" ]]
    echo "$stamp" >"$out_dir/.pulumi-resource-docker.stamp"
    echo "built $out_dir/pulumi-resource-docker ${DOCKER_PROVIDER_VERSION}"
  )
}
