"""Asks the Docker engine, before anything is created, whether it can give the judge GPUs:
Docker refuses them ("could not select device driver") only when it starts the container.
GPU support is what `docker info` shows: an NVIDIA runtime or CDI device (a toolkit whose
runtime was never configured may serve GPUs unseen: the message asks for the runtime, as
NVIDIA's guide does). GPUs asked for by name or count that the engine cannot give stop the
program; `auto` takes every GPU where there are some, and otherwise runs on the CPU with a
warning. An engine that does not answer is a warning: the provider, which may reach it with
TLS material of its own, reports what it finds.
"""

import json
from collections.abc import Mapping
from typing import Any

from components.config import DockerJudgeArgs
from components.config_rules import PROJECT, ConfigError, cli_command
from components.docker.engine import DockerEngineUnreachable, engine_address, engine_info

KEY = f"{PROJECT}:docker.gpus"
AUTO = "auto"
TOOLKIT = (
    "installing the NVIDIA Container Toolkit and configuring Docker's nvidia runtime "
    "(sudo nvidia-ctk runtime configure --runtime=docker, then restart Docker)"
)


def gpu_shortfall(info: Mapping[str, Any], engine: str) -> str | None:
    """Why the engine whose `docker info` is `info` cannot give a container GPUs, if so."""
    # A count or a list of device ids needs the same NVIDIA runtime as "all", and the
    # engine cannot say how many GPUs there are without it: only the runtime is checked.
    runtimes: Mapping[str, Any] = info.get("Runtimes") or {}
    if any("nvidia" in f"{name} {json.dumps(spec)}".lower() for name, spec in runtimes.items()):
        return None
    devices = [d.get("ID", "") for d in info.get("DiscoveredDevices") or []]
    if any(d.startswith("nvidia.com/gpu=") for d in devices):
        return None
    offers = f"runtimes: {', '.join(sorted(runtimes)) or 'none'}"
    if info.get("DefaultRuntime"):
        offers += f"; default runtime: {info['DefaultRuntime']}"
    if "DiscoveredDevices" in info:  # only newer engines report CDI devices
        offers += f"; CDI devices: {', '.join(devices) or 'none'}"
    return (
        f"the Docker engine at {engine} cannot give a container GPUs: it has no NVIDIA "
        f"runtime and no NVIDIA CDI device ({offers})"
    )


def gpu_request(args: DockerJudgeArgs, stack: str) -> tuple[str | None, str | None]:
    """The GPUs the judge gets, in Docker's form (None: none), and a warning, if any; raises
    ConfigError when the engine cannot give the GPUs asked for by name or count."""
    if args.gpus is None:
        return None, None
    try:
        info = engine_info(args.engine_host)
    except DockerEngineUnreachable as reason:
        if args.gpus == AUTO:
            return None, (
                f"could not ask the Docker engine whether it can give GPUs ({reason}); {KEY} "
                "is auto, so the judge is planned on the CPU. On an engine with an NVIDIA "
                "runtime or CDI device it gets every GPU"
            )
        return args.gpus, f"could not check whether the Docker engine can give GPUs: {reason}"
    shortfall = gpu_shortfall(info, engine_address(args.engine_host))
    if shortfall is None:
        return ("all" if args.gpus == AUTO else args.gpus), None
    on_cpu = cli_command(f"config set --path '{KEY}' none", stack)
    if args.gpus == AUTO:
        return None, (
            f"{KEY} is auto and {shortfall}: the judge runs on the CPU, slower. For GPUs, "
            f"start by {TOOLKIT}; to run on the CPU without this warning: {on_cpu}"
        )
    # The setting as the user wrote it: `"device=0,1"` (Docker's form) is [0, 1].
    ids = args.gpus.removeprefix('"device=')
    shown = args.gpus if ids == args.gpus else f"[{', '.join(ids[:-1].split(','))}]"
    raise ConfigError(
        f"{KEY} is {shown}, but {shortfall}. Fix it by {TOOLKIT}, or run the judge on CPU "
        f"with: {on_cpu}"
    )
