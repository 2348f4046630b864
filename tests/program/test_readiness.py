"""What both readiness waits share: reading the model script's words, and running a wait
beside the program so that its lines reach the engine while it waits."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi.runtime import mocks

from components.readiness import (
    JudgeNotReady,
    Report,
    StreamEnded,
    Streams,
    beside_the_program,
    giving_up_reason,
    script_lines,
)
from tests.support.pulumi_program import Program


def test_script_lines_are_the_prefixed_ones_without_the_prefix():
    text = "pulling manifest\rollama-judge: pulled a\nError: x\nollama-judge: ready: a\n"
    assert script_lines(text) == ["pulled a", "ready: a"]


def test_the_reason_for_giving_up_is_the_last_one_given():
    lines = [
        "could not pull a after 5 attempts: Error: x",
        "stopping: the judge cannot work without its models",
    ]
    assert giving_up_reason(lines) == "could not pull a after 5 attempts: Error: x"
    assert giving_up_reason(["ollama serve did not answer within 120s"]) is not None
    assert giving_up_reason(["pulling a (attempt 1 of 5)"]) is None


def silent_until(released: threading.Event) -> Any:
    """A stream that blocks, as a followed one does, until it is released."""
    released.wait()
    yield from ()


def reading_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name in ("ollama-judge-a", "ollama-judge-b")]


def test_each_streams_items_come_in_order_then_its_end_or_its_error():
    reset = ConnectionResetError("reset")

    def broken() -> Any:
        yield "b1"
        yield "b2"
        raise reset

    with Streams() as streams:
        streams.follow("a", iter(["a1"]), lambda: None)
        streams.follow("b", broken(), lambda: None)
        taken = [streams.take(5) for _ in range(5)]
    assert [item for source, item in taken if source == "a"] == ["a1", StreamEnded()]
    assert [item for source, item in taken if source == "b"] == ["b1", "b2", StreamEnded(reset)]


def test_leaving_streams_ends_every_read_in_progress_and_its_thread():
    released = threading.Event()
    with Streams() as streams:
        streams.follow("a", silent_until(released), released.set)
        assert streams.take(0.05) is None
        assert reading_threads() == ["ollama-judge-a"]
    assert released.is_set()
    assert reading_threads() == []


def run_wait(wait: Callable[[Report], str]) -> Program:
    def build() -> dict[str, pulumi.Output[str]]:
        namespace = k8s.core.v1.Namespace("judges")
        return {"ready": namespace.id.apply(lambda _: beside_the_program(wait, namespace))}

    return Program().run(build)


def test_lines_reach_the_engine_while_the_wait_goes_on(monkeypatch: pytest.MonkeyPatch):
    arrived = threading.Event()
    log = mocks.MockEngine.Log

    def record(engine: mocks.MockEngine, request: Any) -> Any:
        if request.message == "pulling judge":
            arrived.set()
        return log(engine, request)

    monkeypatch.setattr(mocks.MockEngine, "Log", record)

    def wait(report: Report) -> str:
        report("pulling judge")
        # Only the program's event loop sends the line: it must be free meanwhile.
        return "relayed while waiting" if arrived.wait(5) else "relayed only at the end"

    assert run_wait(wait).outputs == {"ready": "relayed while waiting"}


def test_a_wait_that_fails_fails_the_program():
    def wait(report: Report) -> str:
        raise JudgeNotReady("the judge gave up")

    with pytest.raises(JudgeNotReady, match="the judge gave up"):
        run_wait(wait)


def test_a_wait_that_fails_a_resource_leaves_no_unread_error_behind(
    caplog: pytest.LogCaptureFixture,
):
    # What programs run before this one left (an end-to-end run's stacks run in this
    # process) is collected now: the records below are this program's alone.
    gc.collect()
    caplog.clear()

    def wait(report: Report) -> str:
        raise JudgeNotReady("the judge gave up")

    def build() -> dict[str, pulumi.Output[str]]:
        namespace = k8s.core.v1.Namespace("judges")
        ready = namespace.id.apply(lambda _: beside_the_program(wait, namespace))
        # Like the judge's Service: a resource that waits for the judge, and so fails too.
        k8s.core.v1.ConfigMap("after-the-judge", opts=pulumi.ResourceOptions(depends_on=[ready]))
        return {"ready": ready}

    with pytest.raises(JudgeNotReady):
        Program().run(build)
    # The next program drops what the failed one left; asyncio reports when collecting.
    Program().run(dict)
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        gc.collect()
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
