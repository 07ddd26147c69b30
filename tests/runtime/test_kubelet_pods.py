"""Kubelet: admitting, starting and reporting pods through the runtime protocol."""

from __future__ import annotations

import ipaddress

import pytest

from engine.api import core
from engine.clock import VirtualClock
from runtime.kubelet import KubeletConfig
from runtime.kubelet.imageref import image_reference_error
from tests.runtime.kubelet_env import pod_manifest, sim, simulated_nodes


async def test_ordinary_pod_runs_and_becomes_ready(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "web",
                containers=[
                    {
                        "name": "nginx",
                        "image": "nginx:1.27",
                        "ports": [{"containerPort": 80}],
                        "readinessProbe": {"httpGet": {"path": "/", "port": 80}},
                    }
                ],
            )
        )
        took = await env.until(lambda: env.pod("web").is_ready)
        pod = env.pod("web")
    assert took <= 1.0  # 0.5 s start latency, then the first readiness probe at once
    assert pod.status.phase == "Running"
    assert pod.status.host_ip == "172.16.0.1"
    assert pod.status.pod_ip is not None
    assert ipaddress.ip_address(pod.status.pod_ip) in ipaddress.ip_network("10.0.0.0/24")
    assert pod.status.start_time is not None
    conditions = {c.type: c.status for c in pod.status.conditions}
    assert conditions == {
        "PodScheduled": "True",
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "ContainersReady": "True",
        "Ready": "True",
    }
    (status,) = pod.status.container_statuses
    assert status.ready and status.started
    assert status.state.running is not None and status.restart_count == 0
    assert status.container_id is not None and status.container_id.startswith("simulated://")


async def test_pods_get_distinct_ips_and_host_network_uses_the_node_ip(
    clock: VirtualClock,
) -> None:
    async with simulated_nodes(clock) as env:
        for i in range(3):
            env.store.create(pod_manifest(f"p{i}"))
        env.store.create(pod_manifest("host", hostNetwork=True))
        await clock.advance(2)
        ips = {env.pod(f"p{i}").status.pod_ip for i in range(3)}
        assert len(ips) == 3
        assert env.pod("host").status.pod_ip == "172.16.0.1"


async def test_waits_with_container_creating_then_pending_to_running(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(pod_manifest("slow", annotations=sim(start_latency="5s")))
        await clock.advance(1)
        pod = env.pod("slow")
        assert pod.status.phase == "Pending"
        waiting = pod.status.container_statuses[0].state.waiting
        assert waiting is not None and waiting.reason == "ContainerCreating"
        assert not pod.is_ready
        await clock.advance(5)
        assert env.pod("slow").status.phase == "Running"


async def test_init_containers_run_in_order_before_app_containers(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "init",
                init_containers=[
                    {"name": "first", "image": "busybox"},
                    {"name": "second", "image": "busybox"},
                ],
                annotations=sim(first__exit_after="3s", second__exit_after="2s"),
            )
        )
        await clock.advance(2)
        pod = env.pod("init")
        assert pod.status.phase == "Pending"
        first, second = pod.status.init_container_statuses
        assert first.state.running is not None
        assert second.state.waiting is not None and second.state.waiting.reason == "PodInitializing"
        app = pod.status.container_statuses[0].state.waiting
        assert app is not None and app.reason == "PodInitializing"
        assert pod.status.condition("Initialized").status == "False"  # type: ignore[union-attr]
        await env.until(lambda: env.pod("init").status.phase == "Running")
        pod = env.pod("init")
        first, second = pod.status.init_container_statuses
        assert first.state.terminated is not None and second.state.terminated is not None
        assert first.state.terminated.finished_at <= second.state.terminated.started_at  # type: ignore[operator]
        assert pod.status.condition("Initialized").status == "True"  # type: ignore[union-attr]


async def test_failed_init_container_fails_the_pod_under_restart_policy_never(
    clock: VirtualClock,
) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "bad-init",
                init_containers=[{"name": "setup", "image": "busybox"}],
                annotations=sim(setup__exit_after="1s", setup__exit_code="2"),
                restart_policy="Never",
            )
        )
        await env.until(lambda: env.pod("bad-init").status.phase == "Failed")
        pod = env.pod("bad-init")
        assert pod.status.container_statuses[0].state.running is None
        terminated = pod.status.init_container_statuses[0].state.terminated
        assert terminated is not None and terminated.exit_code == 2


@pytest.mark.parametrize(
    ("requests", "reason"),
    [
        ({"cpu": "5"}, "OutOfcpu"),
        ({"memory": "20Gi"}, "OutOfmemory"),
        ({"nvidia.com/gpu": "1"}, "OutOfnvidia.com/gpu"),
    ],
)
async def test_admission_rejects_pods_that_do_not_fit(
    clock: VirtualClock, requests: dict[str, str], reason: str
) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "big",
                containers=[{"name": "app", "image": "app", "resources": {"requests": requests}}],
            )
        )
        await clock.advance(1)
        pod = env.pod("big")
    assert pod.status.phase == "Failed"
    assert pod.status.reason == reason
    assert (
        pod.status.message is not None and "Node didn't have enough resource" in pod.status.message
    )
    assert pod.status.container_statuses == []


