"""The model script, run as the containers run it (`/bin/sh -c SCRIPT ...`), against a
fake `ollama` on PATH whose server, models and pulls each test controls."""

from __future__ import annotations

import inspect
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from components.judge import model_script_command

FAKE_OLLAMA = r"""#!/bin/sh
# A stand-in for the ollama CLI. State lives in $FAKE_STATE:
#   up            the server answers        hang-list   `list` never returns
#   models/NAME   NAME is present           pull-fails  pulls that fail before one works
#   pull-hangs    `pull` never returns
#   pull-error    what a failing pull prints (default: "Error: pull failed")
#   load-fails    `run` (loading a model) fails
#   pull-seconds  how long a pull takes (0); two pulls at once leave `overlap`
state=$FAKE_STATE
echo "$*" >>"$state/calls"
case "$1" in
serve)
    trap 'rm -f "$state/up"; exit 0' TERM
    touch "$state/up"
    while :; do sleep 0.1; done
    ;;
list)
    [ -e "$state/hang-list" ] && exec sleep 600
    [ -e "$state/up" ]
    ;;
show)
    [ -e "$state/up" ] && [ -e "$state/models/$2" ]
    ;;
pull)
    [ -e "$state/pull-hangs" ] && exec sleep 600
    fails=$(cat "$state/pull-fails" 2>/dev/null || echo 0)
    if [ "$fails" -gt 0 ]; then
        echo $((fails - 1)) >"$state/pull-fails"
        cat "$state/pull-error" >&2 2>/dev/null || echo "Error: pull failed" >&2
        exit 1
    fi
    model=$2
    [ "$2" = --insecure ] && model=$3
    mkdir "$state/pulling" 2>/dev/null || touch "$state/overlap"
    sleep "$(cat "$state/pull-seconds" 2>/dev/null || echo 0)"
    mkdir -p "$state/models/$(dirname "$model")" && touch "$state/models/$model"
    rmdir "$state/pulling" 2>/dev/null
    ;;
run)
    if [ -e "$state/load-fails" ]; then
        echo "Error: model requires more system memory than is available" >&2
        exit 1
    fi
    [ -e "$state/models/$2" ]
    ;;
esac
"""


