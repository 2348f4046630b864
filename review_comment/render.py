"""`render.py PROGRAM_DIR STACK RENDER_DIR`, run by desired.py with a throwaway backend and no
cluster or Docker engine: the resources the program declares for the stack and the warnings it
gives without them, as JSON on stdout: {"resources": {urn: {"type", "inputs",
"retainOnDelete"}}, "warnings": [...]}.

- knitfab: a real `up` in the kubernetes provider's render mode, which writes manifests into
  RENDER_DIR instead of calling a cluster; the throwaway state records their inputs.
- local: the docker provider needs a Docker engine even to preview, so the program runs on
  Pulumi's mocks (in preview mode: nothing waits for a container), which record every
  resource exactly as the program registers it.
"""

import json
import logging
import runpy
import sys
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi import automation as auto
from pulumi.runtime.mocks import MockMonitor


def record(type_: str, inputs: dict[str, Any], retain_on_delete: bool | None) -> dict[str, Any]:
    return {"type": type_, "inputs": inputs, "retainOnDelete": bool(retain_on_delete)}


def run_program(program_dir: Path) -> None:
    runpy.run_path(str(program_dir / "__main__.py"), run_name="__main__")


def rendered(
    program_dir: Path, stack: str, render_dir: Path, warnings: list[str]
) -> dict[str, Any]:
    target = auto.create_or_select_stack(
        stack,
        project_name="ollama-judge",
        program=lambda: run_program(program_dir),
        opts=auto.LocalWorkspaceOptions(work_dir=str(program_dir)),
    )
    target.set_config("kubernetes:renderYamlToDirectory", auto.ConfigValue(str(render_dir)))

    def warned(event: auto.EngineEvent) -> None:
        said = event.diagnostic_event
        if said and said.severity == "warning":
            warnings.append(said.message.strip())

    target.up(on_output=lambda line: print(line, file=sys.stderr), on_event=warned)
    resources = (target.export_stack().deployment or {}).get("resources", [])
    return {
        r["urn"]: record(r["type"], r.get("inputs", {}), r.get("retainOnDelete"))
        for r in resources
        if r.get("custom") and not r["type"].startswith("pulumi:")
    }


class _Echo(pulumi.runtime.Mocks):
    """Resources come back with their inputs as state, as a provider would report them."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        state = dict(args.inputs)
        if args.typ == "docker:index/remoteImage:RemoteImage":
            state["imageId"] = "sha256:" + "0" * 64
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, None]:
        return {}, None


class _Recording(MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.found: dict[str, Any] = {}

    def RegisterResource(self, request):  # noqa: N802 (the gRPC method's name)
        response = super().RegisterResource(request)
        if request.custom and not request.type.startswith("pulumi:"):
            state = self.resources[response.urn].state
            self.found[response.urn] = record(request.type, state, request.retainOnDelete)
        return response


class _Warnings(logging.Handler):
    def __init__(self, warnings: list[str]):
        super().__init__(logging.WARNING)
        self.warnings = warnings

    def emit(self, record: logging.LogRecord) -> None:
        self.warnings.append(record.getMessage())


def mocked(
    program_dir: Path, stack: str, config: dict[str, Any], warnings: list[str]
) -> dict[str, Any]:
    monitor = _Recording(_Echo())
    # The mocks hand the program's log to a logger: its warnings are kept.
    logger = logging.getLogger("ollama-judge-render")
    logger.addHandler(_Warnings(warnings))
    logger.propagate = False
    pulumi.runtime.set_mocks(
        monitor.mocks, "ollama-judge", stack, preview=True, monitor=monitor, logger=logger
    )
    # As the engine hands config to a program: structured values as JSON text.
    pulumi.runtime.set_all_config(
        {key: v if isinstance(v, str) else json.dumps(v) for key, v in config.items()}
    )
    pulumi.runtime.test(lambda: run_program(program_dir))()
    return monitor.found


if __name__ == "__main__":
    program_dir, stack, render_dir = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    sys.path.insert(0, str(program_dir))  # the program imports its own `components`
    config = yaml.safe_load((program_dir / f"Pulumi.{stack}.yaml").read_text())["config"]
    warnings: list[str] = []
    if config.get("ollama-judge:target") == "kubernetes":
        found = rendered(program_dir, stack, render_dir, warnings)
    else:
        found = mocked(program_dir, stack, config, warnings)
    json.dump({"resources": found, "warnings": warnings}, sys.stdout, default=str)
