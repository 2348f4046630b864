"""The manifests the real kubernetes provider renders for each Kubernetes config, pinned in
tests/golden/rendered-*/ (the program's registrations under mocks are pinned by
tests/program/test_program_golden.py). To write them anew after a deliberate change:
OLLAMA_JUDGE_WRITE_GOLDEN=1, then review the diff."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.e2e.engine import ProjectCopy
from tests.program.test_program_golden import CONFIGS, GOLDEN

pytestmark = [pytest.mark.e2e, pytest.mark.engine]

KUBERNETES_CONFIGS = ("knitfab", "kubernetes-every-option", "kubernetes-cpu-policy-in-namespace")


def manifests(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): path.read_text()
        for path in sorted(directory.rglob("*.yaml"))
    }


@pytest.mark.parametrize("name", KUBERNETES_CONFIGS)
def test_rendered_manifests_are_what_they_were(name: str, engine: dict[str, str], tmp_path: Path):
    project = ProjectCopy(tmp_path)
    rendered = tmp_path / "rendered"
    config = {
        **{f"ollama-judge:{key}": value for key, value in CONFIGS[name].items()},
        "kubernetes:renderYamlToDirectory": str(rendered),
    }
    project.stack("knitfab", config).up()
    golden = GOLDEN / f"rendered-{name}"
    if os.environ.get("OLLAMA_JUDGE_WRITE_GOLDEN"):
        shutil.rmtree(golden, ignore_errors=True)
        shutil.copytree(rendered, golden)
        pytest.fail(f"wrote {golden}: review the diff, then run without the variable")
    assert manifests(rendered) == manifests(golden)
