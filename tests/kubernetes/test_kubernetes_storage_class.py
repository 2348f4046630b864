"""The StorageClass check of the models' claim: pure verdicts on lists of classes, and when
it steps aside."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import ClusterAccess, KubernetesJudgeArgs, Persistence
from components.config_rules import ConfigError
from components.kubernetes.preflight import check_storage_class, storage_class_missing
from tests.support.http_server import send_json, serving

GA = "storageclass.kubernetes.io/is-default-class"
BETA = "storageclass.beta.kubernetes.io/is-default-class"
SET_OFF = "pulumi config set --path 'ollama-judge:kubernetes.persistence.enabled' false"


def storage_class(name: str, **annotations: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "annotations": annotations}, "provisioner": "example"}


def claim(**persistence: Any) -> KubernetesJudgeArgs:
    return KubernetesJudgeArgs().model_copy(update={"persistence": Persistence(**persistence)})


@pytest.mark.parametrize("annotation", [GA, BETA], ids=["ga", "beta"])
def test_a_claim_naming_no_class_takes_the_clusters_default(annotation: str):
    classes = [storage_class("slow"), storage_class("fast", **{annotation: "true"})]
    assert storage_class_missing(classes, KubernetesJudgeArgs()) is None


def test_a_claim_naming_a_class_the_cluster_has_passes_without_a_default():
    assert storage_class_missing([storage_class("nfs")], claim(storage_class="nfs")) is None


def test_no_default_class_is_refused_naming_the_classes_and_both_fixes():
    classes = [storage_class("slow"), storage_class("fast", **{GA: "false"})]
    message = storage_class_missing(classes, KubernetesJudgeArgs(), "knitfab") or ""
    assert message.startswith(
        "ollama-judge:kubernetes.persistence.enabled is true (its default) and "
        "ollama-judge:kubernetes.persistence.storageClass is not set, but the cluster has no "
        'default StorageClass (annotated storageclass.kubernetes.io/is-default-class: "true") '
        "(StorageClasses: fast, slow)"
    )
    assert (
        "Fix it with: pulumi config set --path 'ollama-judge:kubernetes.persistence.storageClass'"
        " fast --stack knitfab (or another of the cluster's classes), or "
        f"{SET_OFF} --stack knitfab"
    ) in message


def test_a_named_class_the_cluster_lacks_is_refused_suggesting_its_default():
    classes = [storage_class("a-slow"), storage_class("standard", **{GA: "true"})]
    message = storage_class_missing(classes, claim(storage_class="nsf")) or ""
    assert message.startswith(
        "ollama-judge:kubernetes.persistence.storageClass is nsf, but the cluster has no "
        "StorageClass of that name (StorageClasses: a-slow, standard)"
    )
    assert "'ollama-judge:kubernetes.persistence.storageClass' standard (or another" in message
    assert SET_OFF in message


def test_a_cluster_without_classes_needs_its_administrator_or_no_claim():
    message = storage_class_missing([], KubernetesJudgeArgs()) or ""
    assert "(StorageClasses: none)" in message
    assert "a StorageClass from the cluster's administrator (the default, or one named in " in (
        message
    )
    assert SET_OFF in message


def test_without_persistence_no_class_is_needed():
    assert storage_class_missing([], claim(enabled=False)) is None


def test_a_missing_class_is_a_config_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("components.kubernetes.preflight.read_storage_classes", lambda access: [])
    with pytest.raises(ConfigError, match=r"no default StorageClass"):
        check_storage_class(KubernetesJudgeArgs(), ClusterAccess())


def test_rendering_to_yaml_and_no_persistence_ask_no_cluster(monkeypatch: pytest.MonkeyPatch):
    def unreachable(access: ClusterAccess) -> list[dict[str, Any]]:
        raise AssertionError("the cluster was asked")

    monkeypatch.setattr("components.kubernetes.preflight.read_storage_classes", unreachable)
    rendering = ClusterAccess(render_directory="rendered")
    assert check_storage_class(KubernetesJudgeArgs(), rendering) is None
    assert check_storage_class(claim(enabled=False), ClusterAccess()) is None


def test_no_kubeconfig_skips_the_check_with_the_reason(tmp_path: Path):
    access = ClusterAccess(kubeconfig=str(tmp_path / "missing"))
    reason = check_storage_class(KubernetesJudgeArgs(), access) or ""
    assert reason.startswith("could not check the cluster's StorageClasses: no kubeconfig at ")


class ForbiddingApiServer:
    """Answers every GET with 403, as the API server does to a user whose role may not list
    storageclasses; remembers the paths asked."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        paths = self.paths

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                paths.append(self.path)
                forbidden = (
                    'storageclasses.storage.k8s.io is forbidden: User "judge" cannot list '
                    'resource "storageclasses" in API group "storage.k8s.io" at the cluster scope'
                )
                send_json(self, 403, {"kind": "Status", "message": forbidden})

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


def test_a_role_that_may_not_list_storageclasses_skips_the_check_with_the_apis_words():
    forbidding = ForbiddingApiServer()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "judge",
        "contexts": [{"name": "judge", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {"server": forbidding.url}}],
        "users": [{"name": "u", "user": {"token": "judge"}}],
    }
    access = ClusterAccess(kubeconfig=yaml.safe_dump(config))
    with serving(forbidding.server):
        reason = check_storage_class(KubernetesJudgeArgs(), access) or ""
    assert reason.startswith(
        f"could not check the cluster's StorageClasses: listing storageclasses at "
        f"{forbidding.url} failed: 403 Forbidden (storageclasses.storage.k8s.io is forbidden"
    )
    assert forbidding.paths == ["/apis/storage.k8s.io/v1/storageclasses"]