async def test_admission_counts_pods_already_admitted(clock: VirtualClock) -> None:
    async with simulated_nodes(clock, capacity={"cpu": "2", "memory": "4Gi", "pods": "2"}) as env:
        cpu = [{"name": "app", "image": "app", "resources": {"requests": {"cpu": "1500m"}}}]
        env.store.create(pod_manifest("a", containers=cpu))
        await clock.advance(1)
        env.store.create(pod_manifest("b", containers=cpu))
        env.store.create(pod_manifest("c"))
        env.store.create(pod_manifest("d"))
        await clock.advance(1)
        assert env.pod("a").status.phase == "Running"
        assert env.pod("b").status.reason == "OutOfcpu"
        assert env.pod("c").status.phase == "Running"
        assert env.pod("d").status.reason == "OutOfpods"


async def test_admission_checks_node_affinity(clock: VirtualClock) -> None:
    config = KubeletConfig(node_name="node-0", zone="z1")
    async with simulated_nodes(clock, configs=[config]) as env:
        env.store.create(
            pod_manifest("elsewhere", nodeSelector={"topology.kubernetes.io/zone": "z2"})
        )
        env.store.create(pod_manifest("here", nodeSelector={"topology.kubernetes.io/zone": "z1"}))
        await clock.advance(1)
        assert env.pod("elsewhere").status.reason == "NodeAffinity"
        assert env.pod("here").status.phase == "Running"


async def test_missing_configmap_is_a_config_error_until_it_exists(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "cfg",
                containers=[
                    {
                        "name": "app",
                        "image": "app",
                        "env": [
                            {
                                "name": "MODE",
                                "valueFrom": {
                                    "configMapKeyRef": {"name": "settings", "key": "mode"}
                                },
                            }
                        ],
                    }
                ],
            )
        )
        await clock.advance(1)
        waiting = env.container("cfg").state.waiting
        assert waiting is not None and waiting.reason == "CreateContainerConfigError"
        assert waiting.message == 'configmap "settings" not found'
        env.store.create(
            core.ConfigMap(
                metadata={"name": "settings", "namespace": "default"}, data={"mode": "x"}
            )
        )
        await clock.advance(11)
        assert env.pod("cfg").status.phase == "Running"


async def test_an_image_reference_that_does_not_parse_waits_as_invalid_image_name(
    clock: VirtualClock,
) -> None:
    """As the kubelet does before pulling (the docs' private-registry example
    still says `image: <your-private-image>`); the other pod runs."""
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest("bad", containers=[{"name": "app", "image": "<your-private-image>"}])
        )
        env.store.create(
            pod_manifest(
                "good",
                containers=[
                    {"name": "app", "image": "registry.k8s.io/e2e/agnhost:2.45@sha256:" + "a" * 64}
                ],
            )
        )
        await clock.advance(5)
        waiting = env.container("bad").state.waiting
        assert waiting is not None and waiting.reason == "InvalidImageName"
        assert waiting.message == (
            'Failed to apply default image tag "<your-private-image>": couldn\'t parse image '
            'name "<your-private-image>": invalid reference format'
        )
        assert env.pod("bad").status.phase == "Pending"
        assert env.pod("good").status.phase == "Running"


def test_image_references_parse_as_the_container_runtime_parses_them() -> None:
    for good in (
        "nginx",
        "nginx:1.27",
        "docker.io/library/bash:5",
        "localhost:5000/a/b_c",
        "registry.k8s.io/pause:3.8",
        "[::1]:5000/app",
        "app@sha256:" + "0" * 64,
    ):
        assert image_reference_error(good) is None, good
    for bad in (
        "<your-private-image>",
        "Nginx",
        "nginx:",
        "a//b",
        "nginx:t@g",
        ":latest",
        "app@sha256:xyz",
        "-app",
    ):
        assert image_reference_error(bad) is not None, bad


async def test_usage_reported_per_container_and_node(clock: VirtualClock) -> None:

    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "busy",
                containers=[
                    {"name": "a", "image": "app"},
                    {"name": "b", "image": "app", "resources": {"requests": {"cpu": "400m"}}},
                ],
                annotations=sim(a__cpu="250m", a__memory="100Mi"),
            )
        )
        await clock.advance(10)
        usage = await env.kubelet().usage()
    by_name = {c.container: c for c in usage.containers}
    assert by_name["a"].cpu_millicores == 250
    assert by_name["a"].memory_bytes == 100 * 1024 * 1024
    assert by_name["b"].cpu_millicores == 200  # half its request by default
    assert usage.cpu_millicores == 450
    assert by_name["a"].cpu_usage_core_seconds == pytest.approx(0.25 * 9.5)


def test_pod_ips_skip_reserved_and_released_addresses() -> None:
    from runtime.kubelet.ipam import PodCIDRExhausted, PodIPAllocator

    ipam = PodIPAllocator("10.9.0.0/29")  # .2 .. .6 usable
    assert ipam.reserve("adopted", "10.9.0.3") == "10.9.0.3"
    assert [ipam.allocate(u) for u in ("a", "b", "c", "d")] == [
        "10.9.0.2",
        "10.9.0.4",
        "10.9.0.5",
        "10.9.0.6",
    ]
    with pytest.raises(PodCIDRExhausted):
        ipam.allocate("e")
    ipam.release("b")
    assert ipam.allocate("e") == "10.9.0.4"
