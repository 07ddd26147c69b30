"""The Events the workload, node and service controllers record, as `kubectl
describe` shows them: reason, type, message and the object they are about
(ReplicaSet, ReplicationController, Deployment, Node and its pods, Service)."""

from __future__ import annotations

import re

from controllers.endpointslice import EndpointSliceController
from controllers.job import JobController
from controllers.replicaset import setup_replication_controller
from engine.api import Deployment, Pod, ReplicaSet, Service, core
from engine.api.base import ObjectMeta
from engine.api.discovery import EndpointSlice
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.errors import Forbidden
from engine.events import EventRecorder
from engine.manager import Manager
from engine.manifests import parse_object
from engine.store import Store
from runtime.cluster import Cluster, ClusterConfig, NodePool
from tests.controllers.faults import FailingCreates
from tests.controllers.gc_support import configmap, owner_ref, running_cluster
from tests.controllers.nodelifecycle.fakes import world
from tests.controllers.workloads import deployment, replica_set, running
from tests.described import described, events_of

POD_NAME = re.compile(r"web-[a-z0-9]{5}$")


def _manager(clock: VirtualClock) -> tuple[Store, Manager]:
    store = Store(clock=clock)
    return store, Manager(LocalClient(store), clock=clock)


async def test_replica_set_records_pod_creations_deletions_and_failures(
    clock: VirtualClock,
) -> None:
    failing: list[FailingCreates] = []

    def writer(client: LocalClient) -> FailingCreates:
        failing.append(FailingCreates(client, Pod))
        return failing[-1]

    async with running(clock, writer=writer) as c:
        rs = await c.client.create(replica_set("web", 3))
        await c.settle()
        await c.client.scale(ReplicaSet, "web", 1)
        await c.settle()
        for f in failing:
            f.failing = True
        await c.client.scale(ReplicaSet, "web", 2)
        await c.settle()
        await c.replicasets.recorder.flush()
        seen = described(c.store, "ReplicaSet", "web")
        created = [m for t, r, m in seen if (t, r) == ("Normal", "SuccessfulCreate")]
        deleted = [m for t, r, m in seen if (t, r) == ("Normal", "SuccessfulDelete")]
        failed = [m for t, r, m in seen if (t, r) == ("Warning", "FailedCreate")]
        assert len(created) == 3 and all(m.startswith("Created pod: web-") for m in created)
        assert len(deleted) == 2 and all(m.startswith("Deleted pod: web-") for m in deleted)
        assert all(POD_NAME.search(m) for m in created + deleted)
        assert failed and failed[0].startswith("Error creating: ")
        assert "is forbidden: quota" in failed[0]
        event = events_of(c.store, "ReplicaSet", "web")[0]
        ref = event.involved_object
        assert (ref.kind, ref.namespace, ref.uid) == ("ReplicaSet", "default", rs.metadata.uid)
        assert event.source is not None and event.source.component == "replicaset-controller"


async def test_replication_controller_records_as_replication_controller(
    clock: VirtualClock,
) -> None:
    store, manager = _manager(clock)
    setup_replication_controller(manager)
    rc = parse_object(
        {
            "apiVersion": "v1",
            "kind": "ReplicationController",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": 2,
                "selector": {"app": "web"},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx"}]},
                },
            },
        }
    )
    async with manager:
        store.create(rc)
        await clock.advance(5)
    [event, _] = events_of(store, "ReplicationController", "web")
    assert (event.type, event.reason) == ("Normal", "SuccessfulCreate")
    assert event.source is not None and event.source.component == "replication-controller"


async def test_deployment_records_scaling_of_its_replica_sets(clock: VirtualClock) -> None:
    async with running(clock) as c:
        await c.client.create(deployment("web", 3))
        await c.settle()
        await c.client.scale(Deployment, "web", 5)
        await c.settle()
        await c.client.scale(Deployment, "web", 2)
        await c.settle()
        await c.deployments.recorder.flush()
        [rs] = list(c.store.objects(ReplicaSet))
        name = rs.metadata.name
        assert described(c.store, "Deployment", "web") == [
            ("Normal", "ScalingReplicaSet", f"Scaled up replica set {name} from 0 to 3"),
            ("Normal", "ScalingReplicaSet", f"Scaled up replica set {name} from 3 to 5"),
            ("Normal", "ScalingReplicaSet", f"Scaled down replica set {name} from 5 to 2"),
        ]
        [event] = events_of(c.store, "Deployment", "web")[:1]
        assert event.source is not None and event.source.component == "deployment-controller"


