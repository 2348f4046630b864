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
#   That Go code lives in toolchain/docker-provider/:
#     shim/    added to a writable copy of the upstream module (see go.mod's replace)
#     plugin/  our module: go.mod (the bridge version and the plugin-SDK fork),
#              dockerinfo/ (the mapping), cmd/gen-schema/, cmd/pulumi-resource-docker/
#   This file only lays the two modules out side by side and runs the builds.
#
# What you get: docker:index/{Container,Network,Volume,RemoteImage,RegistryImage,Service,
#   ServiceConfig,Secret,Plugin,Tag} and the get* functions, schema-identical by name to
#   pulumi-docker 4.0.1; requirements.txt pins the Python SDK to that version.
# What you do not get: the native docker.Image (build-and-push) resource of 4.x, and
#   pulumi-docker's own patches to the upstream code (e.g. reading DOCKER_* env through
#   the Docker client's FromEnv); `host` still defaults to DOCKER_HOST or the local socket.
#
# Needs: go (GOTOOLCHAIN=local is forced), a configured module proxy. No git, no cgo.
# check_docker_provider_sources runs gofmt and go vet on that code (scripts/test).

# --- Version facts -----------------------------------------------------------------
# The pulumi-docker release whose names we reproduce; stamped as the plugin version so
# the engine finds it when the Python SDK asks for that version.
DOCKER_PROVIDER_VERSION="4.0.1"
# Terraform docker provider v2.23.0 (commit 3489fbbafc7b). Its go.mod calls itself
# github.com/terraform-providers/terraform-provider-docker, so it is fetched under the
# GitHub path and used through a replace (in docker-provider/plugin/go.mod, with the
# bridge and plugin-SDK versions).
DOCKER_TF_MODULE="github.com/kreuzwerker/terraform-provider-docker"
DOCKER_TF_VERSION="v0.0.0-20221102105757-3489fbbafc7b"

DOCKER_PROVIDER_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/docker-provider"

