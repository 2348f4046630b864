"""The Kubernetes component, on Pulumi's mocks: what it registers for each setting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.config import (
    ClusterAccess,
    Gpu,
    JudgeSettings,
    KubernetesJudgeArgs,
    NetworkPolicySettings,
    Persistence,
    Registry,
    Toleration,
)
from components.judge import MODEL_SCRIPT
from components.kubernetes import wait as kubernetes_readiness
from components.kubernetes.judge import KubernetesJudge, rollout_waves
from components.readiness import JudgeNotReady, Report
from tests.conftest import digest_of
from tests.support.pulumi_program import Program, assert_only_changed, deploy_judge

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
# The models pulled into an emptyDir at each pod start, as without a claim.
NO_CLAIM = Persistence(enabled=False)
CONTAINER = "ollama-deployment:spec.template.spec.containers[0]"


def deploy(args: KubernetesJudgeArgs) -> Program:
    return deploy_judge(KubernetesJudge, args)


def with_judge(**judge_settings: Any) -> KubernetesJudgeArgs:
    return KubernetesJudgeArgs(judge=JudgeSettings(**judge_settings))


def container_of(program: Program) -> dict[str, Any]:
    return program.one(DEPLOYMENT).inputs["spec"]["template"]["spec"]["containers"][0]


def pod_spec_of(program: Program) -> dict[str, Any]:
    return program.one(DEPLOYMENT).inputs["spec"]["template"]["spec"]


def env_of(program: Program) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container_of(program)["env"]}


@pytest.fixture(scope="module")
def default() -> Program:
    return deploy(KubernetesJudgeArgs())


def test_default_deployment_carries_the_manuals_ollama_yaml(default: Program):
    deployment = default.one(DEPLOYMENT).inputs
    assert deployment["metadata"]["name"] == "ollama"
    assert deployment["metadata"]["namespace"] == "knitfab"
    assert deployment["metadata"]["labels"] == {"app": "ollama"}
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["selector"] == {"matchLabels": {"app": "ollama"}}
    assert spec["template"]["metadata"]["labels"] == {"app": "ollama"}
    assert len(spec["template"]["spec"]["containers"]) == 1
    container = container_of(default)
    assert container["name"] == "ollama"
    assert container["image"] == "ollama/ollama:0.34.1"
    expected = {"cpu": "4", "memory": "5Gi", "nvidia.com/gpu": "1"}
    assert container["resources"] == {"requests": expected, "limits": expected}
    assert [p["containerPort"] for p in container["ports"]] == [11434]
    post_start = container["lifecycle"]["postStart"]["exec"]["command"]
    assert post_start == ["/bin/sh", "-c", MODEL_SCRIPT, "ollama-judge", "pull", "llama3.2"]


def test_default_service_carries_the_manuals_ollama_yaml(default: Program):
    service = default.one(SERVICE).inputs
    assert service["metadata"]["name"] == "ollama"
    assert service["metadata"]["namespace"] == "knitfab"
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"] == {"app": "ollama"}
    [port] = service["spec"]["ports"]
    assert (port["protocol"], port["port"], port["targetPort"]) == ("TCP", 11434, 11434)


def test_default_creates_the_deployment_the_service_and_the_models_claim(default: Program):
    assert default.types == sorted([DEPLOYMENT, SERVICE, PVC, "ollama-judge:index:KubernetesJudge"])


def test_default_outputs_name_the_services_cluster_dns_name(default: Program):
    assert default.outputs == {
        "evaluationUrl": "http://ollama.knitfab.svc.cluster.local:11434",
        "openaiBaseUrl": "http://ollama.knitfab.svc.cluster.local:11434/v1",
        "hostUrl": None,
        "models": ["llama3.2"],
        "modelDigests": {"llama3.2": digest_of("llama3.2")},
        "ollamaVersion": "0.34.1",
        "image": "ollama/ollama:0.34.1",
        "gpus": "1 nvidia.com/gpu",
    }


def test_the_hook_that_pulls_and_loads_every_model_is_the_only_gate_to_ready(default: Program):
    """A container is not running before its postStart hook returns, and a pod without
    startup or readiness probes is ready once its containers run (see container.py)."""
    pull = ["/bin/sh", "-c", MODEL_SCRIPT, "ollama-judge", "pull", "llama3.2"]
    container = container_of(default)
    assert container["lifecycle"]["postStart"]["exec"]["command"] == pull
    assert "startupProbe" not in container
    assert "readinessProbe" not in container
    assert container["livenessProbe"]["httpGet"] == {"path": "/", "port": "http"}


class Followed:
    """Stands in for the wait on the cluster (kubernetes_readiness.follow): records each
    wait, and fails it with `failure` if one is given."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, failure: Exception | None = None):
        self.waits: list[dict[str, Any]] = []
        self.failure = failure
        self.then: Callable[[], None] = lambda: None
        monkeypatch.setattr(kubernetes_readiness, "follow", self.follow)

    def follow(
        self,
        access: ClusterAccess,
        namespace: str,
        name: str,
        service: str,
        models: tuple[str, ...],
        timeout_seconds: float,
        report: Report,
    ) -> None:
        self.waits.append(
            {
                "access": access,
                "namespace": namespace,
                "name": name,
                "service": service,
                "models": models,
                "timeout_seconds": timeout_seconds,
            }
        )
        self.then()
        if self.failure:
            raise self.failure


