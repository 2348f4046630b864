"""scripts/review's comment, from synthetic engine events: no engine, no stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from components.config import DockerJudgeArgs, JudgeSettings, KubernetesJudgeArgs
from components.docker.judge import DockerJudge
from components.kubernetes.judge import KubernetesJudge
from review_comment.desired import diff_desired
from review_comment.markdown import (
    CLAIM,
    CONTAINER,
    DEPLOYMENT,
    LIMIT,
    MARKER,
    NETWORK_POLICY,
    REMOTE_IMAGE,
    SECRET_SIG,
    VOLUME,
    Change,
    StackReview,
    comment,
    findings,
)
from review_comment.preview import changes_from_events
from tests.support.pulumi_program import deploy_judge

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


def test_a_null_port_entry_is_skipped_and_the_others_still_read():
    change = Change(
        f"{PREFIX}{CONTAINER}::ollama-container",
        CONTAINER,
        "update",
        ("ports",),
        {"ports": [{"ip": "127.0.0.1", "external": 11434}]},
        {"ports": [None, {"ip": "0.0.0.0", "external": 8080}]},
    )
    [exposed] = [f for f in findings([change]) if "the API is exposed" in f]
    assert "published on 0.0.0.0:8080" in exposed


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
    assert utf16_length(text) <= LIMIT
    assert "The comment is cut here" in text
    assert text.count("**models are lost**") == 2  # both summaries kept
    assert "### Stack `knitfab`" in text
    assert text.count("<details>") == text.count("</details>")


def utf16_length(text: str) -> int:
    """The length review-comment.yml checks: JavaScript's `body.length`, in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def written_by_main(monkeypatch, tmp_path: Path, review: StackReview) -> str:
    """The file `scripts/review --output` writes for this review, read as the workflow does."""
    import review_comment.__main__ as main

    monkeypatch.setattr(main, "desired_state_review", lambda stack, base: review)
    output = tmp_path / "comment.md"
    main.main(["--desired-state", "main", "--stack", review.stack, "--output", str(output)])
    return output.read_bytes().decode("utf-8")


# Accented letters and CJK are one UTF-16 unit each; an emoji is one character, two units.
@pytest.mark.parametrize("letters", ["modèle-模型", "modèle-模型-🦙"])
@pytest.mark.parametrize("over", [0, 1])
def test_comment_at_the_limit_is_whole_and_one_unit_over_is_cut_at_a_diff_line(
    monkeypatch, tmp_path: Path, letters: str, over: int
):
    keys = {f"{letters}-{k}": "x" * 40 for k in range(4)}
    changes = [
        Change(f"{PREFIX}{CONTAINER}::{letters}-{i}", CONTAINER, "create", (), {}, keys)
        for i in range(150)
    ]

    def review(padding: int) -> StackReview:
        return StackReview("local", changes, notes=("x" * padding,))

    unpadded = utf16_length(comment([review(0)], limit=10**9))
    assert LIMIT // 2 < unpadded < LIMIT  # the diff is most of it
    full = comment([review(LIMIT - unpadded + over)], limit=10**9)
    assert utf16_length(full) == LIMIT + over
    text = written_by_main(monkeypatch, tmp_path, review(LIMIT - unpadded + over))
    assert utf16_length(text) <= LIMIT
    if not over:
        assert text == full
        return
    *kept, fence, end, blank, note = text.splitlines()
    assert kept == full.splitlines()[: len(kept)]  # whole lines, the summary untouched
    assert kept[-1].startswith("    ") and letters in kept[-1]  # a line of the diff
    assert [fence, end, blank] == ["```", "</details>", ""]
    assert note.startswith("> :warning: The comment is cut here")
    # Cut no sooner than it had to be: the next line would not have fit.
    next_line = full.splitlines()[len(kept)]
    assert utf16_length(text) + utf16_length(next_line) + 1 > LIMIT


def test_summaries_longer_than_the_limit_end_at_a_whole_line_and_the_note():
    service = "kubernetes:core/v1:Service"  # no finding: the summary is its resource lines
    changes = [
        Change(f"{PREFIX}{service}::サービス-🦙-{i}", service, "update", ("spec.ポート",))
        for i in range(2000)
    ]
    text = comment([StackReview("knitfab", changes)])
    full = comment([StackReview("knitfab", changes)], limit=10**9)
    assert utf16_length(text) <= LIMIT < utf16_length(full)
    *kept, blank, note = text.splitlines()
    assert kept == full.splitlines()[: len(kept)]
    assert kept[-1].startswith("- ~ **update** Service `サービス-🦙-")
    assert blank == "" and "<details>" not in text
    assert note.startswith("> :warning: The comment is cut here")


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
    shown = review.stack_review("knitfab", None, "main")
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


# --- the judge changes ------------------------------------------------------------------

A = f"sha256:{'a' * 64}"
B = f"sha256:{'b' * 64}"


def judge_change(type_: str, before: Any, after: Any, op: str = "replace") -> Change:
    """`type_`'s change between the program's inputs for two settings (under mocks)."""
    component = KubernetesJudge if type_ == DEPLOYMENT else DockerJudge
    old, new = (deploy_judge(component, args).one(type_).inputs for args in (before, after))
    return Change(f"{PREFIX}{type_}::ollama", type_, op, (), old, new)


def docker(**judge: Any) -> DockerJudgeArgs:
    return DockerJudgeArgs(gpus="none", judge=JudgeSettings(**judge))


BANNER = "**the judge changes: scores from before and after are not comparable**: "


def test_a_re_pinned_model_says_the_judge_changes_with_both_digests():
    before = KubernetesJudgeArgs(judge=JudgeSettings(models=(f"judge:1@{A}", "llama3.2")))
    after = KubernetesJudgeArgs(judge=JudgeSettings(models=(f"judge:1@{B}", "llama3.2")))
    [banner] = findings([judge_change(DEPLOYMENT, before, after, "update")])
    assert banner == f"{BANNER}judge:1 re-pinned ({A} → {B})"


def test_a_model_added_or_pinned_says_the_judge_changes():
    change = judge_change(CONTAINER, docker(models=("llama3.2",)),
                          docker(models=(f"llama3.2@{A}", "qwen2.5:7b")))  # fmt: skip
    assert findings([change])[0] == (
        f"{BANNER}llama3.2 re-pinned (unpinned → {A}); qwen2.5:7b added"
    )


def test_an_image_change_says_the_judge_changes():
    change = judge_change(REMOTE_IMAGE, docker(), docker(image="ollama/ollama:0.34.0"), "update")
    assert findings([change]) == [f"{BANNER}image ollama/ollama:0.34.1 → ollama/ollama:0.34.0"]


def test_a_setting_that_changes_answers_says_the_judge_changes():
    change = judge_change(
        CONTAINER, docker(), docker(environment={"OLLAMA_CONTEXT_LENGTH": "8192"})
    )
    assert findings([change])[0] == f"{BANNER}OLLAMA_CONTEXT_LENGTH unset → 8192"


def test_a_change_that_does_not_touch_what_answers_says_nothing_of_it():
    before, after = docker(), DockerJudgeArgs(gpus="none", host_port=8080)
    assert [f.split(":")[0] for f in findings([judge_change(CONTAINER, before, after)])] == [
        "**the judge restarts**"
    ]
    # Nor does a first deployment: there are no earlier scores.
    created = Change(f"{PREFIX}{CONTAINER}::c", CONTAINER, "create", (), {}, {"envs": []})
    assert findings([created]) == []
