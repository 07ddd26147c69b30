"""Shared helpers for the apps controller tests: a cluster on the virtual
clock, manifests, and a recorder of pod writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from engine.api import Pod
from engine.store import Store, WriteRecord
from runtime.cluster import Cluster


def is_ready(pod: Pod) -> bool:
    return pod.status.phase == "Running" and any(
        c.type == "Ready" and c.status == "True" for c in pod.status.conditions
    )


def live_pods(cluster: Cluster, namespace: str = "default") -> list[Pod]:
    store = cluster.store
    assert store is not None
    return sorted(
        (
            p
            for p in store.objects(Pod)
            if p.metadata.namespace == namespace and p.metadata.deletion_timestamp is None
        ),
        key=lambda p: p.metadata.name,
    )


@dataclass
class PodLog:
    """Pod creations and deletions in order, with which pods were ready at each
    creation, and the most live DaemonSet pods seen on each node at once."""

    created: list[tuple[str, dict[str, bool]]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    max_per_node: dict[str, int] = field(default_factory=dict)


@contextmanager
def pod_log(store: Store) -> Iterator[PodLog]:
    log = PodLog()

    def observe(record: WriteRecord) -> None:
        if record.kind != "Pod":
            return
        if record.verb == "create":
            ready = {p.metadata.name: is_ready(p) for p in store.objects(Pod)}
            log.created.append((record.name, ready))
        elif record.verb == "delete" and (
            record.previous is not None and record.previous.metadata.deletion_timestamp is None
        ):
            log.deleted.append(record.name)
        per_node: dict[str, int] = {}
        for pod in store.objects(Pod):
            node = pod.spec.node_name
            ref = pod.metadata.controller_ref()
            if ref is None or ref.kind != "DaemonSet":
                continue
            if (
                node
                and pod.metadata.deletion_timestamp is None
                and pod.status.phase
                not in (
                    "Succeeded",
                    "Failed",
                )
            ):
                per_node[node] = per_node.get(node, 0) + 1
        for node, count in per_node.items():
            log.max_per_node[node] = max(log.max_per_node.get(node, 0), count)

    store.observers.append(observe)
    try:
        yield log
    finally:
        store.observers.remove(observe)
