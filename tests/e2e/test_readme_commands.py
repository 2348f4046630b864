"""Every command the README and docs/ show, and the fix a config error names, run as typed in a
copy of the project, as a new user would type them: in a terminal (a pseudo-terminal
here, answering the confirmation as a user would), from the project's directory.

The copy carries the test host's overrides in its Pulumi.local.yaml (no GPU, a free
port, and as its one model a tiny judge model that the test puts in the model volume
first, as nothing here can download one) and a state backend of its own. Left out:
`scripts/test`, which is what runs this test; the `scripts/judge-check` lines that ask
for another model or another judge than the stack's (tests/e2e/test_judge_stack.py asks
those); and the commands that deploy or compare with stack `knitfab`, which need a
Knitfab cluster (tests/e2e/test_knitfab_*.py deploy it through the same runner).
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.e2e import docker_host as host
from tests.e2e.engine import PROJECT_DIR, user_clone
from tests.e2e.judge_model import write_judge_model
from tests.e2e.ollama_server import running_ollama

pytestmark = [pytest.mark.e2e, pytest.mark.recovery, pytest.mark.engine, pytest.mark.local]

# scripts/test runs this test; these judge-check lines ask a model or a judge this test
# does not have (tests/e2e/test_judge_stack.py does); scripts/review previews stack
# knitfab too and reads git history, which this copy has not (tests/e2e/test_review.py
# runs it); comparing with stack knitfab needs it deployed (tests/e2e/test_judge_identity.py
# compares the two).
SKIPPED = (
    "scripts/test",
    "scripts/judge-check local --model",
    "scripts/judge-check --url",
    "scripts/review",
    "scripts/judge-models compare",
)


# The README first, then the pages it links to, in the order a reader follows them.
PAGES = (
    "README.md",
    "docs/configuration.md",
    "docs/how-it-works.md",
    "docs/troubleshooting.md",
    "docs/review-comment.md",
    "docs/benchmarks.md",
    "docs/testing.md",
    "docs/toolchain.md",
    "docs/layout.md",
)


def readme_commands() -> list[str]:
    """The commands of the README's and docs/'s bash blocks that run something of this
    project, then the complete `scripts/pulumi` commands of their text (not templates
    such as `up|destroy`)."""
    text = "\n".join((PROJECT_DIR / page).read_text() for page in PAGES)
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL):
        for line in block.splitlines():
            command = line.split("  #", 1)[0].strip()
            if command.startswith("scripts/") and not command.startswith(SKIPPED):
                commands.append(command)
    for span in re.findall(r"`(scripts/pulumi [^`]+)`", text):
        command = " ".join(span.split())
        templates = any(mark in command for mark in ("|", "[", "..."))
        needs_cluster = "knitfab" in command and not command.startswith("scripts/pulumi config")
        if command.endswith("--stack") or templates or needs_cluster or command in commands:
            continue
        if "--stack" in command:
            commands.append(command)
    return commands


def run_in_terminal(command: str, cwd: Path, env: dict[str, str], answer: str = "yes") -> str:
    """Runs `command` with a pseudo-terminal as its stdin and stdout, answers a
    confirmation prompt, and returns what it printed; fails on a non-zero exit."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: a shell running the command as typed
        os.chdir(cwd)
        os.execvpe("bash", ["bash", "-c", command], env)
    output = b""
    answered = False
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
            if not answered and b"Do you want to perform this" in output:
                os.write(fd, f"{answer}\n".encode())
                answered = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = output.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, f"`{command}` failed:\n{text}"
    return text


@pytest.fixture
def clone(engine: dict[str, str], judge_image: str, names_free: None, tmp_path: Path):
    """The project as a user's clone, sharing this checkout's .venv (the pins are the same)."""
    clone = user_clone(tmp_path)
    stack_file = clone / "Pulumi.local.yaml"
    settings = yaml.safe_load(stack_file.read_text())
    seed_model_volume(tmp_path / "model")
    settings["config"]["ollama-judge:models"] = [SEEDED_MODEL]
    settings["config"]["ollama-judge:docker"].update(hostPort=host.free_port())
    stack_file.write_text(yaml.safe_dump(settings))
    yield clone
    # The README's examples point the stack elsewhere (docker:host, say): back to this
    # host's settings, keeping the salt the engine added.
    salt = yaml.safe_load(stack_file.read_text()).get("encryptionsalt")
    stack_file.write_text(
        yaml.safe_dump({**settings, **({"encryptionsalt": salt} if salt else {})})
    )
    env = user_env(tmp_path)
    subprocess.run(["scripts/deploy", "local", "destroy"], cwd=clone, env=env, check=False)
    host.remove_judge_objects()


SEEDED_MODEL = "judge-tiny"


def seed_model_volume(directory: Path) -> None:
    """The judge's model volume with the tiny judge model in it, made by `ollama create`
    in a throwaway server that mounts the volume."""
    files = write_judge_model(directory)
    mounts = [f"{host.JUDGE_NAMES['volume']}:/root/.ollama", f"{directory}:/model:ro"]
    with running_ollama("ollama-judge-e2e-seed", host.IMAGE, "bridge", mounts=mounts) as server:
        server.exec("ollama", "create", SEEDED_MODEL, "-f", f"/model/{files.modelfile.name}")


def user_env(tmp_path: Path) -> dict[str, str]:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PULUMI_CONFIG_PASSPHRASE"}
    return {**env, "PULUMI_BACKEND_URL": f"file://{state}", "TERM": "dumb"}


def test_the_readme_shows_the_commands_people_need():
    commands = readme_commands()
    assert "scripts/deploy local" in commands
    assert "scripts/pulumi up --stack local" in commands
    assert any(c.startswith("scripts/pulumi config set") for c in commands)


def test_every_command_the_readme_and_docs_show_works_as_typed(clone: Path, tmp_path: Path):
    env = user_env(tmp_path)
    for command in readme_commands():
        output = run_in_terminal(command, clone, env)
        if command.startswith("scripts/pulumi stack output openaiBaseUrl"):
            assert "http://ollama:11434/v1" in output
        if command.startswith("scripts/judge-check"):
            assert "verdict: score" in output
    host.docker_health("ollama")


def test_the_fix_a_config_error_names_works_as_typed(clone: Path, tmp_path: Path):
    env = user_env(tmp_path)
    typo = "scripts/pulumi config set --path 'ollama-judge:docker.restart' sometimes --stack local"
    run_in_terminal(typo, clone, env)
    failed = subprocess.run(
        ["scripts/pulumi", "preview", "--stack", "local"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode != 0
    fix = re.search(r"Fix it with: (scripts/pulumi config set [^\n]*?)(?:\n|$)", failed.stdout)
    assert fix, failed.stdout + failed.stderr
    assert fix.group(1) == (
        "scripts/pulumi config set --path 'ollama-judge:docker.restart' unless-stopped "
        "--stack local"
    )
    run_in_terminal(fix.group(1), clone, env)
    run_in_terminal("scripts/pulumi preview --stack local", clone, env)


def test_every_page_in_docs_is_one_whose_commands_are_run():
    assert sorted(str(p.relative_to(PROJECT_DIR)) for p in (PROJECT_DIR / "docs").glob("*.md")) == (
        sorted(PAGES[1:])
    )
