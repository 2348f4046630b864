"""The judge on Kubernetes (Knitfab): a Deployment and a ClusterIP Service `ollama`.

Carries everything the manual's `ollama.yaml` had (one replica, cpu 4 / memory 5Gi /
one GPU as requests = limits, port 11434, a postStart model pull) and fixes its weak
points: the pull waits for the server and retries, the startup probe keeps the Service
from routing to a judge without its models (a pod turns ready only once it passes; there
is no readiness probe: components/kubernetes/container.py), and one pull budget sizes the
probes and the rollout deadline. More replicas are more judge pods behind the same
Service, each with GPUs of its own. `pulumi up` follows the rollout itself (by the API's
watch), relays its progress, and fails with the reason as soon as it cannot succeed, a
failed model pull included (components/kubernetes/wait.py). Optional: the namespace, a
PersistentVolumeClaim for the models, a NetworkPolicy admitting only the evaluation's pods.

Deliberately not created: GPU sharing (time-slicing, MIG) and the GPU device plugin,
which belong to the cluster, and the evaluation pods, which Knitfab starts.
"""

from __future__ import annotations

import math
from pathlib import PurePosixPath

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.apps.v1 import (
    DeploymentSpecArgs,
    DeploymentStrategyArgs,
    RollingUpdateDeploymentArgs,
)
from pulumi_kubernetes.core.v1 import (
    ConfigMapVolumeSourceArgs,
    EmptyDirVolumeSourceArgs,
    PersistentVolumeClaimSpecArgs,
    PersistentVolumeClaimVolumeSourceArgs,
    PodSpecArgs,
    PodTemplateSpecArgs,
    ServicePortArgs,
    ServiceSpecArgs,
    TolerationArgs,
    VolumeArgs,
    VolumeResourceRequirementsArgs,
)
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs, ObjectMetaArgs

from components import judge, readiness
from components.config import KubernetesJudgeArgs
from components.judge import JudgeComponent
from components.kubernetes import endpoints, wait
from components.kubernetes.container import CA_VOLUME, MODELS_VOLUME, judge_container
from components.kubernetes.network_policy import judge_network_policy

TYPE = "ollama-judge:index:KubernetesJudge"
# The provider waits for this JSONPath to be present on the Deployment, with the
# controller's observedGeneration current (see the Deployment below).
AWAIT_ANNOTATION = "pulumi.com/waitFor"
AWAIT_CONTROLLER = "jsonpath={.status.observedGeneration}"
LABELS = {"app": judge.JUDGE_HOST}
# From the Service's creation (its judge ready) to its ready endpoint: the controller's
# write, normally well under a second.
SERVING_SECONDS = 120
# With more than one replica, the share of judges a change may take down at once (see the
# strategy below); Kubernetes rounds it down, and takes at least one.
MAX_UNAVAILABLE_PERCENT = 25


def rollout_deadline_seconds(pull_seconds: int) -> int:
    """How long one pod's start may take: a healthy start (the server's start, then every
    pull) and a minute to spare. The Deployment's progress deadline."""
    return judge.ready_within_seconds(pull_seconds) + 60