def test_one_pull_budget_sizes_the_hook_and_rollout_deadlines(
    default: Program, monkeypatch: pytest.MonkeyPatch
):
    followed = Followed(monkeypatch)

    def deadlines(program: Program, pull_seconds: int) -> None:
        ready = 120 + pull_seconds
        deadline = program.one(DEPLOYMENT).inputs["spec"]["progressDeadlineSeconds"]
        assert ready < deadline <= ready + 60
        assert followed.waits[-1]["timeout_seconds"] == deadline, "up waits as long"
        assert env_of(program)["OLLAMA_JUDGE_PULL_SECONDS"] == str(pull_seconds)

    deadlines(deploy(KubernetesJudgeArgs()), 1800)
    short = deploy(with_judge(pull_timeout_seconds=600))
    deadlines(short, 600)
    assert_only_changed(
        default,
        short,
        "ollama-deployment:spec.progressDeadlineSeconds",
        f"{CONTAINER}.env",
    )


def test_the_provider_waits_only_for_the_controller_and_up_for_the_rollout(
    default: Program,
):
    deployment = default.one(DEPLOYMENT)
    # Not skipAwait: for a Deployment it would also skip the provider's wait on delete.
    assert deployment.inputs["metadata"]["annotations"] == {
        "pulumi.com/waitFor": "jsonpath={.status.observedGeneration}"
    }
    assert deployment.custom_timeouts == {"create": "", "update": ""}


def test_up_follows_the_rollout_on_the_providers_cluster(monkeypatch: pytest.MonkeyPatch):
    followed = Followed(monkeypatch)
    cluster = ClusterAccess(kubeconfig="/home/me/.kube/knitfab", context="gpu")
    deploy(KubernetesJudgeArgs().model_copy(update={"namespace": "judges", "cluster": cluster}))
    assert followed.waits == [
        {
            "access": cluster,
            "namespace": "judges",
            "name": "ollama",
            "service": "ollama",
            "models": ("llama3.2",),
            "timeout_seconds": 120 + 1800 + 60,
        }
    ]


def test_the_service_comes_beside_the_deployment_and_the_outputs_once_it_routes(
    monkeypatch: pytest.MonkeyPatch,
):
    program = Program()
    followed = Followed(monkeypatch)
    services_at_the_wait: list[int] = []
    followed.then = lambda: services_at_the_wait.append(len(program.of_type(SERVICE)))
    deployed = deploy_judge(KubernetesJudge, KubernetesJudgeArgs(), program)
    assert services_at_the_wait == [1], "the wait follows the Service's endpoints too"
    # After the claim, as the Deployment is: not after the Deployment, nor before the claim.
    claim, service = program.one(PVC), program.one(SERVICE)
    assert service.waits_for == [claim.name]
    # With nothing for the Deployment to wait on, after it: one failure on an unreachable cluster.
    alone = Program()
    deploy_judge(KubernetesJudge, KubernetesJudgeArgs(persistence=NO_CLAIM), alone)
    deployment = alone.one(DEPLOYMENT)
    assert alone.one(SERVICE).waits_for == [deployment.name]
    assert deployed.outputs["evaluationUrl"].startswith("http://ollama.knitfab.svc")
    # The provider's own Service wait (10 s of quiet after the endpoint) is replaced.
    assert program.one(SERVICE).inputs["metadata"]["annotations"] == {
        "pulumi.com/waitFor": "jsonpath={.spec.clusterIP}"
    }


