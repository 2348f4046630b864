"""stack_runner/stacks.py: the program's imports for its target, made ahead."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stack_runner import stacks as program_imports
from stack_runner.stacks import import_ahead

PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_the_committed_stacks_targets_are_read_from_their_files():
    assert import_ahead(PROJECT_DIR, "local") is None  # docker: nothing to import ahead
    thread = import_ahead(PROJECT_DIR, "knitfab")  # kubernetes
    assert thread is not None
    thread.join(timeout=30)
    assert set(program_imports.TARGET_MODULES["kubernetes"]) <= set(sys.modules)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "config: [",
        "config:\n  ollama-judge:models: []\n",
        "config:\n  ollama-judge:target: [1]\n",
    ],
)
def test_a_stack_file_that_does_not_say_gives_no_target(tmp_path: Path, text: str | None):
    if text is not None:
        (tmp_path / "Pulumi.knitfab.yaml").write_text(text)
    assert import_ahead(tmp_path, "knitfab") is None


def test_the_targets_modules_are_imported_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "Pulumi.knitfab.yaml").write_text("config:\n  ollama-judge:target: kubernetes\n")
    (tmp_path / "ahead_probe.py").write_text("IMPORTED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(program_imports, "TARGET_MODULES", {"kubernetes": ("ahead_probe",)})
    monkeypatch.delitem(sys.modules, "ahead_probe", raising=False)
    thread = import_ahead(tmp_path, "knitfab")
    assert thread is not None
    thread.join(timeout=30)
    assert sys.modules["ahead_probe"].IMPORTED


def test_the_modules_imported_ahead_are_the_ones_the_program_imports():
    program = (PROJECT_DIR / "__main__.py").read_text()
    for module in program_imports.TARGET_MODULES["kubernetes"]:
        assert f"from {module} import" in program