def rollout_waves(replicas: int) -> int:
    """How many rounds of pod starts a change of the pod template takes at most: the
    strategy replaces MAX_UNAVAILABLE_PERCENT of the pods (at least one) at a time."""
    at_once = max(1, replicas * MAX_UNAVAILABLE_PERCENT // 100)
    return math.ceil(replicas / at_once)


def strategy(replicas: int) -> DeploymentStrategyArgs:
    if replicas == 1:
        # One judge: a GPU and a ReadWriteOnce volume cannot be held by two pods at once,
        # so the old pod goes before the new one comes.
        return DeploymentStrategyArgs(type="Recreate")
    # Several judges: replace a quarter of them at a time (one, up to seven replicas) and
    # never start a pod beyond the count (maxSurge 0), so a change needs no spare GPU and
    # the other judges keep serving the evaluation meanwhile. The models' volume is then
    # an emptyDir per pod or a ReadWriteMany claim (components/config.py), which the old
    # and new pods may share.
    return DeploymentStrategyArgs(
        type="RollingUpdate",
        rolling_update=RollingUpdateDeploymentArgs(
            max_surge=0, max_unavailable=f"{MAX_UNAVAILABLE_PERCENT}%"
        ),
    )


class KubernetesJudge(JudgeComponent):
    def __init__(
        self, name: str, args: KubernetesJudgeArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        settings = args.judge

        namespace: pulumi.Input[str] = args.namespace
        if args.create_namespace:
            created = k8s.core.v1.Namespace(
                f"{name}-namespace", metadata=ObjectMetaArgs(name=args.namespace), opts=child
            )
            namespace = created.metadata.name

        def meta(object_name: str) -> ObjectMetaArgs:
            return ObjectMetaArgs(name=object_name, namespace=namespace, labels=LABELS)

        models_source = VolumeArgs(name=MODELS_VOLUME, empty_dir=EmptyDirVolumeSourceArgs())
        if args.persistence.enabled:
            claim = k8s.core.v1.PersistentVolumeClaim(
                f"{name}-models",
                metadata=meta(f"{judge.JUDGE_HOST}-models"),
                spec=PersistentVolumeClaimSpecArgs(
                    access_modes=[args.persistence.access_mode],
                    resources=VolumeResourceRequirementsArgs(
                        requests={"storage": args.persistence.size}
                    ),
                    storage_class_name=args.persistence.storage_class,
                ),
                # Models are gigabytes that took minutes to download: keep them unless asked.
                opts=child.merge(
                    pulumi.ResourceOptions(retain_on_delete=settings.keep_models_on_destroy)
                ),
            )
            models_source = VolumeArgs(
                name=MODELS_VOLUME,
                persistent_volume_claim=PersistentVolumeClaimVolumeSourceArgs(
                    claim_name=claim.metadata.name
                ),
            )

        volumes = [models_source]
        ca_files = judge.registry_ca_files(settings)
        if ca_files:
            cas = k8s.core.v1.ConfigMap(
                f"{name}-registry-cas",
                metadata=meta(f"{judge.JUDGE_HOST}-registry-cas"),
                data={PurePosixPath(path).name: pem for path, pem in ca_files.items()},
                opts=child,
            )
            volumes.append(
                VolumeArgs(
                    name=CA_VOLUME, config_map=ConfigMapVolumeSourceArgs(name=cas.metadata.name)
                )
            )

        deadline = rollout_deadline_seconds(settings.pull_timeout_seconds)
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=ObjectMetaArgs(
                name=judge.JUDGE_HOST,
                namespace=namespace,
                labels=LABELS,
                # The provider's own wait for a rollout sees only "available" or its
                # timeout; ours (below) also sees a rollout that cannot succeed, and says
                # why. So the provider waits only for the controller to take the spec.
                # Not `pulumi.com/skipAwait`: on a Deployment it also skips the wait on
                # delete, so `destroy` would return with the pod still holding its GPU,
                # and an `up` right after would apply to the Deployment being deleted.
                annotations={AWAIT_ANNOTATION: AWAIT_CONTROLLER},
            ),
            spec=DeploymentSpecArgs(
                replicas=args.replicas,
                strategy=strategy(args.replicas),
                # A rollout that has not progressed by then has failed (a pod that cannot
                # be scheduled, a pull that never finishes); any pod's start is progress.
                progress_deadline_seconds=deadline,
                selector=LabelSelectorArgs(match_labels=LABELS),
                template=PodTemplateSpecArgs(
                    metadata=ObjectMetaArgs(labels=LABELS),
                    spec=PodSpecArgs(
                        automount_service_account_token=False,
                        containers=[judge_container(args, list(ca_files))],
                        volumes=volumes,
                        node_selector=dict(args.node_selector) or None,
                        tolerations=[
                            TolerationArgs(
                                key=t.key,
                                operator=t.operator,
                                value=t.value,
                                effect=t.effect,
                                toleration_seconds=t.toleration_seconds,
                            )
                            for t in args.tolerations
                        ]
                        or None,
                        runtime_class_name=args.runtime_class_name,
                    ),
                ),
            ),
            opts=child,
        )
        # Resolves once the judge is ready: its pod's models are pulled and loaded.
        ready = pulumi.Output.all(deployment.metadata.name, deployment.metadata.namespace).apply(
            lambda names: self._wait_until_available(args, names[0], names[1], deployment)
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=ObjectMetaArgs(
                name=judge.JUDGE_HOST,
                namespace=namespace,
                labels=LABELS,
                # The provider's wait would idle 10 s after the endpoint appears; the
                # Service exists once created, and `serving` below waits for its endpoint.
                annotations={AWAIT_ANNOTATION: "jsonpath={.spec.clusterIP}"},
            ),
            spec=ServiceSpecArgs(
                type="ClusterIP",
                selector=LABELS,
                ports=[
                    ServicePortArgs(
                        name="http",
                        protocol="TCP",
                        port=judge.OLLAMA_PORT,
                        target_port=judge.OLLAMA_PORT,
                    )
                ],
            ),
            # Only once the judge is ready: a judge that cannot be leaves the Service as it
            # was, and `up` ends with the reason rather than also waiting for endpoints
            # that never come (the provider waits for them). The outputs come from the
            # Service, so they too appear only once the judge is ready.
            opts=child.merge(pulumi.ResourceOptions(depends_on=[ready])),
        )
        if args.network_policy.enabled:
            judge_network_policy(
                f"{name}-network-policy", meta(judge.JUDGE_HOST), LABELS, args.network_policy, child
            )

        # Resolves once the Service has a ready endpoint, and so do the outputs.
        serving = pulumi.Output.all(service.metadata.name, service.metadata.namespace).apply(
            lambda names: self._wait_until_serving(args, names[0], names[1], service)
        )
        service_dns_name = serving.apply(lambda parts: f"{parts[0]}.{parts[1]}.svc.cluster.local")
        # A ClusterIP Service is not reachable from outside the cluster: no host URL.
        self._publish(service_dns_name.apply(judge.evaluation_url), None, settings)

    @staticmethod
    def _wait_until_available(
        args: KubernetesJudgeArgs, name: str, namespace: str, deployment: k8s.apps.v1.Deployment
    ) -> pulumi.Input[k8s.apps.v1.Deployment]:
        # A preview changes nothing, and a rendering to YAML has no cluster: nothing to
        # wait for.
        if pulumi.runtime.is_dry_run() or args.cluster.render_directory:
            return deployment

        def until_ready(report: readiness.Report) -> k8s.apps.v1.Deployment:
            wait.follow(
                args.cluster,
                namespace,
                name,
                args.judge.models,
                # The deadline of each pod's start, for each round of a rolling update; a
                # rollout that stalls ends sooner, at the Deployment's progress deadline.
                rollout_deadline_seconds(args.judge.pull_timeout_seconds)
                * rollout_waves(args.replicas),
                report,
            )
            return deployment

        return readiness.beside_the_program(until_ready, deployment)

    @staticmethod
    def _wait_until_serving(
        args: KubernetesJudgeArgs, name: str, namespace: str, service: k8s.core.v1.Service
    ) -> pulumi.Input[tuple[str, str]]:
        if pulumi.runtime.is_dry_run() or args.cluster.render_directory:
            return (name, namespace)

        def until_ready(report: readiness.Report) -> tuple[str, str]:
            endpoints.follow(args.cluster, namespace, name, SERVING_SECONDS)
            return (name, namespace)

        return readiness.beside_the_program(until_ready, service)
