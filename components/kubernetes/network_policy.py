"""The NetworkPolicy that lets only the evaluation's pods reach the judge: ingress to port
11434 from the configured peers (a CNI that enforces policies drops the rest). Egress stays
open: the judge downloads its models from a registry.
"""

from __future__ import annotations

import pulumi
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs, ObjectMetaArgs
from pulumi_kubernetes.networking import v1 as networking

from components import judge
from components.settings import NetworkPolicySettings


def judge_network_policy(
    name: str,
    metadata: ObjectMetaArgs,
    judge_labels: dict[str, str],
    settings: NetworkPolicySettings,
    opts: pulumi.ResourceOptions,
) -> networking.NetworkPolicy:
    # A peer with only a podSelector means pods of the policy's own namespace.
    peer = networking.NetworkPolicyPeerArgs(
        pod_selector=LabelSelectorArgs(match_labels=dict(settings.pod_labels)),
        namespace_selector=(
            None
            if settings.namespace_labels is None
            else LabelSelectorArgs(match_labels=dict(settings.namespace_labels))
        ),
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