# What the plugin is built from: the versions above, the Go sources and this script.
docker_provider_recipe() {
  printf '%s %s ' "$DOCKER_PROVIDER_VERSION" "$DOCKER_TF_VERSION"
  {
    cat "$DOCKER_PROVIDER_SRC/../docker_provider.sh"
    (cd "$DOCKER_PROVIDER_SRC" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-16
}

# The Go settings of every build and check of these modules.
docker_provider_go_env() {
  # -mod=mod: <work>/plugin/go.mod lists only direct requirements; go fills in the rest.
  export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod -buildvcs=false"
  # The checksum database has no entry for this pseudo-version (lookups answer 404);
  # the proxy still serves the zip. Exempt only this one module from the lookup.
  export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}${DOCKER_TF_MODULE}"
}

# Lays out <work>/upstream (a writable copy of the upstream module, with our shim) and
# <work>/plugin (our module), recreating both.
docker_provider_layout() {
  local work="$1" upstream_dir
  rm -rf "$work/upstream" "$work/plugin"
  mkdir -p "$work"
  # Outside any module, so the download is not tied to one.
  upstream_dir="$(cd "$work" && go mod download -json "${DOCKER_TF_MODULE}@${DOCKER_TF_VERSION}" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -d "$upstream_dir" ]] || { echo "download of ${DOCKER_TF_MODULE}@${DOCKER_TF_VERSION} failed" >&2; return 1; }
  cp -r "$upstream_dir" "$work/upstream" &&
    chmod -R u+w "$work/upstream" &&
    cp -r "$DOCKER_PROVIDER_SRC/shim" "$work/upstream/shim" &&
    cp -r "$DOCKER_PROVIDER_SRC/plugin" "$work/plugin"
}

# <work_dir> is scratch space: its upstream/, plugin/ and gen/ are recreated on every
# build (Go's module and build caches make a rebuild take seconds). Only the plugin goes
# to <out_dir>.
build_docker_provider() {
  local work="${1:?usage: build_docker_provider <work_dir> <out_dir>}"
  local out_dir="${2:?usage: build_docker_provider <work_dir> <out_dir>}"
  local stamp
  stamp="$(docker_provider_recipe)"

  # Skip when this exact recipe already produced the binary.
  if [[ -x "$out_dir/pulumi-resource-docker" && -f "$out_dir/.pulumi-resource-docker.stamp" ]] &&
    [[ "$(cat "$out_dir/.pulumi-resource-docker.stamp")" == "$stamp" ]]; then
    echo "pulumi-resource-docker ${DOCKER_PROVIDER_VERSION} already built in $out_dir"
    return 0
  fi

  (
    set -euo pipefail
    docker_provider_go_env
    rm -rf "$work/gen"
    mkdir -p "$work" "$out_dir"
    out_dir="$(cd "$out_dir" && pwd)" # we cd below; keep a relative <out_dir> valid
    docker_provider_layout "$work"

    cd "$work/plugin"
    # Generate the schema the plugin embeds. -mod=mod (in GOFLAGS) lets this first
    # build fill in go.mod/go.sum from the proxy; unlike `go mod tidy` it fetches only
    # modules the build needs (about 1.7 GB of module cache instead of 2.2 GB).
    local ldflags="-s -w -X pulumi-docker-offline/dockerinfo.Version=${DOCKER_PROVIDER_VERSION}"
    go build -trimpath -ldflags "$ldflags" -o "$work/gen-schema" ./cmd/gen-schema
    # Upstream's docs trigger many harmless markdown warnings: keep them in a log.
    UPSTREAM_REPO_PATH="$work/upstream" PULUMI_SKIP_UPDATE_CHECK=true \
      "$work/gen-schema" schema --skip-examples --out "$work/gen" >"$work/gen-schema.log" 2>&1 ||
      { tail -20 "$work/gen-schema.log" >&2; exit 1; }
    cp "$work/gen/schema.json" cmd/pulumi-resource-docker/schema.json
    # The plugin. no_compose is the tag pulumi-docker releases use; harmless here.
    go build -trimpath -tags no_compose -ldflags "$ldflags" \
      -o "$out_dir/pulumi-resource-docker" ./cmd/pulumi-resource-docker

    [[ "$("$out_dir/pulumi-resource-docker" -version)" == "$DOCKER_PROVIDER_VERSION" ]]
    echo "$stamp" >"$out_dir/.pulumi-resource-docker.stamp"
    echo "built $out_dir/pulumi-resource-docker ${DOCKER_PROVIDER_VERSION}"
  )
}

# gofmt and go vet of toolchain/docker-provider/, for scripts/test. Offline and quick: it
# never downloads (GOPROXY=off) and vets against the modules and compiled packages the
# build left in Go's caches, with the build's flags. Where no build has filled the module
# cache (the engine came from a normal Pulumi install), go vet is skipped with a note.
check_docker_provider_sources() {
  (
    set -euo pipefail
    if ! command -v go >/dev/null; then
      echo "no go on PATH: gofmt and go vet of $DOCKER_PROVIDER_SRC skipped" >&2
      exit 0
    fi
    unformatted="$(gofmt -l "$DOCKER_PROVIDER_SRC")"
    [[ -z "$unformatted" ]] || { printf 'not gofmt-formatted (gofmt -w):\n%s\n' "$unformatted" >&2; exit 1; }

    docker_provider_go_env
    export GOPROXY=off
    # A plain variable, not a local: the EXIT trap may run after the function has returned.
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    if ! docker_provider_layout "$work" 2>/dev/null; then
      echo "${DOCKER_TF_MODULE} is not in Go's module cache (no docker plugin built here): go vet skipped" >&2
      exit 0
    fi
    # Stands in for the generated schema that cmd/pulumi-resource-docker embeds.
    echo '{}' >"$work/plugin/cmd/pulumi-resource-docker/schema.json"
    cd "$work/plugin"
    # -trimpath and the tag as in the build, so the compiled dependencies come from Go's
    # build cache.
    go vet -trimpath -tags no_compose ./... github.com/terraform-providers/terraform-provider-docker/shim || {
      echo "go vet: the files above are in a scratch copy of toolchain/docker-provider/plugin/;" \
        "its ../upstream/shim/ is toolchain/docker-provider/shim/" >&2
      exit 1
    }
  )
}
