"""The NetworkPolicy that lets only the evaluation's pods reach the judge's port 11434 (a
CNI that enforces policies drops the rest); egress stays open for the models' registry.
"""

from __future__ import annotations

import pulumi
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs, ObjectMetaArgs
from pulumi_kubernetes.networking import v1 as networking

from components import judge
from components.config import NetworkPolicySettings


def judge_network_policy(
    name: str,
    metadata: ObjectMetaArgs,
    judge_labels: dict[str, str],
    settings: NetworkPolicySettings,
    opts: pulumi.ResourceOptions,
) -> networking.NetworkPolicy:
    # A peer with only a podSelector means pods of the policy's own namespace.
    namespaces = None
    if settings.namespace_labels is not None:
        namespaces = LabelSelectorArgs(match_labels=dict(settings.namespace_labels))
    peer = networking.NetworkPolicyPeerArgs(
        pod_selector=LabelSelectorArgs(match_labels=dict(settings.pod_labels)),
        namespace_selector=namespaces,
    )
    return networking.NetworkPolicy(
        name,
        metadata=metadata,
        spec=networking.NetworkPolicySpecArgs(
            pod_selector=LabelSelectorArgs(match_labels=judge_labels),
            policy_types=["Ingress"],
            ingress=[
                networking.NetworkPolicyIngressRuleArgs(
                    from_=[peer],
                    ports=[
                        networking.NetworkPolicyPortArgs(protocol="TCP", port=judge.OLLAMA_PORT)
                    ],
                )
            ],
        ),
        opts=opts,
    )
