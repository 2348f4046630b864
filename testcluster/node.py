#!/usr/bin/env python3
"""A real node for the test control plane of up.sh: a kubelet on its own containerd, with
CNI bridge networking, kube-proxy, cluster DNS (CoreDNS) and NetworkPolicy enforcement
(kube-router's firewall), on this machine.

    TESTCLUSTER_FAKE_NODES=0 testcluster/up.sh STATE   # a control plane without kwok nodes
    testcluster/node.py up STATE IMAGE...    # IMAGEs from Docker are imported into the node
    testcluster/node.py down STATE           # before testcluster/down.sh STATE

    TESTCLUSTER_NODE_GPUS   how many GPUs the node advertises (default 1; 1 to 8)

The node, `real-gpu-node` (label `ollama-judge.test/real-node=true`), runs pods for real:
hooks, probes, Services, DNS, policies. It offers what the judge's committed config
requests and this machine lacks:
- `nvidia.com/gpu` (TESTCLUSTER_NODE_GPUS of them), patched into the node's status, the
  documented way to advertise an extended resource; there is no device plugin, so the
  containers run on CPU. With 2 GPUs, two judges of the committed config fit the node.
- `NODE_CPUS` CPUs, through a MutatingAdmissionPolicy on the node's status: the kubelet
  reports the machine's cores at every status update and the policy rewrites them. A
  pod's CPU limit above the machine's cores is simply never reached.

Everything lives in STATE/node (containerd's root and state, the kubelet's root dir,
configs, logs, pids) except what the kernel holds: the CNI bridge, iptables chains and
ipsets, pod cgroups, and sysctls the kubelet sets. `down` drains the node first, so that
the kubelet tears pods down through CNI, then stops every process it started, removes
what is left of those, and restores the sysctls.

One node per machine: a second `up` while a node runs stops with a message.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from node_config import (
    BRIDGE,
    GPU_RESOURCE,
    NODE,
    NODE_CPUS,
    PAUSE_IMAGE,
    SERVICE_RANGE,
    Paths,
    cluster_manifests,
    cni_config,
    containerd_config,
    corefile,
    kube_proxy_config,
    kubelet_config,
)
from node_host import (
    NodeError,
    Processes,
    cluster_env,
    free_port,
    host_address,
    log,
    run,
    wait_for,
)

# Set by the kubelet (protectKernelDefaults off); put back on `down`.
# How many judges fit also depends on NODE_CPUS: the committed config requests 4 CPUs each.
MAX_GPUS = 8
KERNEL_SETTINGS = ("vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops")
# Host-wide: the one node of this machine.
HOST_LOCK = Path("/run/ollama-judge-node.lock")


class Node:
    def __init__(self, state: Path, gpus: int = 1):
        self.paths = Paths(state.resolve())
        self.gpus = gpus
        self.env = cluster_env(self.paths.state)
        self.bin = Path(self.env["TESTCLUSTER_BIN"])
        self.processes = Processes(self.paths)
        self.pause_image = f"{PAUSE_IMAGE}:{self.digest('pause')}"

    def digest(self, binary: str) -> str:
        path = self.bin / binary
        if not path.exists():
            raise NodeError(f"no {path}: run testcluster/build.sh")
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        return run(
            self.bin / "kubectl", "--kubeconfig", self.paths.kubeconfig(), *args,
            input_bytes=stdin.encode() if stdin else None, check=check,
        )  # fmt: skip

    def ctr(self, *args: str, stdin: bytes | None = None, check: bool = True) -> str:
        return run(
            "ctr", "--address", self.paths.containerd_socket, "--namespace", "k8s.io", *args,
            input_bytes=stdin, check=check,
        )  # fmt: skip

    # --- identities ---------------------------------------------------------------------

    def client_kubeconfig(self, user: str, subject: str) -> None:
        """A certificate from the cluster's CA for `subject`, in a kubeconfig."""
        pki = self.paths.pki
        key, cert = self.paths.node / f"{user}.key", self.paths.node / f"{user}.crt"
        if not cert.exists():
            run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", key)  # fmt: skip
            csr = run("openssl", "req", "-new", "-key", key, "-subj", subject)
            with tempfile.NamedTemporaryFile("w", suffix=".ext") as ext:
                ext.write("extendedKeyUsage=clientAuth\n")
                ext.flush()
                signed = run(
                    "openssl", "x509", "-req", "-CA", pki / "ca.crt", "-CAkey", pki / "ca.key",
                    "-CAcreateserial", "-CAserial", self.paths.node / "ca.srl", "-days", "365",
                    "-sha256", "-extfile", ext.name, input_bytes=csr.encode(),
                )  # fmt: skip
            cert.write_text(signed)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "testcluster",
                    "cluster": {
                        "server": self.env["API_URL"],
                        "certificate-authority": str(pki / "ca.crt"),
                    },
                }
            ],
            "users": [
                {"name": user, "user": {"client-certificate": str(cert), "client-key": str(key)}}
            ],
            "contexts": [
                {"name": "testcluster", "context": {"cluster": "testcluster", "user": user}}
            ],
            "current-context": "testcluster",
        }
        self.paths.kubeconfig(user).write_text(json.dumps(config, indent=2))

    # --- up -----------------------------------------------------------------------------

    def up(self, images: Sequence[str]) -> None:
        started = time.monotonic()
        self.claim_host()
        node = self.paths.node
        for directory in ("containerd", "cni", "kubelet", "pod-logs"):
            (node / directory).mkdir(parents=True, exist_ok=True)
        self.save_kernel_settings()
        address = host_address()
        self.client_kubeconfig("kubelet", f"/O=system:nodes/CN=system:node:{NODE}")
        self.client_kubeconfig("kube-proxy", "/CN=system:kube-proxy")

        (node / "containerd.toml").write_text(containerd_config(self.paths, self.pause_image))
        (node / "cni" / "10-ollama-judge.conflist").write_text(json.dumps(cni_config(self.paths)))
        self.processes.start(
            "containerd", ["containerd", "--config", str(node / "containerd.toml")]
        )
        wait_for("containerd", lambda: self.ctr("version", check=False) != "", self.processes,
                 ["containerd"])  # fmt: skip
        self.import_images([
            self.binary_image("pause", self.pause_image),
            *images,
        ])  # fmt: skip
        log(f"containerd ready, images imported after {time.monotonic() - started:.1f}s")

        dns_port = free_port()
        self.kubectl("apply", "-f", "-", stdin=json.dumps(
            {"apiVersion": "v1", "kind": "List", "items": cluster_manifests(address, dns_port)}
        ))  # fmt: skip
        (node / "Corefile").write_text(corefile(self.paths, address, dns_port))
        self.processes.start(
            "coredns", [str(self.bin / "coredns"), "-conf", str(node / "Corefile")]
        )
        kube_proxy = kube_proxy_config(self.paths, free_port(), free_port())
        (node / "kube-proxy.json").write_text(json.dumps(kube_proxy))
        self.processes.start(
            "kube-proxy", [str(self.bin / "kube-proxy"), "--config", str(node / "kube-proxy.json")]
        )
        (node / "kubelet.json").write_text(json.dumps(kubelet_config(self.paths, free_port())))
        self.processes.start("kubelet", [
            str(self.bin / "kubelet"),
            f"--config={node / 'kubelet.json'}",
            f"--kubeconfig={self.paths.kubeconfig('kubelet')}",
            f"--root-dir={node / 'kubelet'}",
            f"--hostname-override={NODE}",
            f"--node-ip={address}",
            "--node-labels=ollama-judge.test/real-node=true",
        ])  # fmt: skip
        names = self.processes.names()
        wait_for(f"node {NODE} Ready", self.node_ready, self.processes, names)
        # kube-router finds its node at start, so it starts once the kubelet registered it.
        self.start_network_policies()
        names = self.processes.names()
        self.advertise_gpu()
        wait_for(f"node {NODE} to offer {NODE_CPUS} CPUs and {self.gpus} GPUs", self.node_offers,
                 self.processes, names)  # fmt: skip
        wait_for("the not-ready taint to leave", self.untainted, self.processes, names)
        wait_for("kube-router's NetworkPolicy chains", self.policies_enforced, self.processes,
                 names)  # fmt: skip
        log(f"node {NODE} ready after {time.monotonic() - started:.1f}s")

    def claim_host(self) -> None:
        """One node per machine: its bridge, iptables chains and cgroups are the host's."""
        holder = Path(HOST_LOCK.read_text().strip()) if HOST_LOCK.exists() else self.paths.state
        processes = Processes(Paths(holder))
        if any(processes.running(name) for name in ("kubelet", "containerd")):
            raise NodeError(
                f"a node already runs on this machine, from {holder}: stop it with "
                f"testcluster/node.py down {holder}"
            )
        HOST_LOCK.write_text(f"{self.paths.state}\n")

    def binary_image(self, binary: str, image: str) -> str:
        """An image holding only one static binary of bin/, as /BINARY, built once per
        machine in Docker (which the tests' images come from as well)."""
        present = run("docker", "image", "inspect", image, check=False)
        if not present.strip().startswith("[{"):
            with tempfile.TemporaryFile() as archive:
                with tarfile.open(fileobj=archive, mode="w") as tar:
                    tar.add(self.bin / binary, arcname=binary)
                archive.seek(0)
                run("docker", "import", "--change", f'ENTRYPOINT ["/{binary}"]', "-", image,
                    input_bytes=archive.read())  # fmt: skip
        return image

    def import_images(self, images: Sequence[str]) -> None:
        archive = subprocess.run(["docker", "save", *images], capture_output=True, check=False)
        if archive.returncode != 0:
            raise NodeError(f"docker save {' '.join(images)}: {archive.stderr.decode()}")
        self.ctr("images", "import", "-", stdin=archive.stdout)

    def start_network_policies(self) -> None:
        """kube-router, as this node's NetworkPolicy firewall only: no routing, no
        service proxy (kube-proxy's job), no CNI (the bridge's)."""
        self.processes.start("kube-router", [
            str(self.bin / "kube-router"),
            f"--kubeconfig={self.paths.kubeconfig()}",
            f"--hostname-override={NODE}",
            "--run-firewall=true",
            "--run-router=false",
            "--run-service-proxy=false",
            "--enable-cni=false",
            "--enable-pod-egress=false",
            "--health-port=0",
            f"--service-cluster-ip-range={SERVICE_RANGE}",
        ])  # fmt: skip

    def policies_enforced(self) -> bool:
        """kube-router has put its chains in front of the host's forwarding."""
        forward = run("iptables", "-S", "FORWARD", check=False)
        return "-j KUBE-ROUTER-FORWARD" in forward

    def node_json(self) -> dict:
        out = self.kubectl("get", "node", NODE, "-o", "json", check=False)
        return json.loads(out) if out.strip() else {}

    def node_ready(self) -> bool:
        conditions = self.node_json().get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    def advertise_gpu(self) -> None:
        key = GPU_RESOURCE.replace("/", "~1")
        patch = [
            {"op": "add", "path": f"/status/{field}/{key}", "value": str(self.gpus)}
            for field in ("capacity", "allocatable")
        ]
        self.kubectl("patch", "node", NODE, "--subresource=status", "--type=json",
                     "-p", json.dumps(patch))  # fmt: skip

    def node_offers(self) -> bool:
        allocatable = self.node_json().get("status", {}).get("allocatable", {})
        offered = allocatable.get("cpu"), allocatable.get(GPU_RESOURCE)
        return offered == (str(NODE_CPUS), str(self.gpus))

    def untainted(self) -> bool:
        return not self.node_json().get("spec", {}).get("taints")

    def save_kernel_settings(self) -> None:
        saved = self.paths.node / "kernel-settings.json"
        if not saved.exists():
            values = {k: Path("/proc/sys", k).read_text().strip() for k in KERNEL_SETTINGS}
            saved.write_text(json.dumps(values))

    # --- down ---------------------------------------------------------------------------

    def down(self) -> None:
        started = time.monotonic()
        if self.processes.running("kubelet"):
            self.drain()
        for name in ("kubelet", "kube-router", "kube-proxy", "coredns"):
            self.processes.stop(name)
        if self.processes.running("containerd"):
            for task in self.ctr("tasks", "ls", "-q", check=False).split():
                self.ctr("tasks", "kill", "--signal", "SIGKILL", task, check=False)
        self.processes.stop("containerd")
        self.kill_shims()
        self.unmount()
        self.clean_host()
        log(f"node {NODE} stopped after {time.monotonic() - started:.1f}s")

    def drain(self) -> None:
        """No new pods here, and the current ones torn down by the kubelet, which releases
        their addresses and rules through CNI."""
        self.kubectl("cordon", NODE, check=False)
        self.kubectl(
            "delete", "pods", "--all-namespaces", f"--field-selector=spec.nodeName={NODE}",
            "--grace-period=1", "--wait=true", "--timeout=60s", check=False,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        # The kubelet stops sandboxes (CNI DEL) shortly after the pods are gone.
        while self.ctr("tasks", "ls", "-q", check=False).split() and time.monotonic() < deadline:
            time.sleep(0.2)

    def remove_kubelet_chains(self) -> None:
        """The kubelet's own iptables chains (KUBE-FIREWALL, canaries; kube-proxy's went
        with its --cleanup): the rules that jump to them, then the chains."""
        for table in ("filter", "nat", "mangle"):
            rules = run("iptables-save", "-t", table, check=False).splitlines()
            chains = {line[1:].split()[0] for line in rules if line.startswith(":KUBE-")}
            for rule in rules:
                if rule.startswith("-A ") and any(f"-j {chain}" in rule for chain in chains):
                    run("iptables", "-t", table, "-D", *shlex.split(rule[3:]), check=False)
            for chain in chains:
                run("iptables", "-t", table, "-F", chain, check=False)
                run("iptables", "-t", table, "-X", chain, check=False)

    def kill_shims(self) -> None:
        """A container's shim outlives containerd; ours name our containerd's address."""
        address = str(self.paths.containerd_socket).encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[0].endswith(b"containerd-shim-runc-v2") and address in argv:
                try:
                    os.killpg(int(proc.name), signal.SIGKILL)
                except OSError:
                    os.kill(int(proc.name), signal.SIGKILL)

    def unmount(self) -> None:
        prefix = str(self.paths.node) + "/"
        mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
        for target in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
            run("umount", "--lazy", target, check=False)

    def clean_host(self) -> None:
        """What the node's processes leave in the kernel and outside STATE."""
        proxy_config = self.paths.node / "kube-proxy.json"
        if proxy_config.exists():
            run(self.bin / "kube-proxy", "--config", proxy_config, "--cleanup", check=False)
        run(self.bin / "kube-router", "--cleanup-config", check=False)
        self.remove_kubelet_chains()
        run("ip", "link", "delete", BRIDGE, check=False)
        for controller in Path("/sys/fs/cgroup").iterdir():
            kubepods = controller / "kubepods"
            if kubepods.is_dir():
                # Deepest first; a cgroup directory goes with rmdir once it has no children.
                cgroups = [p for p in kubepods.rglob("*") if p.is_dir()] + [kubepods]
                for cgroup in sorted(cgroups, key=lambda p: len(p.parts), reverse=True):
                    with contextlib.suppress(OSError):
                        cgroup.rmdir()
        saved = self.paths.node / "kernel-settings.json"
        if saved.exists():
            for key, value in json.loads(saved.read_text()).items():
                Path("/proc/sys", key).write_text(value)
        pod_logs = str(self.paths.node / "pod-logs")
        for link in Path("/var/log/containers").glob("*.log"):
            if os.readlink(link).startswith(pod_logs):
                link.unlink()
        if HOST_LOCK.exists() and HOST_LOCK.read_text().strip() == str(self.paths.state):
            HOST_LOCK.unlink()


def main(argv: Sequence[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("up", "down"):
        print("usage: node.py up STATE [IMAGE...] | node.py down STATE", file=sys.stderr)
        return 2
    gpus = os.environ.get("TESTCLUSTER_NODE_GPUS", "1")
    if gpus not in {str(n) for n in range(1, MAX_GPUS + 1)}:
        print(f"TESTCLUSTER_NODE_GPUS must be 1 to {MAX_GPUS}, not '{gpus}'", file=sys.stderr)
        return 2
    try:
        node = Node(Path(argv[1]), int(gpus))
        if argv[0] == "up":
            try:
                node.up(argv[2:])
            except BaseException:
                log("failed: stopping what was started (logs stay in "
                    f"{node.paths.logs})")  # fmt: skip
                node.down()
                raise
        else:
            node.down()
    except NodeError as error:
        log(f"FAILED: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
