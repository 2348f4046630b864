"""The real test node's configuration: names, addresses and the files and API objects
testcluster/node.py writes. Pure functions of a few paths and ports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

NODE = "real-gpu-node"
NODE_CPUS = 8
GPU_RESOURCE = "nvidia.com/gpu"
BRIDGE = "ojnode0"
CNI_NETWORK = "ollama-judge-node"
# Inside up.sh's pod range; kwok (when it runs) allocates from its start.
POD_SUBNET = "10.244.128.0/24"
POD_RANGE = "10.244.0.0/16"
SERVICE_RANGE = "10.96.0.0/16"
DNS_IP = "10.96.0.10"
# The pod sandbox's image: bin/pause alone, tagged with a digest of the binary.
PAUSE_IMAGE = "testcluster.invalid/pause"
CNI_BIN = Path("/usr/lib/cni")


@dataclass(frozen=True)
class Paths:
    state: Path

    @property
    def node(self) -> Path:
        return self.state / "node"

    @property
    def pki(self) -> Path:
        return self.state / "pki"

    @property
    def logs(self) -> Path:
        return self.node / "logs"

    @property
    def pids(self) -> Path:
        return self.node / "pids"

    @property
    def containerd_socket(self) -> Path:
        return self.node / "containerd" / "containerd.sock"

    def kubeconfig(self, user: str = "admin") -> Path:
        return self.state / ("kubeconfig" if user == "admin" else f"{user}.kubeconfig")


# --- configs ---------------------------------------------------------------------------


def containerd_config(paths: Paths, sandbox_image: str) -> str:
    base = paths.node / "containerd"
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{base}/root"
state = "{base}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "{paths.containerd_socket}"
[ttrpc]
  address = "{paths.containerd_socket}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{base}/opt"
[{cri}]
  sandbox_image = "{sandbox_image}"
  # The VM lacks CAP_SYS_RESOURCE: lowering a process's OOM score is all it may do.
  restrict_oom_score_adj = true
[{cri}.cni]
  bin_dir = "{CNI_BIN}"
  conf_dir = "{paths.node}/cni"
[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
"""


def cni_config(paths: Paths) -> dict[str, object]:
    return {
        "cniVersion": "1.0.0",
        "name": CNI_NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": True,
                # A pod may reach itself through its own Service.
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_SUBNET}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(paths.node / "cni-ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
            # Docker sets the FORWARD policy to DROP: this admits the pods' traffic.
            {"type": "firewall"},
        ],
    }


def kubelet_config(paths: Paths, port: int) -> dict[str, object]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "containerRuntimeEndpoint": f"unix://{paths.containerd_socket}",
        # This machine mounts cgroup v1, which the kubelet refuses unless told; containerd
        # 1.6 does not report its cgroup driver, so the kubelet is told that too.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "port": port,
        "readOnlyPort": 0,
        "healthzPort": 0,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            # The apiserver's client certificate for logs and exec comes from this CA.
            "x509": {"clientCAFile": str(paths.pki / "ca.crt")},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "clusterDNS": [DNS_IP],
        "clusterDomain": "cluster.local",
        "failSwapOn": False,
        "podLogsDir": str(paths.node / "pod-logs"),
        # A test machine's disk is often fuller than a node's would be: evict and collect
        # images only when it is really full, so the imported images stay.
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "nodeStatusUpdateFrequency": "4s",
        "serializeImagePulls": False,
    }


def kube_proxy_config(paths: Paths, healthz_port: int, metrics_port: int) -> dict[str, object]:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(paths.kubeconfig("kube-proxy"))},
        "mode": "iptables",
        "hostnameOverride": NODE,
        "clusterCIDR": POD_RANGE,
        "healthzBindAddress": f"127.0.0.1:{healthz_port}",
        "metricsBindAddress": f"127.0.0.1:{metrics_port}",
        # Leave the host's conntrack table size and NodePort addresses alone.
        "conntrack": {"maxPerCore": 0},
        "nodePortAddresses": ["primary"],
    }


def corefile(paths: Paths, address: str, port: int) -> str:
    # No `forward`: the machine has no resolver to offer beyond the cluster's names.
    return f""".:{port} {{
    bind {address}
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
        kubeconfig {paths.kubeconfig()}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 5
}}
"""


def cluster_manifests(address: str, dns_port: int) -> list[dict[str, object]]:
    """The API objects of the node's add-ons: cluster DNS as a Service whose endpoint is
    CoreDNS on this host, and the policy that gives the node its CPUs."""
    dns_ports = [
        {"name": name, "protocol": protocol, "port": 53, "targetPort": dns_port}
        for name, protocol in (("dns", "UDP"), ("dns-tcp", "TCP"))
    ]
    cpus = str(NODE_CPUS)
    mutation = (
        "[" + ", ".join(
            f'JSONPatch{{op: "replace", path: "/status/{field}/cpu", value: "{cpus}"}}'
            for field in ("capacity", "allocatable")
        ) + "]"
    )  # fmt: skip
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": "kube-system"},
            "spec": {"clusterIP": DNS_IP, "ports": dns_ports},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "kube-dns-host",
                "namespace": "kube-system",
                "labels": {"kubernetes.io/service-name": "kube-dns"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
            "ports": [
                {"name": p["name"], "protocol": p["protocol"], "port": dns_port} for p in dns_ports
            ],
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingAdmissionPolicy",
            "metadata": {"name": "testcluster-node-cpus"},
            "spec": {
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE", "UPDATE"],
                            "resources": ["nodes", "nodes/status"],
                        }
                    ]
                },
                "matchConditions": [
                    {
                        "name": "the-real-node",
                        "expression": f'object.metadata.name == "{NODE}" && '
                        "has(object.status.capacity) && has(object.status.allocatable)",
                    }
                ],
                "failurePolicy": "Fail",
                "reinvocationPolicy": "Never",
                "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression": mutation}}],
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingAdmissionPolicyBinding",
            "metadata": {"name": "testcluster-node-cpus"},
            "spec": {"policyName": "testcluster-node-cpus"},
        },
    ]
