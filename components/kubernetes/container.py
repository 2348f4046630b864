"""The judge's container in the Deployment's pod (judge.py): the server, a postStart hook that
pulls and loads the models, which keeps the pod unready until it has (a container is not
running before its hook returns), and a liveness probe. Requests = limits; Pod Security's
`restricted`: a user that is not root, no privilege escalation, no capabilities, default
seccomp.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from pulumi_kubernetes.core import v1 as core

from components import judge
from components.config import KubernetesJudgeArgs

# The pod's volumes that the container mounts, by name (judge.py makes them).
MODELS_VOLUME = "models"
CA_VOLUME = "registry-cas"

# The judge's user and group, and the group the kubelet gives the models' volume (fsGroup):
# one that no file of the Ollama image (root's alone) and most likely no user of the node
# has; 65532 is distroless's "nonroot". Not 1000: the first user of many distributions and
# hosts, whose files a volume's directory may hold or share.
JUDGE_ID = 65532
# /root is 0700 in the Ollama image, so this user's home is elsewhere, and the models' volume
# is its ~/.ollama: the same layout as Docker's /root/.ollama (models/ and the server's key),
# so a claim that a root judge filled is found as it is.
HOME = "/home/ollama"
MODELS_PATH = f"{HOME}/.ollama"


def pod_security() -> core.PodSecurityContextArgs:
    """The volumes' group is the judge's. A claim that a root judge (an earlier version of
    this project) filled has root's files: the kubelet gives them this group, writable, on
    the first mount, and then only when the volume's root lacks it (OnRootMismatch: no
    walk over the models on every start). Volume types without ownership management
    (hostPath, most NFS) are left as they are."""
    return core.PodSecurityContextArgs(
        fs_group=JUDGE_ID,
        fs_group_change_policy="OnRootMismatch",
    )


def judge_container(args: KubernetesJudgeArgs, ca_paths: list[str]) -> core.ContainerArgs:
    settings = args.judge
    resources: dict[str, str] = {"cpu": args.cpu, "memory": args.memory}
    env = judge.server_env(settings)
    env["HOME"] = HOME
    if args.persistence.enabled and args.persistence.access_mode == "ReadWriteMany":
        # Judges that may share the claim pull one at a time (lock_pulls in the model
        # script); by the claim, not the replicas, so that scaling restarts no pod. Where
        # one judge has the volume, no lock: one stopped mid-pull would leave it to the
        # next judge, which would wait a minute for its heartbeat.
        env["OLLAMA_JUDGE_PULL_LOCK"] = f"{MODELS_PATH}/ollama-judge-pull.lock"
    # A hook's output goes nowhere; PID 1's stdout is the container log.
    env["OLLAMA_JUDGE_LOG"] = "/proc/1/fd/1"
    if args.gpu.count:
        resources[args.gpu.resource_name] = str(args.gpu.count)
    else:
        env.update(judge.NO_GPU_ENV)
    pull = core.ExecActionArgs(command=judge.model_script_command("pull", settings.models))
    return core.ContainerArgs(
        name=judge.JUDGE_HOST,
        image=settings.image,
        image_pull_policy=args.image_pull_policy,
        ports=[
            core.ContainerPortArgs(name="http", container_port=judge.OLLAMA_PORT, protocol="TCP")
        ],
        env=[core.EnvVarArgs(name=k, value=v) for k, v in sorted(env.items())],
        resources=core.ResourceRequirementsArgs(requests=resources, limits=resources),
        lifecycle=core.LifecycleArgs(post_start=core.LifecycleHandlerArgs(exec_=pull)),
        # The hook is the start's only gate: with no startup or readiness probe, the pod turns
        # ready as soon as the hook returns (a probe would add its period, a second at least),
        # and a restarted container is unready until its hook has the models back. A TCP
        # readiness probe would be answered by the kernel's listen queue even when the server
        # hangs, which is the liveness probe's to find.
        # "Is the server alive": a missing model would not come back after a restart.
        liveness_probe=core.ProbeArgs(
            http_get=core.HTTPGetActionArgs(path="/", port="http"),
            period_seconds=30,
            timeout_seconds=10,
            failure_threshold=4,
        ),
        volume_mounts=[
            core.VolumeMountArgs(name=MODELS_VOLUME, mount_path=MODELS_PATH),
            # One file each, beside the image's own CAs rather than over them.
            *(
                core.VolumeMountArgs(
                    name=CA_VOLUME,
                    mount_path=path,
                    sub_path=PurePosixPath(path).name,
                    read_only=True,
                )
                for path in ca_paths
            ),
        ],
        security_context=core.SecurityContextArgs(
            run_as_non_root=True,
            run_as_user=JUDGE_ID,
            run_as_group=JUDGE_ID,
            allow_privilege_escalation=False,
            capabilities=core.CapabilitiesArgs(drop=["ALL"]),
            seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
        ),
    )
