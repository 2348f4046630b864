#!/usr/bin/env bash
# Builds the small image the end-to-end tests run their model registry from
# (tests/e2e/registry.py): the CNCF distribution registry (Debian's docker-registry) and
# a static file server (Debian's caddy), which serves the registry's blobs where the
# registry redirects Ollama's downloads to.
#
# Usage: images/build-registry-image.sh
#
# stdout: the image tag, as the last line. stderr: progress.
#
# The binaries come from the Debian packages, downloaded with `apt-get download` and
# unpacked into the cache, never installed: installing them would start a registry on
# port 5000 and a web server on port 80 on machines with systemd. The image has no base
# (none can be pulled): the two binaries, the libraries they link on this host, and empty
# directories; then `docker import`. Its tag carries a hash of the packages and of this
# script, so a new package version or recipe makes a new image.
#
# Cache: ${OLLAMA_JUDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ollama-judge}/images/registry/
set -euo pipefail

SCRIPT="$(realpath "${BASH_SOURCE[0]}")"
readonly SCRIPT
# shellcheck source=images/lib.sh
source "$(dirname "${SCRIPT}")/lib.sh"
readonly PACKAGES=(docker-registry caddy)
readonly BINARIES=(usr/bin/docker-registry usr/bin/caddy)
readonly IMAGE_REPO=ollama-judge-e2e/registry
WORK="${OLLAMA_JUDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ollama-judge}/images/registry"
readonly WORK

say() {
    echo "build-registry-image: $*" >&2
}

die() {
    say "error: $*"
    exit 1
}

# The packages' .deb files in the cache, downloaded once. Package lists may be missing
# on a fresh machine: update them once (as root), then retry.
download_packages() {
    local missing=() package
    for package in "${PACKAGES[@]}"; do
        compgen -G "${WORK}/debs/${package}_*.deb" >/dev/null || missing+=("${package}")
    done
    ((${#missing[@]} == 0)) && return 0
    say "downloading Debian packages: ${missing[*]}"
    mkdir -p "${WORK}/debs"
    (cd "${WORK}/debs" && apt-get download -qq "${missing[@]}" >/dev/null 2>&1) && return 0
    [[ "$(id -u)" == 0 ]] || die "apt-get download ${missing[*]} failed (run apt-get update as root?)"
    apt-get update -qq
    (cd "${WORK}/debs" && apt-get download -qq "${missing[@]}" >/dev/null) ||
        die "apt-get download ${missing[*]} failed"
}

download_packages
key="$(cat "${SCRIPT}" "$(dirname "${SCRIPT}")/lib.sh" "${WORK}"/debs/*.deb | sha256sum | cut -c1-12)"
readonly TAG="${IMAGE_REPO}:${key}"
if docker image inspect "${TAG}" >/dev/null 2>&1; then
    echo "${TAG}"
    exit 0
fi

say "assembling ${TAG}"
root="$(mktemp -d)"
trap 'rm -rf "${root}"' EXIT
unpacked="${root}/unpacked"
rootfs="${root}/rootfs"
mkdir -p "${unpacked}" "${rootfs}"/{usr/bin,etc,tmp,certs,var/lib/registry}
chmod 1777 "${rootfs}/tmp"
for deb in "${WORK}"/debs/*.deb; do
    dpkg-deb -x "${deb}" "${unpacked}"
done
for binary in "${BINARIES[@]}"; do
    [[ -x "${unpacked}/${binary}" ]] || die "no ${binary} in the packages ${PACKAGES[*]}"
    install -m 0755 "${unpacked}/${binary}" "${rootfs}/${binary}"
done
copy_shared_libraries "${rootfs}" "${BINARIES[@]/#/${rootfs}/}"
tar --numeric-owner --owner=0 --group=0 --sort=name -C "${rootfs}" -c . |
    docker import --change 'ENV HOME=/tmp' --message "docker-registry and caddy from Debian packages" - "${TAG}" >/dev/null
echo "${TAG}"
