"""What a ready judge says of itself (the model script's `digest` and `ollama version`
lines before `ready:`), as both targets read it, and how it becomes the stack's outputs."""

from __future__ import annotations

from typing import Any

import pulumi
from kubernetes.client.exceptions import ApiException

from components.config import DockerJudgeArgs, JudgeSettings
from components.docker import wait as docker_wait
from components.docker.judge import DockerJudge
from components.kubernetes.rollout_watch import Clients, JudgeObjects
from components.kubernetes.wait import identity
from components.readiness import JudgeIdentity, identity_in, script_messages
from tests.support.fake_docker import FakeContainer
from tests.support.fake_kubernetes import FakeCluster, deployment, pod, replica_set
from tests.support.pulumi_program import Program, deploy_judge

A = f"sha256:{'a' * 64}"
B = f"sha256:{'b' * 64}"
STARTED = (
    'time=... level=INFO msg="Listening on [::]:11434 (version 0.34.1)"\n'
    "ollama-judge: pulling judge:1 (attempt 1 of 5)\n"
    "pulling manifest \rpulling 5f2a... 100%\r\n"
    "ollama-judge: pulled judge:1\n"
    f"ollama-judge: digest judge:1 {A}\n"
    f"ollama-judge: digest registry.lan:5000/team/judge {B}\n"
    "ollama-judge: ollama version 0.34.1\n"
    "ollama-judge: ready: judge:1 registry.lan:5000/team/judge\n"
    # A line after ready, as a judge that later lost its model might write: not read.
    f"ollama-judge: digest judge:1 {B}\n"
)
SAID = JudgeIdentity({"judge:1": A, "registry.lan:5000/team/judge": B}, "0.34.1")


def test_what_a_start_says_before_ready_is_the_judges_identity():
    pieces = [STARTED.encode()[at : at + 5] for at in range(0, len(STARTED), 5)]
    assert identity_in(script_messages(pieces)) == SAID


def test_a_start_that_said_nothing_of_itself_has_an_empty_identity():
    # A judge of an earlier version of the model script, or a log cut short.
    assert identity_in(["pulled judge:1", "ready: judge:1"]) == JudgeIdentity({}, "")


def test_docker_reads_the_current_starts_log_once_without_following():
    container = FakeContainer(log=STARTED)
    assert docker_wait.identity(container) == SAID
    [read] = container.log_reads
    assert read["follow"] is False
    # This start's lines only: an earlier start's would name what it had then.
    assert f"{read['since']:.6f}" == "1714557600.123457"  # STARTED_AT


def ready_cluster(*pods: dict) -> FakeCluster:
    owner = replica_set("abc")
    return FakeCluster(
        deployment(updated=len(pods), available=len(pods), wanted=len(pods)),
        replica_sets=(owner,),
        pods=tuple(pod(name, owner, ready=True) for name in pods),
    )


def test_kubernetes_reads_each_ready_judges_log_up_to_ready():
    cluster = ready_cluster("ollama-abc-1")
    cluster.logs["ollama-abc-1"] = STARTED + "x" * 7000  # requests logged later: not read
    reported: list[str] = []
    found = identity(Clients(cluster, cluster, cluster), OBJECTS, reported.append)
    assert found == SAID
    assert reported == []
    assert ("read_namespaced_pod_log", "ollama-abc-1") in cluster.calls


def test_judges_that_differ_are_named_and_the_first_ones_identity_is_kept():
    cluster = ready_cluster("ollama-abc-1", "ollama-abc-2")
    cluster.logs["ollama-abc-1"] = STARTED
    cluster.logs["ollama-abc-2"] = STARTED.replace(A, B)
    reported: list[str] = []
    assert identity(Clients(cluster, cluster, cluster), OBJECTS, reported.append) == SAID
    [line] = reported
    assert line.startswith("the judges differ: ollama-abc-1: ") and "ollama-abc-2: " in line
    assert A in line and B in line


OBJECTS = JudgeObjects("knitfab", "ollama", "ollama", ("judge:1",))


def test_logs_the_user_may_not_read_leave_the_identity_empty_and_say_why():
    cluster = ready_cluster("ollama-abc-1")
    cluster.failing["read_namespaced_pod_log"] = ApiException(403, "Forbidden")
    reported: list[str] = []
    found = identity(Clients(cluster, cluster, cluster), OBJECTS, reported.append)
    assert found == JudgeIdentity({}, "")
    assert reported == [
        "the judges' logs cannot be read (403 Forbidden), so modelDigests and ollamaVersion "
        "stay empty: the kubeconfig's user needs get on pods/log in namespace knitfab"
    ]


def test_outputs_name_each_model_without_its_pin_and_with_the_digest_the_judge_said():
    pinned = f"registry.lan:5000/team/judge:1@{A}"
    settings = JudgeSettings(models=("llama3.2", pinned))
    program = deploy_judge(DockerJudge, DockerJudgeArgs(gpus="none", judge=settings), Program())
    assert program.outputs["models"] == ["llama3.2", "registry.lan:5000/team/judge:1"]
    digests = program.outputs["modelDigests"]
    assert digests["registry.lan:5000/team/judge:1"] == A
    assert set(digests) == {"llama3.2", "registry.lan:5000/team/judge:1"}
    assert program.outputs["ollamaVersion"] == "0.34.1"
    # The judge is given the pin, to compare with what it pulls.
    command = program.one("docker:index/container:Container").inputs["entrypoints"]
    assert command[-2:] == ["llama3.2", pinned]


def test_a_preview_does_not_know_what_the_judge_will_say():
    """Unknown, not empty: a pull request's preview must not show the digests as removed."""

    def build() -> dict[str, pulumi.Output[Any]]:
        judge = DockerJudge("ollama", DockerJudgeArgs(gpus="none"))
        return {
            "url": judge.evaluation_url,
            "digests": pulumi.Output.from_input(judge.model_digests.is_known()),
            "version": pulumi.Output.from_input(judge.ollama_version.is_known()),
        }

    program = Program(preview=True).run(build)
    assert program.outputs == {"url": "http://ollama:11434", "digests": False, "version": False}
