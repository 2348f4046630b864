"""Runs the Pulumi program on Pulumi's mocks and records what it registers."""

from __future__ import annotations

import asyncio
import gc
import json
import runpy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime.mocks import MockMonitor

from components.judge import OUTPUTS

PROJECT_DIR = Path(__file__).resolve().parents[2]


@dataclass
class Registered:
    """One resource as the program registered it: inputs and the options that matter."""

    type: str
    name: str
    inputs: dict[str, Any]
    custom: bool
    parent: str
    delete_before_replace: bool
    retain_on_delete: bool
    custom_timeouts: dict[str, str]
    # URNs of the resources it waits for.
    dependencies: list[str]

    @property
    def waits_for(self) -> list[str]:
        """The names of the resources it waits for."""
        return [urn.rsplit("::", 1)[-1] for urn in self.dependencies]


class EchoMocks(pulumi.runtime.Mocks):
    """Resources come back with their inputs as state, as a provider would report them."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        state = dict(args.inputs)
        if args.typ == "docker:index/remoteImage:RemoteImage":
            state["imageId"] = f"sha256:{'0' * 64}"
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        return {}


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.registered: list[Registered] = []

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registered.append(
                Registered(
                    type=request.type,
                    name=request.name,
                    inputs=self.resources[response.urn].state,
                    custom=request.custom,
                    parent=request.parent,
                    delete_before_replace=request.deleteBeforeReplace,
                    retain_on_delete=request.retainOnDelete,
                    custom_timeouts={
                        "create": request.customTimeouts.create,
                        "update": request.customTimeouts.update,
                    },
                    dependencies=list(request.dependencies),
                )
            )
        return response


class Program:
    """Runs a Pulumi program against the recording mock and answers questions about it."""

    def __init__(self, preview: bool = False) -> None:
        mocks = EchoMocks()
        self.monitor = RecordingMonitor(mocks)
        pulumi.runtime.set_mocks(mocks, monitor=self.monitor, preview=preview)
        self.outputs: dict[str, Any] = {}

    def run(self, build: Callable[[], dict[str, pulumi.Output[Any]]]) -> Program:
        """`build` creates resources and returns outputs to resolve."""

        def program() -> pulumi.Output[Any]:
            outputs = build()
            return pulumi.Output.all(**outputs).apply(self.outputs.update)

        try:
            pulumi.runtime.test(program)()
        except Exception as failure:
            observe_the_failure_left_behind(failure)
            raise
        return self

    def of_type(self, type_token: str) -> list[Registered]:
        return [r for r in self.monitor.registered if r.type == type_token]

    def one(self, type_token: str) -> Registered:
        found = self.of_type(type_token)
        assert len(found) == 1, f"expected one {type_token}, found {len(found)}"
        return found[0]

    @property
    def types(self) -> list[str]:
        return sorted(r.type for r in self.monitor.registered)


def observe_the_failure_left_behind(failure: BaseException) -> None:
    """Marks as seen the futures that Pulumi's runtime leaves holding a failed program's
    error, as its language hosts do for a real `up`.

    When a resource cannot be registered (here: a judge's wait named in its depends_on
    raised), Pulumi resolves each of its properties' value, is_known and is_secret futures
    with the error, and Output awaits the value first: the other two keep the error, unread,
    and asyncio prints each one as "Future exception was never retrieved" whenever it
    collects them, even after the test session's summary. Pulumi's language hosts
    (pulumi-language-python-exec, automation's server) silence asyncio's logger for this;
    pulumi.runtime.test does not. Only futures holding this very error are marked: any
    other unread future still shows (tests/support/unread_futures.py fails the run then).
    """
    for holder in gc.get_referrers(failure):
        if isinstance(holder, asyncio.Future) and holder.done() and not holder.cancelled():
            holder.exception()


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """{"a": {"b": [1]}} -> {"a.b[0]": 1}: every leaf of a resource's inputs by its path."""
    if isinstance(value, dict):
        items = [(f"{path}.{k}" if path else k, v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
    else:
        return {path: value}
    leaves: dict[str, Any] = {path: type(value).__name__} if path else {}
    for child_path, child in items:
        leaves.update(flatten(child, child_path))
    return leaves


def changed_paths(before: Program, after: Program) -> set[str]:
    """Paths, as "resource-name:input.path", that differ between two runs."""

    def leaves(program: Program) -> dict[str, Any]:
        result = {}
        for resource in program.monitor.registered:
            for path, value in flatten(resource.inputs).items():
                result[f"{resource.name}:{path}"] = value
            result[f"{resource.name}:<retainOnDelete>"] = resource.retain_on_delete
        return result

    a, b = leaves(before), leaves(after)
    return {path for path in a.keys() | b.keys() if a.get(path) != b.get(path)}


def assert_only_changed(before: Program, after: Program, *prefixes: str) -> None:
    """Every difference falls under one of `prefixes`, and each prefix saw a difference."""
    changed = changed_paths(before, after)
    unexpected = sorted(p for p in changed if not p.startswith(prefixes))
    assert not unexpected, f"unexpected changes: {unexpected}"
    untouched = [p for p in prefixes if not any(c.startswith(p) for c in changed)]
    assert not untouched, f"expected changes under {untouched}"


def deploy_judge(
    component: Callable[[str, Any], Any], args: Any, program: Program | None = None
) -> Program:
    """Runs one judge component named "ollama" (in `program`, if given); its outputs by
    their stack export names."""

    def build() -> dict[str, pulumi.Output[Any]]:
        judge = component("ollama", args)
        return {name: getattr(judge, attribute) for name, attribute in OUTPUTS.items()}

    return (program or Program()).run(build)


def stack_config(stack: str) -> dict[str, str]:
    """The stack file's config as the engine hands it to the program: strings, with
    objects and lists as JSON."""
    config = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {
        key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()
    }


def run_main(
    config: dict[str, str], monkeypatch: pytest.MonkeyPatch, program: Program | None = None
) -> Program:
    """Runs __main__.py with a stack config; the program's exports become `outputs`."""
    program = program or Program()
    # No cluster and no Docker engine for these tests: the capacity checks find none
    # and step aside, unless a test hands them an engine's info.
    monkeypatch.setenv("KUBECONFIG", str(PROJECT_DIR / "no-such-kubeconfig"))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{PROJECT_DIR / 'no-such-docker.sock'}")
    exported: dict[str, Any] = {}
    monkeypatch.setattr(pulumi, "export", exported.__setitem__)
    pulumi.runtime.set_all_config(config)

    def build() -> dict[str, Any]:
        runpy.run_path(str(PROJECT_DIR / "__main__.py"))
        return exported

    try:
        return program.run(build)
    finally:
        pulumi.runtime.set_all_config({})
