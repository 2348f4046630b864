"""When the judge's Service routes to its ready endpoints on every node, from what `up`'s wait
(rollout_watch.py) has seen change, as kube-proxy schedules its syncs with its default
settings (iptables and nftables alike): any change of a Service or an EndpointSlice of the
cluster asks for a sync, which starts at once unless the last one ended less than
MIN_SYNC_SECONDS ago, and otherwise then; a sync reads the state as it starts, so it takes
every change from before. Without changes, a sync runs every PERIODIC_SYNC_SECONDS. Until
the sync that took an endpoint's change has ended, a request to the Service is refused (or
routed as before).
"""

import math
from collections.abc import Callable
from typing import Any

from components.kubernetes import rollout
from components.kubernetes.watches import Selected, Watches
from components.readiness import Report

SERVICE_LABEL = "kubernetes.io/service-name"  # on the EndpointSlices of a Service
MIN_SYNC_SECONDS = 1.0  # kube-proxy's minSyncPeriod
PERIODIC_SYNC_SECONDS = 30.0  # its syncPeriod
# The most one sync may take: a small cluster's take a few hundredths of a second.
SYNC_SECONDS = 0.1
# Without a view of every change, how long after one the proxies may still route without it.
UNSEEN_SECONDS = SYNC_SECONDS + MIN_SYNC_SECONDS + SYNC_SECONDS


class ProxySyncs:
    """Until when a proxy may start a sync at any moment, from the changes seen; and so
    when a change is in every node's rules, at the latest."""

    def __init__(self, began: float) -> None:
        # Before the wait began anything may have changed (the judge's Service and its slice
        # just did): a sync may start at any time until a pause and a sync after it.
        self.latest = began + SYNC_SECONDS + MIN_SYNC_SECONDS

    def changed(self, at: float) -> float:
        """A Service or EndpointSlice changed `at` (the wait's clock): when every node's
        rules have it, at the latest. A sync may have started just before it if one may
        start at any time until then, or if periodic ones may have run since the last
        change (each known only within a sync's length); else the next starts at once, or
        after the pause that follows the latest one."""
        quiet = at - self.latest > PERIODIC_SYNC_SECONDS - MIN_SYNC_SECONDS - SYNC_SECONDS
        if at <= self.latest or quiet:
            start = at + SYNC_SECONDS + MIN_SYNC_SECONDS
        else:
            start = max(at, self.latest + SYNC_SECONDS + MIN_SYNC_SECONDS)
        self.latest = max(self.latest, start)
        return start + SYNC_SECONDS


class ServiceRouting:
    """The judge's Service as the nodes' proxies route it: its ready endpoints, and the syncs
    that every change of a Service or EndpointSlice of the cluster calls for. Every one is
    seen if the kubeconfig's user may list them; else only the Service's own slices."""

    def __init__(self, core: Any, discovery: Any, namespace: str, service: str) -> None:
        self.namespace, self.service = namespace, service
        self.everything_seen = True
        self.every_service = _cluster_wide(core.list_service_for_all_namespaces)
        self.every_slice = _cluster_wide(discovery.list_endpoint_slice_for_all_namespaces)
        by_service = {"label_selector": f"{SERVICE_LABEL}={service}"}
        self.its_slices: Selected = (discovery.list_namespaced_endpoint_slice, by_service)
        self.endpoints: frozenset[str] | None = None  # the ready ones, as last seen
        # When every node routes by them, at the latest (-inf: before the wait began).
        self.routed = -math.inf
        self.syncs: ProxySyncs | None = None
        self.changes_seen = 0

    def wanted(self) -> dict[str, Selected]:
        if not self.everything_seen:
            return {"its slices": self.its_slices}
        return {
            "every Service": (self.every_service, {}),
            "every EndpointSlice": (self.every_slice, {}),
        }

    def refused(self, why: str, report: Report) -> None:
        """Listing every Service or EndpointSlice was refused: the Service's slices only."""
        self.everything_seen = False
        report(
            f"the cluster's Services and EndpointSlices cannot be listed {why}: once the "
            f"judge is ready, `up` gives the nodes' proxies {UNSEEN_SECONDS:g}s"
        )

    def look(self, watches: Watches, now: float, report: Report) -> None:
        """Takes in what changed since the last look."""
        streams = [watches.streams.get(what) for what in ("every Service", "every EndpointSlice")]
        changes = sum(stream.taken_in for stream in streams if stream)
        routed = now + UNSEEN_SECONDS  # unless every change is seen
        if self.syncs is None:
            self.syncs = ProxySyncs(now)
        elif changes > self.changes_seen:  # the endpoints' change among them, if they did
            routed = self.syncs.changed(now)
        self.changes_seen = changes
        slices = watches.objects("every EndpointSlice" if self.everything_seen else "its slices")
        endpoints = rollout.ready_endpoints(
            [s for s in slices if s["metadata"].get("namespace", self.namespace) == self.namespace
             and s["metadata"].get("labels", {}).get(SERVICE_LABEL) == self.service]
        )  # fmt: skip
        if endpoints != self.endpoints:
            if self.endpoints is not None:  # changed during the wait
                self.routed = routed
                if endpoints:
                    report(f"Service {self.service}: {len(endpoints)} ready endpoint(s)")
            self.endpoints = endpoints

    def routed_at(self) -> float | None:
        """When every node routes to the Service's ready endpoints, at the latest (-inf:
        before the wait began); None while it has none."""
        return self.routed if self.endpoints else None


def _cluster_wide(call: Callable[..., Any]) -> Callable[..., Any]:
    """A list call of every namespace, called as the namespaced ones are (a stream passes the
    namespace first); made once, so that a stream's selection stays the same."""
    return lambda _namespace, **options: call(**options)
