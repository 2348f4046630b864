"""The NetworkPolicy that lets only the evaluation's pods reach the judge.

Ingress to the judge's pods is limited to port 11434 from the configured peers; other
traffic to them is dropped by a CNI that enforces policies. Egress stays open: the
judge downloads its models from a registry.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs, ObjectMetaArgs
from pulumi_kubernetes.networking.v1 import (
    NetworkPolicyIngressRuleArgs,
    NetworkPolicyPeerArgs,
    NetworkPolicyPortArgs,
    NetworkPolicySpecArgs,
)

from components import judge
from components.config import NetworkPolicySettings


def judge_network_policy(
    name: str,
    metadata: ObjectMetaArgs,
    judge_labels: dict[str, str],
    settings: NetworkPolicySettings,
    opts: pulumi.ResourceOptions,
) -> k8s.networking.v1.NetworkPolicy:
    # A peer with only a podSelector means pods of the policy's own namespace.
    peer = NetworkPolicyPeerArgs(
        pod_selector=LabelSelectorArgs(match_labels=dict(settings.pod_labels)),
        namespace_selector=(
            None
            if settings.namespace_labels is None
            else LabelSelectorArgs(match_labels=dict(settings.namespace_labels))
        ),
    )
    return k8s.networking.v1.NetworkPolicy(
        name,
        metadata=metadata,
        spec=NetworkPolicySpecArgs(
            pod_selector=LabelSelectorArgs(match_labels=judge_labels),
            policy_types=["Ingress"],
            ingress=[
                NetworkPolicyIngressRuleArgs(
                    from_=[peer],
                    ports=[NetworkPolicyPortArgs(protocol="TCP", port=judge.OLLAMA_PORT)],
                )
            ],
        ),
        opts=opts,
    )
