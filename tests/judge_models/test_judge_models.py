"""`scripts/judge-models` against stacks that answer as the Automation API's do: their
outputs, their config as Pulumi stores it, and the config it sets (by path)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pulumi import automation as auto

from judge_models.__main__ import NotDeployedError, compare, pin

A = f"sha256:{'a' * 64}"
B = f"sha256:{'b' * 64}"
REGISTRY_MODEL = "registry.lan:5000/team/judge:1"


class Stack:
    def __init__(self, name: str, outputs: dict[str, Any], models: list[str] | None = None):
        self.name, self._outputs = name, outputs
        self.config = {"ollama-judge:target": "docker"}
        if models is not None:
            self.config["ollama-judge:models"] = json.dumps(models)
        self.set: list[tuple[str, str]] = []

    def outputs(self) -> dict[str, auto.OutputValue]:
        return {key: auto.OutputValue(value, False) for key, value in self._outputs.items()}

    def get_all_config(self) -> dict[str, auto.ConfigValue]:
        return {key: auto.ConfigValue(value) for key, value in self.config.items()}

    def set_config(self, key: str, value: auto.ConfigValue, path: bool = False) -> None:
        assert path
        self.set.append((key, value.value))


def deployed(name: str, digests: dict[str, str], version: str = "0.34.1", **more: Any) -> Stack:
    return Stack(name, {"modelDigests": digests, "ollamaVersion": version}, **more)


def test_pin_writes_each_models_digest_in_its_place(capsys: pytest.CaptureFixture[str]):
    stack = deployed("local", {"llama3.2": A, REGISTRY_MODEL: B},
                     models=["llama3.2", f"{REGISTRY_MODEL}@{B}"])  # fmt: skip
    assert pin(stack) == 0  # type: ignore[arg-type]
    assert stack.set == [
        ("ollama-judge:models[0]", f"llama3.2@{A}"),
        ("ollama-judge:models[1]", f"{REGISTRY_MODEL}@{B}"),
    ]
    assert capsys.readouterr().out.splitlines() == [
        f"ollama-judge:models[0]: llama3.2@{A}",
        f"ollama-judge:models[1]: {REGISTRY_MODEL}@{B} (unchanged)",
    ]


def test_pin_takes_the_default_model_when_the_stack_file_names_none():
    stack = deployed("local", {"llama3.2": A})
    pin(stack)  # type: ignore[arg-type]
    assert stack.set == [("ollama-judge:models[0]", f"llama3.2@{A}")]


def test_pin_refuses_a_model_the_judge_has_not_reported_and_writes_nothing():
    stack = deployed("knitfab", {"llama3.2": A}, models=["llama3.2", "qwen2.5:7b"])
    with pytest.raises(
        NotDeployedError, match=re.escape("has not reported qwen2.5:7b: deploy the stack")
    ):
        pin(stack)  # type: ignore[arg-type]
    assert stack.set == []


@pytest.mark.parametrize(
    ("outputs", "says"),
    [
        ({}, "stack local has no outputs: deploy it first (scripts/deploy local)"),
        ({"models": ["llama3.2"]}, "before its judge reported its models' digests"),
    ],
)
def test_a_stack_whose_outputs_cannot_tell_says_what_to_run(outputs: dict[str, Any], says: str):
    with pytest.raises(NotDeployedError, match=re.escape(says)):
        pin(Stack("local", outputs))  # type: ignore[arg-type]


def test_stacks_with_the_same_models_and_ollama_compare_equal(capsys: pytest.CaptureFixture[str]):
    # llama3.2 is llama3.2:latest to Ollama.
    local = deployed("local", {"llama3.2": A, REGISTRY_MODEL: B})
    knitfab = deployed("knitfab", {"llama3.2:latest": A, REGISTRY_MODEL: B})
    assert compare(local, knitfab) == 0  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert out.startswith("local and knitfab judge alike: ") and "Ollama 0.34.1" in out


def test_a_difference_is_named_and_the_exit_status_is_not_zero(
    capsys: pytest.CaptureFixture[str],
):
    local = deployed("local", {"llama3.2": A, REGISTRY_MODEL: B}, version="0.34.1")
    knitfab = deployed("knitfab", {"llama3.2": B}, version="0.33.0")
    assert compare(local, knitfab) == 1  # type: ignore[arg-type]
    assert capsys.readouterr().out.splitlines() == [
        "local and knitfab judge differently:",
        f"  {REGISTRY_MODEL}: local {B}, knitfab does not have it",
        f"  llama3.2: local {A}, knitfab {B}",
        "  Ollama: local 0.34.1, knitfab 0.33.0",
    ]
