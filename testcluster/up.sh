#!/usr/bin/env bash
# Start a throwaway single-machine Kubernetes control plane on 127.0.0.1 for tests:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok, with fake
# nodes `gpu-node-N` (16 CPU, 64Gi, 110 pods, 1 nvidia.com/gpu each) that kwok keeps Ready
# and whose pods kwok reports running and ready. No kubelet, no containers: pods are
# scheduled and bound for real, but nothing in them ever runs (no hooks, no probes).
# testcluster/node.py adds a real node, whose pods do run.
#
# Usage:
#   testcluster/up.sh <state_dir>          # prints the admin kubeconfig path last
#   KUBECONFIG=<state_dir>/kubeconfig kubectl get nodes
#   testcluster/down.sh <state_dir>
#
# <state_dir> (created if missing) receives everything: pki/ (CA and certificates,
# made with openssl), etcd/ (data), logs/<component>.log, pids/<component>.pid,
# run/ (components' scratch), cluster.env (ports and paths), kubeconfig (admin) and
# the other components' kubeconfigs. Running up.sh again on a stopped <state_dir>
# restarts the same cluster (same certificates, same etcd data).
#
# Environment:
#   TESTCLUSTER_BIN      bin directory of build.sh (default: run build.sh, seconds if cached)
#   TESTCLUSTER_FAKE_NODES  how many kwok GPU nodes, gpu-node-1..N (default 1); 0 for a
#                        cluster whose only node is the real one of testcluster/node.py
#   TESTCLUSTER_TIMEOUT  seconds from the start of etcd until the cluster must be ready
#                        (default 120)
#
# On failure it names the component or step, shows the end of its log, and stops every
# process it started (the state directory stays for inspection).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
[[ $# -eq 1 ]] || {
    echo "usage: $0 <state_dir>" >&2
    exit 2
}
mkdir -p "$1"
STATE="$(cd "$1" && pwd)"
readonly STATE
readonly TIMEOUT="${TESTCLUSTER_TIMEOUT:-120}"
readonly FAKE_NODES="${TESTCLUSTER_FAKE_NODES:-1}"
[[ "${FAKE_NODES}" =~ ^[0-9]+$ ]] || {
    echo "TESTCLUSTER_FAKE_NODES must be a number of nodes, not '${FAKE_NODES}'" >&2
    exit 2
}
# Cluster-internal ranges. Service and pod IPs here are API data only: nothing on this
# machine routes to them, no component dials them (no kube-proxy, no CNI, no kubelet).
readonly SERVICE_CIDR=10.96.0.0/16
readonly SERVICE_API_IP=10.96.0.1 # the first address: the `kubernetes` Service
readonly POD_CIDR=10.244.0.0/16

log() { printf 'up.sh: %s\n' "$*" >&2; }

# --- Binaries ---------------------------------------------------------------------------
if [[ -n "${TESTCLUSTER_BIN:-}" ]]; then
    BIN="${TESTCLUSTER_BIN}"
else
    log "locating binaries (testcluster/build.sh)"
    BIN="$("${HERE}/build.sh" | tail -n 1)"
fi
readonly BIN
readonly STAGES="${BIN}/../stages"
for exe in etcd kube-apiserver kube-controller-manager kube-scheduler kwok kubectl; do
    [[ -x "${BIN}/${exe}" ]] || {
        log "no ${exe} in ${BIN}: run testcluster/build.sh"
        exit 1
    }
done
[[ -d "${STAGES}" ]] || {
    log "no kwok stages in ${STAGES}: run testcluster/build.sh"
    exit 1
}

readonly PKI="${STATE}/pki" LOGS="${STATE}/logs" PIDS="${STATE}/pids" RUN="${STATE}/run"
mkdir -p "${LOGS}" "${PIDS}" "${RUN}"

# A state dir whose processes still run belongs to a live cluster: starting a second
# set on the same etcd data would corrupt it.
for pidfile in "${PIDS}"/*.pid; do
    [[ -e "${pidfile}" ]] || continue
    read -r pid exe <"${pidfile}" || true
    if [[ -n "${pid:-}" && "$(readlink "/proc/${pid}/exe" 2>/dev/null)" == "${exe:-}" ]]; then
        log "a cluster is already running from ${STATE} ($(basename "${pidfile}" .pid) pid ${pid}); run testcluster/down.sh ${STATE} first"
        exit 1
    fi
    rm -f "${pidfile}"
done

# --- Failure handling -------------------------------------------------------------------
STARTED=() # component names, in start order
on_exit() {
    local rc=$?
    if [[ ${rc} -ne 0 && ${#STARTED[@]} -gt 0 ]]; then
        log "failed: stopping what was started (logs stay in ${LOGS})"
        "${HERE}/down.sh" "${STATE}" >&2 || true
    fi
}
trap on_exit EXIT

fail_with_log() { # fail_with_log COMPONENT MESSAGE
    log "FAILED: $2"
    if [[ -f "${LOGS}/$1.log" ]]; then
        log "last lines of ${LOGS}/$1.log:"
        tail -n 30 "${LOGS}/$1.log" >&2
    fi
    exit 1
}

# Every started process must still be alive while we wait for the cluster: a component
# that exited (bad flag, port taken) is reported at once instead of after the timeout.
check_alive() {
    local name pid
    for name in "${STARTED[@]}"; do
        read -r pid _ <"${PIDS}/${name}.pid"
        kill -0 "${pid}" 2>/dev/null || fail_with_log "${name}" "${name} exited"
    done
}

# wait_until COMPONENT DESCRIPTION CMD...: poll CMD until it succeeds or the cluster's
# time (TESTCLUSTER_TIMEOUT from the start of etcd) runs out.
wait_until() {
    local component="$1" what="$2"
    shift 2
    until "$@" >/dev/null 2>&1; do
        check_alive
        ((SECONDS < DEADLINE)) || fail_with_log "${component}" "timed out after ${TIMEOUT}s waiting for ${what}"
        sleep 0.2
    done
}

# start NAME ARGS...: run ${BIN}/NAME in the background, detached from this shell's
# stdin and immune to SIGHUP (so a closed terminal does not stop the cluster), logging
# to logs/NAME.log. The pid file also records the executable, so down.sh never signals
# a recycled pid that now belongs to another program.
start() {
    local name="$1" exe
    shift
    exe="$(readlink -f "${BIN}/${name}")"
    printf '\n=== %s %s\n' "$(date -u +%FT%TZ)" "${exe} $*" >>"${LOGS}/${name}.log"
    nohup "${exe}" "$@" </dev/null >>"${LOGS}/${name}.log" 2>&1 &
    printf '%s %s\n' "$!" "${exe}" >"${PIDS}/${name}.pid"
    STARTED+=("${name}")
}

# --- Ports ------------------------------------------------------------------------------
# Ports are picked below the kernel's ephemeral range (32768+), so an outgoing connection
# of another program cannot grab one between our choice and the component's bind, and
# not among the ports in use now. They are kept in cluster.env and reused on a restart
# while free (etcd remembers its peer URL in its data).
port_in_use() { ss -Htan "sport = :$1" | grep -q .; }
pick_port() {
    local port tries
    for tries in $(seq 200); do
        port=$((20000 + RANDOM % 12000))
        port_in_use "${port}" || [[ " ${PICKED[*]} " == *" ${port} "* ]] || {
            PICKED+=("${port}")
            printf '%s\n' "${port}"
            return 0
        }
    done
    log "no free port found after ${tries} tries"
    return 1
}
PICKED=()
ETCD_PORT="" ETCD_PEER_PORT="" API_PORT="" KCM_PORT="" SCHED_PORT=""
if [[ -f "${STATE}/cluster.env" ]]; then
    # shellcheck source=/dev/null
    source "${STATE}/cluster.env"
fi
for var in ETCD_PORT ETCD_PEER_PORT API_PORT KCM_PORT SCHED_PORT; do
    if [[ -z "${!var}" ]] || port_in_use "${!var}"; then
        printf -v "${var}" '%s' "$(pick_port)"
    else
        PICKED+=("${!var}")
    fi
done
readonly ETCD_URL="https://127.0.0.1:${ETCD_PORT}" API_URL="https://127.0.0.1:${API_PORT}"
cat >"${STATE}/cluster.env" <<EOF
# Written by testcluster/up.sh; read by down.sh and by tests.
ETCD_PORT=${ETCD_PORT}
ETCD_PEER_PORT=${ETCD_PEER_PORT}
API_PORT=${API_PORT}
KCM_PORT=${KCM_PORT}
SCHED_PORT=${SCHED_PORT}
API_URL=${API_URL}
KUBECONFIG=${STATE}/kubeconfig
TESTCLUSTER_BIN=${BIN}
EOF

# --- Certificates (openssl) -------------------------------------------------------------
# One CA signs etcd's serving cert and the apiserver's client cert for it, the
# apiserver's serving cert, and a client cert per user; a second CA the front proxy's.
# ECDSA P-256 keys: quick to make, and accepted everywhere in Kubernetes (including
# service-account tokens, ES256).
new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# new_ca NAME CN: a self-signed CA, NAME.key + NAME.crt, in ${NEW_PKI}.
new_ca() {
    new_key "${NEW_PKI}/$1.key"
    openssl req -x509 -new -key "${NEW_PKI}/$1.key" -subj "/CN=$2" -days 365 -sha256 \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "${NEW_PKI}/$1.crt"
}

# issue NAME SUBJECT EXTENSIONS [CA]: NAME.key + NAME.crt signed by CA (default: ca), in
# ${NEW_PKI}.
issue() {
    local name="$1" subject="$2" extensions="$3" ca="${4:-ca}" dir="${NEW_PKI}"
    new_key "${dir}/${name}.key"
    openssl req -new -key "${dir}/${name}.key" -subj "${subject}" -out "${dir}/${name}.csr"
    openssl x509 -req -in "${dir}/${name}.csr" -CA "${dir}/${ca}.crt" -CAkey "${dir}/${ca}.key" \
        -CAcreateserial -days 365 -sha256 -out "${dir}/${name}.crt" \
        -extfile <(printf '%s\n' "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature,keyEncipherment" "${extensions}") 2>/dev/null
    rm -f "${dir}/${name}.csr"
}

# Built in pki.tmp and renamed at the end, so an interrupted run leaves no half PKI
# that a restart would take for a finished one.
readonly NEW_PKI="${PKI}.tmp"
make_pki() {
    local client="extendedKeyUsage=clientAuth"
    rm -rf "${NEW_PKI}"
    mkdir -p "${NEW_PKI}"
    new_ca ca testcluster-ca
    issue etcd-server "/CN=etcd" \
        "extendedKeyUsage=serverAuth,clientAuth
subjectAltName=IP:127.0.0.1,DNS:localhost"
    issue apiserver-etcd-client "/CN=kube-apiserver-etcd-client" "${client}"
    # Every name and address the apiserver is reached by, including the `kubernetes`
    # Service, so in-cluster clients that verify it would accept it too.
    issue apiserver "/CN=kube-apiserver" \
        "extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:${SERVICE_API_IP},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    # Users: the group system:masters is bound to cluster-admin by the bootstrap RBAC
    # policy; the controller-manager and scheduler get their own built-in roles by name.
    issue admin "/O=system:masters/CN=testcluster-admin" "${client}"
    # The apiserver's identity towards kubelets (logs, exec, port-forward).
    issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "${client}"
    issue kube-controller-manager "/CN=system:kube-controller-manager" "${client}"
    issue kube-scheduler "/CN=system:kube-scheduler" "${client}"
    # kwok plays the kubelet of every fake node and writes node and pod status; the Node
    # authorizer would want one system:node:<name> identity per node, so kwok is admin.
    issue kwok "/O=system:masters/CN=kwok" "${client}"
    # The aggregation layer's own CA: a client cert from it lets the holder assert any
    # user in headers, so it must not be the CA that signs ordinary users.
    new_ca front-proxy-ca testcluster-front-proxy-ca
    issue front-proxy-client "/CN=front-proxy-client" "${client}" front-proxy-ca
    # Service-account tokens: the apiserver signs with the key, verifies with the public
    # half; the controller-manager signs the tokens of its own controllers with it.
    new_key "${NEW_PKI}/sa.key"
    openssl pkey -in "${NEW_PKI}/sa.key" -pubout -out "${NEW_PKI}/sa.pub"
    rm -f "${NEW_PKI}"/*.srl
    mv "${NEW_PKI}" "${PKI}"
}

umask 077 # keys, and kubeconfigs that embed them, are for this user only
if [[ ! -f "${PKI}/ca.crt" ]]; then
    log "certificates: ${PKI}"
    make_pki || {
        log "FAILED: making certificates with openssl"
        exit 1
    }
fi

# kubeconfig FILE USER: a kubeconfig for USER's client cert, certificates embedded so
# the file works from anywhere (also as a Pulumi provider's kubeconfig contents).
kubeconfig() {
    local file="$1" user="$2"
    cat >"${file}" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: testcluster
  cluster:
    server: ${API_URL}
    certificate-authority-data: $(base64 -w0 "${PKI}/ca.crt")
users:
- name: ${user}
  user:
    client-certificate-data: $(base64 -w0 "${PKI}/${user}.crt")
    client-key-data: $(base64 -w0 "${PKI}/${user}.key")
contexts:
- name: testcluster
  context:
    cluster: testcluster
    user: ${user}
current-context: testcluster
EOF
}
kubeconfig "${STATE}/kubeconfig" admin
kubeconfig "${STATE}/kube-controller-manager.kubeconfig" kube-controller-manager
kubeconfig "${STATE}/kube-scheduler.kubeconfig" kube-scheduler
kubeconfig "${STATE}/kwok.kubeconfig" kwok
umask 022

# Our own kubectl calls keep their discovery cache in the state dir, not ~/.kube/cache.
kubectl() { KUBECACHEDIR="${RUN}/kubectl-cache" "${BIN}/kubectl" --kubeconfig "${STATE}/kubeconfig" "$@"; }

# --- Start ------------------------------------------------------------------------------
T0=${SECONDS}
DEADLINE=$((T0 + TIMEOUT))
log "starting on 127.0.0.1: etcd :${ETCD_PORT}, kube-apiserver :${API_PORT}, controller-manager :${KCM_PORT}, scheduler :${SCHED_PORT}"

# etcd: TLS with client certificates on the client port, so only the apiserver (holder
# of a cert from our CA) reads the cluster's data. The peer port is never used by a
# one-member cluster but etcd always listens on it: loopback, plain HTTP.
# --unsafe-no-fsync: a throwaway cluster need not survive a power cut, and fsync on a
# busy disk is what makes etcd (and so every API write) slow on a loaded machine.
start etcd \
    --name=testcluster \
    --data-dir="${STATE}/etcd" \
    --listen-client-urls="${ETCD_URL}" \
    --advertise-client-urls="${ETCD_URL}" \
    --listen-peer-urls="http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-advertise-peer-urls="http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-cluster="testcluster=http://127.0.0.1:${ETCD_PEER_PORT}" \
    --cert-file="${PKI}/etcd-server.crt" \
    --key-file="${PKI}/etcd-server.key" \
    --trusted-ca-file="${PKI}/ca.crt" \
    --client-cert-auth \
    --unsafe-no-fsync

# kube-apiserver: TLS only (there is no insecure port any more), client certificates
# from our CA authenticate users, Node+RBAC authorize them.
# --advertise-address=127.0.0.1: the address of the `kubernetes` Service's endpoint; left
#   out, the apiserver would advertise this machine's first non-loopback address.
# --service-account-*: needed to start at all; tokens are signed with sa.key.
# --allow-privileged: pods that ask for privilege are admitted, as on a real cluster.
# --endpoint-reconciler-type=none: the reconciler would write 127.0.0.1 into the
#   `kubernetes` Service's Endpoints, which validation rejects (no loopback endpoints), and
#   log that error every 10 s. Nothing reaches the apiserver through that Service here.
# --kubelet-preferred-address-types: the fake node's InternalIP is 127.0.0.1, so a stray
#   `kubectl logs` dials loopback (and fails) instead of anything off this machine.
# --requestheader-*, --proxy-client-*: the front-proxy (aggregation layer) setup of a
#   kubeadm cluster. Without it the controller-manager and scheduler, which read
#   requestheader-client-ca-file from kube-system/extension-apiserver-authentication to
#   authenticate their own callers, log a missing-CA-bundle error in a loop.
start kube-apiserver \
    --bind-address=127.0.0.1 \
    --secure-port="${API_PORT}" \
    --advertise-address=127.0.0.1 \
    --etcd-servers="${ETCD_URL}" \
    --etcd-cafile="${PKI}/ca.crt" \
    --etcd-certfile="${PKI}/apiserver-etcd-client.crt" \
    --etcd-keyfile="${PKI}/apiserver-etcd-client.key" \
    --tls-cert-file="${PKI}/apiserver.crt" \
    --tls-private-key-file="${PKI}/apiserver.key" \
    --client-ca-file="${PKI}/ca.crt" \
    --authorization-mode=Node,RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="${PKI}/sa.pub" \
    --service-account-signing-key-file="${PKI}/sa.key" \
    --service-cluster-ip-range="${SERVICE_CIDR}" \
    --allow-privileged=true \
    --endpoint-reconciler-type=none \
    --kubelet-preferred-address-types=InternalIP \
    --requestheader-client-ca-file="${PKI}/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="${PKI}/front-proxy-client.crt" \
    --proxy-client-key-file="${PKI}/front-proxy-client.key" \
    --kubelet-client-certificate="${PKI}/apiserver-kubelet-client.crt" \
    --kubelet-client-key="${PKI}/apiserver-kubelet-client.key" \
    --cert-dir="${RUN}/kube-apiserver" \
    --profiling=false

wait_until kube-apiserver "kube-apiserver /readyz" kubectl get --raw /readyz
log "kube-apiserver ready after $((SECONDS - T0))s"

# kube-controller-manager: Deployments -> ReplicaSets -> Pods, EndpointSlices for
# Services, the default ServiceAccount of each namespace, node lifecycle (taints).
# --use-service-account-credentials: each controller acts as its own service account,
#   as on a kubeadm cluster. Required: the user system:kube-controller-manager alone
#   may not patch nodes, so the node lifecycle controller could never lift the
#   not-ready taint that admission puts on the new node (tried: the node stays tainted).
# --leader-elect=false: one instance; a restart need not wait for an old lease to expire.
# --cert-dir: its self-signed serving cert goes here (default /var/run/kubernetes).
start kube-controller-manager \
    --kubeconfig="${STATE}/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig="${STATE}/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig="${STATE}/kube-controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 \
    --secure-port="${KCM_PORT}" \
    --cert-dir="${RUN}/kube-controller-manager" \
    --leader-elect=false \
    --use-service-account-credentials=true \
    --service-account-private-key-file="${PKI}/sa.key" \
    --root-ca-file="${PKI}/ca.crt" \
    --cluster-signing-cert-file="${PKI}/ca.crt" \
    --cluster-signing-key-file="${PKI}/ca.key" \
    --service-cluster-ip-range="${SERVICE_CIDR}" \
    --profiling=false

# kube-scheduler: binds pods to nodes; the NodeResourcesFit plugin checks cpu, memory
# and extended resources such as nvidia.com/gpu against the node's allocatable.
start kube-scheduler \
    --kubeconfig="${STATE}/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig="${STATE}/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig="${STATE}/kube-scheduler.kubeconfig" \
    --bind-address=127.0.0.1 \
    --secure-port="${SCHED_PORT}" \
    --cert-dir="${RUN}/kube-scheduler" \
    --leader-elect=false \
    --profiling=false

# kwok: plays the kubelet of nodes annotated kwok.x-k8s.io/node=fake. The stages (from
# the kwok module, copied by build.sh) make such a node Ready, renew its Lease (every
# --node-lease-duration-seconds / 4, like a kubelet), and take its pods to Running+Ready
# (and delete them when asked). It serves nothing (no --server-address).
# --cidr: where the fake pod IPs come from.
# KWOK_WORKDIR: kwok also loads ~/.kwok/kwok.yaml when it exists; a private work dir keeps
#   a user's own kwok setup (other stages) out of this cluster.
stage_configs=()
for stage in "${STAGES}"/*.yaml; do stage_configs+=("--config=${stage}"); done
KWOK_WORKDIR="${RUN}/kwok" start kwok \
    --kubeconfig="${STATE}/kwok.kubeconfig" \
    "${stage_configs[@]}" \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-lease-duration-seconds=40 \
    --cidr="${POD_CIDR}"

# The fake GPU nodes. Capacity and allocatable are set at creation (kwok keeps what it
# finds); no taints, so any pod that fits their resources lands there. Their InternalIP
# is loopback on purpose (see --kubelet-preferred-address-types above). `apply` also
# works when the nodes exist already (a restarted cluster).
fake_node() { # fake_node NAME: one Node of a List
    cat <<EOF
- apiVersion: v1
  kind: Node
  metadata:
    name: $1
    annotations:
      kwok.x-k8s.io/node: fake
    labels:
      kwok.x-k8s.io/node: fake
      kubernetes.io/hostname: $1
      kubernetes.io/os: linux
      kubernetes.io/arch: amd64
  spec: {}
  status:
    addresses:
    - type: InternalIP
      address: 127.0.0.1
    - type: Hostname
      address: $1
    capacity: {cpu: "16", memory: 64Gi, pods: "110", nvidia.com/gpu: "1"}
    allocatable: {cpu: "16", memory: 64Gi, pods: "110", nvidia.com/gpu: "1"}
EOF
}
if ((FAKE_NODES > 0)); then
    {
        printf 'apiVersion: v1\nkind: List\nitems:\n'
        for i in $(seq "${FAKE_NODES}"); do fake_node "gpu-node-${i}"; done
    } | kubectl apply -f - >/dev/null || fail_with_log kube-apiserver "creating ${FAKE_NODES} fake node(s)"
fi

# Ready comes from kwok. Admission puts a not-ready taint on a new node, which the node
# lifecycle controller lifts once it has seen the node Ready.
fake_nodes_ready() {
    local ready
    ready="$(kubectl get nodes -l kwok.x-k8s.io/node=fake \
        -o 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{" "}{.spec.taints}{"\n"}{end}' |
        grep -c '^True $' || true)"
    ((ready == FAKE_NODES))
}
healthz() { curl -fsS --max-time 2 -k "https://127.0.0.1:$1/healthz"; }

wait_until kube-controller-manager "kube-controller-manager /healthz" healthz "${KCM_PORT}"
wait_until kube-scheduler "kube-scheduler /healthz" healthz "${SCHED_PORT}"
wait_until kwok "${FAKE_NODES} fake node(s) Ready and untainted" fake_nodes_ready
# Pods are admitted only once their namespace's default ServiceAccount exists.
wait_until kube-controller-manager "ServiceAccount default/default" kubectl -n default get serviceaccount default

trap - EXIT
log "ready after $((SECONDS - T0))s: ${API_URL}; logs in ${LOGS}; stop with testcluster/down.sh ${STATE}"
printf '%s\n' "${STATE}/kubeconfig"
