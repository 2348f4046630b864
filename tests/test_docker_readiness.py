"""The wait for a ready judge container, against containers whose state a test scripts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from components import judge, readiness
from components.docker import wait as docker_readiness
from components.docker.wait import failure_message, wait_until_ready
from components.readiness import JudgeNotReady
from tests import waits
from tests.fake_docker import FakeContainer
from tests.waits import Clock

GAVE_UP = (
    "ollama-judge: pulling judge (attempt 1 of 1)\n"
    "Error: pull model manifest: file does not exist\n"
    "ollama-judge: could not pull judge: Error: pull model manifest: file does not exist "
    "(retrying cannot help)\n"
    "ollama-judge: stopping: the judge cannot work without its models\n"
)


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from waits.quick_polls(monkeypatch, docker_readiness)


def test_a_healthy_container_is_ready_at_once():
    reported: list[str] = []
    wait_until_ready(FakeContainer(), ("judge",), 60, reported.append)
    assert reported == []


def test_progress_is_relayed_until_the_container_is_healthy():
    container = FakeContainer(
        health="starting",
        steps=[
            lambda c: c.say("ollama-judge: pulling judge (attempt 1 of 5)"),
            lambda c: c.say("pulling manifest", "ollama-judge: pulled judge"),
            lambda c: (c.say("ollama-judge: ready: judge"), c.set_health("healthy")),
        ],
    )
    reported: list[str] = []
    wait_until_ready(container, ("judge",), 60, reported.append)
    assert reported == ["pulling judge (attempt 1 of 5)", "pulled judge", "ready: judge"]


def test_once_the_script_is_ready_the_healthchecks_command_ends_the_wait_before_docker_runs_it():
    container = FakeContainer(
        health="starting",
        steps=[
            lambda c: c.say("ollama-judge: pulled judge"),
            lambda c: c.say("ollama-judge: ready: judge"),
            lambda c: pytest.fail("the wait went on after the check passed"),
        ],
    )
    wait_until_ready(container, ("judge",), 60, lambda line: None)
    assert container.attrs["State"]["Health"]["Status"] == "starting"
    # Run only once the script said so, and exactly Docker's healthcheck command.
    assert container.execs == [judge.model_script_command("check", ("judge",))]


def test_a_container_that_gave_up_ends_the_wait_with_the_pulls_error():
    container = FakeContainer(health="starting", steps=[lambda c: (c.say(GAVE_UP), c.restart())])
    with pytest.raises(JudgeNotReady) as failed:
        wait_until_ready(container, ("judge",), 3600, lambda line: None)
    message = str(failed.value)
    assert message.startswith(
        "the judge container ollama is not ready (judge): could not pull judge: "
        "Error: pull model manifest: file does not exist (retrying cannot help)."
    )
    assert "docker logs ollama" in message
    assert "ollama-judge:models" in message


def test_a_stopped_container_ends_the_wait():
    def stop(container: FakeContainer) -> None:
        container.attrs["State"]["Running"] = False

    container = FakeContainer(health="starting", steps=[stop])
    with pytest.raises(JudgeNotReady, match="its model script stopped"):
        wait_until_ready(container, (), 3600, lambda line: None)


def test_the_wait_ends_at_its_deadline_with_the_last_messages():
    container = FakeContainer(health="starting", log="ollama-judge: pulling big (attempt 1 of 5)\n")
    with pytest.raises(JudgeNotReady) as failed:
        wait_until_ready(container, ("big",), 5, lambda line: None, clock=Clock())
    assert "was not ready within 5s" in str(failed.value)
    assert "pulling big (attempt 1 of 5)" in str(failed.value)


def test_an_interrupted_update_ends_the_wait():
    readiness.CANCELLED.set()
    with pytest.raises(JudgeNotReady, match="interrupted"):
        wait_until_ready(FakeContainer(health="starting"), (), 3600, lambda line: None)


def test_failure_message_keeps_only_the_last_lines_of_a_long_log():
    log = "".join(f"ollama-judge: line {i}\n" for i in range(40))
    message = failure_message("ollama", log, ("judge",))
    assert "line 39" in message and "line 28" in message and "line 27" not in message
