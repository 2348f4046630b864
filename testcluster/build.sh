#!/usr/bin/env bash
# Build (or reuse) the binaries of the throwaway test cluster:
#   control plane (up.sh starts it): etcd, kube-apiserver, kube-controller-manager,
#     kube-scheduler, kwok and kubectl, plus the kwok Stage configs that make kwok's fake
#     node and pods come alive;
#   a real node: kubelet, kube-proxy, coredns, kube-router (only its NetworkPolicy
#     firewall: iptables and ipset) and pause (our own, testcluster/pause/: the pod sandbox's
#     process, packed into an image since no pause image can be pulled here).
# containerd, runc and the CNI plugins come from Debian (scripts/lib.sh).
#
# Usage:
#   BIN="$(testcluster/build.sh | tail -1)"
#
# stdout: only the bin directory, as the last line.
# stderr: progress per part, and on failure the step that failed plus the tail of its log.
#
# Cache (outside the clone, so a fresh clone or `git clean` does not cost a rebuild):
#   ${OLLAMA_JUDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ollama-judge}/testcluster/<key>/
#     bin/      the eleven binaries
#     stages/   kwok Stage YAML copied out of the kwok module (up.sh reads bin/../stages)
#     src/      the scratch Go modules each part was built from (go.mod/go.sum = provenance)
#     logs/     one build log per part, and timings.tsv
# <key> names every version below and the recipe revision, so a change of any of them
# builds into a new directory and never reuses a stale binary.
#
# KUBEBUILDER_ASSETS: if it names a folder holding executable kube-apiserver and etcd
# (controller-runtime's envtest layout), those two are used instead of being built; the
# bin directory printed is then <key>-assets-<hash of that folder>/bin, a set of symlinks.
#
# Everything is built from Go module zips served by the configured module proxy (pause from
# its source here): no git, no cgo, no download of prebuilt binaries. Go's own module and
# build caches are used as they are (GOMODCACHE, GOCACHE), which is what makes a rebuild
# after a wiped bin/ fast.
set -euo pipefail

# --- Versions ---------------------------------------------------------------------------
# Kubernetes v1.36.1: the proxy serves all 33 staging modules at v0.36.1 (v1.36.3 and
# v1.37.2 lack k8s.io/sample-cli-plugin / sample-controller at the matching v0.x.y), and
# kwok v0.8.0 is itself built against k8s.io/* v0.36.1, so the two share compiled
# packages in Go's build cache.
readonly K8S_VERSION=v1.36.1
# etcd 3.6 is what Kubernetes 1.36 is built and tested against (its go.mod requires
# etcd client v3.6.8); v3.6.16 is the newest 3.6 patch the proxy serves.
readonly ETCD_VERSION=v3.6.16
readonly KWOK_VERSION=v0.8.0
# CoreDNS v1.15.0 is the newest the proxy serves (its go.mod: go 1.26.0, no replaces).
readonly COREDNS_VERSION=v1.15.0
# kube-router v2.1.0 is the one the proxy serves. (kube-network-policies, the SIG's
# reference enforcer, needs the kernel's nftables queue expression, CONFIG_NFT_QUEUE,
# which kernels like this machine's lack.)
readonly KUBE_ROUTER_VERSION=v2.1.0
# Bump when the recipe or the cache layout changes, so old caches are not reused.
readonly RECIPE=2

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
readonly PAUSE_SRC="${HERE}/pause"
# pause is built from this repository, so its sources are part of the key like a version.
PAUSE_HASH="$(cat "${PAUSE_SRC}/go.mod" "${PAUSE_SRC}/main.go" | sha256sum | cut -c1-8)"
readonly PAUSE_HASH

KEY="r${RECIPE}-k8s${K8S_VERSION}-etcd${ETCD_VERSION}-kwok${KWOK_VERSION}"
KEY+="-coredns${COREDNS_VERSION}-kube-router${KUBE_ROUTER_VERSION}-pause${PAUSE_HASH}"
readonly KEY
CACHE_ROOT="${OLLAMA_JUDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ollama-judge}/testcluster"
readonly CACHE_ROOT
readonly PREFIX="${CACHE_ROOT}/${KEY}"
readonly BIN_DIR="${PREFIX}/bin"
readonly LOG_DIR="${PREFIX}/logs"
readonly SRC_DIR="${PREFIX}/src"
readonly STAGES_DIR="${PREFIX}/stages"

