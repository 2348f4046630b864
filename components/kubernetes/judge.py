"""The judge on Kubernetes (Knitfab), as the manual's `ollama.yaml` had it: a Deployment of
judge pods (container.py), each with GPUs of its own, behind a ClusterIP Service `ollama`;
`up` waits until the Service routes to them (wait.py). The models are kept on a claim unless
persistence is off. Optional: the namespace, a NetworkPolicy admitting only the evaluation's
pods. Deliberately not created: GPU sharing and the device plugin (the cluster's), and the
evaluation pods (Knitfab's).
"""

from __future__ import annotations

import math
from pathlib import PurePosixPath

import pulumi
from pulumi_kubernetes.apps import v1 as apps
from pulumi_kubernetes.core import v1 as core
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs, ObjectMetaArgs

from components import judge, readiness
from components.config import KubernetesJudgeArgs
from components.judge import JudgeComponent
from components.kubernetes import wait
from components.kubernetes.container import (
    CA_VOLUME,
    MODELS_VOLUME,
    judge_container,
    pod_security,
)
from components.kubernetes.network_policy import judge_network_policy

TYPE = "ollama-judge:index:KubernetesJudge"
AWAIT_ANNOTATION = "pulumi.com/waitFor"  # the provider waits for this JSONPath
LABELS = {"app": judge.JUDGE_HOST}
# Several judges: the share a change takes down at once (rounded down, at least one).
MAX_UNAVAILABLE_PERCENT = 25


