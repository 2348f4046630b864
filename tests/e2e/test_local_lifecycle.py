"""Stack `local` on a real Docker engine: destroy, and recovery from failures. Each
test stands up its own stack (see test_local_stack.py for the test host's overrides)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from pulumi import automation as auto

from tests.e2e import docker_host as host
from tests.e2e.docker_host import MARKER, VERSION, cpu_only
from tests.e2e.engine import ProjectCopy, up

pytestmark = [pytest.mark.e2e, pytest.mark.local]


@pytest.fixture
def project(engine: dict[str, str], judge_image: str, names_free: None, tmp_path: Path):
    project = ProjectCopy(tmp_path)
    yield project
    host.remove_judge_objects()


def judge_containers() -> list[str]:
    listing = host.docker("ps", "-a", "--filter", "volume=ollama", "--format", "{{.Names}}")
    return listing.stdout.split()


def test_destroy_keeps_the_model_volume_and_up_takes_it_again(project: ProjectCopy):
    stack = project.stack("local", cpu_only(host.free_port()))
    stack.up()
    host.docker("exec", "ollama", "touch", MARKER)

    stack.destroy()
    assert not host.exists("container", "ollama")
    assert not host.exists("network", "ollama-net")
    assert host.exists("volume", "ollama")
    assert judge_containers() == []

    stack.up()
    assert host.docker("exec", "ollama", "ls", MARKER).returncode == 0
    stack.destroy()


def test_destroy_with_the_opt_out_removes_everything(project: ProjectCopy):
    config = cpu_only(host.free_port(), **{"ollama-judge:keepModelsOnDestroy": False})
    stack = project.stack("local", config)
    stack.up()
    stack.destroy()
    for kind, name in host.JUDGE_NAMES.items():
        assert not host.exists(kind, name), f"{kind} {name} left behind"
    assert judge_containers() == []


def test_port_already_taken_is_a_clear_error_and_up_works_after(project: ProjectCopy):
    port = host.free_port()
    stack = project.stack("local", cpu_only(port))
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    try:
        with pytest.raises(auto.CommandError) as failed:
            stack.up()
        message = str(failed.value)
        assert "address already in use" in message or "port is already allocated" in message
    finally:
        blocker.close()
    stack.up()
    assert host.get_json(f"http://127.0.0.1:{port}/api/version") == {"version": VERSION}
    assert up(stack) == {"same": 6}
    stack.destroy()


def test_missing_image_is_a_clear_error_and_up_works_after(project: ProjectCopy):
    absent = "ollama/ollama:0.0.1"
    assert not host.exists("image", absent)
    port = host.free_port()
    with pytest.raises(auto.CommandError) as failed:
        project.stack("local", cpu_only(port, **{"ollama-judge:image": absent})).up()
    assert absent in str(failed.value)
    stack = project.stack("local", cpu_only(port))
    stack.up()
    assert up(stack) == {"same": 6}
    stack.destroy()
