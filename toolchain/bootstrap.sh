#!/usr/bin/env bash
# Make a working Pulumi engine available without downloading anything at run time.
#
# Usage:
#   PATH="$(toolchain/bootstrap.sh | tail -1):$PATH"
#   eval "$(toolchain/bootstrap.sh --env)"     # PATH, PULUMI_HOME and the no-download switches
#
# Order of preference:
#   1. A `pulumi` CLI on PATH at the pinned version whose plugin cache already holds the
#      pinned provider plugins (a normal user install): reuse it.
#   2. A finished build in the cache (outside the clone): reuse it (takes seconds).
#   3. Otherwise build every part from Go modules into the cache (several minutes per part).
#
# stdout: only the bin directory, as the last line (or export lines with --env).
# stderr: progress, and on failure the step that failed plus the tail of its log.
#
# Cache: ${OLLAMA_JUDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ollama-judge}/toolchain/<key>/
#   bin/pulumi            the CLI (also makes the dir usable as PulumiCommand(root=<key>))
#   pulumi-home/plugins/  PULUMI_HOME holding exactly the pinned provider plugins
#   logs/                 build logs, one per part
#   provenance/<part>/    go.mod/go.sum each part was built with
#
# There is no Python language host (pulumi-language-python): its Go module is not
# available from the module proxy. Python programs therefore have to be run through the
# Automation API with an inline program, which serves the language runtime in-process
# and hands its address to the CLI with --client; the CLI then never looks for the host.
set -euo pipefail

# --- Pinned versions -------------------------------------------------------------------
# requirements.txt pins the Python SDKs; the engine and plugins are built at the same
# versions, so that SDK and plugin schemas agree. This script only knows how to build
# them offline (the recipe facts below) for the versions it names.
TOOLCHAIN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly TOOLCHAIN_DIR
pin() {
    local version
    version="$(sed -n "s/^$1==\([^ ;#]*\).*/\1/p" "${TOOLCHAIN_DIR}/../requirements.txt")"
    [[ -n "${version}" ]] || {
        echo "bootstrap: requirements.txt pins no version of $1" >&2
        exit 1
    }
    printf '%s\n' "${version}"
}
PULUMI_VERSION="$(pin pulumi)"
K8S_VERSION="$(pin pulumi-kubernetes)"
DOCKER_VERSION="$(pin pulumi-docker)"
readonly PULUMI_VERSION K8S_VERSION DOCKER_VERSION

# pulumi-kubernetes has no provider/v4 tags: a release is a pseudo-version of its commit,
# and the proxy serves only some of them (see the README's toolchain section).
readonly K8S_PROVIDER_MODULE=github.com/pulumi/pulumi-kubernetes/provider/v4
readonly K8S_SDK_MODULE=github.com/pulumi/pulumi-kubernetes/sdk/v4
case "${K8S_VERSION}" in
    4.25.0) readonly K8S_PROVIDER_PSEUDO=v4.0.0-20260115033456-f47bc2d6f199 ;;
    *)
        echo "bootstrap: no offline recipe for pulumi-kubernetes ${K8S_VERSION} (known: 4.25.0)" >&2
        exit 1
        ;;
esac

# shellcheck source=toolchain/docker_provider.sh
source "${TOOLCHAIN_DIR}/docker_provider.sh"
if [[ "${DOCKER_VERSION}" != "${DOCKER_PROVIDER_VERSION}" ]]; then
    echo "bootstrap: no offline recipe for pulumi-docker ${DOCKER_VERSION} (known: ${DOCKER_PROVIDER_VERSION})" >&2
    exit 1
fi

# Provider plugins the engine needs, as "name version".
PLUGINS=("kubernetes ${K8S_VERSION}" "docker ${DOCKER_VERSION}")

# Bump when the cache layout or build recipe changes, so old caches are not reused.
readonly RECIPE=1
KEY="r${RECIPE}-pulumi${PULUMI_VERSION}-k8s${K8S_VERSION}-docker${DOCKER_VERSION}"
readonly KEY

CACHE_ROOT="${OLLAMA_JUDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ollama-judge}/toolchain"
readonly CACHE_ROOT
readonly PREFIX="${CACHE_ROOT}/${KEY}"
readonly BIN_DIR="${PREFIX}/bin"
readonly HOME_DIR="${PREFIX}/pulumi-home"
readonly WORK_DIR="${PREFIX}/work"
readonly LOG_DIR="${PREFIX}/logs"
readonly STAMP_DIR="${PREFIX}/stamps"

