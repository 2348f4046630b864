"""What a pull request changes in the desired state of a stack, without credentials.

The program of the base commit (from git) and the program of the working tree each run
against a throwaway file backend with an empty passphrase (review_comment/render.py, in a
process of its own), and their resources are compared.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from review_comment.markdown import SECRET, Change, StackReview, path_key

PROJECT_DIR = Path(__file__).resolve().parent.parent
# What the program of a commit is made of (copied or taken from git).
PROGRAM_FILES = ("Pulumi.yaml", "Pulumi.local.yaml", "Pulumi.knitfab.yaml", "__main__.py")
PROGRAM_DIRS = ("components",)
# Stack config that says where the live cluster or engine is, not what to deploy.
ACCESS_KEYS = ("kubernetes:kubeconfig", "kubernetes:context", "kubernetes:cluster", "docker:host")


def program_of(ref: str, into: Path) -> Path:
    """The program files of a git commit, unpacked into `into`."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(PROJECT_DIR), "archive", ref, *PROGRAM_FILES, *PROGRAM_DIRS],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def program_copy(source: Path, into: Path) -> Path:
    """The program files of a directory (a checkout), copied: rendering sets stack
    config, which must not reach the checkout's stack files."""
    into.mkdir(parents=True)
    for name in PROGRAM_FILES:
        shutil.copy(source / name, into / name)
        if name.startswith("Pulumi.") and name != "Pulumi.yaml":
            without_secrets(into / name)
    for name in PROGRAM_DIRS:
        shutil.copytree(source / name, into / name, ignore=shutil.ignore_patterns("__pycache__"))
    return into


def without_secrets(stack_file: Path) -> None:
    """The stack file without what needs credentials: the salt (or key) that ties it to
    the live state's secrets provider, secret values (they become [secret]), and where
    the cluster or the Docker engine is (the render mode refuses a kubeconfig)."""
    settings = yaml.safe_load(stack_file.read_text()) or {}
    for key in ("encryptionsalt", "encryptedkey", "secretsprovider"):
        settings.pop(key, None)
    config = settings.get("config") or {}
    for key in ACCESS_KEYS:
        config.pop(key, None)
    for key, value in config.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[key] = SECRET
    stack_file.write_text(yaml.safe_dump(settings))


def desired_resources(program_dir: Path, stack: str, scratch: Path) -> dict[str, Any]:
    """The resources the program at `program_dir` declares, from review_comment/render.py
    in its own process (the two commits' `components` must not meet in one)."""
    state = scratch / "state"
    state.mkdir(parents=True)
    env = {
        **os.environ,
        "PULUMI_BACKEND_URL": f"file://{state}",
        "PULUMI_CONFIG_PASSPHRASE": "",
        # No kubeconfig, no Docker engine and no registry is asked: the program's
        # pre-flights find none and say they could not check, which is what they do for
        # any user without access.
        "KUBECONFIG": str(scratch / "no-kubeconfig"),
        "DOCKER_HOST": f"unix://{scratch / 'no-docker.sock'}",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "",
    }
    env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
    result = subprocess.run(
        [
            sys.executable,
            str(PROJECT_DIR / "review_comment" / "render.py"),
            str(program_dir),
            stack,
            str(scratch / "rendered"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"the program at {program_dir} did not render stack {stack}:\n{result.stderr}"
        )
    return dict(json.loads(result.stdout))


def _flat(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for key, child in value.items():
            step = path_key(str(key))
            out.update(
                _flat(child, f"{path}.{step}" if path and not step.startswith("[") else path + step)
            )
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, child in enumerate(value):
            out.update(_flat(child, f"{path}[{index}]"))
        return out
    return {path: value}


def changed_paths(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    a, b = _flat(old), _flat(new)
    return tuple(sorted(p for p in a.keys() | b.keys() if a.get(p) != b.get(p)))


# Resources whose providers replace them on any change of these inputs (the docker
# provider cannot change a container's, volume's or network's settings in place; a
# claim's storage class and access modes are immutable). Other changes are updates.
REPLACED_ON = {
    "docker:index/container:Container": ("",),
    "docker:index/volume:Volume": ("",),
    "docker:index/network:Network": ("",),
    "kubernetes:core/v1:PersistentVolumeClaim": (
        "spec.storageClassName",
        "spec.accessModes",
        "metadata.name",
        "metadata.namespace",
    ),
}


def desired_op(type_: str, paths: tuple[str, ...]) -> str:
    prefixes = REPLACED_ON.get(type_, ())
    return "replace" if any(p.startswith(prefixes) for p in paths) and prefixes else "update"


def diff_desired(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[Change]:
    """Changes from the base commit's resources to the head commit's, by URN."""
    changes = []
    for urn in sorted(base.keys() | head.keys()):
        old, new = base.get(urn), head.get(urn)
        if old is None and new is not None:
            changes.append(Change(urn, new["type"], "create", (), {}, new["inputs"]))
        elif new is None and old is not None:
            changes.append(
                Change(urn, old["type"], "delete", (), old["inputs"], {}, old["retainOnDelete"])
            )
        elif old is not None and new is not None:
            paths = changed_paths(old["inputs"], new["inputs"])
            if paths:
                changes.append(
                    Change(
                        urn,
                        new["type"],
                        desired_op(new["type"], paths),
                        paths,
                        old["inputs"],
                        new["inputs"],
                        old["retainOnDelete"],
                    )
                )
    return changes


def desired_changes(base: Path, head: Path, stack: str) -> list[Change]:
    """What changes in the desired state of `stack` from the program at `base` to the
    one at `head` (directories with the program files)."""
    with tempfile.TemporaryDirectory(prefix="review-") as scratch_dir:
        scratch = Path(scratch_dir)
        before = desired_resources(
            program_copy(base, scratch / "base" / "program"), stack, scratch / "base"
        )
        after = desired_resources(
            program_copy(head, scratch / "head" / "program"), stack, scratch / "head"
        )
    return diff_desired(before, after)


def desired_state_review(stack: str, base_ref: str, head: Path = PROJECT_DIR) -> StackReview:
    with tempfile.TemporaryDirectory(prefix="review-base-") as base_dir:
        base = program_of(base_ref, Path(base_dir) / "program")
        changes = desired_changes(base, head, stack)
    return StackReview(
        stack, changes, mode="desired", notes=(f"Base: `{base_ref}`; head: this checkout.",)
    )
