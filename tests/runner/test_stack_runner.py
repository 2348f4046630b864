"""The stack runner's own behaviour without an engine: the CLI's commands it runs for each
operation (stack_runner/cli.py), the Automation API's reads it skips
(stack_runner/engine_only.py), and what it imports of Pulumi."""

from __future__ import annotations

import ast
import contextlib
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto
from pulumi.automation.errors import create_command_error
from semver import VersionInfo

from stack_runner import cli, repair
from stack_runner.engine_only import EngineOnlyCommand, engine_only

PROJECT_DIR = Path(__file__).resolve().parents[2]


class FakeCLI(EngineOnlyCommand):
    """The CLI as far as the Automation API sees it: every command succeeds with no
    output, but `failing` ones; each command that ran is recorded."""

    def __init__(self, failing: str = "") -> None:  # no `pulumi version`
        self.command, self.version = "pulumi", VersionInfo.parse("3.260.0")
        self.failing = failing
        self.runs: list[str] = []


@pytest.fixture
def fake_cli(monkeypatch: pytest.MonkeyPatch) -> type[FakeCLI]:
    def run(self: FakeCLI, args: list[str], *rest: Any, **options: Any) -> auto.CommandResult:
        self.runs.append(args[0])
        code = 255 if args[0] == self.failing else 0
        args.insert(0, "--non-interactive")  # as the real one does
        result = auto.CommandResult(stdout="", stderr="error: failed" if code else "", code=code)
        if code:
            raise create_command_error(result)
        return result

    # Below EngineOnlyCommand, where the real CLI would run.
    monkeypatch.setattr(auto.PulumiCommand, "run", run)
    return FakeCLI


def stack_of(command: FakeCLI, tmp_path: Path) -> auto.Stack:
    (tmp_path / "Pulumi.yaml").write_text("name: probe\nruntime: python\n")
    workspace = auto.LocalWorkspace(
        work_dir=str(tmp_path), program=lambda: None, pulumi_command=command
    )
    return auto.Stack.create_or_select("dev", workspace)


def test_up_within_engine_only_runs_nothing_after_the_engine(fake_cli, tmp_path: Path):
    command = fake_cli()
    stack = stack_of(command, tmp_path)
    with engine_only(stack):
        stack.up()
    assert command.runs == ["stack", "up"]
    # Outside, the Automation API reads the result back as usual.
    with contextlib.suppress(Exception):  # it finds no outputs in the fake's silence
        stack.up()
    assert command.runs[2:4] == ["up", "stack"]


def test_a_failed_engine_command_within_engine_only_raises(fake_cli, tmp_path: Path):
    stack = stack_of(fake_cli(failing="destroy"), tmp_path)
    with pytest.raises(auto.CommandError), engine_only(stack):
        stack.destroy()


class RecordingStack:
    """A stack whose operations only record what they were asked."""

    name = "local"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, operation: str) -> Any:
        if operation not in ("preview", "preview_destroy", "up", "destroy", "refresh"):
            raise AttributeError(operation)
        return lambda **options: self.calls.append((operation, options))


def operations(argv: list[str], answer: str | None, monkeypatch: pytest.MonkeyPatch):
    """What `run` asks of the stack, and the questions it asks, for a command line."""
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        assert answer is not None, f"asked {prompt!r}"
        return answer

    monkeypatch.setattr("builtins.input", ask)
    monkeypatch.setattr(repair, "engine_only", lambda stack: contextlib.nullcontext())
    stack = RecordingStack()
    args = cli.parse_args(argv)
    went_on = cli.run("up" if args.operation == "update" else args.operation, stack, args)
    return [name for name, _ in stack.calls], asked, went_on


@pytest.mark.parametrize(
    ("argv", "answer", "ran", "went_on"),
    [
        (["up"], "yes", ["preview", "up"], True),
        (["up"], "no", ["preview"], False),
        (["up", "--yes"], None, ["preview", "up"], True),
        (["up", "--skip-preview"], None, ["up"], True),
        (["update", "-f"], None, ["up"], True),
        (["destroy", "--yes"], None, ["preview_destroy", "destroy"], True),
        (["destroy", "--skip-preview"], None, ["destroy"], True),
        (["preview"], None, ["preview"], True),
        (["refresh"], None, ["refresh"], True),
    ],
)
def test_up_and_destroy_preview_and_ask_as_the_cli_does(
    argv: list[str], answer: str | None, ran: list[str], went_on: bool, monkeypatch
):
    calls, asked, result = operations(argv, answer, monkeypatch)
    assert calls == ran
    assert len(asked) == (answer is not None)
    assert result is went_on


def test_the_preview_before_up_shows_what_up_will_do_but_expects_no_change_only_after(
    monkeypatch,
):
    stack = RecordingStack()
    monkeypatch.setattr(repair, "engine_only", lambda stack: contextlib.nullcontext())
    args = cli.parse_args(["up", "--yes", "--diff", "-t", "urn:x", "--expect-no-changes"])
    cli.run("up", stack, args)
    [(_, preview), (_, up)] = stack.calls
    assert {k: preview[k] for k in ("diff", "target")} == {"diff": True, "target": ["urn:x"]}
    assert "expect_no_changes" not in preview and up["expect_no_changes"] is True


@pytest.mark.parametrize("operation", ["up", "destroy"])
def test_without_a_terminal_up_and_destroy_need_yes_or_skip_preview(
    operation: str, monkeypatch, capsys
):
    class Started(Exception):  # noqa: N818 (not an error: how far main got)
        pass

    def start() -> None:
        raise Started

    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    monkeypatch.setattr(cli, "RunnerCommand", start)
    assert cli.main([operation, "--stack", "local"]) == 2
    assert "--yes or --skip-preview must be passed in to proceed" in capsys.readouterr().err
    for flag in ("--yes", "--skip-preview"):
        with pytest.raises(Started):
            cli.main([operation, "--stack", "local", flag])


def private_pulumi_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [n for n in names if n.startswith("pulumi") and "._" in n]
    return found


def test_nothing_imports_a_private_module_of_pulumi():
    sources = [p for p in PROJECT_DIR.rglob("*.py") if ".venv" not in p.parts]
    assert {str(p): private_pulumi_imports(p) for p in sources if private_pulumi_imports(p)} == {}


def test_the_words_of_a_failed_command_whose_output_is_not_shown_reach_the_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    # A CLI that fails every command, as without PULUMI_CONFIG_PASSPHRASE: the runner's
    # first command (stack select) shows no output of its own.
    failing = tmp_path / "pulumi"
    failing.write_text("#!/bin/sh\necho 'error: passphrase must be set' >&2\nexit 255\n")
    failing.chmod(0o755)

    class FailingCLI(cli.RunnerCommand):
        def __init__(self) -> None:  # no `pulumi version`
            self.command = str(failing)

    monkeypatch.setattr(cli, "RunnerCommand", FailingCLI)
    monkeypatch.setattr(cli, "forward_signals", lambda command: None)
    assert cli.main(["up", "--stack", "local", "--skip-preview"]) == 1
    said = capsys.readouterr().err
    assert said.index("error: passphrase must be set") < said.index("the reason is above")
