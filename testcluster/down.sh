#!/usr/bin/env bash
# Stop the test control plane that testcluster/up.sh started from <state_dir>.
#
# Usage: testcluster/down.sh <state_dir>
#
# It signals only the processes recorded in <state_dir>/pids/ whose executable is still
# the one recorded there (a pid reused by another program is left alone), in reverse
# start order: SIGTERM and, after a grace period, SIGKILL. It deletes nothing but the pid
# files: certificates, etcd data, kubeconfigs and logs stay, so up.sh can restart the
# same cluster and a failed test can be inspected. Remove <state_dir> yourself when done.
set -euo pipefail

[[ $# -eq 1 ]] || {
    echo "usage: $0 <state_dir>" >&2
    exit 2
}
readonly PIDS="$1/pids"
readonly GRACE_SECONDS="${TESTCLUSTER_STOP_GRACE:-15}"
# Reverse of the start order, in waves: the clients together, then the apiserver, then
# etcd last, so nothing spends its shutdown retrying a server that is already gone.
readonly WAVES=("kwok kube-scheduler kube-controller-manager" "kube-apiserver" "etcd")

log() { printf 'down.sh: %s\n' "$*" >&2; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

[[ -d "${PIDS}" ]] || {
    log "nothing to stop: no ${PIDS}"
    exit 0
}

# ours PIDFILE: print the pid if it still runs the executable recorded with it.
ours() {
    local pid exe
    read -r pid exe <"$1" || return 1
    [[ -n "${pid}" && "$(readlink "/proc/${pid}/exe" 2>/dev/null)" == "${exe}" ]] || return 1
    printf '%s\n' "${pid}"
}

for wave in "${WAVES[@]}"; do
    declare -A pid_of=()
    started_ms=$(now_ms)
    for name in ${wave}; do
        pidfile="${PIDS}/${name}.pid"
        [[ -f "${pidfile}" ]] || continue
        if pid="$(ours "${pidfile}")"; then
            pid_of[${name}]=${pid}
            kill -TERM "${pid}" 2>/dev/null || true
        fi
    done
    deadline=$((SECONDS + GRACE_SECONDS))
    for name in "${!pid_of[@]}"; do
        pid=${pid_of[${name}]}
        while kill -0 "${pid}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
        if kill -0 "${pid}" 2>/dev/null; then
            log "${name} (pid ${pid}) ignored SIGTERM for ${GRACE_SECONDS}s: SIGKILL"
            kill -KILL "${pid}" 2>/dev/null || true
        fi
        log "stopped ${name} (pid ${pid}) after $(($(now_ms) - started_ms)) ms"
    done
    for name in ${wave}; do rm -f "${PIDS}/${name}.pid"; done
    unset pid_of
done