def test_a_judge_that_cannot_be_ready_fails_up_with_the_reason(monkeypatch: pytest.MonkeyPatch):
    Followed(monkeypatch, JudgeNotReady("its postStart hook gave up: could not pull judge"))
    program = Program()
    with pytest.raises(JudgeNotReady, match="could not pull judge"):
        deploy_judge(KubernetesJudge, KubernetesJudgeArgs(), program)
    assert program.one(DEPLOYMENT)


def test_preview_and_rendering_to_yaml_do_not_wait(monkeypatch: pytest.MonkeyPatch):
    followed = Followed(monkeypatch, JudgeNotReady("must not wait"))
    preview = deploy_judge(KubernetesJudge, KubernetesJudgeArgs(), Program(preview=True))
    assert preview.one(SERVICE)
    rendered = KubernetesJudgeArgs().model_copy(
        update={"cluster": ClusterAccess(render_directory="out")}
    )
    assert deploy(rendered).outputs["evaluationUrl"].startswith("http://ollama.")
    assert followed.waits == []


def test_hook_output_goes_to_the_container_log(default: Program):
    assert env_of(default)["OLLAMA_JUDGE_LOG"] == "/proc/1/fd/1"


def test_recreate_strategy_and_locked_down_pod(default: Program):
    # One GPU and one ReadWriteOnce volume: the old pod goes before the new one comes.
    assert default.one(DEPLOYMENT).inputs["spec"]["strategy"] == {"type": "Recreate"}
    assert pod_spec_of(default)["automountServiceAccountToken"] is False
    security = container_of(default)["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}


def test_the_pod_meets_pod_security_restricted_as_a_user_that_owns_the_models_volume(
    default: Program,
):
    assert container_of(default)["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    # The volume's files get the judge's group, a root judge's claim included.
    assert pod_spec_of(default)["securityContext"] == {
        "fsGroup": 65532,
        "fsGroupChangePolicy": "OnRootMismatch",
    }
    # /root is root's alone in the image: the user's home is elsewhere, and the models'
    # volume is its .ollama, laid out as /root/.ollama is.
    assert env_of(default)["HOME"] == "/home/ollama"
    assert "OLLAMA_MODELS" not in env_of(default)


def test_replicas_are_judge_pods_behind_the_service_each_with_its_own_gpu(default: Program):
    three = deploy(KubernetesJudgeArgs().model_copy(update={"replicas": 3, "gpu": Gpu(count=2)}))
    spec = three.one(DEPLOYMENT).inputs["spec"]
    assert spec["replicas"] == 3
    # Requests are per pod: the scheduler finds 2 GPUs on one node for each of the three.
    expected = {"cpu": "4", "memory": "5Gi", "nvidia.com/gpu": "2"}
    assert container_of(three)["resources"] == {"requests": expected, "limits": expected}
    assert spec["selector"] == {"matchLabels": {"app": "ollama"}}
    assert three.one(SERVICE).inputs["spec"]["selector"] == {"app": "ollama"}
    # The output says what each judge pod gets.
    assert three.outputs == {**default.outputs, "gpus": "2 nvidia.com/gpu"}


def test_many_replicas_roll_a_quarter_at_a_time_without_a_spare_gpu():
    for replicas, waves in ((2, 2), (3, 3), (7, 7), (8, 4), (50, 5), (100, 4)):
        program = deploy(KubernetesJudgeArgs().model_copy(update={"replicas": replicas}))
        assert program.one(DEPLOYMENT).inputs["spec"]["strategy"] == {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "25%"},
        }
        assert rollout_waves(replicas) == waves
    assert rollout_waves(1) == 1


def test_going_from_one_replica_to_three_changes_no_pod(default: Program):
    three = deploy(KubernetesJudgeArgs().model_copy(update={"replicas": 3}))
    assert_only_changed(
        default, three, "ollama-deployment:spec.replicas", "ollama-deployment:spec.strategy"
    )


def test_up_waits_for_every_round_of_a_rolling_update(monkeypatch: pytest.MonkeyPatch):
    followed = Followed(monkeypatch)
    deploy(KubernetesJudgeArgs().model_copy(update={"replicas": 8}))
    deadline = 120 + 1800 + 60
    assert followed.waits[-1]["timeout_seconds"] == 4 * deadline, "two pods at a time"
    deployment = deploy(KubernetesJudgeArgs().model_copy(update={"replicas": 8})).one(DEPLOYMENT)
    assert deployment.inputs["spec"]["progressDeadlineSeconds"] == deadline, "per pod start"


def test_replicas_share_a_read_write_many_claim():
    shared = deploy(
        KubernetesJudgeArgs().model_copy(
            update={
                "replicas": 3,
                "persistence": Persistence(enabled=True, access_mode="ReadWriteMany"),
            }
        )
    )
    assert shared.one(PVC).inputs["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pod_spec_of(shared)["volumes"] == [
        {"name": "models", "persistentVolumeClaim": {"claimName": "ollama-models"}}
    ]
    # On the shared volume: the judges pull one at a time.
    assert env_of(shared)["OLLAMA_JUDGE_PULL_LOCK"] == "/home/ollama/.ollama/ollama-judge-pull.lock"


def test_a_judge_alone_on_its_volume_takes_no_pull_lock(default: Program):
    """A ReadWriteOnce claim (one pod at a time, Recreate) or an emptyDir: no lock that a
    judge stopped mid-pull could leave to the next one."""
    alone = deploy(KubernetesJudgeArgs().model_copy(update={"persistence": NO_CLAIM}))
    for program in (default, alone):
        assert "OLLAMA_JUDGE_PULL_LOCK" not in env_of(program)


def test_models_live_in_an_empty_dir_without_persistence():
    pulled = deploy(KubernetesJudgeArgs().model_copy(update={"persistence": NO_CLAIM}))
    assert pod_spec_of(pulled)["volumes"] == [{"name": "models", "emptyDir": {}}]
    assert container_of(pulled)["volumeMounts"] == [
        {"name": "models", "mountPath": "/home/ollama/.ollama"}
    ]
    assert not pulled.of_type(PVC)


def test_model_list_changes_only_the_hook(default: Program):
    two = deploy(with_judge(models=("llama3.2", "qwen2.5")))
    assert container_of(two)["lifecycle"]["postStart"]["exec"]["command"][-2:] == [
        "llama3.2",
        "qwen2.5",
    ]
    assert_only_changed(
        default,
        two,
        f"{CONTAINER}.lifecycle.postStart.exec.command",
    )


def test_gpu_count_zero_sets_no_gpu_limit_and_hides_gpus(default: Program):
    cpu_only = deploy(KubernetesJudgeArgs().model_copy(update={"gpu": Gpu(count=0)}))
    expected = {"cpu": "4", "memory": "5Gi"}
    assert container_of(cpu_only)["resources"] == {"requests": expected, "limits": expected}
    assert env_of(cpu_only)["NVIDIA_VISIBLE_DEVICES"] == "void"
    assert_only_changed(default, cpu_only, f"{CONTAINER}.resources", f"{CONTAINER}.env")
    assert cpu_only.outputs["gpus"] == "none"


def test_gpu_resource_name_for_shared_gpus(default: Program):
    mig = deploy(
        KubernetesJudgeArgs().model_copy(
            update={"gpu": Gpu(count=2, resource_name="nvidia.com/mig-1g.5gb")}
        )
    )
    limits = container_of(mig)["resources"]["limits"]
    assert limits == {"cpu": "4", "memory": "5Gi", "nvidia.com/mig-1g.5gb": "2"}
    assert container_of(mig)["resources"]["requests"] == limits
    assert_only_changed(default, mig, f"{CONTAINER}.resources")


def test_cpu_and_memory(default: Program):
    small = deploy(KubernetesJudgeArgs().model_copy(update={"cpu": "2", "memory": "8Gi"}))
    assert container_of(small)["resources"]["limits"]["memory"] == "8Gi"
    assert_only_changed(default, small, f"{CONTAINER}.resources")


def test_scheduling_settings(default: Program):
    placed = deploy(
        KubernetesJudgeArgs().model_copy(
            update={
                "node_selector": {"nvidia.com/gpu.present": "true"},
                "tolerations": (
                    Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule"),
                ),
                "runtime_class_name": "nvidia",
            }
        )
    )
    pod = pod_spec_of(placed)
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert pod["runtimeClassName"] == "nvidia"
    spec = "ollama-deployment:spec.template.spec"
    assert_only_changed(
        default, placed, f"{spec}.nodeSelector", f"{spec}.tolerations", f"{spec}.runtimeClassName"
    )


def test_image_pull_policy_and_environment(default: Program):
    tuned = deploy(
        KubernetesJudgeArgs().model_copy(
            update={
                "judge": JudgeSettings(environment={"OLLAMA_KEEP_ALIVE": "24h"}),
                "image_pull_policy": "Always",
            }
        )
    )
    assert container_of(tuned)["imagePullPolicy"] == "Always"
    assert env_of(tuned)["OLLAMA_KEEP_ALIVE"] == "24h"
    assert_only_changed(default, tuned, f"{CONTAINER}.imagePullPolicy", f"{CONTAINER}.env")


def test_models_live_by_default_on_a_claim_that_outlives_the_stack(default: Program):
    claim = default.one(PVC)
    assert claim.retain_on_delete
    assert claim.inputs["metadata"]["name"] == "ollama-models"
    assert claim.inputs["metadata"]["namespace"] == "knitfab"
    # No class named: the cluster's default class provides the volume.
    assert claim.inputs["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "30Gi"}},
    }
    assert pod_spec_of(default)["volumes"] == [
        {"name": "models", "persistentVolumeClaim": {"claimName": "ollama-models"}}
    ]
    assert container_of(default)["volumeMounts"] == [
        {"name": "models", "mountPath": "/home/ollama/.ollama"}
    ]


def test_the_claims_size_and_class_change_only_the_claim(default: Program):
    kept = deploy(
        KubernetesJudgeArgs().model_copy(
            update={"persistence": Persistence(size="50Gi", storage_class="fast")}
        )
    )
    assert kept.one(PVC).inputs["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "50Gi"}},
        "storageClassName": "fast",
    }
    assert_only_changed(default, kept, "ollama-models:spec.")


def test_persistence_opt_out_of_keeping_models():
    claim = deploy(
        KubernetesJudgeArgs().model_copy(
            update={
                "judge": JudgeSettings(keep_models_on_destroy=False),
                "persistence": Persistence(enabled=True),
            }
        )
    ).one(PVC)
    assert not claim.retain_on_delete


def test_network_policy_admits_only_the_evaluation_pods(default: Program):
    guarded = deploy(
        KubernetesJudgeArgs().model_copy(
            update={
                "network_policy": NetworkPolicySettings(
                    enabled=True, pod_labels={"role": "evaluate"}
                )
            }
        )
    )
    policy = guarded.one(NETWORK_POLICY).inputs
    assert policy["metadata"]["namespace"] == "knitfab"
    assert policy["spec"] == {
        "podSelector": {"matchLabels": {"app": "ollama"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [{"podSelector": {"matchLabels": {"role": "evaluate"}}}],
                "ports": [{"protocol": "TCP", "port": 11434}],
            }
        ],
    }
    assert_only_changed(default, guarded, "ollama-network-policy:")


def test_network_policy_from_other_namespaces():
    policy = deploy(
        KubernetesJudgeArgs().model_copy(
            update={
                "network_policy": NetworkPolicySettings(
                    enabled=True, namespace_labels={"kubernetes.io/metadata.name": "knitfab"}
                )
            }
        )
    ).one(NETWORK_POLICY)
    assert policy.inputs["spec"]["ingress"][0]["from"] == [
        {
            "podSelector": {"matchLabels": {}},
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "knitfab"}},
        }
    ]


