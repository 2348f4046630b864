"""The real Pulumi engine (CLI and provider plugins at the pinned versions) running the
program with the committed stack files."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from stack_runner.engine_only import EngineOnlyCommand, engine_only
from stack_runner.stacks import open_stack
from tests.e2e.engine import PROJECT_DIR, ProjectCopy

pytestmark = [pytest.mark.e2e, pytest.mark.engine]


def pinned(package: str) -> str:
    text = (PROJECT_DIR / "requirements.txt").read_text()
    match = re.search(rf"^{re.escape(package)}==(\S+)$", text, re.MULTILINE)
    assert match, f"requirements.txt pins no {package}"
    return match.group(1)


def test_engine_is_the_pinned_cli_with_exactly_the_pinned_plugins(engine: dict[str, str]):
    version = subprocess.run(["pulumi", "version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"v{pinned('pulumi')}"
    listing = subprocess.run(
        ["pulumi", "plugin", "ls", "--json"], capture_output=True, text=True, check=True
    )
    plugins = {(p["name"], p["kind"], p["version"]) for p in yaml.safe_load(listing.stdout)}
    assert plugins == {
        ("docker", "resource", pinned("pulumi-docker")),
        ("kubernetes", "resource", pinned("pulumi-kubernetes")),
    }


def test_engine_fails_loudly_instead_of_downloading_a_missing_plugin(
    project: ProjectCopy, docker: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "empty-pulumi-home"))
    stack = project.stack("local")
    with pytest.raises(auto.CommandError) as failed:
        stack.preview()
    message = str(failed.value)
    assert "docker" in message
    assert re.search(r"no resource plugin|could not find|not found", message), message
    assert not (tmp_path / "empty-pulumi-home" / "plugins").exists() or not any(
        (tmp_path / "empty-pulumi-home" / "plugins").iterdir()
    ), "nothing may be downloaded"


def test_preview_of_the_local_stack_against_a_real_docker_engine(
    project: ProjectCopy, docker: None
):
    preview = project.stack("local").preview()
    assert preview.change_summary == {"create": 6}
    for resource in ("DockerJudge", "RemoteImage", "Network", "Volume", "Container"):
        assert resource in preview.stdout


def test_knitfab_stack_renders_the_manuals_manifest(project: ProjectCopy, tmp_path: Path):
    rendered = tmp_path / "rendered"
    # The provider's YAML mode writes manifests on `up` instead of calling a cluster.
    stack = project.stack("knitfab", {"kubernetes:renderYamlToDirectory": str(rendered)})
    result = stack.up()
    assert result.summary.result == "succeeded"
    manifests = {}
    for path in (rendered / "1-manifest").glob("*.yaml"):
        manifest = yaml.safe_load(path.read_text())
        manifests[manifest["kind"]] = manifest
    assert set(manifests) == {"Deployment", "Service", "PersistentVolumeClaim"}
    claim = manifests["PersistentVolumeClaim"]
    assert claim["metadata"]["name"] == "ollama-models"
    assert "storageClassName" not in claim["spec"]  # the cluster's default class

    deployment = manifests["Deployment"]
    assert deployment["apiVersion"] == "apps/v1"
    assert deployment["metadata"]["name"] == "ollama"
    assert deployment["metadata"]["namespace"] == "knitfab"
    assert deployment["metadata"]["labels"]["app"] == "ollama"
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "ollama"}}
    template = deployment["spec"]["template"]
    assert template["metadata"]["labels"]["app"] == "ollama"
    [container] = template["spec"]["containers"]
    assert container["name"] == "ollama"
    assert re.fullmatch(r"ollama/ollama:\d+\.\d+\.\d+", container["image"])
    quantities = {"cpu": "4", "memory": "5Gi", "nvidia.com/gpu": "1"}
    assert container["resources"] == {"requests": quantities, "limits": quantities}
    assert [p["containerPort"] for p in container["ports"]] == [11434]
    hook = container["lifecycle"]["postStart"]["exec"]["command"]
    assert hook[:2] == ["/bin/sh", "-c"] and hook[-2:] == ["pull", "llama3.2"]
    assert "ollama pull" in hook[2]

    service = manifests["Service"]
    assert service["metadata"] == {
        "name": "ollama",
        "namespace": "knitfab",
        "labels": {"app": "ollama"},
        # For the provider only: `up` waits for the Service's endpoint itself.
        "annotations": {"pulumi.com/waitFor": "jsonpath={.spec.clusterIP}"},
    }
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"] == {"app": "ollama"}
    assert service["spec"]["ports"] == [
        {"name": "http", "protocol": "TCP", "port": 11434, "targetPort": 11434}
    ]
    assert result.outputs["evaluationUrl"].value == "http://ollama.knitfab.svc.cluster.local:11434"


def test_config_error_reaches_the_user_as_the_same_message_without_a_traceback(
    project: ProjectCopy, docker: None
):
    stack = project.stack("local", {"ollama-judge:docker": {"gpus": -1}})
    with pytest.raises(auto.CommandError) as failed:
        stack.preview()
    message = str(failed.value)
    assert (
        'ollama-judge:docker.gpus is -1; allowed: "auto", "all", "none", a count (0 = none) or '
        "a list of device ids. Fix it with: pulumi config set --path 'ollama-judge:docker.gpus' "
        "auto"
    ) in message
    assert "Traceback" not in message


class RecordingCommand(auto.PulumiCommand):
    """The CLI, with a record of every command the Automation API runs through it."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[list[str]] = []

    def run(self, args: list[str], *rest: Any, **options: Any) -> auto.CommandResult:
        self.runs.append(args)
        return super().run(args, *rest, **options)


class RecordingEngineOnlyCommand(EngineOnlyCommand, RecordingCommand):
    """As the stack runner runs the CLI; the record holds the commands that did run."""


def test_up_as_scripts_pulumi_runs_it_reads_no_result_back(
    engine: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: ollama-judge\nruntime: python\n")
    (project / "__main__.py").write_text('import pulumi\npulumi.export("answer", 42)\n')
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path}")
    command = RecordingEngineOnlyCommand()
    stack = open_stack("reads", project, command)
    before = len(command.runs)
    with engine_only(stack):
        stack.up()
    subcommands = [next(a for a in args if not a.startswith("-")) for args in command.runs]
    assert subcommands[before:] == ["up"], command.runs[before:]
    # The update happened, and outside the block results are read as usual.
    assert stack.outputs()["answer"].value == 42
    assert stack.up().summary.resource_changes == {"same": 1}