# The engine must never try to download plugins or check for updates.
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_SKIP_UPDATE_CHECK=true

MODE="bin"
case "${1:-}" in
    "") ;;
    --env) MODE="env" ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "usage: $0 [--env]" >&2
        exit 2
        ;;
esac

# --- Progress and failure reporting -----------------------------------------------------
CURRENT_STEP="start"
CURRENT_LOG=""

say() { printf 'bootstrap: %s\n' "$*" >&2; }

step() {
    CURRENT_STEP="$1"
    CURRENT_LOG="${2:-}"
}

on_exit() {
    local rc=$?
    if ((rc != 0)); then
        say "FAILED at step: ${CURRENT_STEP} (exit ${rc})"
        if [[ -n "${CURRENT_LOG}" && -s "${CURRENT_LOG}" ]]; then
            say "last lines of ${CURRENT_LOG}:"
            tail -n 25 "${CURRENT_LOG}" >&2
        fi
    fi
}
trap on_exit EXIT

# Runs a command with its output appended to the current step's log.
logged() {
    "$@" >>"${CURRENT_LOG}" 2>&1
}

elapsed() {
    local secs=$((SECONDS - $1))
    printf '%dm%02ds' $((secs / 60)) $((secs % 60))
}

# --- Output -----------------------------------------------------------------------------
# $1: bin dir, $2: PULUMI_HOME to use ("" = leave the user's own).
finish() {
    local bin="$1" home="$2"
    if [[ "${MODE}" == "env" ]]; then
        # shellcheck disable=SC2016 # $PATH is meant to expand in the caller's shell
        printf 'export PATH=%q:"$PATH"\n' "${bin}"
        if [[ -n "${home}" ]]; then
            printf 'export PULUMI_HOME=%q\n' "${home}"
        fi
        printf 'export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true\n'
        printf 'export PULUMI_SKIP_UPDATE_CHECK=true\n'
    else
        printf '%s\n' "${bin}"
    fi
    exit 0
}

# --- Checks -----------------------------------------------------------------------------
# True if `pulumi plugin ls` (for the given CLI, with the current PULUMI_HOME) lists every
# pinned provider plugin at its pinned version.
has_pinned_plugins() {
    local cli="$1" listing entry name version
    listing="$("${cli}" plugin ls 2>/dev/null)" || return 1
    for entry in "${PLUGINS[@]}"; do
        read -r name version <<<"${entry}"
        # Columns: NAME KIND VERSION ...
        awk -v n="${name}" -v v="${version}" \
            '$1 == n && $2 == "resource" && $3 == v { found = 1 } END { exit !found }' \
            <<<"${listing}" || return 1
    done
}

cli_version_ok() {
    [[ "$("$1" version 2>/dev/null)" == "v${PULUMI_VERSION}" ]]
}

try_reuse_installed() {
    local cli
    cli="$(command -v pulumi 2>/dev/null)" || return 1
    # Our own cache on PATH is not a "user install"; the cache check below handles it.
    [[ "${cli}" == "${BIN_DIR}/pulumi" ]] && return 1
    cli_version_ok "${cli}" || return 1
    has_pinned_plugins "${cli}" || return 1
    say "reusing installed pulumi v${PULUMI_VERSION} at ${cli} (pinned plugins present)"
    finish "$(dirname "${cli}")" ""
}

cache_complete() {
    [[ -f "${STAMP_DIR}/complete" && -x "${BIN_DIR}/pulumi" ]] || return 1
    cli_version_ok "${BIN_DIR}/pulumi" || return 1
    PULUMI_HOME="${HOME_DIR}" has_pinned_plugins "${BIN_DIR}/pulumi"
}

# --- Go helpers -------------------------------------------------------------------------
go_env() {
    # local: never switch Go toolchains (no downloads). GOWORK=off: a user's go.work must not
    # leak into the scratch modules. -mod=mod: scratch modules start without a full go.sum.
    # -buildvcs=false: the cache may sit inside some git checkout; VCS stamping is useless.
    export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
    export GOFLAGS="-mod=mod -buildvcs=false"
}

# Prints the module-cache directory of MODULE@VERSION, downloading it if needed.
module_dir() {
    local json
    # On failure go still prints the JSON (with an "Error" field), which is what we report.
    json="$(go mod download -json "$1@$2")" || true
    if grep -q '"Error"' <<<"${json}"; then
        printf '%s\n' "${json}" >&2
        return 1
    fi
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"${json}"
}

