# shellcheck shell=bash
# What the image scripts share. Their images are keyed by the scripts' text: each one
# hashes this file too.

# Copies what the dynamic loader resolves for the binaries on this host (libc, the loader
# and the like) to the same paths in ROOT: images here have no base image to bring them.
# Libraries inside ROOT already (found by a binary's run path, $ORIGIN) stay as they are;
# a library the loader cannot find stops the build.
#   copy_shared_libraries ROOT BINARY...
copy_shared_libraries() {
    local root="$1" linked path
    shift
    linked="$(for binary in "$@"; do ldd "${binary}" || true; done)"
    if grep -q 'not found' <<<"${linked}"; then
        echo "libraries not found: $(grep 'not found' <<<"${linked}" | sort -u | tr -s ' \t\n' ' ')" >&2
        return 1
    fi
    while read -r path; do
        [[ "${path}" == "${root}/"* ]] && continue
        mkdir -p "${root}$(dirname "${path}")"
        cp -L "${path}" "${root}${path}"
    done < <(grep -o '/[^ ]*' <<<"${linked}" | sort -u)
}