def rollout_waves(replicas: int) -> int:
    """How many rounds of pod starts a change of the pod template takes at most."""
    at_once = max(1, replicas * MAX_UNAVAILABLE_PERCENT // 100)
    return math.ceil(replicas / at_once)


def strategy(replicas: int) -> apps.DeploymentStrategyArgs:
    if replicas == 1:
        # One judge: a GPU and a ReadWriteOnce volume cannot be held by two pods at once,
        # so the old pod goes before the new one comes.
        return apps.DeploymentStrategyArgs(type="Recreate")
    # Several judges: never a pod beyond the count (maxSurge 0), so a change needs no spare
    # GPU and the other judges keep serving. The models' volume is then an emptyDir per pod
    # or a ReadWriteMany claim (components/config.py), which old and new pods may share.
    return apps.DeploymentStrategyArgs(
        type="RollingUpdate",
        rolling_update=apps.RollingUpdateDeploymentArgs(
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

        namespace_name: pulumi.Input[str] = args.namespace
        # What the Deployment needs created first: the Service needs the same, and no more.
        prerequisites: list[pulumi.Resource] = []
        if args.create_namespace:
            created = core.Namespace(
                f"{name}-namespace", metadata=ObjectMetaArgs(name=args.namespace), opts=child
            )
            namespace_name = created.metadata.name
            prerequisites.append(created)

        def meta(object_name: str, annotations: dict[str, str] | None = None) -> ObjectMetaArgs:
            return ObjectMetaArgs(
                name=object_name, namespace=namespace_name, labels=LABELS, annotations=annotations
            )

        volumes = [core.VolumeArgs(name=MODELS_VOLUME, empty_dir=core.EmptyDirVolumeSourceArgs())]
        if args.persistence.enabled:
            claim = core.PersistentVolumeClaim(
                f"{name}-models",
                # The Deployment needs the claim to exist, not bound: a claim of a class that
                # binds on first use is bound only once the judge's pod is scheduled. The
                # provider's own wait would hold the Deployment back for half a second.
                metadata=meta(
                    f"{judge.JUDGE_HOST}-models", {AWAIT_ANNOTATION: "jsonpath={.status.phase}"}
                ),
                spec=core.PersistentVolumeClaimSpecArgs(
                    access_modes=[args.persistence.access_mode],
                    resources=core.VolumeResourceRequirementsArgs(
                        requests={"storage": args.persistence.size}
                    ),
                    storage_class_name=args.persistence.storage_class,
                ),
                # Models are gigabytes that took minutes to download: keep them unless asked.
                opts=child.merge(
                    pulumi.ResourceOptions(retain_on_delete=settings.keep_models_on_destroy)
                ),
            )
            prerequisites.append(claim)
            claimed = core.PersistentVolumeClaimVolumeSourceArgs(claim_name=claim.metadata.name)
            volumes = [core.VolumeArgs(name=MODELS_VOLUME, persistent_volume_claim=claimed)]

        ca_files = judge.registry_ca_files(settings)
        if ca_files:
            cas = core.ConfigMap(
                f"{name}-registry-cas",
                metadata=meta(f"{judge.JUDGE_HOST}-registry-cas"),
                data={PurePosixPath(path).name: pem for path, pem in ca_files.items()},
                opts=child,
            )
            prerequisites.append(cas)
            mapped = core.ConfigMapVolumeSourceArgs(name=cas.metadata.name)
            volumes.append(core.VolumeArgs(name=CA_VOLUME, config_map=mapped))

        # How long one pod's start may take: a healthy start and a minute to spare.
        deadline = judge.ready_within_seconds(settings.pull_timeout_seconds) + 60
        deployment = apps.Deployment(
            f"{name}-deployment",
            # The provider's wait sees only "available" or a timeout; ours (below) also sees a
            # rollout that cannot succeed, so the provider waits only for the controller to
            # take the spec. Not `pulumi.com/skipAwait`: it skips the wait on delete too, so
            # `destroy` would return with the pod holding its GPU, the Deployment still going.
            metadata=meta(
                judge.JUDGE_HOST, {AWAIT_ANNOTATION: "jsonpath={.status.observedGeneration}"}
            ),
            spec=apps.DeploymentSpecArgs(
                replicas=args.replicas,
                strategy=strategy(args.replicas),
                # A rollout without progress by then has failed; any pod's start is progress.
                progress_deadline_seconds=deadline,
                selector=LabelSelectorArgs(match_labels=LABELS),
                template=core.PodTemplateSpecArgs(
                    metadata=ObjectMetaArgs(labels=LABELS),
                    spec=core.PodSpecArgs(
                        automount_service_account_token=False,
                        security_context=pod_security(),
                        containers=[judge_container(args, list(ca_files))],
                        volumes=volumes,
                        node_selector=dict(args.node_selector) or None,
                        # The settings' tolerations have the API's fields.
                        tolerations=[core.TolerationArgs(**vars(t)) for t in args.tolerations]
                        or None,
                        runtime_class_name=args.runtime_class_name,
                    ),
                ),
            ),
            opts=child,
        )
        # Each round of a rolling update may take the deadline; a stalled rollout ends sooner.
        rollout_seconds = deadline * rollout_waves(args.replicas)

        service = core.Service(
            f"{name}-service",
            # The provider's wait would idle 10 s after the endpoint; `up` waits for it below.
            metadata=meta(judge.JUDGE_HOST, {AWAIT_ANNOTATION: "jsonpath={.spec.clusterIP}"}),
            spec=core.ServiceSpecArgs(
                type="ClusterIP",
                selector=LABELS,
                ports=[
                    core.ServicePortArgs(
                        name="http",
                        protocol="TCP",
                        port=judge.OLLAMA_PORT,
                        target_port=judge.OLLAMA_PORT,
                    )
                ],
            ),
            # Beside the Deployment, not once it is ready: the nodes' proxies program the
            # Service while the judge starts, and only its endpoint is left to program once it
            # is ready; each of their syncs waits a second after the last. (After what the
            # Deployment needs, or after the Deployment: a cluster that cannot be reached
            # fails one resource, not two at once with the same words.)
            opts=child.merge(pulumi.ResourceOptions(depends_on=prerequisites or [deployment])),
        )
        if args.network_policy.enabled:
            judge_network_policy(
                f"{name}-network-policy", meta(judge.JUDGE_HOST), LABELS, args.network_policy, child
            )

        def until_serving(names: list[str], report: readiness.Report) -> readiness.JudgeIdentity:
            deployment_name, namespace, service_name = names
            return wait.follow(
                args.cluster,
                namespace,
                deployment_name,
                service_name,
                settings.models,
                rollout_seconds,
                report,
            )

        # Once every judge is ready (its models pulled and loaded) and the Service routes to
        # them; then the outputs. A rendering writes the manifests only: no cluster to wait on.
        names = [deployment.metadata.name, deployment.metadata.namespace, service.metadata.name]
        rendering = bool(args.cluster.render_directory)
        serving, identity = readiness.after_wait(deployment, names, until_serving, rendering)
        service_dns_name = serving.apply(lambda names: f"{names[2]}.{names[1]}.svc.cluster.local")
        gpu = args.gpu
        gpus = f"{gpu.count} {gpu.resource_name}" if gpu.count else "none"
        # A ClusterIP Service is not reachable from outside the cluster: no host URL.
        url = service_dns_name.apply(judge.evaluation_url)
        self._publish(url, None, settings, gpus, identity)