# Copies a scratch module's go.mod/go.sum next to the cache for later review.
keep_provenance() {
    local part="$1" src="$2"
    mkdir -p "${PREFIX}/provenance/${part}"
    cp "${src}/go.mod" "${src}/go.sum" "${PREFIX}/provenance/${part}/"
}

# --- Part 1: pulumi CLI ----------------------------------------------------------------
part_cli() {
    local stamp="${STAMP_DIR}/cli"
    if [[ -f "${stamp}" ]] && cli_version_ok "${BIN_DIR}/pulumi"; then
        say "pulumi CLI v${PULUMI_VERSION}: cached"
        return 0
    fi
    local t0=${SECONDS} dir="${WORK_DIR}/cli"
    say "building pulumi CLI v${PULUMI_VERSION} (takes several minutes)"
    step "pulumi CLI: prepare scratch module" "${LOG_DIR}/cli.log"
    : >"${CURRENT_LOG}"
    rm -rf "${dir}"
    mkdir -p "${dir}"
    # `go install pkg@ver` refuses pkg/v3 because its go.mod has replace directives. A
    # scratch module requires pkg and sdk at the same version (pkg's relative
    # `sdk/v3 => ../sdk` replace means "the sdk of the same commit") and repeats pkg's one
    # non-relative replace. The `tool` line keeps `go mod tidy` from dropping the CLI.
    cat >"${dir}/go.mod" <<EOF
module ollama-judge.invalid/toolchain/pulumi-cli

go 1.26

require (
	github.com/pulumi/pulumi/pkg/v3 v${PULUMI_VERSION}
	github.com/pulumi/pulumi/sdk/v3 v${PULUMI_VERSION}
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e

tool github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
EOF
    step "pulumi CLI: download modules (go mod tidy)" "${CURRENT_LOG}"
    (cd "${dir}" && logged go mod tidy)
    step "pulumi CLI: go build" "${CURRENT_LOG}"
    # Same flags as Pulumi's release build: build tags osusergo,grpcnotrace and the version
    # stamped into the sdk's version package.
    (cd "${dir}" && logged go build -trimpath -tags osusergo,grpcnotrace \
        -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${PULUMI_VERSION}" \
        -o "${dir}/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
    step "pulumi CLI: check version" "${CURRENT_LOG}"
    cli_version_ok "${dir}/pulumi"
    mkdir -p "${BIN_DIR}"
    mv -f "${dir}/pulumi" "${BIN_DIR}/pulumi"
    keep_provenance cli "${dir}"
    rm -rf "${dir}"
    touch "${stamp}"
    say "pulumi CLI v${PULUMI_VERSION}: built in $(elapsed "${t0}")"
}

# Installs a provider binary into the cache's PULUMI_HOME at the given version.
install_plugin() {
    local name="$1" version="$2" binary="$3"
    PULUMI_HOME="${HOME_DIR}" logged "${BIN_DIR}/pulumi" plugin install resource "${name}" "${version}" \
        --file "${binary}" --reinstall
    PULUMI_HOME="${HOME_DIR}" logged "${BIN_DIR}/pulumi" plugin ls
}

# --- Part 2: kubernetes provider plugin --------------------------------------------------
part_kubernetes() {
    local stamp="${STAMP_DIR}/kubernetes"
    if [[ -f "${stamp}" && -x "${HOME_DIR}/plugins/resource-kubernetes-v${K8S_VERSION}/pulumi-resource-kubernetes" ]]; then
        say "pulumi-resource-kubernetes v${K8S_VERSION}: cached"
        return 0
    fi
    local t0=${SECONDS} src="${WORK_DIR}/kubernetes" moddir
    say "building pulumi-resource-kubernetes v${K8S_VERSION} (takes several minutes)"
    step "kubernetes: download provider module" "${LOG_DIR}/kubernetes.log"
    : >"${CURRENT_LOG}"
    moddir="$(module_dir "${K8S_PROVIDER_MODULE}" "${K8S_PROVIDER_PSEUDO}" 2>>"${CURRENT_LOG}")"
    [[ -n "${moddir}" ]]
    step "kubernetes: copy module out of the module cache" "${CURRENT_LOG}"
    # main.go embeds schema-embed.json and terraform-mapping-embed.json, which are generated
    # (and git-ignored), so the module has to be built as the main module in a writable copy.
    rm -rf "${src}"
    mkdir -p "${WORK_DIR}"
    cp -R "${moddir}" "${src}"
    chmod -R u+w "${src}"
    # go.mod replaces sdk/v4 with ../sdk (same commit, not in the module zip). The sdk/v4
    # tag of the release sits on the next commit, which only stamps versions into the sdk.
    (cd "${src}" && logged go mod edit \
        -dropreplace="${K8S_SDK_MODULE}" -require="${K8S_SDK_MODULE}@v${K8S_VERSION}")
    step "kubernetes: generate embedded schema (VERSION=${K8S_VERSION})" "${CURRENT_LOG}"
    # Same as the release Makefile: the schema carries the version without a leading "v".
    (cd "${src}/cmd/pulumi-resource-kubernetes" && VERSION="${K8S_VERSION}" logged go run generate.go)
    step "kubernetes: go build" "${CURRENT_LOG}"
    # Release (goreleaser) flags: no build tags; version is the tag, with its "v".
    (cd "${src}" && logged go build -trimpath \
        -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=v${K8S_VERSION}" \
        -o "${src}/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes)
    step "kubernetes: pulumi plugin install" "${CURRENT_LOG}"
    install_plugin kubernetes "${K8S_VERSION}" "${src}/pulumi-resource-kubernetes"
    keep_provenance kubernetes "${src}"
    rm -rf "${src}"
    touch "${stamp}"
    say "pulumi-resource-kubernetes v${K8S_VERSION}: built in $(elapsed "${t0}")"
}

# --- Part 3: docker provider plugin -----------------------------------------------------
part_docker() {
    local stamp="${STAMP_DIR}/docker"
    if [[ -f "${stamp}" && -x "${HOME_DIR}/plugins/resource-docker-v${DOCKER_VERSION}/pulumi-resource-docker" ]]; then
        say "pulumi-resource-docker v${DOCKER_VERSION}: cached"
        return 0
    fi
    local t0=${SECONDS} work="${WORK_DIR}/docker"
    say "building pulumi-resource-docker v${DOCKER_VERSION} (takes a few minutes)"
    step "docker: build (see toolchain/docker_provider.sh)" "${LOG_DIR}/docker.log"
    : >"${CURRENT_LOG}"
    logged build_docker_provider "${work}" "${work}/bin"
    step "docker: pulumi plugin install" "${CURRENT_LOG}"
    install_plugin docker "${DOCKER_VERSION}" "${work}/bin/pulumi-resource-docker"
    keep_provenance docker "${work}/plugin"
    rm -rf "${work}"
    touch "${stamp}"
    say "pulumi-resource-docker v${DOCKER_VERSION}: built in $(elapsed "${t0}")"
}

# --- Main -------------------------------------------------------------------------------
main() {
    step "look for an installed pulumi"
    try_reuse_installed || true

    step "look for a cached build"
    if cache_complete; then
        say "using cached toolchain ${PREFIX}"
        finish "${BIN_DIR}" "${HOME_DIR}"
    fi

    step "check prerequisites"
    command -v go >/dev/null || {
        say "go is needed to build the toolchain (none on PATH)"
        return 1
    }
    command -v flock >/dev/null || {
        say "flock (util-linux) is needed"
        return 1
    }
    mkdir -p "${PREFIX}" "${LOG_DIR}" "${STAMP_DIR}" "${HOME_DIR}"
    # Run go outside any module the caller may be in (its go.mod must not matter).
    cd "${PREFIX}"

    # One build at a time per cache key (parallel test workers may all call this script).
    step "wait for the build lock"
    exec 9>"${PREFIX}.lock"
    flock 9
    if cache_complete; then
        say "using cached toolchain ${PREFIX} (built by a concurrent run)"
        finish "${BIN_DIR}" "${HOME_DIR}"
    fi

    local t0=${SECONDS}
    go_env
    say "building toolchain into ${PREFIX} with $(go version)"
    part_cli
    part_kubernetes
    part_docker

    step "final check"
    rmdir "${WORK_DIR}" 2>/dev/null || true
    touch "${STAMP_DIR}/complete"
    cache_complete
    say "toolchain ready in $(elapsed "${t0}"): ${BIN_DIR} (PULUMI_HOME=${HOME_DIR})"
    finish "${BIN_DIR}" "${HOME_DIR}"
}

main