async def test_node_lifecycle_records_registration_not_ready_and_eviction(
    clock: VirtualClock,
) -> None:
    async with world(clock) as w:
        w.add_node("n1")
        w.add_node("n2")
        w.add_pod("p", "n1")
        await clock.advance(30)
        w.stop("n1")
        await clock.advance(400)  # Unknown, then tainted, then the pod evicted
        node_events = described(w.store, "Node", "n1")
        assert node_events[:2] == [
            ("Normal", "RegisteredNode", "Node n1 event: Registered Node n1 in Controller"),
            ("Normal", "NodeNotReady", "Node n1 status is now: NodeNotReady"),
        ]
        assert described(w.store, "Pod", "p") == [
            ("Warning", "NodeNotReady", "Node is not ready"),
            ("Normal", "TaintManagerEviction", "Marking for deletion Pod default/p"),
        ]
        w.store.delete(type(w.node("n2")), "n2")
        await clock.advance(10)
        assert described(w.store, "Node", "n2")[-1] == (
            "Normal",
            "RemovingNode",
            "Node n2 event: Removing Node n2 from Controller",
        )


class _FailingSlices(LocalClient):
    async def create(self, obj, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(obj, EndpointSlice):
            raise Forbidden('endpointslices "x" is forbidden: exceeded quota')
        return await super().create(obj, **kwargs)


async def test_endpointslice_records_a_failed_update_on_the_service(clock: VirtualClock) -> None:
    store, manager = _manager(clock)
    controller = EndpointSliceController(_FailingSlices(store), manager.factory, clock)
    manager.add(controller.controller)
    manager.add_runnable(controller.recorder.run)
    service = parse_object(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        }
    )
    async with manager:
        store.create(service)
        await clock.advance(5)
    [event] = events_of(store, "Service", "web")
    assert (event.type, event.reason) == ("Warning", "FailedToUpdateEndpointSlices")
    assert event.message == (
        "Error updating Endpoint Slices for Service default/web: "
        'endpointslices "x" is forbidden: exceeded quota'
    )
    assert (event.count or 0) > 1  # retried with back-off, folded into one Event
    assert store.get(Service, "web", "default").metadata.uid == event.involved_object.uid


async def test_a_job_controller_given_a_recorder_records_through_it(clock: VirtualClock) -> None:
    # An EventRecorder with nothing pending is falsy (it has a length): a
    # recorder handed in must still be the one used.
    _, manager = _manager(clock)
    client = manager.client
    recorder = EventRecorder(client, clock, "job-controller")
    assert JobController(client, manager.factory, clock, recorder=recorder).recorder is recorder


async def test_garbage_collector_warns_of_a_namespaced_owner_of_a_cluster_object(
    clock: VirtualClock,
) -> None:
    async with running_cluster(clock) as c:
        owner = c.store.create(configmap("owner"))
        ref = owner_ref(owner)
        c.store.create(core.Namespace(metadata=ObjectMeta(name="orphaned", owner_references=[ref])))
        await c.settle()
        await c.gc.recorder.flush()
        [event] = events_of(c.store, "Namespace", "orphaned")
        assert (event.type, event.reason) == ("Warning", "OwnerRefInvalidNamespace")
        assert event.message == (
            f"ownerRef [v1/ConfigMap, namespace: , name: owner, uid: {owner.metadata.uid}] "
            'does not exist in namespace ""'
        )
        assert event.source is not None
        assert event.source.component == "garbage-collector-controller"
        assert c.store.get(core.Namespace, "orphaned").metadata.deletion_timestamp is None


async def test_disruption_budget_records_no_pods_and_missing_controllers() -> None:
    budgets = """
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: empty}
spec: {selector: {matchLabels: {app: none}}, minAvailable: 1}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: bare}
spec: {selector: {matchLabels: {app: bare}}, maxUnavailable: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: lonely, labels: {app: bare}}
spec: {containers: [{name: c, image: nginx}]}
"""
    async with Cluster(ClusterConfig(node_pools=(NodePool(count=1),))) as cluster:
        store = cluster.store
        assert store is not None
        await cluster.apply(budgets)
        await cluster.wait_for(
            lambda: (
                len(events_of(store, "PodDisruptionBudget", "bare")) == 2
                and len(events_of(store, "PodDisruptionBudget", "empty")) == 1
            ),
            timeout=60,
        )
        assert described(store, "PodDisruptionBudget", "empty") == [
            ("Normal", "NoPods", "No matching pods found")
        ]
        assert described(store, "PodDisruptionBudget", "bare") == [
            ("Warning", "NoControllers", 'found no controllers for pod "lonely"'),
            (
                "Warning",
                "CalculateExpectedPodCountFailed",
                "Failed to calculate the number of expected pods: "
                'found no controllers for pod "lonely"',
            ),
        ]
