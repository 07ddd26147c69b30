"""Real etcd members on loopback ports, for tests, benchmarks and local use.

`EtcdCluster.start(directory, members=3)` runs Debian's (or any) `etcd`
binary as that many processes on free 127.0.0.1 ports, each with its data
under `directory`, and waits until every member reports healthy;
`client_urls` is what `ClusterConfig.etcd_servers` and `kubeloop serve
--etcd-servers` take. `kill(i)` ends a member with SIGKILL, `restart(i)`
starts it again on its data; `stop()` ends them all. `etcd_binary()` finds
the binary or says why there is none (callers skip with that reason).

Neighbours: `engine.storage.etcd` (the storage on top), the tests and
`benchmarks.storage`.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["EtcdCluster", "etcd_binary"]

START_TIMEOUT = 30.0


def etcd_binary() -> tuple[str | None, str]:
    """The etcd binary's path, or None and why (for a test's skip reason)."""
    found = shutil.which("etcd") or ("/usr/bin/etcd" if Path("/usr/bin/etcd").exists() else None)
    if found is None:
        return None, "etcd is not installed (Debian: apt-get install etcd-server)"
    return found, ""


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class EtcdCluster:
    """Members of one etcd cluster, as local processes."""

    binary: str
    directory: Path
    client_ports: list[int]
    peer_ports: list[int]
    processes: list[subprocess.Popen[bytes] | None] = field(default_factory=list)

    @classmethod
    def start(cls, directory: Path, members: int = 1) -> EtcdCluster:
        binary, why = etcd_binary()
        if binary is None:
            raise RuntimeError(why)
        directory.mkdir(parents=True, exist_ok=True)
        ports = _free_ports(2 * members)
        cluster = cls(binary, directory, ports[:members], ports[members:])
        cluster.processes = [None] * members
        for index in range(members):
            cluster._launch(index, new=True)
        for index in range(members):
            cluster.wait_healthy(index)
        return cluster

    @property
    def client_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.client_ports]

    def _initial_cluster(self) -> str:
        return ",".join(f"m{i}=http://127.0.0.1:{port}" for i, port in enumerate(self.peer_ports))

    def _launch(self, index: int, *, new: bool) -> None:
        client = f"http://127.0.0.1:{self.client_ports[index]}"
        peer = f"http://127.0.0.1:{self.peer_ports[index]}"
        data = self.directory / f"m{index}"
        log = (self.directory / f"m{index}.log").open("ab")
        self.processes[index] = subprocess.Popen(
            [
                self.binary,
                f"--name=m{index}",
                f"--data-dir={data}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster={self._initial_cluster()}",
                f"--initial-cluster-state={'new' if new else 'existing'}",
                "--initial-cluster-token=kubeloop",
            ],
            stdout=log,
            stderr=log,
        )

    def wait_healthy(self, index: int) -> None:
        url = f"http://127.0.0.1:{self.client_ports[index]}/health"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            process = self.processes[index]
            if process is None or process.poll() is not None:
                log = (self.directory / f"m{index}.log").read_text(errors="replace")
                raise RuntimeError(f"etcd member m{index} exited: {log[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=1) as answer:
                    if b'"true"' in answer.read():
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"etcd member m{index} did not become healthy")
            time.sleep(0.1)

    def kill(self, index: int) -> None:
        process = self.processes[index]
        if process is not None:
            process.kill()
            process.wait()
            self.processes[index] = None

    def restart(self, index: int) -> None:
        self._launch(index, new=False)

    def stop(self) -> None:
        for index, process in enumerate(self.processes):
            if process is not None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                self.processes[index] = None