class FakeOllama:
    def __init__(self, root: Path):
        self.state = root / "state"
        (self.state / "models").mkdir(parents=True)
        bin_dir = root / "bin"
        bin_dir.mkdir()
        (bin_dir / "ollama").write_text(FAKE_OLLAMA)
        (bin_dir / "ollama").chmod(0o755)
        self.env = {
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "FAKE_STATE": str(self.state),
            "OLLAMA_JUDGE_SERVER_WAIT_SECONDS": "3",
            "OLLAMA_JUDGE_PULL_SECONDS": "20",
            "OLLAMA_JUDGE_RETRY_PAUSE_SECONDS": "0",
            "OLLAMA_JUDGE_CALL_SECONDS": "1",
            "OLLAMA_JUDGE_READY_FILE": str(root / "ready"),
        }
        self.ready_file = root / "ready"

    def server_up(self) -> None:
        (self.state / "up").touch()

    def has(self, *models: str) -> None:
        for model in models:
            (self.state / "models" / model).touch()

    def set(self, name: str, content: str = "") -> None:
        (self.state / name).write_text(content)

    def calls(self, verb: str) -> list[str]:
        path = self.state / "calls"
        lines = path.read_text().splitlines() if path.exists() else []
        return [line for line in lines if line.split()[0] == verb]

    def run(self, mode: str, *models: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            model_script_command(mode, models),
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def start(self, mode: str, *models: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            model_script_command(mode, models),
            env={**self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


@pytest.fixture
def ollama(tmp_path: Path) -> FakeOllama:
    return FakeOllama(tmp_path)


# Scenarios that wait on the script's clock (whole seconds: budgets, retry pauses, a lock's
# silence), a few seconds each and nearly all of it asleep: they run side by side, each in
# a directory of its own, in test_scenarios_on_the_scripts_clock, and report one by one.
ON_THE_SCRIPTS_CLOCK: dict[str, Callable[..., None]] = {}


def on_the_scripts_clock(scenario: Callable[..., None]) -> Callable[..., None]:
    ON_THE_SCRIPTS_CLOCK[scenario.__name__] = scenario
    return scenario


@on_the_scripts_clock
def pull_waits_for_the_server_then_pulls_only_missing_models(ollama: FakeOllama):
    ollama.has("llama3.2")
    starter = subprocess.Popen(["sh", "-c", f"sleep 1; touch {ollama.state}/up"])
    result = ollama.run("pull", "llama3.2", "qwen2.5")
    starter.wait()
    assert result.returncode == 0, result.stdout
    assert len(ollama.calls("list")) > 1, "the script should have polled the server"
    assert ollama.calls("pull") == ["pull qwen2.5"]
    assert "llama3.2 is present" in result.stdout
    assert "ready: llama3.2 qwen2.5" in result.stdout


@on_the_scripts_clock
def pull_gives_up_when_the_server_never_answers(ollama: FakeOllama):
    started = time.monotonic()
    result = ollama.run("pull", "llama3.2", OLLAMA_JUDGE_SERVER_WAIT_SECONDS="2")
    assert result.returncode == 1
    assert "did not answer within 2s" in result.stdout
    assert time.monotonic() - started < 8
    assert ollama.calls("pull") == []


@on_the_scripts_clock
def pull_bounds_a_server_that_hangs(ollama: FakeOllama):
    ollama.set("hang-list")
    started = time.monotonic()
    result = ollama.run("pull", "llama3.2", OLLAMA_JUDGE_SERVER_WAIT_SECONDS="1")
    assert result.returncode == 1
    assert time.monotonic() - started < 8


def test_pull_retries_a_failed_pull(ollama: FakeOllama):
    ollama.server_up()
    ollama.set("pull-fails", "2")
    result = ollama.run("pull", "llama3.2")
    assert result.returncode == 0, result.stdout
    assert ollama.calls("pull") == ["pull llama3.2"] * 3
    assert "attempt 3 of 5" in result.stdout


@on_the_scripts_clock
def pull_waits_longer_after_each_failure(ollama: FakeOllama):
    ollama.server_up()
    ollama.set("pull-fails", "2")
    result = ollama.run("pull", "llama3.2", OLLAMA_JUDGE_RETRY_PAUSE_SECONDS="1")
    assert result.returncode == 0, result.stdout
    assert "failed (Error: pull failed); trying again in 1s" in result.stdout
    assert "trying again in 2s" in result.stdout


def test_pull_gives_up_at_once_when_the_registry_has_no_such_model(ollama: FakeOllama):
    ollama.server_up()
    ollama.set("pull-fails", "9")
    ollama.set("pull-error", "pulling manifest\nError: pull model manifest: file does not exist\n")
    result = ollama.run("pull", "no-such-model")
    assert result.returncode == 1
    assert ollama.calls("pull") == ["pull no-such-model"], "retrying cannot help"
    assert (
        "could not pull no-such-model: Error: pull model manifest: file does not exist "
        "(retrying cannot help)"
    ) in result.stdout


def test_pull_fails_loudly_after_the_last_attempt(ollama: FakeOllama):
    ollama.server_up()
    ollama.set("pull-fails", "9")
    result = ollama.run("pull", "llama3.2", "qwen2.5", OLLAMA_JUDGE_PULL_ATTEMPTS="2")
    assert result.returncode == 1
    assert "could not pull llama3.2 after 2 attempts: Error: pull failed" in result.stdout
    assert ollama.calls("pull") == ["pull llama3.2"] * 2, "later models are not tried"


@on_the_scripts_clock
def pull_stops_a_hanging_pull_at_the_budget(ollama: FakeOllama):
    ollama.server_up()
    ollama.set("pull-hangs")
    started = time.monotonic()
    result = ollama.run("pull", "llama3.2", OLLAMA_JUDGE_PULL_SECONDS="2")
    assert result.returncode == 1
    assert "could not pull llama3.2: no time left in the pull budget of 2s" in result.stdout
    assert time.monotonic() - started < 10


def test_pull_loads_every_model_and_only_then_says_ready(ollama: FakeOllama):
    ollama.server_up()
    ollama.has("llama3.2")
    assert ollama.run("check", "llama3.2").returncode == 1, "not loaded yet"
    result = ollama.run("pull", "llama3.2", "qwen2.5")
    assert result.returncode == 0, result.stdout
    assert ollama.calls("run") == ["run llama3.2 ", "run qwen2.5 "]
    assert result.stdout.index("loaded qwen2.5") < result.stdout.index("ready:")
    assert ollama.run("check", "llama3.2", "qwen2.5").returncode == 0


def test_a_model_that_cannot_be_loaded_is_not_ready(ollama: FakeOllama):
    ollama.server_up()
    ollama.has("big")
    ollama.set("load-fails")
    result = ollama.run("pull", "big")
    assert result.returncode == 1
    assert "could not load big: Error: model requires more system memory" in result.stdout
    assert ollama.run("check", "big").returncode == 1


def test_a_restart_is_not_ready_until_it_has_loaded_again(ollama: FakeOllama):
    ollama.ready_file.touch()
    ollama.has("llama3.2")
    result = ollama.run("pull", "llama3.2", OLLAMA_JUDGE_SERVER_WAIT_SECONDS="1")
    assert result.returncode == 1, "the server never answers"
    assert not ollama.ready_file.exists(), "a ready mark of the last start was left"


def test_only_models_of_insecure_registries_are_pulled_over_plain_http(ollama: FakeOllama):
    ollama.server_up()
    insecure = {"OLLAMA_JUDGE_INSECURE_REGISTRIES": "plain.example:5000 other:80"}
    models = ("plain.example:5000/library/judge:1", "tls.example:5000/library/judge:1", "llama3.2")
    result = ollama.run("pull", *models, **insecure)
    assert result.returncode == 0, result.stdout
    assert ollama.calls("pull") == [
        "pull --insecure plain.example:5000/library/judge:1",
        "pull tls.example:5000/library/judge:1",
        "pull llama3.2",
    ]


def test_pull_with_no_models_only_waits_for_the_server(ollama: FakeOllama):
    ollama.server_up()
    result = ollama.run("pull")
    assert result.returncode == 0
    assert ollama.calls("pull") == []
    assert "ready: no models configured" in result.stdout


def test_check_passes_only_with_the_server_up_and_every_model(ollama: FakeOllama):
    ollama.ready_file.touch()
    assert ollama.run("check").returncode == 1, "server down"
    ollama.server_up()
    assert ollama.run("check").returncode == 0
    ollama.has("llama3.2")
    assert ollama.run("check", "llama3.2").returncode == 0
    missing = ollama.run("check", "llama3.2", "qwen2.5")
    assert missing.returncode == 1
    assert "qwen2.5 is missing" in missing.stdout


def test_log_setting_sends_output_to_that_file(ollama: FakeOllama, tmp_path: Path):
    ollama.server_up()
    log = tmp_path / "container.log"
    result = ollama.run("pull", "llama3.2", OLLAMA_JUDGE_LOG=str(log))
    assert result.returncode == 0
    assert (result.stdout, result.stderr) == ("", "")
    assert "pulled llama3.2" in log.read_text()


def test_with_a_log_a_check_answers_its_caller_and_leaves_the_log_alone(
    ollama: FakeOllama, tmp_path: Path
):
    log = tmp_path / "container.log"
    not_yet = ollama.run("check", "llama3.2", OLLAMA_JUDGE_LOG=str(log))
    assert not_yet.returncode == 1
    assert "not all pulled and loaded yet" in not_yet.stdout
    assert not log.exists() or log.read_text() == ""


def test_with_a_log_the_reason_for_giving_up_also_reaches_the_caller(
    ollama: FakeOllama, tmp_path: Path
):
    # The kubelet reports only a failed hook's own output, not the log's.
    ollama.server_up()
    ollama.set("pull-fails", "9")
    ollama.set("pull-error", "pulling manifest\nError: pull model manifest: file does not exist\n")
    log = tmp_path / "container.log"
    result = ollama.run("pull", "judge", OLLAMA_JUDGE_LOG=str(log))
    assert result.returncode == 1
    reason = (
        "ollama-judge: could not pull judge: Error: pull model manifest: file does not exist "
        "(retrying cannot help)\n"
    )
    assert (result.stdout, result.stderr) == ("", reason)
    assert "pulling judge (attempt 1 of 5)" in log.read_text()
    assert log.read_text().endswith(reason)


@on_the_scripts_clock
def with_a_log_a_server_that_never_answers_is_named_to_the_caller(
    ollama: FakeOllama, tmp_path: Path
):
    log = tmp_path / "container.log"
    result = ollama.run(
        "pull", "llama3.2", OLLAMA_JUDGE_LOG=str(log), OLLAMA_JUDGE_SERVER_WAIT_SECONDS="1"
    )
    assert result.returncode == 1
    assert result.stderr == "ollama-judge: ollama serve did not answer within 1s\n"
    assert "did not answer within 1s" in log.read_text()


def test_with_a_log_a_model_that_cannot_be_loaded_is_named_to_the_caller(
    ollama: FakeOllama, tmp_path: Path
):
    ollama.server_up()
    ollama.has("big")
    ollama.set("load-fails")
    result = ollama.run("pull", "big", OLLAMA_JUDGE_LOG=str(tmp_path / "container.log"))
    assert result.returncode == 1
    assert result.stderr.startswith("ollama-judge: could not load big: Error: model requires")


def test_without_a_log_the_reason_for_giving_up_is_said_once(ollama: FakeOllama):
    ollama.server_up()
    ollama.set("pull-fails", "9")
    result = ollama.run("pull", "llama3.2", OLLAMA_JUDGE_PULL_ATTEMPTS="1")
    assert result.returncode == 1
    assert result.stdout.count("could not pull llama3.2 after 1 attempts") == 1
    assert result.stderr == ""


def test_unknown_mode_is_a_usage_error(ollama: FakeOllama):
    result = ollama.run("start", "llama3.2")
    assert result.returncode == 2
    assert "usage" in result.stdout


def _wait_for(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_serve_runs_the_server_pulls_and_stops_it_on_sigterm(ollama: FakeOllama):
    process = subprocess.Popen(
        model_script_command("serve", ("llama3.2",)),
        env=ollama.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    _wait_for(lambda: (ollama.state / "models" / "llama3.2").exists())
    assert process.poll() is None, "the server keeps running after the pulls"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 143
    assert not (ollama.state / "up").exists(), "the server was stopped"


def test_serve_stops_the_server_when_a_model_cannot_be_pulled(ollama: FakeOllama):
    ollama.set("pull-fails", "9")
    result = ollama.run("serve", "llama3.2", OLLAMA_JUDGE_PULL_ATTEMPTS="1")
    assert result.returncode == 1
    assert "cannot work without its models" in result.stdout
    assert not (ollama.state / "up").exists()


# --- judges sharing one models volume (replicas on a ReadWriteMany claim) ----------------


@contextmanager
def held_lock(lock: Path, holder: str, beating: bool = True) -> Iterator[None]:
    """A pull lock held by another judge, `holder` ("HOST PID"), whose heartbeat changes
    every 0.2 s while `beating`; released (removed) at the end."""
    lock.mkdir()
    (lock / "holder").write_text(f"{holder}\n")
    (lock / "beat").write_text("1\n")
    stop = threading.Event()

    def beat() -> None:
        count = 1
        while beating and not stop.wait(0.2):
            count += 1
            (lock / "beat").write_text(f"{count}\n")

    thread = threading.Thread(target=beat)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        for name in ("holder", "beat"):
            (lock / name).unlink(missing_ok=True)
        lock.rmdir()


@on_the_scripts_clock
def judges_sharing_a_volume_pull_one_at_a_time(ollama: FakeOllama, tmp_path: Path):
    ollama.server_up()
    ollama.set("pull-seconds", "1")
    lock = {"OLLAMA_JUDGE_PULL_LOCK": str(tmp_path / "pull.lock")}
    judges = [ollama.start("pull", "llama3.2", **lock) for _ in range(3)]
    outputs = [judge.communicate(timeout=60)[0] for judge in judges]
    assert [judge.returncode for judge in judges] == [0, 0, 0], outputs
    assert not (ollama.state / "overlap").exists(), "two pulls ran at once"
    assert ollama.calls("pull") == ["pull llama3.2"], "the others found it present"
    assert sum("waiting for " in output for output in outputs) == 2, outputs
    assert sum("llama3.2 is present" in output for output in outputs) == 2
    assert not (tmp_path / "pull.lock").exists(), "the lock was released"


def test_present_models_need_no_lock(ollama: FakeOllama, tmp_path: Path):
    ollama.server_up()
    ollama.has("llama3.2")
    lock = tmp_path / "pull.lock"
    with held_lock(lock, "other-pod 1"):
        result = ollama.run("pull", "llama3.2", OLLAMA_JUDGE_PULL_LOCK=str(lock))
    assert result.returncode == 0, result.stdout
    assert "waiting" not in result.stdout


# Alone: a second's stall of the holder's heartbeat thread, which side by side with the
# others can happen on a busy machine, would read as a dead holder (its silence is 1 s).
def test_a_live_holder_is_waited_for_and_never_taken_over(ollama: FakeOllama, tmp_path: Path):
    ollama.server_up()
    lock = tmp_path / "pull.lock"
    env = {"OLLAMA_JUDGE_PULL_LOCK": str(lock), "OLLAMA_JUDGE_LOCK_STALE_SECONDS": "1"}
    with held_lock(lock, "other-pod 1"):
        judge = ollama.start("pull", "llama3.2", **env)
        time.sleep(3)
        assert judge.poll() is None, "it took the lock of a live holder"
    output = judge.communicate(timeout=30)[0]
    assert judge.returncode == 0, output
    assert "waiting for other-pod 1, which pulls models into the same volume" in output
    assert "taking over" not in output


@on_the_scripts_clock
def a_lock_whose_heartbeat_stopped_is_taken_over(ollama: FakeOllama, tmp_path: Path):
    ollama.server_up()
    lock = tmp_path / "pull.lock"
    env = {"OLLAMA_JUDGE_PULL_LOCK": str(lock), "OLLAMA_JUDGE_LOCK_STALE_SECONDS": "2"}
    with held_lock(lock, "dead-pod 7", beating=False):
        started = time.monotonic()
        result = ollama.run("pull", "llama3.2", **env)
        assert 2 <= time.monotonic() - started < 10
        lock.mkdir()  # for held_lock's clean-up: the script removed it
    assert result.returncode == 0, result.stdout
    # Whole seconds by the script's clock: at least the 2 s, more on a busy machine.
    silent = re.search(
        r"taking over the pull lock of dead-pod 7 \(silent for (\d+)s\)", result.stdout
    )
    assert silent and int(silent.group(1)) >= 2, result.stdout
    assert ollama.calls("pull") == ["pull llama3.2"]


def test_a_lock_of_an_earlier_start_of_this_container_is_taken_over_at_once(
    ollama: FakeOllama, tmp_path: Path
):
    ollama.server_up()
    lock = tmp_path / "pull.lock"
    gone = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True).stdout.strip()
    with held_lock(lock, f"{os.uname().nodename} {gone}", beating=False):
        started = time.monotonic()
        result = ollama.run("pull", "llama3.2", OLLAMA_JUDGE_PULL_LOCK=str(lock))
        assert time.monotonic() - started < 5, "it waited for the heartbeat"
        lock.mkdir()
    assert result.returncode == 0, result.stdout
    assert f"taking over the pull lock of {os.uname().nodename} {gone}" in result.stdout


@on_the_scripts_clock
def waiting_for_the_lock_counts_against_the_pull_budget(ollama: FakeOllama, tmp_path: Path):
    ollama.server_up()
    lock = tmp_path / "pull.lock"
    with held_lock(lock, "slow-pod 1"):
        result = ollama.run(
            "pull", "llama3.2", OLLAMA_JUDGE_PULL_LOCK=str(lock), OLLAMA_JUDGE_PULL_SECONDS="2"
        )
    assert result.returncode == 1
    assert (
        "could not pull llama3.2: no time left in the pull budget of 2s while slow-pod 1 "
        "pulled into the same volume"
    ) in result.stdout
    assert ollama.calls("pull") == []


def test_a_failed_pull_releases_the_lock(ollama: FakeOllama, tmp_path: Path):
    ollama.server_up()
    ollama.set("pull-fails", "9")
    lock = tmp_path / "pull.lock"
    result = ollama.run(
        "pull", "llama3.2", OLLAMA_JUDGE_PULL_LOCK=str(lock), OLLAMA_JUDGE_PULL_ATTEMPTS="1"
    )
    assert result.returncode == 1
    assert not lock.exists()


@on_the_scripts_clock
def a_holder_pulling_longer_than_the_stale_time_keeps_its_lock_by_its_heartbeat(
    ollama: FakeOllama, tmp_path: Path
):
    ollama.server_up()
    ollama.set("pull-seconds", "5")
    env = {
        "OLLAMA_JUDGE_PULL_LOCK": str(tmp_path / "pull.lock"),
        "OLLAMA_JUDGE_LOCK_STALE_SECONDS": "4",
    }
    first = ollama.start("pull", "llama3.2", **env)
    _wait_for(lambda: (tmp_path / "pull.lock" / "holder").exists())
    second = ollama.start("pull", "llama3.2", **env)
    outputs = [judge.communicate(timeout=60)[0] for judge in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    assert "taking over" not in outputs[1]
    assert not (ollama.state / "overlap").exists()
    assert ollama.calls("pull") == ["pull llama3.2"]


def test_a_lock_that_cannot_be_made_is_done_without(ollama: FakeOllama, tmp_path: Path):
    ollama.server_up()
    lock = tmp_path / "no-such-volume" / "pull.lock"
    result = ollama.run("pull", "llama3.2", OLLAMA_JUDGE_PULL_LOCK=str(lock))
    assert result.returncode == 0, result.stdout
    assert "pulling without a lock: mkdir: " in result.stdout
    assert ollama.calls("pull") == ["pull llama3.2"]


def holders_of(pipe_end: int) -> list[str]:
    """The other processes that have the pipe of `pipe_end` open, by their command line."""
    pipe = f"pipe:[{os.fstat(pipe_end).st_ino}]"
    found = []
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        pid = fd.parts[2]
        try:
            if pid != str(os.getpid()) and os.readlink(fd) == pipe:
                found.append(Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " "))
        except OSError:
            continue  # gone meanwhile
    return found


# A `timeout` that behaves as busybox's does (the one in some Ollama images): a watcher
# that outlives the command (busybox's by up to a second, this one by five), its standard
# streams on /dev/null and every other descriptor it was given still open.
BUSYBOX_LIKE_TIMEOUT = """#!/bin/sh
shift
sleep 5 </dev/null >/dev/null 2>&1 &
exec "$@"
"""


def test_a_hook_leaves_nothing_holding_its_callers_output(ollama: FakeOllama, tmp_path: Path):
    """The kubelet's hook ends when its output closes, not when the script exits: a
    heartbeat left holding the caller's stderr kept the judge unready for its last
    sleep (up to 15 s), and busybox's `timeout` watchers for up to a second."""
    ollama.server_up()
    read_end, write_end = os.pipe()
    busybox = tmp_path / "busybox"
    busybox.mkdir()
    (busybox / "timeout").write_text(BUSYBOX_LIKE_TIMEOUT)
    (busybox / "timeout").chmod(0o755)
    env = {
        **ollama.env,
        "PATH": f"{busybox}:{ollama.env['PATH']}",
        "OLLAMA_JUDGE_LOG": str(tmp_path / "container.log"),
        "OLLAMA_JUDGE_PULL_LOCK": str(tmp_path / "pull.lock"),
    }
    hook = subprocess.Popen(
        model_script_command("pull", ("llama3.2",)), env=env, stdout=write_end, stderr=write_end
    )
    os.close(write_end)
    try:
        assert hook.wait(timeout=60) == 0
        assert "pulled llama3.2" in (tmp_path / "container.log").read_text()
        assert holders_of(read_end) == []
    finally:
        os.close(read_end)


def test_scenarios_on_the_scripts_clock(tmp_path: Path, subtests: pytest.Subtests):
    def run(name: str, scenario: Callable[..., None]) -> None:
        root = tmp_path / name
        root.mkdir()
        given = {"ollama": FakeOllama(root), "tmp_path": root}
        scenario(**{key: given[key] for key in inspect.signature(scenario).parameters})

    with ThreadPoolExecutor(len(ON_THE_SCRIPTS_CLOCK)) as pool:
        running = {
            name: pool.submit(run, name, scenario)
            for name, scenario in ON_THE_SCRIPTS_CLOCK.items()
        }
    for name, done in running.items():
        with subtests.test(name):
            done.result()
