"""The EndpointSlice reconciler as a pure function: conditions, which pods are
listed, named ports, slice sizes and low churn."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from controllers.endpointslice.reconciler import CONTROLLER_NAME, plan
from engine.api import Pod, Service
from engine.api.discovery import EndpointSlice

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def svc(**spec: Any) -> Service:
    spec.setdefault("selector", {"app": "web"})
    spec.setdefault("ports", [{"name": "http", "port": 80, "targetPort": "http"}])
    return Service.model_validate(
        {"metadata": {"name": "web", "namespace": "default", "uid": "svc-uid"}, "spec": spec}
    )


def pod(
    i: int,
    *,
    ready: bool = True,
    ip: str | None = "auto",
    phase: str = "Running",
    deleting: bool = False,
    port: int = 8080,
    node: str = "node-0",
    **spec: Any,
) -> Pod:
    meta: dict[str, Any] = {
        "name": f"web-{i}",
        "namespace": "default",
        "uid": f"uid-{i}",
        "labels": {"app": "web"},
    }
    if deleting:
        meta["deletionTimestamp"] = NOW.isoformat()
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    if ip is not None:
        status["podIP"] = f"10.244.0.{i + 2}" if ip == "auto" else ip
    return Pod.model_validate(
        {
            "metadata": meta,
            "spec": {
                "nodeName": node,
                "containers": [
                    {
                        "name": "c",
                        "image": "nginx",
                        "ports": [{"name": "http", "containerPort": port}],
                    }
                ],
                **spec,
            },
            "status": status,
        }
    )


ZONES = {"node-0": "a", "node-1": "b"}


def stored(slices: list[EndpointSlice]) -> list[EndpointSlice]:
    """The plan's slices as the store would hold them (named, versioned)."""
    out = []
    for i, s in enumerate(slices):
        meta = s.metadata.model_copy(
            update={"name": s.metadata.name or f"web-{i:05d}", "resource_version": str(i + 1)}
        )
        out.append(s.model_copy(update={"metadata": meta}))
    return out


def test_conditions_terminating_kept_finished_and_ipless_dropped() -> None:
    pods = [
        pod(0),
        pod(1, ready=False),
        pod(2, deleting=True),
        pod(3, ready=False, deleting=True),
        pod(4, phase="Succeeded"),
        pod(5, phase="Failed"),
        pod(6, ip=None),
    ]
    result = plan(svc(), pods, ZONES, [])
    assert len(result.create) == 1 and not result.update and not result.delete
    slice_ = result.create[0]
    got = {
        e.target_ref.name: (e.conditions.ready, e.conditions.serving, e.conditions.terminating)
        for e in slice_.endpoints
        if e.target_ref is not None
    }
    assert got == {
        "web-0": (True, True, False),
        "web-1": (False, False, False),
        "web-2": (False, True, True),
        "web-3": (False, False, True),
    }
    assert slice_.ports[0].port == 8080 and slice_.ports[0].name == "http"
    assert slice_.metadata.labels["kubernetes.io/service-name"] == "web"
    assert slice_.metadata.labels["endpointslice.kubernetes.io/managed-by"] == CONTROLLER_NAME
    owner = slice_.metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.controller) == ("Service", "web", True)
    first = slice_.endpoints[0]
    assert (first.node_name, first.zone, first.addresses) == ("node-0", "a", ["10.244.0.2"])


def test_publish_not_ready_addresses_makes_every_endpoint_ready() -> None:
    result = plan(svc(publishNotReadyAddresses=True), [pod(0, ready=False)], ZONES, [])
    assert result.create[0].endpoints[0].conditions.ready is True


def test_named_target_port_resolved_per_pod_groups_slices() -> None:
    pods = [pod(0, port=8080), pod(1, port=9090), pod(2, port=8080)]
    result = plan(svc(), pods, ZONES, [])
    by_port = {s.ports[0].port: len(s.endpoints) for s in result.create}
    assert by_port == {8080: 2, 9090: 1}


def test_hostname_only_for_pods_in_the_service_subdomain() -> None:
    pods = [pod(0, hostname="web-0", subdomain="web"), pod(1, hostname="web-1", subdomain="x")]
    endpoints = plan(svc(), pods, ZONES, []).create[0].endpoints
    assert [e.hostname for e in endpoints] == ["web-0", None]


def test_at_most_max_endpoints_per_slice() -> None:
    pods = [pod(i, ip=f"10.244.{i // 250}.{i % 250 + 2}") for i in range(250)]
    result = plan(svc(), pods, ZONES, [], max_endpoints=100)
    assert sorted(len(s.endpoints) for s in result.create) == [50, 100, 100]


def test_unknown_node_is_left_out_and_retried() -> None:
    result = plan(svc(), [pod(0), pod(1, node="node-9")], ZONES, [])
    assert result.missing_nodes
    assert len(result.create[0].endpoints) == 1


def test_steady_state_writes_nothing_and_one_change_writes_one_slice() -> None:
    pods = [pod(i, ip=f"10.244.{i // 250}.{i % 250 + 2}") for i in range(250)]
    existing = stored(plan(svc(), pods, ZONES, []).create)
    assert len(plan(svc(), pods, ZONES, existing)) == 0
    pods[10] = pod(10, ready=False, ip=pods[10].status.pod_ip)
    change = plan(svc(), pods, ZONES, existing)
    assert len(change.update) == 1 and not change.create and not change.delete


def test_new_endpoint_goes_into_an_existing_slice_with_room() -> None:
    pods = [pod(i) for i in range(5)]
    existing = stored(plan(svc(), pods, ZONES, []).create)
    result = plan(svc(), [*pods, pod(5)], ZONES, existing)
    assert not result.create and len(result.update) == 1
    assert len(result.update[0].endpoints) == 6
    assert result.update[0].metadata.name == existing[0].metadata.name


def test_emptied_slice_reused_for_new_endpoints_instead_of_delete_and_create() -> None:
    old = [pod(i, port=8080) for i in range(3)]
    existing = stored(plan(svc(), old, ZONES, []).create)
    new = [pod(i + 10, port=9090) for i in range(3)]
    result = plan(svc(), new, ZONES, existing)
    assert not result.create and not result.delete
    assert result.update[0].metadata.name == existing[0].metadata.name
    assert result.update[0].ports[0].port == 9090


def test_placeholder_slice_when_nothing_is_selected() -> None:
    result = plan(svc(), [], ZONES, [])
    assert len(result.create) == 1
    assert result.create[0].endpoints == [] and result.create[0].ports == []
    existing = stored(result.create)
    assert len(plan(svc(), [], ZONES, existing)) == 0
    filled = plan(svc(), [pod(0)], ZONES, existing)
    assert not filled.create and not filled.delete and len(filled.update) == 1
