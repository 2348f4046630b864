"""The judge on a Docker engine: network, model volume, image and container, as the
manual's `docker network create` / `docker run` / `ollama pull` made them, so that an
evaluation container on the same network reaches `http://ollama:11434`. Deliberately not
created: the evaluation container, and anything on the host outside Docker. The model
volume outlives the stack unless `keepModelsOnDestroy` is false.
"""

import pulumi
import pulumi_docker as docker

from components import judge, readiness
from components.config import DockerJudgeArgs
from components.config_rules import PROJECT
from components.docker import wait

TYPE = "ollama-judge:index:DockerJudge"
# Marks the containers this project creates with their stack (stack_runner/repair.py says why).
STACK_LABEL = f"{PROJECT}.stack"


def go_duration(seconds: int) -> str:
    """Seconds as Go prints a duration ("32m0s"): the provider reads durations back in
    that form, and any other spelling would show as a change on every `up`."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s".removeprefix("0h").removeprefix("0m")


def host_url(args: DockerJudgeArgs) -> str | None:
    if not args.publish:
        return None
    address = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(args.host_address, args.host_address)
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{args.host_port}"


class DockerJudge(judge.JudgeComponent):
    def __init__(
        self, name: str, args: DockerJudgeArgs, opts: pulumi.ResourceOptions | None = None
    ):
        if args.gpus == "auto":  # Docker has no such request: the pre-flight decides
            raise ValueError("docker.gpus auto goes through preflight.gpu_request first")
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.judge

        network = docker.Network(f"{name}-network", name=args.network_name, opts=child)
        # Models are gigabytes that took minutes to download: keep them unless asked.
        keep_models = settings.keep_models_on_destroy
        volume = docker.Volume(
            f"{name}-models",
            name=args.volume_name,
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=keep_models),
        )
        # Kept locally: other containers may use the image, and pulling it again is slow.
        image = docker.RemoteImage(
            f"{name}-image", name=settings.image, keep_locally=True, opts=child
        )

        env = judge.server_env(settings)
        if args.gpus is None:
            env.update(judge.NO_GPU_ENV)
        port = docker.ContainerPortArgs(
            internal=judge.OLLAMA_PORT, external=args.host_port, ip=args.host_address
        )
        stack = f"{pulumi.get_project()}/{pulumi.get_stack()}"
        ready_seconds = judge.ready_within_seconds(settings.pull_timeout_seconds)
        container = docker.Container(
            f"{name}-container",
            name=args.container_name,
            image=image.image_id,
            entrypoints=judge.model_script_command("serve", settings.models),
            envs=[f"{k}={v}" for k, v in sorted(env.items())],
            gpus=args.gpus,
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=network.name, aliases=[judge.JUDGE_HOST])
            ],
            volumes=[
                docker.ContainerVolumeArgs(
                    volume_name=volume.name, container_path=judge.MODELS_PATH
                )
            ],
            ports=[port] if args.publish else None,
            # Ollama needs no privilege of root's beyond owning its files: none of the default
            # capabilities, and no setuid program may raise it (the judge stays root, as in
            # the manual, so that the volume's files and /root/.ollama stay as they were).
            capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
            security_opts=["no-new-privileges"],
            restart=args.restart,
            labels=[docker.ContainerLabelArgs(label=STACK_LABEL, value=stack)],
            # Copied in before the start, so they also reach an engine on another host.
            uploads=[
                docker.ContainerUploadArgs(file=path, content=pem)
                for path, pem in judge.registry_ca_files(settings).items()
            ]
            or None,
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=["CMD", *judge.model_script_command("check", settings.models)],
                # How soon Docker notices a judge that lost a model (`up` runs the check
                # itself). A check costs about 75 ms of CPU (a shell, `ollama list`, one
                # `ollama show` per model): under 1% of a core every 10 s, 1.5% every 5 s.
                interval="10s",
                timeout="30s",
                retries=3,
                start_period=go_duration(ready_seconds),
            ),
            # Ours (docker/wait.py) also sees a judge that gave up, and says why.
            wait=False,
            # The name is fixed (the evaluation calls it by name), so the old container
            # must go before its replacement can take the name.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )

        def until_ready(names: list[str], report: readiness.Report) -> readiness.JudgeIdentity:
            return wait.follow(args.engine_host, names[0], settings.models, ready_seconds, report)

        # The container's id and name once the judge is ready, so the outputs appear only then.
        ready, identity = readiness.after_wait(
            container, [container.id, container.name], until_ready
        )
        url = ready.apply(lambda names: judge.evaluation_url(names[1]))
        self._publish(url, host_url(args), settings, (args.gpus or "none").strip('"'), identity)
