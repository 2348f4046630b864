"""Asks the Docker engine, before anything is created, whether it can give the judge GPUs:
Docker refuses them ("could not select device driver") only when it starts the container.
GPU support is what `docker info` shows: an NVIDIA runtime or CDI device (a toolkit whose
runtime was never configured may serve GPUs unseen: the message asks for the runtime, as
NVIDIA's guide does). An engine that does not answer is a warning: the provider, which may
reach it with TLS material of its own, reports what it finds.
"""

import json
from collections.abc import Mapping
from typing import Any

from components.config import DockerJudgeArgs
from components.config_rules import PROJECT, ConfigError, cli_command
from components.docker.engine import DockerEngineUnreachable, engine_address, engine_info


def gpu_shortfall(info: Mapping[str, Any], gpus: str, engine: str, stack: str) -> str | None:
    """Why the engine whose `docker info` is `info` cannot give `gpus` (Docker's form), if so."""
    # A count or a list of device ids needs the same NVIDIA runtime as "all", and the
    # engine cannot say how many GPUs there are without it: only the runtime is checked.
    runtimes: Mapping[str, Any] = info.get("Runtimes") or {}
    if any("nvidia" in f"{name} {json.dumps(spec)}".lower() for name, spec in runtimes.items()):
        return None
    devices = [d.get("ID", "") for d in info.get("DiscoveredDevices") or []]
    if any(d.startswith("nvidia.com/gpu=") for d in devices):
        return None

    key = f"{PROJECT}:docker.gpus"
    # The setting as the user wrote it: `"device=0,1"` (Docker's form) is [0, 1].
    ids = gpus.removeprefix('"device=')
    shown = gpus if ids == gpus else f"[{', '.join(ids[:-1].split(','))}]"
    offers = f"runtimes: {', '.join(sorted(runtimes)) or 'none'}"
    if info.get("DefaultRuntime"):
        offers += f"; default runtime: {info['DefaultRuntime']}"
    if "DiscoveredDevices" in info:  # only newer engines report CDI devices
        offers += f"; CDI devices: {', '.join(devices) or 'none'}"
    return (
        f"{key} is {shown}, but the Docker engine at {engine} cannot give a "
        f"container GPUs: it has no NVIDIA runtime and no NVIDIA CDI device ({offers}). "
        "Fix it by installing the NVIDIA Container Toolkit and configuring Docker's nvidia "
        "runtime (sudo nvidia-ctk runtime configure --runtime=docker, then restart Docker), "
        "or run the judge on CPU with: " + cli_command(f"config set --path '{key}' none", stack)
    )


def check_gpu_support(args: DockerJudgeArgs, stack: str) -> str | None:
    """Raises ConfigError when the engine cannot give the GPUs; returns why it could not tell."""
    if args.gpus is None:
        return None
    try:
        info = engine_info(args.engine_host)
    except DockerEngineUnreachable as reason:
        return f"could not check whether the Docker engine can give GPUs: {reason}"
    if shortfall := gpu_shortfall(info, args.gpus, engine_address(args.engine_host), stack):
        raise ConfigError(shortfall)
    return None