# The kwok stages up.sh loads, as paths inside the kwok module: the same set kwokctl
# loads by default (node initialize + lease heartbeat, pod ready/complete/delete).
readonly KWOK_STAGES=(
    kustomize/stage/node/fast/node-initialize.yaml
    kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
    kustomize/stage/pod/fast/pod-ready.yaml
    kustomize/stage/pod/fast/pod-complete.yaml
    kustomize/stage/pod/fast/pod-delete.yaml
)

# --- Helpers ----------------------------------------------------------------------------
log() { printf 'build.sh: %s\n' "$*" >&2; }
die() {
    log "FAILED: $*"
    exit 1
}

# run_step PART STEP CMD...: run CMD with its output appended to the part's log; on
# failure name the step and show the end of the log, then stop.
run_step() {
    local part="$1" step="$2"
    shift 2
    local logfile="${LOG_DIR}/${part}.log"
    printf '\n### %s: %s\n$ %s\n' "${part}" "${step}" "$*" >>"${logfile}"
    if ! "$@" >>"${logfile}" 2>&1; then
        log "FAILED: ${part}: ${step}"
        log "last lines of ${logfile}:"
        tail -n 40 "${logfile}" >&2
        exit 1
    fi
}

have() { [[ -x "${BIN_DIR}/$1" ]]; }

# mod_field MOD@VER FIELD: a field of `go mod download -json` (GoMod = the .mod file in
# the module cache, Dir = the unpacked module, Time = the release time).
mod_field() {
    local json
    json="$(go mod download -json "$1" 2>&1)" || {
        log "$(grep '"Error"' <<<"${json}" || printf '%s' "${json}")"
        die "downloading $1 from the module proxy"
    }
    sed -n "s/^[[:space:]]*\"$2\": \"\(.*\)\",\{0,1\}$/\1/p" <<<"${json}"
}

