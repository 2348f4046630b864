# shellcheck shell=bash
# What the image scripts share. Their images are keyed by the scripts' text: each one
# hashes this file too.

# Copies what the dynamic loader resolves for the binaries on this host (libc, the loader
# and the like) to the same paths in ROOT: images here have no base image to bring them.
#   copy_shared_libraries ROOT BINARY...
copy_shared_libraries() {
    local root="$1" path
    shift
    while read -r path; do
        mkdir -p "${root}$(dirname "${path}")"
        cp -L "${path}" "${root}${path}"
    done < <(for binary in "$@"; do ldd "${binary}"; done | grep -o '/[^ ]*' | sort -u)
}
