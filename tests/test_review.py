"""scripts/review's comment, from synthetic engine events: no engine, no stack."""

from __future__ import annotations

from typing import Any

from pulumi import automation as auto

from review_comment.desired import diff_desired
from review_comment.markdown import (
    CLAIM,
    CONTAINER,
    DEPLOYMENT,
    LIMIT,
    MARKER,
    NETWORK_POLICY,
    SECRET_SIG,
    VOLUME,
    Change,
    StackReview,
    comment,
    findings,
)
from review_comment.preview import changes_from_events

PREFIX = "urn:pulumi:local::ollama-judge::ollama-judge:index:DockerJudge$"


def event(op: str, type_: str, name: str, **metadata: Any) -> auto.EngineEvent:
    urn = f"{PREFIX}{type_}::{name}"
    data = {"op": op, "urn": urn, "type": type_, "provider": "", **metadata}
    return auto.EngineEvent(
        sequence=0,
        timestamp=0,
        resource_pre_event=auto.events.ResourcePreEvent.from_json({"metadata": data}),
    )


def state(type_: str, name: str, inputs: dict[str, Any], retain: bool = False) -> dict:
    return {
        "type": type_,
        "urn": f"{PREFIX}{type_}::{name}",
        "inputs": inputs,
        "retainOnDelete": retain,
    }


def test_replacement_halves_count_as_one_replace_with_the_retain_flag():
    events = [
        event("same", "pulumi:pulumi:Stack", "ollama-judge-local"),
        event(
            "delete-replaced",
            VOLUME,
            "ollama-models",
            old=state(VOLUME, "ollama-models", {"name": "ollama"}, retain=False),
        ),
        event(
            "create-replacement",
            VOLUME,
            "ollama-models",
            diffs=["name"],
            detailedDiff={"name": {"diffKind": "update-replace", "inputDiff": True}},
            old=state(VOLUME, "ollama-models", {"name": "ollama"}),
            new=state(VOLUME, "ollama-models", {"name": "other"}),
        ),
    ]
    [change] = changes_from_events(events)
    assert (change.op, change.properties, change.retained) == ("replace", ("name",), False)
    assert any(f.startswith("**models are lost**") for f in findings([change]))


def test_retained_volume_deleted_does_not_say_models_are_lost():
    change = Change(f"{PREFIX}{VOLUME}::ollama-models", VOLUME, "delete", retained=True)
    [finding] = findings([change])
    assert "retained" in finding and not finding.startswith("**models are lost**")


def test_claim_replaced_without_retain_says_models_are_lost():
    change = Change(f"{PREFIX}{CLAIM}::ollama-models", CLAIM, "replace")
    assert findings([change])[0].startswith("**models are lost**")


def test_network_policy_deleted_says_the_api_is_exposed():
    change = Change(f"{PREFIX}{NETWORK_POLICY}::ollama-policy", NETWORK_POLICY, "delete")
    assert findings([change])[0].startswith("**the API is exposed**")


def test_port_on_ipv6_loopback_is_not_exposure():
    change = Change(
        f"{PREFIX}{CONTAINER}::ollama-container",
        CONTAINER,
        "replace",
        ("ports",),
        {"ports": [{"ip": "127.0.0.1", "external": 11434}]},
        {"ports": [{"ip": "::1", "external": 11434}]},
    )
    assert [f.split(":")[0] for f in findings([change])] == ["**the judge restarts**"]


def test_deployment_replicas_alone_is_no_restart():
    change = Change(f"{PREFIX}{DEPLOYMENT}::d", DEPLOYMENT, "update", ("spec.replicas",))
    assert findings([change]) == []
    # From one judge to several: the strategy changes with the count, the pods do not.
    scaled = Change(
        f"{PREFIX}{DEPLOYMENT}::d", DEPLOYMENT, "update", ("spec.replicas", "spec.strategy.type")
    )
    assert findings([scaled]) == []


def test_counts_come_first_then_findings_then_resources_then_the_diff():
    change = Change(
        f"{PREFIX}{CONTAINER}::ollama-container",
        CONTAINER,
        "replace",
        ("gpus",),
        {"gpus": "all"},
        {"gpus": "1"},
    )
    text = comment([StackReview("local", [change])])
    assert text.startswith(MARKER + "\n")
    order = ["| to create |", "| 0 | 0 | 1 | 0 |", "the judge restarts", "GPU request", "<details>"]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions)


