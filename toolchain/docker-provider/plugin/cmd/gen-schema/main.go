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
