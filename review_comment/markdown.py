"""The pull-request comment of scripts/review, made from resource changes.

Pure: changes in (from a real preview's engine events, or from the desired-state diff of
two commits), Markdown out. What a change means for the judge is decided here, once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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
LOOPBACK = ("127.0.0.1", "::1", "localhost")

# Operations as counted on top; the engine's other steps are the halves of a replace.
COUNTED = ("create", "update", "replace", "delete")
REPLACING = ("replace", "create-replacement", "delete-replaced")


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
    known before `up` said so, the providers' bookkeeping left out."""
    if isinstance(value, Mapping):
        if SECRET_SIG in value:
            return SECRET
        # __defaults: the bridged providers' bookkeeping, not a property anyone set.
        return {k: hide_secrets(v) for k, v in value.items() if k != "__defaults"}
    if isinstance(value, list | tuple):
        return [hide_secrets(v) for v in value]
    if value == UNKNOWN:
        return "(known after up)"
    return value


# A property path as the engine writes it: a.b[0]["nvidia.com/gpu"]
PATH_PART = re.compile(r'\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]|\.?([^.\[]+)')


def path_key(key: str) -> str:
    """One key of a property path: `name`, or `["nvidia.com/gpu"]` when it has dots."""
    return f"[{json.dumps(key)}]" if re.search(r'[.\[\]"]', key) else key


def lookup(value: Any, path: str) -> Any:
    """The value at a property path (a.b[0]["x.y"]), or None."""
    for quoted, index, name in PATH_PART.findall(path):
        if index:
            position = int(index)
            value = value[position] if isinstance(value, list) and position < len(value) else None
        else:
            key = json.loads(f'"{quoted}"') if quoted else name
            value = value.get(key) if isinstance(value, Mapping) else None
    return value


def counts(changes: Iterable[Change]) -> dict[str, int]:
    result = dict.fromkeys(COUNTED, 0)
    for change in changes:
        result[change.op] += 1
    return result


def _published_beyond_loopback(inputs: Mapping[str, Any]) -> list[str]:
    addresses = []
    for port in inputs.get("ports") or []:
        address = (port or {}).get("ip") or "0.0.0.0"
        if address not in LOOPBACK:
            external = port.get("external")
            addresses.append(f"{address}:{int(external) if external else '?'}")
    return addresses


