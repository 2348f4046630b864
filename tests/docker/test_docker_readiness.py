"""The wait for a ready judge container, against containers whose state and streams a test
scripts (tests/support/fake_docker.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from docker.errors import NotFound

from components import judge, readiness
from components.docker import engine as docker_engine
from components.docker import wait as docker_readiness
from components.docker.wait import failure_message, follow, script_messages, wait_until_ready
from components.readiness import JudgeNotReady
from tests.support.fake_docker import SINCE_START, FakeContainer
from tests.support.waits import Clock

GAVE_UP = (
    "ollama-judge: pulling judge (attempt 1 of 1)\n"
    "Error: pull model manifest: file does not exist\n"
    "ollama-judge: could not pull judge: Error: pull model manifest: file does not exist "
    "(retrying cannot help)\n"
    "ollama-judge: stopping: the judge cannot work without its models\n"
)
CHECK = judge.model_script_command("check", ("judge",))
TICK_SECONDS = docker_readiness.TICK_SECONDS


@pytest.fixture(autouse=True)
def quick_ticks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Ticks and the log's drain that do not hold the tests up, and no interruption left
    pending by another test."""
    monkeypatch.setattr(docker_readiness, "TICK_SECONDS", 0.01)
    monkeypatch.setattr(docker_readiness, "LOG_DRAIN_SECONDS", 0.2)
    readiness.CANCELLED.clear()
    yield
    readiness.CANCELLED.clear()


def readers() -> list[str]:
    """The threads that read the container's streams."""
    names = ("ollama-judge-log", "ollama-judge-events")
    return [t.name for t in threading.enumerate() if t.name in names]


def wait_on(
    container: FakeContainer,
    models: tuple[str, ...] = ("judge",),
    timeout_seconds: float = 60,
    report: Callable[[str], None] = lambda line: None,
    **options: Any,
) -> None:
    """wait_until_ready, which, however it ends, leaves no stream open and no thread."""
    try:
        wait_until_ready(container, models, timeout_seconds, report, **options)
    finally:
        assert [s.kind for s in container.streams if not s.closed] == []
        assert readers() == []


def test_a_healthy_container_is_ready_at_once():
    reported: list[str] = []
    container = FakeContainer()
    wait_on(container, report=reported.append)
    assert reported == []
    assert container.streams == []


def test_progress_is_relayed_as_it_comes_until_docker_says_healthy():
    reported: list[str] = []

    def after_the_first_line_was_relayed(container: FakeContainer) -> None:
        until = time.monotonic() + 5
        while reported != ["pulling judge (attempt 1 of 5)"] and time.monotonic() < until:
            time.sleep(0.01)
        container.say("pulling manifest", "ollama-judge: pulled judge")

    container = FakeContainer(
        health="starting",
        steps=[
            lambda c: c.say("ollama-judge: pulling judge (attempt 1 of 5)"),
            after_the_first_line_was_relayed,
            lambda c: c.set_health("healthy"),
        ],
    )
    wait_on(container, report=reported.append)
    assert reported == ["pulling judge (attempt 1 of 5)", "pulled judge"]
    assert container.execs == []


def test_the_wait_follows_the_whole_log_and_this_runs_events():
    container = FakeContainer(health="starting", steps=[lambda c: c.set_health("healthy")])
    wait_on(container)
    log, events = container.streams
    assert log.asked == {"stream": True, "follow": True, "stdout": True, "stderr": True}
    # Replayed from the run's start (a die before the stream began is not lost), and only
    # what ends the wait: the engine sends no exec or other events.
    assert events.asked == {
        "since": SINCE_START,
        "filters": {"container": ["ollama-id"], "event": ["die", "health_status"]},
        "decode": True,
    }


def test_a_line_split_between_two_pieces_is_relayed_whole():
    reported: list[str] = []
    container = FakeContainer(
        health="starting",
        steps=[
            lambda c: c.write(b"ollama-judge: pul", b"led judge\npulling 10%\rpulling 20%"),
            lambda c: c.write("\rollama-judge: pulled caf\u00e9".encode()[:-1], b"\xa9\n"),
            lambda c: c.set_health("healthy"),
        ],
    )
    wait_on(container, report=reported.append)
    assert reported == ["pulled judge", "pulled caf\u00e9"]


