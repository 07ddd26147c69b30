"""A control plane of separate processes: one `kubeloop serve --role apiserver`,
three controller-manager candidates and a scheduler, as real processes. The
leader is killed, another takes over; a leader frozen past its Lease is
deposed, and when it wakes it stops (exit status 1) instead of acting on."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from engine.api.coordination import Lease
from engine.api.core import Pod
from engine.manifests import parse_object
from runtime.remote import Connection, RemoteClient

SERVE = [sys.executable, "-m", "runtime.cli", "serve"]
FAST = [
    "--leader-elect-lease-duration",
    "3",
    "--leader-elect-renew-deadline",
    "2",
    "--leader-elect-retry-period",
    "0.5",
]
WEB = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]},
        },
    },
}


class Component:
    def __init__(self, role: str, kubeconfig: Path, log: Path, *extra: str) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [*SERVE, "--role", role, "--kubeconfig", str(kubeconfig), *extra],
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
        )

    def identity(self) -> str | None:
        for line in self.log.read_text().splitlines():
            if " as " in line and line.startswith("kubeloop: "):
                return line.split(" as ", 1)[1].split(";", 1)[0]
        return None

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def _until(what: str, check: Callable[[], Awaitable[bool]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


async def test_controller_managers_fail_over_and_a_deposed_leader_stops(workdir: Path) -> None:
    kubeconfig = workdir / "kubeconfig"
    apiserver = Component("apiserver", kubeconfig, workdir / "apiserver.log", "--nodes", "2")
    components: list[Component] = [apiserver]
    try:
        deadline = time.monotonic() + 120
        while not kubeconfig.exists():
            assert apiserver.process.poll() is None, apiserver.log.read_text()
            assert time.monotonic() < deadline, "the apiserver did not start"
            await asyncio.sleep(0.2)
        candidates = [
            Component("controllers", kubeconfig, workdir / f"controllers-{i}.log", *FAST)
            for i in range(3)
        ]
        scheduler = Component("scheduler", kubeconfig, workdir / "scheduler.log", *FAST)
        components += [*candidates, scheduler]
        async with RemoteClient(Connection.from_kubeconfig(kubeconfig)) as client:
            await client.create(parse_object(WEB))

            async def running(count: int) -> bool:
                pods = (await client.list(Pod, namespace="default")).items
                return sum(1 for p in pods if p.status.phase == "Running") == count

            await _until("2 pods running", lambda: running(2), timeout=120)

            async def holder() -> tuple[str | None, int]:
                lease = await client.get(Lease, "kube-controller-manager", namespace="kube-system")
                return lease.spec.holder_identity, lease.spec.lease_transitions or 0

            def by_identity(identity: str | None) -> Component:
                return next(c for c in candidates if c.identity() == identity)

            first, transitions = await holder()
            leader = by_identity(first)
            leader.process.kill()  # SIGKILL: no release, the Lease must expire

            async def taken_over_from(previous: str | None) -> bool:
                current, _ = await holder()
                return current not in (None, "", previous)

            await _until("another controller manager to lead", lambda: taken_over_from(first))
            second, after_kill = await holder()
            assert after_kill == transitions + 1
            await client.scale(type(parse_object(WEB)), "web", 3, namespace="default")
            await _until("the new leader to scale out", lambda: running(3), timeout=120)

            deposed = by_identity(second)
            os.kill(deposed.process.pid, signal.SIGSTOP)  # frozen past its renew deadline
            await _until("a third leader", lambda: taken_over_from(second))
            third, _ = await holder()
            assert third not in (first, second)
            os.kill(deposed.process.pid, signal.SIGCONT)
            status = await asyncio.to_thread(deposed.process.wait, 60)
            assert status == 1
            assert "lost the Lease kube-system/kube-controller-manager" in deposed.log.read_text()
            assert (await holder())[0] == third
    finally:
        for component in reversed(components):
            component.stop()


async def test_two_apiservers_on_one_etcd_with_components_spread_over_them(
    workdir: Path,
) -> None:
    from runtime.etcdserver import EtcdCluster, etcd_binary

    if etcd_binary()[0] is None:
        pytest.skip(etcd_binary()[1])
    etcd = EtcdCluster.start(workdir / "etcd", members=1)
    servers = ["--etcd-servers", ",".join(etcd.client_urls)]
    configs = [workdir / "a.kubeconfig", workdir / "b.kubeconfig"]
    components = [
        Component("apiserver", configs[0], workdir / "apiserver-a.log", "--nodes", "2", *servers),
        Component("apiserver", configs[1], workdir / "apiserver-b.log", "--nodes", "0", *servers),
    ]
    try:
        deadline = time.monotonic() + 120
        while not all(path.exists() for path in configs):
            for apiserver in components:
                assert apiserver.process.poll() is None, apiserver.log.read_text()
            assert time.monotonic() < deadline, "the apiservers did not start"
            await asyncio.sleep(0.2)
        candidates = [
            Component("controllers", config, workdir / f"controllers-{i}.log", *FAST)
            for i, config in enumerate(configs)
        ]
        components += [
            *candidates,
            Component("scheduler", configs[1], workdir / "scheduler.log", *FAST),
        ]
        async with (
            RemoteClient(Connection.from_kubeconfig(configs[0])) as first,
            RemoteClient(Connection.from_kubeconfig(configs[1])) as second,
        ):
            await second.create(parse_object(WEB))

            async def running(client: RemoteClient, count: int) -> bool:
                pods = (await client.list(Pod, namespace="default")).items
                return sum(1 for p in pods if p.status.phase == "Running") == count

            await _until("2 pods running, seen through A", lambda: running(first, 2), 120)
            lease = await first.get(Lease, "kube-controller-manager", namespace="kube-system")
            leader = next(c for c in candidates if c.identity() == lease.spec.holder_identity)
            leader.process.kill()

            async def another_leads() -> bool:
                current = await second.get(
                    Lease, "kube-controller-manager", namespace="kube-system"
                )
                return current.spec.holder_identity not in (None, lease.spec.holder_identity)

            await _until("the other controller manager to lead", another_leads)
            await first.scale(type(parse_object(WEB)), "web", 3, namespace="default")
            await _until("3 pods running, seen through B", lambda: running(second, 3), 120)
    finally:
        for component in reversed(components):
            component.stop()
        etcd.stop()