def _gpu_requests(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The GPU resources a Deployment's containers request, by resource name."""
    found: dict[str, Any] = {}
    containers = lookup(inputs, "spec.template.spec.containers") or []
    for container in containers:
        resources = (container or {}).get("resources") or {}
        for kind in ("limits", "requests"):
            for resource, quantity in (resources.get(kind) or {}).items():
                if resource not in ("cpu", "memory", "ephemeral-storage"):
                    found[resource] = quantity
    return found


def findings(changes: Iterable[Change]) -> list[str]:
    """What the changes mean for the judge, worst first, one line each."""
    restarts, lost, exposed, gpus = [], [], [], []
    for change in changes:
        if change.type == CONTAINER and change.op in ("update", "replace", "delete"):
            restarts.append(f"container `{change.name}` is {_verb(change.op)}")
        if change.type == DEPLOYMENT and (
            change.op in ("replace", "delete")
            or any(
                p.startswith("spec") and not p.startswith(("spec.replicas", "spec.strategy"))
                for p in change.properties
            )
        ):
            restarts.append(f"Deployment `{change.name}`'s pods are {_verb(change.op)}")
        if change.type in (VOLUME, CLAIM) and change.op in ("replace", "delete"):
            if change.retained:
                lost.append(
                    f"~~models are lost~~ `{change.name}` is {_verb(change.op)}, but "
                    "retained (keepModelsOnDestroy): the old volume keeps the models"
                )
            else:
                lost.append(
                    f"**models are lost**: `{change.name}` is {_verb(change.op)} and not "
                    "retained (keepModelsOnDestroy: false); they are pulled again"
                )
        if change.type == CONTAINER and change.op != "delete":
            now = _published_beyond_loopback(change.new)
            before = _published_beyond_loopback(change.old)
            if now and now != before:
                exposed.append(
                    f"**the API is exposed**: published on {', '.join(now)}, beyond "
                    "loopback; Ollama's API has no authentication"
                )
        if change.type == NETWORK_POLICY and change.op in ("delete", "replace"):
            exposed.append(
                f"**the API is exposed**: NetworkPolicy `{change.name}` is "
                f"{_verb(change.op)}; every pod can reach the judge"
            )
        if change.type == CONTAINER and (
            "gpus" in _tops(change.properties) or (change.op == "create" and change.new.get("gpus"))
        ):
            gpus.append(
                f"**GPU request changes**: gpus {change.old.get('gpus')!r} → "
                f"{change.new.get('gpus')!r}"
            )
        if change.type == DEPLOYMENT:
            requested, requesting = _gpu_requests(change.old), _gpu_requests(change.new)
            for resource in sorted(requested.keys() | requesting.keys()):
                was, will = requested.get(resource), requesting.get(resource)
                if was != will:
                    gpus.append(
                        f"**GPU request changes**: {resource} {was or 'none'} → "
                        f"{will or 'none'} on Deployment `{change.name}`"
                    )
    lines = []
    if restarts:
        lines.append(
            "**the judge restarts**: " + "; ".join(restarts) + ". An evaluation running now fails."
        )
    return lines + lost + exposed + gpus


def _tops(properties: Iterable[str]) -> set[str]:
    return {p.split(".")[0].split("[")[0] for p in properties}


def _verb(op: str) -> str:
    return {
        "create": "created",
        "update": "updated",
        "replace": "replaced",
        "delete": "deleted",
    }[op]


SYMBOL = {"create": "+", "update": "~", "replace": "+-", "delete": "-"}


def _value(value: Any) -> str:
    text = json.dumps(hide_secrets(value), sort_keys=True, default=str)
    return text if len(text) <= 200 else text[:197] + "..."


def resource_lines(changes: Iterable[Change]) -> list[str]:
    lines = []
    for change in changes:
        kind = change.type.rsplit(":", 1)[-1]
        properties = ", ".join(f"`{p}`" for p in change.properties)
        line = f"- {SYMBOL[change.op]} **{change.op}** {kind} `{change.name}`"
        lines.append(line + (f": {properties}" if properties else ""))
    return lines


def diff_lines(changes: Iterable[Change]) -> list[str]:
    lines = []
    for change in changes:
        lines.append(f"{SYMBOL[change.op]} {change.type} {change.name} ({change.op})")
        if change.op in ("create", "delete"):
            side = change.new if change.op == "create" else change.old
            for key in sorted(side):
                lines.append(f"    {key}: {_value(side[key])}")
            continue
        for path in change.properties:
            lines.append(f"    {path}: {_value(lookup(change.old, path))}")
            lines.append(f"    {' ' * len(path)}→ {_value(lookup(change.new, path))}")
    return lines


def summary(review: StackReview) -> list[str]:
    title = f"### Stack `{review.stack}`"
    if review.mode == "desired":
        title += " — desired state, not live state"
    lines = [title]
    if review.mode == "desired":
        lines.append(
            "_Compared: the program of the base commit against the head commit, rendered "
            "without the cluster, the Docker engine or the stack's state. What is deployed "
            "now may differ; update or replace follows the providers' rules._"
        )
    lines.extend(f"_{note}_" for note in review.notes)
    if not review.changes:
        lines.append("**No changes.**")
        return lines
    count = counts(review.changes)
    lines.append("")
    lines.append("| " + " | ".join(f"to {op}" for op in COUNTED) + " |")
    lines.append("|" + "---:|" * len(COUNTED))
    lines.append("| " + " | ".join(str(count[op]) for op in COUNTED) + " |")
    lines.append("")
    meaning = findings(review.changes)
    if meaning:
        # A GitHub alert: one warning box, one line per finding.
        lines.append("> [!WARNING]")
        lines.extend(f"> - {line}" for line in meaning)
        lines.append("")
    lines.append("Changed resources:")
    lines.extend(resource_lines(review.changes))
    return lines


def details(review: StackReview) -> tuple[list[str], list[str], list[str]]:
    """A stack's full diff, collapsed: the lines that open it, the diff, those that close it."""
    opening = ["", f"<details><summary>Full diff of <code>{review.stack}</code></summary>"]
    # No diff line may close the fence early.
    diff = [line.replace("```", "` ` `") for line in diff_lines(review.changes)]
    return [*opening, "", "```diff"], diff, ["```", "</details>"]


def units(text: str) -> int:
    """The length of `text` as JavaScript counts it: in UTF-16 code units, two for a character
    beyond the Basic Multilingual Plane (an emoji), which Python's `len` counts as one."""
    return len(text.encode("utf-16-le")) // 2


def written(lines: Iterable[str]) -> str:
    """The lines as the file holds them, each ending in a newline."""
    return "".join(f"{line}\n" for line in lines)


def comment(reviews: Sequence[StackReview], limit: int = LIMIT) -> str:
    """The comment as written, at most `limit` UTF-16 code units with its final newline:
    every stack's summary, then every stack's full diff. Where all of it does not fit, it
    ends at the last whole line that does, the diff block it is in closed, and a note."""
    top = [MARKER, "## Pulumi preview of this pull request"]
    for review in reviews:
        top += ["", *summary(review)]
    sections = [([], top, []), *(details(review) for review in reviews if review.changes)]
    whole = written(line for section in sections for part in section for line in part)
    if units(whole) <= limit:
        return whole
    note = [
        "",
        "> :warning: The comment is cut here: all of it would exceed GitHub's "
        f"{limit:,}-character limit. Run `scripts/review` for all of it.",
    ]
    room = limit - units(written(note))
    kept: list[str] = []
    for opening, body, closing in sections:
        room -= units(written(opening + closing))
        fitting = []
        for line in body:
            room -= units(written([line]))
            if room < 0:
                break
            fitting.append(line)
        if fitting:
            kept += [*opening, *fitting, *closing]
        if len(fitting) < len(body):
            break
    return written(kept + note)
