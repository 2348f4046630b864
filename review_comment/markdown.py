"""The pull-request comment of scripts/review. Pure: changes in (from a real preview or the
desired-state diff of two commits), Markdown out; what a change means for the judge is decided
here, once."""

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

# The hidden marker by which the workflow finds its own comment to update.
MARKER = "<!-- ollama-judge-review -->"
# GitHub refuses a comment body longer than this, and review-comment.yml an artifact whose
# JavaScript `body.length` is: UTF-16 code units (`units`), never fewer than characters.
LIMIT = 65_536
SECRET = "[secret]"
# The engine's marker of a secret value in serialized properties.
SECRET_SIG = "4dabf18193072939515e22adb298388d"
# The engine's stand-in for a value not known before `up`.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CLAIM = "kubernetes:core/v1:PersistentVolumeClaim"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
# Server settings that change what a model answers, not only how fast: the context length
# (what is cut from a long prompt), the KV cache's number type and flash attention (the
# arithmetic, so the sampled tokens).
ANSWERING_ENV = ("OLLAMA_CONTEXT_LENGTH", "OLLAMA_KV_CACHE_TYPE", "OLLAMA_FLASH_ATTENTION")
LOOPBACK = ("127.0.0.1", "::1", "localhost")

# The operations the comment shows, in the order it counts them, with their diff symbols.
SYMBOL = {"create": "+", "update": "~", "replace": "+-", "delete": "-"}


@dataclass(frozen=True)
class Change:
    """One resource that changes: what the engine (or the desired-state diff) says."""

    urn: str
    type: str
    op: str  # create, update, replace, delete
    # Changed property paths, e.g. "spec.template.spec.containers[0].args"; the top-level
    # names where no detailed diff exists.
    properties: tuple[str, ...] = ()
    old: Mapping[str, Any] = field(default_factory=dict)
    new: Mapping[str, Any] = field(default_factory=dict)
    # The resource is kept when Pulumi deletes it (keepModelsOnDestroy).
    retained: bool = False

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


@dataclass(frozen=True)
class StackReview:
    stack: str
    changes: Sequence[Change]
    # How the changes were found: "preview" (live state) or "desired" (two commits).
    mode: str = "preview"
    notes: Sequence[str] = ()


def hide_secrets(value: Any) -> Any:
    """The value as a reviewer reads it: every secret replaced by [secret], values not
    known before `up` said so, the bridged providers' bookkeeping (__defaults) left out."""
    if isinstance(value, Mapping):
        if SECRET_SIG in value:
            return SECRET
        return {k: hide_secrets(v) for k, v in value.items() if k != "__defaults"}
    if isinstance(value, list | tuple):
        return [hide_secrets(v) for v in value]
    if value == UNKNOWN:
        return "(known after up)"
    return value


PATH_PART = re.compile(r'\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]|\.?([^.\[]+)')


def lookup(value: Any, path: str) -> Any:
    """The value at a property path as the engine writes it (a.b[0]["x.y"]), or None."""
    for quoted, index, name in PATH_PART.findall(path):
        if index:
            position = int(index)
            value = value[position] if isinstance(value, list) and position < len(value) else None
        else:
            key = json.loads(f'"{quoted}"') if quoted else name
            value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _published_beyond_loopback(inputs: Mapping[str, Any]) -> list[str]:
    addresses = []
    for port in filter(None, inputs.get("ports") or []):  # an entry may be null
        address = port.get("ip") or "0.0.0.0"
        if address not in LOOPBACK:
            external = port.get("external")
            addresses.append(f"{address}:{int(external) if external else '?'}")
    return addresses


