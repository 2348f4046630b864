"""The changes of a real preview, from the engine's events (each step's operation, detailed
diff and old and new inputs), not the CLI's text."""

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi import automation as auto

from review_comment.markdown import SYMBOL, Change, StackReview

# The engine's steps as the comment counts them: the two halves of a replacement are one
# replace; a discard is the delete of a retained resource (dropped from the state, left
# where it is).
COUNTED_AS = {
    "create-replacement": "replace",
    "delete-replaced": "replace",
    "discard": "delete",
    "discard-replaced": "replace",
}


def changes_from_events(events: Sequence[auto.EngineEvent]) -> list[Change]:
    """One Change per resource from a preview's engine events."""
    found: dict[str, Change] = {}
    for meta in (e.resource_pre_event.metadata for e in events if e.resource_pre_event):
        op = COUNTED_AS.get(meta.op.value, meta.op.value)
        # Neither the steps that change nothing nor the stack and providers (pulumi:).
        if op not in SYMBOL or meta.type.startswith("pulumi:"):
            continue
        # The detailed diff where the provider gives one; else the changed top-level
        # properties; else the keys that force the replacement (a replacement caused by
        # an input not known before `up` lists only those).
        properties = tuple(
            sorted(meta.detailed_diff or ()) or sorted(meta.diffs or ()) or sorted(meta.keys or ())
        )
        old: Mapping[str, Any] = dict(meta.old.inputs or {}) if meta.old else {}
        new: Mapping[str, Any] = dict(meta.new.inputs or {}) if meta.new else {}
        retained = meta.op.value.startswith("discard") or bool(
            (meta.old and meta.old.retain_on_delete) or (meta.new and meta.new.retain_on_delete)
        )
        earlier = found.get(meta.urn)
        if earlier is not None:  # the other half of a replacement
            properties = tuple(sorted({*earlier.properties, *properties}))
            old, new = earlier.old or old, earlier.new or new
            retained = earlier.retained or retained
        found[meta.urn] = Change(meta.urn, meta.type, op, properties, old, new, retained)
    return list(found.values())


def preview_review(stack: auto.Stack) -> StackReview:
    events: list[auto.EngineEvent] = []
    stack.preview(on_event=events.append)
    return StackReview(stack.name, changes_from_events(events))