def test_no_changes_is_one_line():
    text = comment([StackReview("local", [])])
    assert text.splitlines()[-1] == "**No changes.**"
    assert "<details>" not in text


def test_secrets_stay_hidden_in_the_diff():
    secret = {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "value": "hunter2"}
    change = Change(
        f"{PREFIX}{CONTAINER}::c", CONTAINER, "update", ("envs",), {"envs": []}, {"envs": secret}
    )
    text = comment([StackReview("local", [change])])
    assert "hunter2" not in text
    assert "[secret]" in text


def test_oversized_diff_stays_under_the_limit_with_its_summary_and_a_note():
    big = {"entrypoints": ["x" * 150] * 1}
    changes = [
        Change(f"{PREFIX}{CONTAINER}::c{i}", CONTAINER, "create", (), {}, big) for i in range(600)
    ] + [Change(f"{PREFIX}{VOLUME}::ollama-models", VOLUME, "delete")]
    reviews = [StackReview("local", changes), StackReview("knitfab", changes)]
    text = comment(reviews)
    assert len(text) <= LIMIT
    assert "The full diff is cut here" in text
    assert text.count("**models are lost**") == 2  # both summaries kept
    assert "### Stack `knitfab`" in text
    assert text.count("<details>") == text.count("</details>")


def test_desired_state_diff_names_paths_with_dotted_keys_as_the_engine_does():
    urn = f"{PREFIX}{DEPLOYMENT}::d"
    limits = {"spec": {"template": {"resources": {"limits": {"nvidia.com/gpu": "1"}}}}}
    more = {"spec": {"template": {"resources": {"limits": {"nvidia.com/gpu": "2"}}}}}
    base = {urn: {"type": DEPLOYMENT, "inputs": limits, "retainOnDelete": False}}
    head = {urn: {"type": DEPLOYMENT, "inputs": more, "retainOnDelete": False}}
    [change] = diff_desired(base, head)
    assert change.properties == ('spec.template.resources.limits["nvidia.com/gpu"]',)
    text = comment([StackReview("knitfab", [change], mode="desired")])
    assert "desired state, not live state" in text
    assert '"1"' in text and '"2"' in text


def test_fallback_shows_the_desired_state_and_why_the_real_preview_failed(monkeypatch):
    import review_comment.__main__ as review
    from stack_runner import stacks as stack

    def unreachable(stack_: Any) -> StackReview:
        raise auto.CommandError(
            auto.CommandResult(
                stdout="", stderr="error: configured Kubernetes cluster is unreachable", code=1
            )
        )

    desired = StackReview("knitfab", [], mode="desired", notes=("Base: `main`",))
    monkeypatch.setattr(stack, "open_stack", lambda name: name)
    monkeypatch.setattr(review, "preview_review", unreachable)
    monkeypatch.setattr(review, "desired_state_review", lambda name, base: desired)
    shown = review.real_or_fallback("knitfab", "main")
    assert shown.mode == "desired"
    assert "cluster is unreachable" in shown.notes[0]
    text = comment([shown])
    assert "desired state, not live state" in text and "**No changes.**" in text


def test_replacement_forced_by_an_unknown_input_names_the_forcing_keys():
    volumes = {"volumes": [{"volumeName": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}]}
    events = [
        event("delete-replaced", CONTAINER, "ollama-container"),
        event("replace", CONTAINER, "ollama-container"),
        event(
            "create-replacement",
            CONTAINER,
            "ollama-container",
            keys=["volumes"],
            old=state(CONTAINER, "ollama-container", {"volumes": [{"volumeName": "a"}]}),
            new=state(CONTAINER, "ollama-container", volumes),
        ),
    ]
    [change] = changes_from_events(events)
    assert (change.op, change.properties) == ("replace", ("volumes",))
    text = comment([StackReview("local", [change])])
    assert "(known after up)" in text and "04da6b54" not in text


def test_discarded_volume_is_a_retained_delete_and_keeps_the_models():
    [change] = changes_from_events([event("discard", VOLUME, "ollama-models")])
    assert (change.op, change.retained) == ("delete", True)
    assert not any(f.startswith("**models are lost**") for f in findings([change]))