def _gpu_requests(inputs: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for container in lookup(inputs, "spec.template.spec.containers") or []:
        resources = (container or {}).get("resources") or {}
        for kind in ("limits", "requests"):
            for resource, quantity in (resources.get(kind) or {}).items():
                if resource not in ("cpu", "memory", "ephemeral-storage"):
                    found[resource] = quantity
    return found


def _what_answers(change: Change, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The models (the model script's arguments, each with its pin), the image and the
    settings that answer, from a judge's container, Deployment or image."""
    if change.type == REMOTE_IMAGE:
        return {"image": inputs.get("name")}
    if change.type == CONTAINER:  # its image changes with the RemoteImage
        command, image = inputs.get("entrypoints") or [], None
        env = dict(item.partition("=")[::2] for item in inputs.get("envs") or [])
    else:
        container = lookup(inputs, "spec.template.spec.containers[0]") or {}
        command = lookup(container, "lifecycle.postStart.exec.command") or []
        image = container.get("image")
        env = {item.get("name"): item.get("value") for item in container.get("env") or []}
    # [sh, -c, script, ollama-judge, mode, model...]: keyed by name, with the pin as value.
    models = dict(model.partition("@")[::2] for model in command[5:])
    return {"models": models, "image": image, **{key: env.get(key) for key in ANSWERING_ENV}}


def judge_changes(change: Change) -> list[str]:
    """What changes in what answers, where a judge is changed (not created or deleted)."""
    if change.type not in (CONTAINER, DEPLOYMENT, REMOTE_IMAGE) or not (change.old and change.new):
        return []
    was, will = _what_answers(change, change.old), _what_answers(change, change.new)
    said = []
    models, now = was.pop("models", {}), will.pop("models", {})
    for name in sorted(models.keys() | now.keys()):
        if name not in now:
            said.append(f"{name} removed")
        elif name not in models:
            said.append(f"{name} added")
        elif models[name] != now[name]:
            said.append(
                f"{name} re-pinned ({models[name] or 'unpinned'} → {now[name] or 'unpinned'})"
            )
    said += [
        f"{key} {was[key] or 'unset'} → {will[key] or 'unset'}"
        for key in was
        if was[key] != will[key]
    ]
    return said


def findings(changes: Iterable[Change]) -> list[str]:
    """What the changes mean for the judge, worst first, one line each."""
    restarts, lost, exposed, gpus, answers = [], [], [], [], []
    for change in changes:
        answers += judge_changes(change)
        name, op, done = f"`{change.name}`", change.op, f"{change.op}d"  # created, deleted, ...
        if change.type == CONTAINER:
            if op != "create":
                restarts.append(f"container {name} is {done}")
            now = _published_beyond_loopback(change.new)
            if now and now != _published_beyond_loopback(change.old):
                exposed.append(
                    f"**the API is exposed**: published on {', '.join(now)}, beyond "
                    "loopback; Ollama's API has no authentication"
                )
            was, will = change.old.get("gpus"), change.new.get("gpus")
            if op != "delete" and was != will:
                gpus.append(f"**GPU request changes**: gpus {was!r} → {will!r}")
        elif change.type == DEPLOYMENT:
            # Its pods restart when their template changes, not for their count or strategy.
            if op in ("replace", "delete") or any(
                p.startswith("spec") and not p.startswith(("spec.replicas", "spec.strategy"))
                for p in change.properties
            ):
                restarts.append(f"Deployment {name}'s pods are {done}")
            requested, requesting = _gpu_requests(change.old), _gpu_requests(change.new)
            for resource in sorted(requested.keys() | requesting.keys()):
                was, will = requested.get(resource), requesting.get(resource)
                if was != will:
                    gpus.append(
                        f"**GPU request changes**: {resource} {was or 'none'} → "
                        f"{will or 'none'} on Deployment {name}"
                    )
        elif change.type in (VOLUME, CLAIM) and op in ("replace", "delete"):
            lost.append(
                f"~~models are lost~~ {name} is {done}, but retained (keepModelsOnDestroy): the "
                "old volume keeps the models"
                if change.retained
                else f"**models are lost**: {name} is {done} and not retained "
                "(keepModelsOnDestroy: false); they are pulled again"
            )
        elif change.type == NETWORK_POLICY and op in ("replace", "delete"):
            exposed.append(
                f"**the API is exposed**: NetworkPolicy {name} is {done}; every pod can reach "
                "the judge"
            )
    judge = f"**the judge restarts**: {'; '.join(restarts)}. An evaluation running now fails."
    other = (
        "**the judge changes: scores from before and after are not comparable**: "
        + "; ".join(dict.fromkeys(answers))  # each once: a container and its image may both say
    )
    return ([other] if answers else []) + ([judge] if restarts else []) + lost + exposed + gpus


def _value(value: Any) -> str:
    text = json.dumps(hide_secrets(value), sort_keys=True, default=str)
    return text if len(text) <= 200 else text[:197] + "..."


def resource_line(change: Change) -> str:
    kind = change.type.rsplit(":", 1)[-1]
    line = f"- {SYMBOL[change.op]} **{change.op}** {kind} `{change.name}`"
    properties = ", ".join(f"`{p}`" for p in change.properties)
    return line + (f": {properties}" if properties else "")


def summary(review: StackReview) -> list[str]:
    """A stack's counts, what they mean for the judge, and its changed resources."""
    lines = [f"### Stack `{review.stack}`"]
    if review.mode == "desired":
        lines[0] += " — desired state, not live state"
        lines.append(
            "_Compared: the program of the base commit against the head commit, rendered "
            "without the cluster, the Docker engine or the stack's state. What is deployed "
            "now may differ; update or replace follows the providers' rules._"
        )
    lines += [f"_{note}_" for note in review.notes]
    if not review.changes:
        return [*lines, "**No changes.**"]
    count = Counter(change.op for change in review.changes)
    lines += ["", "| to create | to update | to replace | to delete |", "|---:|---:|---:|---:|"]
    lines += ["| " + " | ".join(str(count[op]) for op in SYMBOL) + " |", ""]
    if meaning := findings(review.changes):
        # A GitHub alert: one warning box, one line per finding.
        lines += ["> [!WARNING]", *(f"> - {line}" for line in meaning), ""]
    return [*lines, "Changed resources:", *map(resource_line, review.changes)]


def details(review: StackReview) -> tuple[list[str], list[str], list[str]]:
    """A stack's full diff, collapsed: the lines that open it, the diff, those that close it."""
    diff = []
    for change in review.changes:
        diff.append(f"{SYMBOL[change.op]} {change.type} {change.name} ({change.op})")
        if change.op in ("create", "delete"):
            side = change.new if change.op == "create" else change.old
            diff += [f"    {key}: {_value(side[key])}" for key in sorted(side)]
            continue
        for path in change.properties:
            diff.append(f"    {path}: {_value(lookup(change.old, path))}")
            diff.append(f"    {' ' * len(path)}→ {_value(lookup(change.new, path))}")
    opening = ["", f"<details><summary>Full diff of <code>{review.stack}</code></summary>"]
    # No diff line may close the fence early.
    diff = [line.replace("```", "` ` `") for line in diff]
    return [*opening, "", "```diff"], diff, ["```", "</details>"]


def units(lines: Iterable[str]) -> int:
    """The length of the lines as written (each with its newline) in UTF-16 code units, as
    JavaScript counts it: an emoji is two, where Python's `len` counts one."""
    return sum(len(line.encode("utf-16-le")) // 2 + 1 for line in lines)


def comment(reviews: Sequence[StackReview], limit: int = LIMIT) -> str:
    """The comment as written, at most `limit` UTF-16 code units with its final newline:
    every stack's summary, then every stack's full diff. Where all of it does not fit, it
    ends at the last whole line that does, the diff block it is in closed, and a note."""
    top = [MARKER, "## Pulumi preview of this pull request"]
    for review in reviews:
        top += ["", *summary(review)]
    sections = [([], top, []), *(details(review) for review in reviews if review.changes)]
    lines = [line for section in sections for part in section for line in part]
    if units(lines) > limit:
        note = [
            "",
            "> :warning: The comment is cut here: all of it would exceed GitHub's "
            f"{limit:,}-character limit. Run `scripts/review` for all of it.",
        ]
        room, lines = limit - units(note), []
        for opening, body, closing in sections:
            room -= units(opening + closing)
            # The body's lines while they fit: each one's end, counted from the first.
            ends = accumulate(units([line]) for line in body)
            fitting = [line for line, end in zip(body, ends, strict=True) if end <= room]
            if fitting:
                lines += [*opening, *fitting, *closing]
            if len(fitting) < len(body):
                break
            room -= units(body)
        lines += note
    return "".join(f"{line}\n" for line in lines)