def test_script_lines_in_pieces_come_whole_once_complete():
    pieces = [
        b"ollama-judge: pul",
        b"led a\npulling 3%\rollama-judge: ready: a\rollama-judge: caf\xc3",
        b"\xa9\n",
    ]
    read: list[bytes] = []

    def log() -> Iterator[bytes]:
        for piece in pieces:
            read.append(piece)
            yield piece

    # Each message with the number of pieces read when it came.
    came = [(message, len(read)) for message in script_messages(log())]
    assert came == [("pulled a", 2), ("ready: a", 2), ("caf\u00e9", 3)]


def test_once_the_script_is_ready_the_healthchecks_command_ends_the_wait_before_docker_runs_it():
    container = FakeContainer(
        health="starting",
        steps=[
            lambda c: c.say("ollama-judge: pulled judge"),
            lambda c: c.say("ollama-judge: ready: judge"),
            # Were the wait still going, this would end it with a failure.
            lambda c: c.stop(),
        ],
    )
    wait_on(container)
    assert container.attrs["State"]["Health"]["Status"] == "starting"
    # Run only once the script said so, and exactly Docker's healthcheck command.
    assert container.execs == [CHECK]


def test_a_check_that_fails_is_run_again_until_it_passes():
    container = FakeContainer(
        health="starting", failed_checks=2, steps=[lambda c: c.say("ollama-judge: ready: judge")]
    )
    wait_on(container)
    assert container.execs == [CHECK, CHECK, CHECK]


def test_an_unhealthy_container_is_still_waited_for():
    container = FakeContainer(
        health="starting",
        steps=[lambda c: c.set_health("unhealthy"), lambda c: c.set_health("healthy")],
    )
    wait_on(container)


def test_only_docker_says_the_container_stopped_not_the_end_of_its_log():
    container = FakeContainer(
        health="starting", steps=[lambda c: c.end_log(), lambda c: c.set_health("healthy")]
    )
    wait_on(container)


def test_a_container_that_gave_up_ends_the_wait_with_the_pulls_error():
    reported: list[str] = []
    container = FakeContainer(health="starting", steps=[lambda c: (c.say(GAVE_UP), c.restart())])
    with pytest.raises(JudgeNotReady) as failed:
        wait_on(container, timeout_seconds=3600, report=reported.append)
    message = str(failed.value)
    assert message.startswith(
        "the judge container ollama is not ready (judge): could not pull judge: "
        "Error: pull model manifest: file does not exist (retrying cannot help)."
    )
    assert "docker logs ollama" in message
    assert "ollama-judge:models" in message
    assert reported[-1] == "stopping: the judge cannot work without its models"


def test_the_last_words_that_come_after_docker_said_it_died_are_in_the_message():
    container = FakeContainer(
        health="starting", steps=[lambda c: (c.event("die"), c.say(GAVE_UP), c.end_log())]
    )
    with pytest.raises(JudgeNotReady, match="could not pull judge: Error: pull model manifest"):
        wait_on(container, timeout_seconds=3600)


def test_a_stopped_container_ends_the_wait():
    container = FakeContainer(health="starting", steps=[lambda c: c.stop()])
    with pytest.raises(JudgeNotReady, match="its model script stopped"):
        wait_on(container, (), 3600)


def test_a_container_stopped_before_the_first_look_ends_the_wait_with_its_log():
    container = FakeContainer(health="starting", running=False, log=GAVE_UP)
    with pytest.raises(JudgeNotReady, match="could not pull judge"):
        wait_on(container, timeout_seconds=3600)
    assert [s.kind for s in container.streams] == ["log"]


def test_a_restart_before_the_first_look_ends_the_wait():
    container = FakeContainer(health="starting", log=GAVE_UP)
    container.restarts_at_look = 1
    with pytest.raises(JudgeNotReady, match="could not pull judge"):
        wait_on(container, timeout_seconds=3600)


def test_the_wait_ends_at_its_deadline_with_the_last_messages():
    container = FakeContainer(health="starting", log="ollama-judge: pulling big (attempt 1 of 5)\n")
    with pytest.raises(JudgeNotReady) as failed:
        wait_on(container, ("big",), 5, clock=Clock())
    assert "was not ready within 5s" in str(failed.value)
    assert "pulling big (attempt 1 of 5)" in str(failed.value)


def test_an_interrupted_update_ends_the_wait():
    readiness.CANCELLED.set()
    with pytest.raises(JudgeNotReady, match="interrupted"):
        wait_on(FakeContainer(health="starting"), (), 3600)


