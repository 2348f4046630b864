"""The resources one commit's program declares for a stack, as JSON on stdout: what
`scripts/review --desired-state` compares. Run by review_comment/desired.py in a process of its
own, with a throwaway backend, an empty passphrase, and no cluster or Docker engine.

    review_desired.py PROGRAM_DIR STACK RENDER_DIR

- knitfab: a real `up` of the program in the kubernetes provider's render mode
  (`kubernetes:renderYamlToDirectory`): the provider writes the objects as manifests into
  RENDER_DIR instead of calling a cluster, and the throwaway state records them with
  their inputs and options.
- local: the docker provider needs a Docker engine even to preview, so the program runs
  on Pulumi's mocks (in preview mode, so that nothing waits for a container), which
  record every resource exactly as the program registers it.

Output: {urn: {"type", "inputs", "retainOnDelete"}} for every custom resource.
"""

from __future__ import annotations

import asyncio
import json
import runpy
import sys
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi import automation as auto
from pulumi.runtime.mocks import MockMonitor


def stack_config(program_dir: Path, stack: str) -> dict[str, Any]:
    return dict(yaml.safe_load((program_dir / f"Pulumi.{stack}.yaml").read_text())["config"])


def run_program(program_dir: Path) -> None:
    if str(program_dir) not in sys.path:
        sys.path.insert(0, str(program_dir))
    runpy.run_path(str(program_dir / "__main__.py"), run_name="__main__")


def rendered(program_dir: Path, stack: str, render_dir: Path) -> dict[str, Any]:
    workspace = auto.LocalWorkspaceOptions(work_dir=str(program_dir))
    target = auto.create_or_select_stack(
        stack,
        project_name="ollama-judge",
        program=lambda: run_program(program_dir),
        opts=workspace,
    )
    target.set_config("kubernetes:renderYamlToDirectory", auto.ConfigValue(str(render_dir)))
    target.up(on_output=lambda line: print(line, file=sys.stderr))
    resources = (target.export_stack().deployment or {}).get("resources", [])
    return {
        r["urn"]: {
            "type": r["type"],
            "inputs": r.get("inputs", {}),
            "retainOnDelete": bool(r.get("retainOnDelete")),
        }
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
            self.found[response.urn] = {
                "type": request.type,
                "inputs": self.resources[response.urn].state,
                "retainOnDelete": bool(request.retainOnDelete),
            }
        return response


def mocked(program_dir: Path, stack: str) -> dict[str, Any]:
    mocks = _Echo()
    monitor = _Recording(mocks)
    pulumi.runtime.set_mocks(
        mocks, project="ollama-judge", stack=stack, preview=True, monitor=monitor
    )
    pulumi.runtime.set_all_config(
        {
            k: v if isinstance(v, str) else json.dumps(v)
            for k, v in stack_config(program_dir, stack).items()
        }
    )
    pulumi.export = lambda name, value: None  # the outputs are not compared

    def program() -> None:
        run_program(program_dir)

    pulumi.runtime.test(program)()
    asyncio.set_event_loop(asyncio.new_event_loop())
    return monitor.found


def main() -> int:
    program_dir, stack, render_dir = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    target = stack_config(program_dir, stack).get("ollama-judge:target")
    if target == "kubernetes":
        found = rendered(program_dir, stack, render_dir)
    else:
        found = mocked(program_dir, stack)
    json.dump(found, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