def test_namespace_is_assumed_unless_created(default: Program):
    assert default.of_type(NAMESPACE) == []
    own = deploy(
        KubernetesJudgeArgs().model_copy(update={"namespace": "judges", "create_namespace": True})
    )
    assert own.one(NAMESPACE).inputs["metadata"]["name"] == "judges"
    assert own.one(SERVICE).inputs["metadata"]["namespace"] == "judges"
    assert own.outputs["evaluationUrl"] == "http://ollama.judges.svc.cluster.local:11434"


def test_private_registry_cas_are_mounted_beside_the_images_own(tmp_path, default: Program):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    private = deploy(with_judge(registries={"reg.example:5000": Registry(ca_file=str(ca))}))
    config_map = private.one("kubernetes:core/v1:ConfigMap").inputs
    assert config_map["metadata"]["name"] == "ollama-registry-cas"
    assert config_map["data"] == {"ollama-judge-reg.example-5000.crt": ca.read_text()}
    volumes = pod_spec_of(private)["volumes"]
    assert volumes[1] == {"name": "registry-cas", "configMap": {"name": "ollama-registry-cas"}}
    assert container_of(private)["volumeMounts"][1] == {
        "name": "registry-cas",
        "mountPath": "/etc/ssl/certs/ollama-judge-reg.example-5000.crt",
        "subPath": "ollama-judge-reg.example-5000.crt",
        "readOnly": True,
    }
    assert env_of(private)["OLLAMA_NO_CLOUD"] == "1"