def test_an_interruption_ends_a_silent_wait_within_a_second(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(docker_readiness, "TICK_SECONDS", TICK_SECONDS)
    interrupted_at: list[float] = []

    def interrupt() -> None:
        interrupted_at.append(time.monotonic())
        readiness.CANCELLED.set()

    threading.Timer(0.2, interrupt).start()
    # Both streams stay silent: their reads block until the wait closes them.
    with pytest.raises(JudgeNotReady, match="interrupted"):
        wait_on(FakeContainer(health="starting"), (), 3600)
    assert time.monotonic() - interrupted_at[0] < 1.0


@pytest.mark.parametrize(
    ("ending", "reason"),
    [
        (ConnectionResetError("connection reset by peer"), "its events ended: connection reset"),
        (None, "its events ended$"),
    ],
)
def test_an_event_stream_the_engine_ends_ends_the_wait(ending: Exception | None, reason: str):
    def engine_ends_the_events(container: FakeContainer) -> None:
        if ending is None:
            container.end_events()
        else:
            container.fail("events", ending)

    container = FakeContainer(health="starting", steps=[engine_ends_the_events])
    with pytest.raises(JudgeNotReady, match=f"cannot follow the judge's start: {reason}"):
        wait_on(container, timeout_seconds=3600)


def test_failure_message_keeps_only_the_last_lines_of_a_long_log():
    said = [f"line {i}" for i in range(40)]
    message = failure_message("ollama", said, ("judge",))
    assert "line 39" in message and "line 28" in message and "line 27" not in message


def test_follow_waits_through_a_client_of_the_engine_and_closes_it(
    monkeypatch: pytest.MonkeyPatch,
):
    container = FakeContainer()
    asked: list[str | None] = []

    def client(host: str | None) -> Any:
        asked.append(host)
        return container.client

    monkeypatch.setattr(docker_engine, "docker_client", client)
    follow("tcp://judge-box:2375", "ollama-id", ("judge",), 60, lambda line: None)
    assert asked == ["tcp://judge-box:2375"]
    assert container.client.closed


def test_follow_says_when_the_engine_cannot_be_followed(monkeypatch: pytest.MonkeyPatch):
    def unreachable(host: str | None) -> Any:
        raise docker_engine.DockerEngineUnreachable("cannot reach the Docker engine at x: no")

    monkeypatch.setattr(docker_engine, "docker_client", unreachable)
    with pytest.raises(JudgeNotReady, match="cannot follow the judge's start: cannot reach"):
        follow(None, "ollama-id", (), 60, lambda line: None)

    container = FakeContainer()

    def gone(container_id: str) -> FakeContainer:
        raise NotFound("No such container: ollama-id")

    monkeypatch.setattr(container.client, "get", gone)
    monkeypatch.setattr(docker_engine, "docker_client", lambda host: container.client)
    with pytest.raises(JudgeNotReady, match="cannot follow the judge's start: No such container"):
        follow(None, "ollama-id", (), 60, lambda line: None)
    assert container.client.closed


@pytest.mark.parametrize(
    ("written", "since"),
    [
        ("2024-05-01T10:00:00.123456789Z", "1714557600.123456789"),
        ("2024-05-01T10:00:00.5Z", "1714557600.500000000"),
        ("2024-05-01T10:00:00Z", "1714557600.000000000"),
    ],
)
def test_the_engines_times_are_given_back_to_the_nanosecond(written: str, since: str):
    assert docker_engine.since_value(written) == since


def test_a_stream_through_an_ssh_host_is_ended_by_ending_its_ssh_command():
    """docker 7.2's own close finds no socket behind the `ssh` command's pipe (as probed
    with the real client over an ssh:// host)."""
    ended: list[str] = []

    class SshStream:
        def close(self) -> None:
            raise UnboundLocalError("cannot access local variable 'sock'")

    ssh_command = SimpleNamespace(close=lambda: ended.append("ssh"))
    stream = SshStream()
    stream._response = SimpleNamespace(  # type: ignore[attr-defined]
        raw=SimpleNamespace(_fp=SimpleNamespace(fp=SimpleNamespace(channel=ssh_command)))
    )
    docker_engine.close_stream(stream)  # type: ignore[arg-type]
    assert ended == ["ssh"]
