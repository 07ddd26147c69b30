"""The kubelet's Events as `kubectl describe pod` / `describe node` show them:
image pulls, container creation and start, probe failures, kills, crash-loop
back-off, invalid images, and the node's own start-up and condition events,
all from source `kubelet` on the node, on the virtual clock."""

from __future__ import annotations

from engine.api import core
from engine.clock import VirtualClock
from runtime.cluster import Cluster, ClusterConfig, NodePool
from tests.described import described, events_of
from tests.runtime.kubelet_env import pod_manifest, set_node_ready, sim, simulated_nodes

APP = "spec.containers{app}"


async def test_a_started_pod_shows_pull_create_start(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(pod_manifest("p"))  # nginx:1.27: IfNotPresent
        env.store.create(pod_manifest("q", annotations=sim(start_latency="2s")))
        await clock.advance(5)
        assert described(env.store, "Pod", "p") == [
            ("Normal", "Pulling", 'Pulling image "nginx:1.27"'),
            (
                "Normal",
                "Pulled",
                'Successfully pulled image "nginx:1.27" in 0s (0s including waiting)',
            ),
            ("Normal", "Created", "Created container: app"),
            ("Normal", "Started", "Started container app"),
        ]
        assert described(env.store, "Pod", "q")[0] == (
            "Normal",
            "Pulled",
            'Container image "nginx:1.27" already present on machine',
        )
        pod = env.pod("p")
        for event in events_of(env.store, "Pod", "p"):
            ref = event.involved_object
            assert (ref.namespace, ref.uid, ref.field_path) == ("default", pod.metadata.uid, APP)
            assert event.source == core.EventSource(component="kubelet", host="node-0")
            assert event.reporting_instance == "node-0"


async def test_always_pulls_every_start(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        containers = [{"name": "app", "image": "busybox"}]  # no tag: Always
        env.store.create(
            pod_manifest(
                "c", containers=containers, annotations=sim(start_latency="0s", exit_after="1s")
            )
        )
        await clock.advance(15)  # exited at 1, restarted after 10 s of back-off
        pulling = [e for e in events_of(env.store, "Pod", "c") if e.reason == "Pulling"]
        assert [(e.message, e.count) for e in pulling] == [('Pulling image "busybox"', 2)]


async def test_a_crash_loop_shows_back_off(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest("crasher", annotations=sim(start_latency="0s", exit_after="1s"))
        )
        await clock.advance(1 + 10 + 1 + 5)
        uid = env.pod("crasher").metadata.uid
        [back_off] = [e for e in events_of(env.store, "Pod", "crasher") if e.reason == "BackOff"]
        assert back_off.type == "Warning"
        assert back_off.message == (
            f"Back-off restarting failed container app in pod crasher_default({uid})"
        )
        assert back_off.count == 2 and back_off.involved_object.field_path == APP
        started = [e for e in events_of(env.store, "Pod", "crasher") if e.reason == "Started"]
        assert [e.count for e in started] == [2]


async def test_a_failing_liveness_probe_shows_unhealthy_then_killing(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "live",
                containers=[
                    {
                        "name": "app",
                        "image": "app:1",
                        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                    }
                ],
                annotations=sim(
                    start_latency="0s", liveness_probe="success,30s=failure", shutdown_after="0s"
                ),
            )
        )
        await clock.advance(51)
        seen = described(env.store, "Pod", "live")
        [unhealthy] = [e for e in events_of(env.store, "Pod", "live") if e.reason == "Unhealthy"]
        assert unhealthy.type == "Warning" and unhealthy.count == 3  # failures at 30, 40, 50
        assert unhealthy.message == (
            "Liveness probe failed: simulated liveness probe failure (httpGet)"
        )
        assert (
            "Normal",
            "Killing",
            "Container app failed liveness probe, will be restarted",
        ) in seen


async def test_deleting_a_pod_shows_stopping_its_containers(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(pod_manifest("p", grace=5))
        await clock.advance(3)
        env.store.delete(core.Pod, "p", "default")
        await clock.advance(10)
        assert described(env.store, "Pod", "p")[-1] == (
            "Normal",
            "Killing",
            "Stopping container app",
        )


async def test_an_invalid_image_shows_inspect_failed(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(pod_manifest("bad", containers=[{"name": "app", "image": "Nginx"}]))
        await clock.advance(25)  # retried every 10 s
        events = events_of(env.store, "Pod", "bad")
        assert [(e.type, e.reason, e.count) for e in events] == [
            ("Warning", "InspectFailed", 3),
            ("Warning", "Failed", 3),
        ]
        assert events[0].message == (
            'Failed to apply default image tag "Nginx": couldn\'t parse image name "Nginx": '
            "invalid reference format: repository name must be lowercase"
        )
        assert events[1].message == "Error: InvalidImageName"


async def test_a_missing_config_map_shows_failed_with_the_error(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        containers = [
            {
                "name": "app",
                "image": "app:1",
                "env": [
                    {
                        "name": "A",
                        "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "a"}},
                    }
                ],
            }
        ]
        env.store.create(pod_manifest("cfg", containers=containers))
        await clock.advance(2)
        failed = [e for e in events_of(env.store, "Pod", "cfg") if e.reason == "Failed"]
        assert [(e.type, e.message) for e in failed] == [
            ("Warning", 'Error: configmap "settings" not found')
        ]


async def test_the_node_shows_starting_and_its_conditions(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        await clock.advance(1)
        assert described(env.store, "Node", "node-0") == [
            ("Normal", "Starting", "Starting kubelet."),
            ("Normal", "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods"),
            (
                "Normal",
                "NodeHasSufficientMemory",
                "Node node-0 status is now: NodeHasSufficientMemory",
            ),
            ("Normal", "NodeHasNoDiskPressure", "Node node-0 status is now: NodeHasNoDiskPressure"),
            ("Normal", "NodeHasSufficientPID", "Node node-0 status is now: NodeHasSufficientPID"),
            ("Normal", "NodeReady", "Node node-0 status is now: NodeReady"),
        ]
        [event] = events_of(env.store, "Node", "node-0")[:1]
        assert event.metadata.namespace == "default"  # as client-go files cluster-scoped ones
        # The node controller marked the node Unknown; the kubelet's next post
        # brings it back, and says so.
        set_node_ready(env, "Unknown")
        await clock.advance(15)
        [ready] = [e for e in events_of(env.store, "Node", "node-0") if e.reason == "NodeReady"]
        assert ready.count == 2


PROCESS_POD = """
apiVersion: v1
kind: Pod
metadata: {name: once}
spec:
  restartPolicy: Never
  containers:
    - name: app
      image: busybox:1.36
      command: [sh, -c, "exit 0"]
"""


async def test_the_process_runtime_kubelet_records_the_same_events() -> None:
    config = ClusterConfig(runtime="process", virtual_time=False, node_pools=(NodePool(count=1),))
    async with Cluster(config) as cluster:
        await cluster.apply(PROCESS_POD)

        store = cluster.store
        assert store is not None

        def reasons() -> list[str]:
            return [r for _, r, _ in described(store, "Pod", "once")]

        await cluster.wait_for(
            lambda: {"Scheduled", "Started"} <= set(reasons()), timeout=30, what="events written"
        )
        assert reasons() == ["Scheduled", "Pulling", "Pulled", "Created", "Started"]
