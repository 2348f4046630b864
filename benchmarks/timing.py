"""Timing helpers shared by the benchmarks: wall-clock time of one action, ratios of
times taken in the same run, the engine's own floor, and how busy the machine was."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from stack_runner.engine_only import engine_only
from stack_runner.stacks import open_stack


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median_ratio(numerators: list[float], denominators: list[float]) -> str:
    a, b = statistics.median(numerators), statistics.median(denominators)
    return f"{a / b:.2f}x (medians {a:.2f}s / {b:.2f}s over {len(numerators)} rounds)"


def cli_up(stack: auto.Stack, **options: Any) -> None:
    """`up` as `scripts/pulumi up --yes --skip-preview` runs it: no preview, and the result
    is not read back afterwards (the program's imports started as the stack was opened)."""
    with engine_only(stack):
        stack.up(**options)


def empty_program_up(directory: Path) -> float:
    """`up` of a fresh stack whose program declares nothing, as `scripts/pulumi up` runs
    it: the engine's own cost."""
    directory.mkdir()
    (directory / "Pulumi.yaml").write_text("name: ollama-judge\nruntime: python\n")
    (directory / "__main__.py").write_text('"""Declares nothing."""\n')
    stack = open_stack("engine-floor", directory)
    seconds = timed(lambda: cli_up(stack))
    stack.destroy()
    stack.workspace.remove_stack("engine-floor")
    return seconds


def ratio(a: float, b: float, unit: str = "s") -> str:
    return f"{a / b:.2f}x ({a:.2f}{unit} / {b:.2f}{unit})"


def epoch_seconds(stamp: str) -> float:
    """An RFC 3339 time as Docker and the kubelet write them (UTC, up to nanoseconds)."""
    seconds, _, fraction = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{seconds}.{fraction[:6]:0<6}+00:00").timestamp()


def ready_line_at(timestamped_log: str) -> float:
    """When the model script said `ready:`, from a log with a timestamp before each line
    (`docker logs --timestamps`, `kubectl logs --timestamps`)."""
    stamps = [line.split(" ", 1)[0] for line in timestamped_log.splitlines() if " ready:" in line]
    if not stamps:
        raise AssertionError(f"the judge never said ready:\n{timestamped_log}")
    return epoch_seconds(stamps[-1])


def load() -> str:
    """The machine's load averages: a benchmark on a busy machine says so."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


class Timeline:
    """Where an operation's seconds go, from the engine's events as they arrive: when the
    engine started the program, when each resource's step began and ended, and what the
    program said (its waits' progress). Pass
    `timeline.on_event` as `on_event=` to `up`, `preview` or `destroy`."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.marks: list[tuple[float, str]] = []
        self._begun: dict[str, float] = {}

    def on_event(self, event: Any) -> None:
        now = time.perf_counter() - self.started
        if event.prelude_event:
            self.marks.append((now, "engine ready, program running"))
        elif event.resource_pre_event:
            step = event.resource_pre_event.metadata
            self._begun[step.urn] = now
        elif event.res_outputs_event:
            step = event.res_outputs_event.metadata
            begun = self._begun.pop(step.urn, now)
            name = step.urn.rsplit("::", 1)[-1]
            self.marks.append((now, f"{step.op} {name}: {now - begun:.2f}s (from {begun:.2f}s)"))
        elif event.diagnostic_event and event.diagnostic_event.severity == "info":
            self.marks.append((now, f"said: {event.diagnostic_event.message.strip()}"))
        elif event.summary_event:
            self.marks.append((now, "summary"))

    def report(self, total: float | None = None) -> str:
        lines = [f"  {at:6.2f}s  {what}" for at, what in sorted(self.marks)]
        if total is not None:
            lines.append(f"  {total:6.2f}s  returned")
        return "\n".join(lines)
