"""leader_failover_s: how long a control plane of processes is without a
controller-manager leader after the leader is killed.

One `kubeloop serve --role apiserver` and two `--role controllers`
candidates run as real processes; once one leads, it is killed with SIGKILL
(so it cannot release its Lease) and the wall seconds until the other holds
the Lease `kube-system/kube-controller-manager` are the figure. With
client-go's durations (15 s lease, 10 s renew deadline, 2 s retry) the
target is leaseDuration + retryPeriod = 17 s; `--quick` uses 3 / 2 / 0.5 s
and reports without a target.

Neighbours: `benchmarks.storage` (reports it), `runtime.components`.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

__all__ = ["FAILOVER_TARGET", "leader_failover_s"]

FAILOVER_TARGET = 17.0
QUICK_TIMING = ("3", "2", "0.5")


def _start(role: str, kubeconfig: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "runtime.cli", "serve", "--role", role]
    return subprocess.Popen(
        [*command, "--kubeconfig", str(kubeconfig), *extra],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )


def _identity(log: Path) -> str | None:
    for line in log.read_text().splitlines():
        if line.startswith("kubeloop: controllers against ") and " as " in line:
            return line.split(" as ", 1)[1].split(";", 1)[0]
    return None


async def _poll(check: Callable[[], Awaitable[bool]], interval: float) -> None:
    """Ask the server until `check()` holds (its state lives in other processes)."""
    while not await check():  # noqa: ASYNC110 - nothing in this process can signal it
        await asyncio.sleep(interval)


async def _failover(directory: Path, quick: bool) -> float:
    from engine.api.coordination import Lease
    from engine.errors import ApiError
    from runtime.remote import Connection, RemoteClient

    kubeconfig = directory / "kubeconfig"
    timing: list[str] = []
    if quick:
        lease, renew, retry = QUICK_TIMING
        timing = [
            "--leader-elect-lease-duration",
            lease,
            "--leader-elect-renew-deadline",
            renew,
            "--leader-elect-retry-period",
            retry,
        ]
    processes = [_start("apiserver", kubeconfig, directory / "apiserver.log", "--nodes", "1")]
    try:
        while not kubeconfig.exists():
            if processes[0].poll() is not None:
                raise RuntimeError((directory / "apiserver.log").read_text())
            await asyncio.sleep(0.1)
        logs = [directory / f"controllers-{i}.log" for i in range(2)]
        processes += [_start("controllers", kubeconfig, log, *timing) for log in logs]
        async with RemoteClient(Connection.from_kubeconfig(kubeconfig)) as client:

            async def holder() -> str | None:
                try:
                    lease = await client.get(
                        Lease, "kube-controller-manager", namespace="kube-system"
                    )
                except ApiError:
                    return None
                return lease.spec.holder_identity or None

            async def led() -> bool:
                current = await holder()
                return current is not None and current in [_identity(log) for log in logs]

            await _poll(led, 0.1)
            leader = await holder()
            victim = processes[1 + [_identity(log) for log in logs].index(leader)]
            victim.send_signal(signal.SIGKILL)
            killed = time.monotonic()

            async def taken_over() -> bool:
                return await holder() not in (None, leader)

            await _poll(taken_over, 0.05)
            return time.monotonic() - killed
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def leader_failover_s(quick: bool = False) -> float:
    """One failover, in wall seconds (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="kubeloop-failover-") as directory:
        return asyncio.run(_failover(Path(directory), quick))


if __name__ == "__main__":
    print(f"{leader_failover_s(quick='--quick' in sys.argv):.2f}")
