"""What a pull request changes in the desired state of a stack, without credentials: the
programs of the base commit (from git) and of the working tree each run against a throwaway
file backend with an empty passphrase (render.py), and their resources are compared."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from review_comment.markdown import CLAIM, CONTAINER, SECRET, VOLUME, Change, StackReview

PROJECT_DIR = Path(__file__).resolve().parent.parent
# What the program of a commit is made of (copied or taken from git).
PROGRAM_FILES = ("Pulumi.yaml", "Pulumi.local.yaml", "Pulumi.knitfab.yaml", "__main__.py")
PROGRAM_DIRS = ("components",)
# Stack config that says where the live cluster or engine is, not what to deploy.
ACCESS_KEYS = ("kubernetes:kubeconfig", "kubernetes:context", "kubernetes:cluster", "docker:host")
# What the providers replace a resource for: a change of an input under one of these paths
# (the docker provider cannot change a container's, volume's or network's settings in
# place; a claim's storage class and access modes are immutable). Other changes update.
REPLACED_ON = {
    CONTAINER: ("",),
    VOLUME: ("",),
    "docker:index/network:Network": ("",),
    CLAIM: ("spec.storageClassName", "spec.accessModes", "metadata.name", "metadata.namespace"),
}


def program_copy(source: Path, into: Path) -> Path:
    """The program files of a checkout, copied: rendering sets stack config, which must not
    reach the checkout's stack files."""
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


def desired_resources(program: Path, stack: str, scratch: Path) -> dict[str, Any]:
    """The resources the program at `program` declares for `stack` and its warnings, rendered
    from a copy in `scratch` by render.py in a process of its own (two commits' `components`
    must not meet)."""
    state = scratch / "state"
    state.mkdir(parents=True)
    env = {
        **os.environ,
        "PULUMI_BACKEND_URL": f"file://{state}",
        "PULUMI_CONFIG_PASSPHRASE": "",
        # No kubeconfig, Docker engine or registry is asked: the pre-flights say they could
        # not check, as for any user without access (in words that name no scratch path).
        "KUBECONFIG": "/nonexistent/kubeconfig",
        "DOCKER_HOST": "unix:///nonexistent/docker.sock",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "",
    }
    env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
    copy = program_copy(program, scratch / "program")
    render = Path(__file__).with_name("render.py")
    command = [sys.executable, str(render), str(copy), stack, str(scratch / "rendered")]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"the program at {program} did not render stack {stack}:\n{result.stderr}"
        )
    return dict(json.loads(result.stdout))


def _child_path(path: str, key: str) -> str:
    """`path`'s child `key` as the engine writes it: `a.b`, or `a["nvidia.com/gpu"]`."""
    if re.search(r'[.\[\]"]', key):
        return f"{path}[{json.dumps(key)}]"
    return f"{path}.{key}" if path else key


def leaves(value: Any, path: str = "") -> dict[str, Any]:
    """Every leaf of an input by its property path; an empty dict or list is a leaf."""
    if isinstance(value, Mapping) and value:
        children = {_child_path(path, str(key)): child for key, child in value.items()}
    elif isinstance(value, list) and value:
        children = {f"{path}[{index}]": child for index, child in enumerate(value)}
    else:
        return {path: value}
    return {leaf: v for step, child in children.items() for leaf, v in leaves(child, step).items()}


def diff_desired(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[Change]:
    changes = []
    for urn in sorted(base.keys() | head.keys()):
        old, new = base.get(urn, {}), head.get(urn, {})
        before, after = old.get("inputs", {}), new.get("inputs", {})
        was, will = leaves(before), leaves(after)
        paths = tuple(sorted(p for p in was.keys() | will.keys() if was.get(p) != will.get(p)))
        if not old:
            op, paths = "create", ()
        elif not new:
            op, paths = "delete", ()
        elif paths:
            replaced_on = REPLACED_ON.get(new["type"], ())
            op = "replace" if any(p.startswith(replaced_on) for p in paths) else "update"
        else:
            continue
        retained = bool(old.get("retainOnDelete"))
        changes.append(Change(urn, (new or old)["type"], op, paths, before, after, retained))
    return changes


def desired_changes(base: Path, head: Path, stack: str) -> tuple[list[Change], list[str]]:
    """The desired-state changes of `stack` from the program in directory `base` to `head`'s,
    and what `head`'s program warns of without the engine or cluster (what depends on them)."""
    with tempfile.TemporaryDirectory(prefix="review-") as scratch:
        before = desired_resources(base, stack, Path(scratch) / "base")
        after = desired_resources(head, stack, Path(scratch) / "head")
    return diff_desired(before["resources"], after["resources"]), after["warnings"]


def desired_state_review(stack: str, base_ref: str) -> StackReview:
    """The desired-state changes of `stack` from git commit `base_ref` to this checkout."""
    with tempfile.TemporaryDirectory(prefix="review-base-") as base:
        git = ["git", "-C", str(PROJECT_DIR), "archive", base_ref, *PROGRAM_FILES, *PROGRAM_DIRS]
        archive = subprocess.run(git, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", base], input=archive.stdout, check=True)
        changes, warnings = desired_changes(Path(base), PROJECT_DIR, stack)
    notes = [f"Base: `{base_ref}`; head: this checkout."]
    notes += [f"Without the engine or cluster, the head's program warns: {w}" for w in warnings]
    return StackReview(stack, changes, "desired", tuple(notes))