# relative_replaces GO_MOD: "module directory" for each replace by a relative directory
# (the monorepo siblings that `go install` and a plain `require` cannot follow).
relative_replaces() {
    awk '
        /^replace[[:space:]]*\($/ { inblock = 1; next }
        inblock && /^\)/ { inblock = 0; next }
        {
            line = $0
            if (!inblock) { if (line !~ /^replace[[:space:]]/) next; sub(/^replace[[:space:]]+/, "", line) }
            n = split(line, f, /[[:space:]]+/)
            for (i = 1; i <= n; i++) if (f[i] == "=>") break
            if (i < n && f[i + 1] ~ /^\.\.?\//) { sub(/^[[:space:]]+/, "", line); split(line, g, /[[:space:]]+/); print g[1], f[i + 1] }
        }' "$1"
}

# absolute_replaces GO_MOD: the replace lines that point at another module version; a
# scratch module has to repeat them because replaces in dependencies are ignored.
absolute_replaces() {
    awk '
        /^replace[[:space:]]*\($/ { inblock = 1; next }
        inblock && /^\)/ { inblock = 0; next }
        {
            line = $0
            if (!inblock) { if (line !~ /^replace[[:space:]]/) next; sub(/^replace[[:space:]]+/, "", line) }
            if (line !~ /=>/) next
            split(line, side, /=>/)
            target = side[2]; sub(/^[[:space:]]+/, "", target)
            if (target !~ /^\.\.?\// && target != "") { sub(/^[[:space:]]+/, "", line); print line }
        }' "$1"
}

# install_binary PART BUILT: move a finished binary into bin/ in one step, so a binary
# present in bin/ is always complete (an interrupted build leaves none).
install_binary() {
    mv -f "$2" "${BIN_DIR}/$1"
}

# timed PART FUNCTION: build one part unless it is there, and record how long it took.
timed() {
    local part="$1" fn="$2" start end
    if have "${part}"; then
        log "${part}: cached"
        return 0
    fi
    log "${part}: building (log: ${LOG_DIR}/${part}.log)"
    : >"${LOG_DIR}/${part}.log"
    start="$(date +%s)"
    "${fn}"
    end="$(date +%s)"
    printf '%s\t%s\t%s\n' "${part}" "$((end - start))" "$(date -u +%FT%TZ)" >>"${LOG_DIR}/timings.tsv"
    log "${part}: done in $((end - start))s"
}

# --- Parts ------------------------------------------------------------------------------
# etcd: the go.etcd.io/etcd/server/v3 module root is the etcd main package, and its go.mod
# replaces its siblings (api, client/pkg, client/v3, pkg) with relative paths, so
# `go install` refuses it. A scratch module requires the server and each sibling at the
# same tag, and builds the server's root package by import path.
build_etcd() {
    local dir="${SRC_DIR}/etcd" server=go.etcd.io/etcd/server/v3 gomod sibling target
    rm -rf "${dir}" && mkdir -p "${dir}"
    gomod="$(mod_field "${server}@${ETCD_VERSION}" GoMod)"
    [[ -n "${gomod}" ]] || die "etcd: download ${server}@${ETCD_VERSION}"
    {
        printf 'module testcluster.invalid/etcd\n\n%s\n\nrequire (\n' "$(grep -m1 '^go ' "${gomod}")"
        printf '\t%s %s\n' "${server}" "${ETCD_VERSION}"
        while read -r sibling target; do
            # Siblings live in ../<dir>; the ./FORBIDDEN_DEPENDENCY replaces only keep
            # go.etcd.io/etcd and tests/v3 out of the graph and are not siblings.
            [[ "${target}" == ../* ]] && printf '\t%s %s\n' "${sibling}" "${ETCD_VERSION}"
        done < <(relative_replaces "${gomod}")
        printf ')\n'
        absolute_replaces "${gomod}" | sed 's/^/replace /'
    } >"${dir}/go.mod"
    (
        cd "${dir}"
        run_step etcd "resolve modules (go get)" go get "${server}@${ETCD_VERSION}"
        # etcd's own build stamps only the git commit (api/v3/version.GitSHA); the version
        # string is a constant in that package. A module zip has no commit: say so.
        run_step etcd "go build" go build -trimpath \
            -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=module-${ETCD_VERSION}" \
            -o "${dir}/etcd" "${server}"
    )
    install_binary etcd "${dir}/etcd"
}

# Kubernetes: k8s.io/kubernetes requires its ~33 staging modules at v0.0.0 and replaces
# them with ./staging/src/k8s.io/<name>, which no module zip contains. The scratch module
# requires k8s.io/kubernetes and replaces each staging module with its published
# k8s.io/<name>@v0.<minor>.<patch>; the list comes from k8s.io/kubernetes's own go.mod.
prepare_kubernetes() {
    local dir="${SRC_DIR}/kubernetes" gomod staging_version mod target
    [[ -f "${dir}/.ready" ]] && return 0
    rm -rf "${dir}" && mkdir -p "${dir}"
    : >"${LOG_DIR}/kubernetes-module.log"
    gomod="$(mod_field "k8s.io/kubernetes@${K8S_VERSION}" GoMod)"
    [[ -n "${gomod}" ]] || die "kubernetes: download k8s.io/kubernetes@${K8S_VERSION}"
    staging_version="v0.${K8S_VERSION#v1.}"
    {
        printf 'module testcluster.invalid/kubernetes\n\n%s\n' "$(grep -m1 '^go ' "${gomod}")"
        # Keep the GODEBUG defaults Kubernetes builds with.
        grep '^godebug ' "${gomod}" || true
        printf '\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "${K8S_VERSION}"
        while read -r mod target; do
            [[ "${target}" == ./staging/* ]] && printf '\t%s => %s %s\n' "${mod}" "${mod}" "${staging_version}"
        done < <(relative_replaces "${gomod}")
        printf ')\n'
        absolute_replaces "${gomod}" | sed 's/^/replace /'
    } >"${dir}/go.mod"
    (
        cd "${dir}"
        run_step kubernetes-module "resolve modules (go get)" go get \
            "k8s.io/kubernetes/cmd/kube-apiserver@${K8S_VERSION}" \
            "k8s.io/kubernetes/cmd/kube-controller-manager@${K8S_VERSION}" \
            "k8s.io/kubernetes/cmd/kube-scheduler@${K8S_VERSION}" \
            "k8s.io/kubernetes/cmd/kubectl@${K8S_VERSION}" \
            "k8s.io/kubernetes/cmd/kubelet@${K8S_VERSION}" \
            "k8s.io/kubernetes/cmd/kube-proxy@${K8S_VERSION}"
    )
    touch "${dir}/.ready"
}

# The ldflags hack/lib/version.sh sets for a release build (component-base for the
# servers, client-go for kubectl's client version). There is no git commit in a module
# zip; the build date is the release's own time, so a rebuild gives the same binary.
kube_ldflags() {
    local released minor="${K8S_VERSION#v1.}" pkg flags="-s -w"
    minor="${minor%%.*}"
    released="$(mod_field "k8s.io/kubernetes@${K8S_VERSION}" Time)"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        flags+=" -X ${pkg}.gitVersion=${K8S_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
        flags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=${released}"
    done
    printf '%s\n' "${flags}"
}

build_kube() {
    local part="$1" dir="${SRC_DIR}/kubernetes"
    prepare_kubernetes
    (
        cd "${dir}"
        # Release builds use these tags (hack/lib/golang.sh); grpcnotrace drops x/net/trace.
        run_step "${part}" "go build" go build -trimpath -tags selinux,notest,grpcnotrace \
            -ldflags "$(kube_ldflags)" -o "${dir}/${part}" "k8s.io/kubernetes/cmd/${part}"
    )
    install_binary "${part}" "${dir}/${part}"
}
build_kube_apiserver() { build_kube kube-apiserver; }
build_kube_controller_manager() { build_kube kube-controller-manager; }
build_kube_scheduler() { build_kube kube-scheduler; }
build_kubectl() { build_kube kubectl; }
build_kubelet() { build_kube kubelet; }
build_kube_proxy() { build_kube kube-proxy; }

# kwok: its go.mod has no replace directives, so `go install MOD@VERSION` builds it with
# exactly the dependency versions kwok was released with.
build_kwok() {
    local dir="${SRC_DIR}/kwok"
    rm -rf "${dir}" && mkdir -p "${dir}"
    (
        # go install builds outside any module; the scratch GOFLAGS -mod=mod does not apply.
        export GOBIN="${dir}" GOFLAGS="${GOFLAGS_OUTSIDE}"
        run_step kwok "go install" go install -trimpath \
            -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION}" \
            "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
    )
    install_binary kwok "${dir}/kwok"
}

# coredns: the module root is the main package, its go.mod has no replaces, and the
# generated plugin lists (core/plugin/zplugin.go, core/dnsserver/zdirectives.go, from
# plugin.cfg) are committed, so `go install` builds the default plugin set. Flags as in
# its Makefile: tag grpcnotrace, and coremain.GitCommit, which is `git describe` there
# (the tag itself at a release) and is printed by `coredns -version`.
build_coredns() {
    local dir="${SRC_DIR}/coredns"
    rm -rf "${dir}" && mkdir -p "${dir}"
    (
        export GOBIN="${dir}" GOFLAGS="${GOFLAGS_OUTSIDE}"
        run_step coredns "go install" go install -trimpath -tags grpcnotrace \
            -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=${COREDNS_VERSION}" \
            "github.com/coredns/coredns@${COREDNS_VERSION}"
    )
    install_binary coredns "${dir}/coredns"
}

# kube-router: no replaces, so `go install` builds it with its released dependencies; the
# version stamp is the one its Makefile sets (there is no commit in a module zip).
build_kube_router() {
    local dir="${SRC_DIR}/kube-router" pkg=github.com/cloudnativelabs/kube-router/v2
    rm -rf "${dir}" && mkdir -p "${dir}"
    (
        export GOBIN="${dir}" GOFLAGS="${GOFLAGS_OUTSIDE}"
        run_step kube-router "go install" go install -trimpath \
            -ldflags "-s -w -X ${pkg}/pkg/version.Version=${KUBE_ROUTER_VERSION}" \
            "${pkg}/cmd/kube-router@${KUBE_ROUTER_VERSION}"
    )
    install_binary kube-router "${dir}/kube-router"
}

# pause: our own module without dependencies; built from a copy, so src/ holds what bin/
# was built from, like the other parts.
build_pause() {
    local dir="${SRC_DIR}/pause"
    rm -rf "${dir}" && mkdir -p "${dir}"
    cp "${PAUSE_SRC}/go.mod" "${PAUSE_SRC}/main.go" "${dir}/"
    (
        cd "${dir}"
        run_step pause "go build" go build -trimpath -ldflags "-s -w" -o "${dir}/pause.bin" .
    )
    install_binary pause "${dir}/pause.bin"
}

# The kwok controller starts only with Stage configs; they ship in its module (the module
# cache is read-only and may be cleaned, so copy them next to bin/).
copy_kwok_stages() {
    local moddir rel tmp="${STAGES_DIR}.tmp"
    [[ -d "${STAGES_DIR}" ]] && return 0
    : >>"${LOG_DIR}/kwok.log"
    moddir="$(mod_field "sigs.k8s.io/kwok@${KWOK_VERSION}" Dir)"
    [[ -n "${moddir}" ]] || die "kwok: download sigs.k8s.io/kwok@${KWOK_VERSION}"
    rm -rf "${tmp}" && mkdir -p "${tmp}"
    for rel in "${KWOK_STAGES[@]}"; do
        run_step kwok "copy stage ${rel}" install -m 0644 "${moddir}/${rel}" "${tmp}/$(basename "${rel}")"
    done
    mv "${tmp}" "${STAGES_DIR}"
    log "kwok stages: ${STAGES_DIR}"
}

# --- Main -------------------------------------------------------------------------------
use_assets=false
if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
    if [[ -x "${KUBEBUILDER_ASSETS}/kube-apiserver" && -x "${KUBEBUILDER_ASSETS}/etcd" ]]; then
        use_assets=true
        log "using kube-apiserver and etcd from KUBEBUILDER_ASSETS=${KUBEBUILDER_ASSETS}"
    else
        log "KUBEBUILDER_ASSETS=${KUBEBUILDER_ASSETS} lacks an executable kube-apiserver or etcd: building them"
    fi
fi

parts=(kube-controller-manager kube-scheduler kubectl kwok
    kubelet kube-proxy coredns kube-router pause)
${use_assets} || parts=(etcd kube-apiserver "${parts[@]}")

all_present() {
    local part
    for part in "${parts[@]}"; do have "${part}" || return 1; done
    [[ -d "${STAGES_DIR}" ]]
}

mkdir -p "${BIN_DIR}" "${LOG_DIR}" "${SRC_DIR}"
if ! all_present; then
    # One build at a time per key: a second caller waits, then finds everything built.
    exec 9>"${PREFIX}/.lock"
    flock 9
    export GOTOOLCHAIN=local CGO_ENABLED=0
    GOFLAGS_OUTSIDE="${GOFLAGS:-}"
    # -mod=mod lets the scratch modules record the sums they resolve.
    export GOFLAGS="${GOFLAGS:+${GOFLAGS} }-mod=mod"
    log "building into ${PREFIX} with $(go version)"
    for part in "${parts[@]}"; do
        timed "${part}" "build_${part//-/_}"
    done
    copy_kwok_stages
    flock -u 9
fi

if ! ${use_assets}; then
    printf '%s\n' "${BIN_DIR}"
    exit 0
fi

# A bin directory of symlinks: kube-apiserver and etcd from the assets, the rest built.
assets="$(cd "${KUBEBUILDER_ASSETS}" && pwd -P)"
hash="$(printf '%s' "${assets}" | sha256sum | cut -c1-12)"
assets_prefix="${CACHE_ROOT}/${KEY}-assets-${hash}"
mkdir -p "${assets_prefix}/bin"
ln -sfn "${assets}/kube-apiserver" "${assets_prefix}/bin/kube-apiserver"
ln -sfn "${assets}/etcd" "${assets_prefix}/bin/etcd"
for part in "${parts[@]}"; do
    ln -sfn "${BIN_DIR}/${part}" "${assets_prefix}/bin/${part}"
done
ln -sfn "${STAGES_DIR}" "${assets_prefix}/stages"
log "kube-apiserver from assets: $("${assets_prefix}/bin/kube-apiserver" --version 2>&1 || true)" \
    "(the built kube binaries are ${K8S_VERSION})"
printf '%s\n' "${assets_prefix}/bin"
