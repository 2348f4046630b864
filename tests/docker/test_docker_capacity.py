"""The Docker GPU check: pure verdicts on `docker info`, and when it steps aside."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import DockerJudgeArgs
from components.config_rules import ConfigError
from components.docker.engine import engine_address
from components.docker.preflight import gpu_request

SOCKET = "unix:///var/run/docker.sock"
RUNC = {"path": "runc"}
# `docker info` of Debian's Docker 20.10 without the NVIDIA Container Toolkit.
PLAIN_ENGINE: dict[str, Any] = {
    "Runtimes": {
        "io.containerd.runc.v2": RUNC,
        "io.containerd.runtime.v1.linux": RUNC,
        "runc": RUNC,
    },
    "DefaultRuntime": "runc",
}


def verdict(info: dict[str, Any], gpus: Any = "all") -> str | None:
    """The config error an engine with `info` gives a request for `gpus`, or None."""

    def engine(host: str | None) -> dict[str, Any]:
        return info

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("components.docker.preflight.engine_info", engine)
        try:
            gpu_request(DockerJudgeArgs(gpus=gpus), "local")
        except ConfigError as error:
            return str(error)
    return None


def test_engine_without_nvidia_runtime_cannot_give_gpus_and_the_message_says_why():
    message = verdict(PLAIN_ENGINE)
    assert message is not None
    assert message.startswith(
        "ollama-judge:docker.gpus is all, but the Docker engine at "
        "unix:///var/run/docker.sock cannot give a container GPUs"
    )
    assert "runtimes: io.containerd.runc.v2, io.containerd.runtime.v1.linux, runc" in message
    assert "default runtime: runc" in message
    assert "NVIDIA Container Toolkit" in message
    assert "nvidia-ctk runtime configure --runtime=docker" in message
    assert message.endswith(
        "pulumi config set --path 'ollama-judge:docker.gpus' none --stack local"
    )


def test_nvidia_runtime_gives_gpus_whether_default_or_not():
    nvidia = {"path": "nvidia-container-runtime", "runtimeArgs": []}
    assert (
        verdict({**PLAIN_ENGINE, "Runtimes": {**PLAIN_ENGINE["Runtimes"], "nvidia": nvidia}})
        is None
    )
    assert (
        verdict({"Runtimes": {"nvidia": nvidia, "runc": RUNC}, "DefaultRuntime": "nvidia"}) is None
    )


def test_a_runtime_of_another_name_that_runs_nvidias_binary_counts():
    gpu = {"path": "/usr/bin/nvidia-container-runtime"}
    assert verdict({"Runtimes": {"gpu": gpu, "runc": RUNC}, "DefaultRuntime": "runc"}) is None


def test_an_nvidia_cdi_device_gives_gpus_without_the_runtime():
    info = {**PLAIN_ENGINE, "DiscoveredDevices": [{"Source": "cdi", "ID": "nvidia.com/gpu=all"}]}
    assert verdict(info) is None


def test_cdi_devices_are_listed_where_the_engine_reports_them():
    other = {**PLAIN_ENGINE, "DiscoveredDevices": [{"Source": "cdi", "ID": "vendor.com/fpga=0"}]}
    assert "CDI devices: vendor.com/fpga=0" in (verdict(other) or "")
    none = {**PLAIN_ENGINE, "DiscoveredDevices": []}
    assert "CDI devices: none" in (verdict(none) or "")
    assert "CDI devices" not in (verdict(PLAIN_ENGINE) or "")


def test_counts_and_device_ids_need_the_runtime_too_and_are_shown_as_written():
    assert (verdict(PLAIN_ENGINE, 2) or "").startswith("ollama-judge:docker.gpus is 2,")
    by_id = verdict(PLAIN_ENGINE, [0, 1])
    assert (by_id or "").startswith("ollama-judge:docker.gpus is [0, 1],")


def test_no_gpus_asks_nothing_of_the_engine(monkeypatch: pytest.MonkeyPatch):
    def no_engine(host: str | None) -> dict[str, Any]:
        raise AssertionError("the engine was asked")

    monkeypatch.setattr("components.docker.preflight.engine_info", no_engine)
    assert gpu_request(DockerJudgeArgs(gpus="none"), "local") == (None, None)


def test_shortfall_is_a_config_error_naming_the_stack(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("components.docker.preflight.engine_info", lambda host: PLAIN_ENGINE)
    with pytest.raises(ConfigError, match=r"docker\.gpus' none --stack dev$"):
        gpu_request(DockerJudgeArgs(gpus="all"), "dev")


def test_auto_takes_every_gpu_of_an_engine_that_has_them(monkeypatch: pytest.MonkeyPatch):
    cdi = {**PLAIN_ENGINE, "DiscoveredDevices": [{"Source": "cdi", "ID": "nvidia.com/gpu=0"}]}
    monkeypatch.setattr("components.docker.preflight.engine_info", lambda host: cdi)
    assert gpu_request(DockerJudgeArgs(), "local") == ("all", None)


def test_auto_runs_on_the_cpu_of_an_engine_without_gpus_and_says_how_to_change_it(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr("components.docker.preflight.engine_info", lambda host: PLAIN_ENGINE)
    gpus, warning = gpu_request(DockerJudgeArgs(), "dev")
    assert gpus is None
    assert warning is not None
    assert warning.startswith(
        "ollama-judge:docker.gpus is auto and the Docker engine at unix:///var/run/docker.sock "
        "cannot give a container GPUs: it has no NVIDIA runtime and no NVIDIA CDI device "
        "(runtimes: io.containerd.runc.v2, io.containerd.runtime.v1.linux, runc; default "
        "runtime: runc): the judge runs on the CPU, slower."
    )
    assert "nvidia-ctk runtime configure --runtime=docker" in warning
    assert warning.endswith("pulumi config set --path 'ollama-judge:docker.gpus' none --stack dev")


def test_an_unreachable_engine_skips_the_check_naming_the_host():
    unreachable = DockerJudgeArgs(gpus="all", engine_host="unix:///nonexistent/docker.sock")
    gpus, reason = gpu_request(unreachable, "local")
    assert gpus == "all"
    assert reason is not None
    assert "cannot reach the Docker engine at unix:///nonexistent/docker.sock" in reason


def test_auto_on_an_unreachable_engine_plans_the_cpu_and_says_it_depends_on_the_engine():
    unreachable = DockerJudgeArgs(engine_host="unix:///nonexistent/docker.sock")
    gpus, reason = gpu_request(unreachable, "local")
    assert gpus is None
    assert reason is not None
    assert "cannot reach the Docker engine at unix:///nonexistent/docker.sock" in reason
    assert reason.endswith(
        "ollama-judge:docker.gpus is auto, so the judge is planned on the CPU. On an engine "
        "with an NVIDIA runtime or CDI device it gets every GPU"
    )


def test_the_engine_is_the_providers_setting_else_docker_host_else_the_local_socket(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert engine_address(None) == SOCKET
    monkeypatch.setenv("DOCKER_HOST", "tcp://builder:2376")
    assert engine_address(None) == "tcp://builder:2376"
    assert engine_address("ssh://judge@gpu-box") == "ssh://judge@gpu-box"
