"""Suite `api`: the Kubernetes HTTP API (`runtime.apiserver`) under load from
an aiohttp client.

* api_get_p99_ms: p99 latency of GETs of one pod sent at a steady 1,000
  requests/s (each request on its own schedule, not waiting for the previous).
* api_creates_per_s: pods created over HTTP by 32 concurrent clients.
* api_watch_events_per_s: watch events delivered to 100 HTTP watchers, each
  replaying the creation of 5,000 pods from the store's history (lines
  received per second; the writes themselves are `api_creates_per_s`).
* api_list_10k_pods_ms: one GET of a namespace's 10,000 pods, body read whole
  (median of lists after the first, which also encodes every pod once).

The server runs in a process of its own (`python -m benchmarks.api --serve`),
on plain HTTP over a bare store (no controllers), so the figures are the
server's and the client's CPU does not share its core. Kubernetes' SLO for
single-object calls is 1 s at p99 and 30 s for lists of a whole cluster.

On a shared machine the wall-clock figures mostly measure how much of a core
the server process gets, so the server also reports the CPU time it spent
(`time.process_time()` over the measured requests): `api_creates_per_cpu_s`
and `api_watch_events_per_cpu_s` are what the server would do with one core
of its own, whatever the load around it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from benchmarks.harness import Figure, measure

__all__ = ["run"]

PODS = "/api/v1/namespaces/default/pods"


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {
            "containers": [
                {
                    "name": "nginx",
                    "image": "nginx:1.27",
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                }
            ]
        },
    }


# -- the server process ---------------------------------------------------------------


async def _serve(pods: int) -> None:
    from engine.manifests import parse_object
    from engine.store import Store
    from runtime.apiserver import ApiServer

    store = Store()
    before = store.revision
    template = parse_object(pod("template"))
    for i in range(pods):
        meta = template.metadata.model_copy(update={"name": f"seed-{i:06d}"})
        store.create(template.model_copy(update={"metadata": meta}))
    server = ApiServer(store, tls=False)
    endpoint = await server.start()
    info = {"url": endpoint.url, "token": endpoint.token, "before": before}
    print(json.dumps(info), flush=True)
    loop = asyncio.get_running_loop()
    # The benchmark sends a line when its measurement starts and closes stdin
    # when it ends: the CPU time between the two is the server's cost.
    await loop.run_in_executor(None, sys.stdin.readline)
    started = time.process_time()
    await loop.run_in_executor(None, sys.stdin.read)
    print(json.dumps({"cpu_seconds": time.process_time() - started}), flush=True)
    await server.stop()


@dataclass
class Server:
    """A benchmark's server process: where it is, and (after the `served`
    block) the CPU seconds it spent from `start_measuring()` on."""

    url: str
    headers: dict[str, str]
    before: int
    start_measuring: Callable[[], None]
    cpu_seconds: float = 0.0


@contextmanager
def served(pods: int) -> Iterator[tuple[str, dict[str, str]]]:
    with served_from(pods) as server:
        yield server.url, server.headers


@contextmanager
def served_from(pods: int) -> Iterator[Server]:
    """A server process holding `pods` pods: URL, auth headers, the revision
    before the pods were created (a watch from it replays their creation),
    and the server's CPU time once the block ends."""
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.api", "--serve", str(pods)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        while line and not line.startswith("{"):  # the server's own log lines
            line = process.stdout.readline()
        if not line:
            raise RuntimeError("the API server process did not start")
        info = json.loads(line)

        def start_measuring() -> None:
            assert process.stdin is not None
            process.stdin.write("start\n")
            process.stdin.flush()

        server = Server(
            info["url"],
            {"Authorization": f"Bearer {info['token']}"},
            info["before"],
            start_measuring,
        )
        yield server
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith('{"cpu_seconds"'):
            server.cpu_seconds = json.loads(line)["cpu_seconds"]


def _client(url: str, headers: dict[str, str], limit: int = 200) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit)
    return aiohttp.ClientSession(base_url=url, headers=headers, connector=connector)


# -- figures ---------------------------------------------------------------------------


def get_p99_ms(seconds: float, rate: int = 1000) -> float:
    with served(10) as (url, headers):

        async def main() -> float:
            latencies: list[float] = []
            async with _client(url, headers) as http:

                async def one() -> None:
                    started = time.perf_counter()
                    async with http.get(f"{PODS}/seed-000001") as response:
                        await response.read()
                        assert response.status == 200
                    latencies.append(time.perf_counter() - started)

                await one()  # the connection and the encoding cache warm up
                latencies.clear()
                tasks = []
                start = time.perf_counter()
                for i in range(int(seconds * rate)):
                    delay = start + i / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(one()))
                await asyncio.gather(*tasks)
            latencies.sort()
            return latencies[int(len(latencies) * 0.99) - 1] * 1000

        return asyncio.run(main())


def creates_per_s(count: int, clients: int = 32) -> tuple[float, float]:
    """Pods created per second of wall time, and per second of server CPU."""
    with served_from(0) as server:
        url, headers = server.url, server.headers

        async def main() -> float:
            bodies = [json.dumps(pod(f"web-{i:06d}")).encode() for i in range(count)]
            sent = {"Content-Type": "application/json"}
            async with _client(url, headers) as http:
                queue = iter(bodies)

                async def worker() -> None:
                    for body in queue:
                        async with http.post(PODS, data=body, headers=sent) as response:
                            await response.read()
                            assert response.status == 201, response.status

                server.start_measuring()
                start = time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(clients)))
                return count / (time.perf_counter() - start)

        wall = asyncio.run(main())
    return wall, count / server.cpu_seconds


def watch_events_per_s(events: int, watchers: int = 100) -> tuple[float, float]:
    """`watchers` watches that each replay the creation of `events` pods from the
    store's history: the server's fan-out (encoding, framing, sockets) alone,
    without the cost of the writes, which `api_creates_per_s` measures. Events
    per second of wall time, and per second of server CPU."""
    with served_from(events) as server:
        url, headers, before = server.url, server.headers, server.before

        async def main() -> float:
            params = {"watch": "true", "resourceVersion": str(before)}
            async with _client(url, headers, limit=watchers + 8) as http:

                async def reader() -> int:
                    received = 0
                    async with http.get(PODS, params=params) as stream:
                        async for chunk in stream.content.iter_any():
                            received += chunk.count(b"\n")
                            if received >= events:
                                return received
                    return received

                server.start_measuring()
                start = time.perf_counter()
                counts = await asyncio.gather(*(reader() for _ in range(watchers)))
                elapsed = time.perf_counter() - start
            assert sum(counts) == events * watchers, sum(counts)
            return sum(counts) / elapsed

        wall = asyncio.run(main())
    return wall, events * watchers / server.cpu_seconds


def list_ms(pods: int, lists: int = 5) -> float:
    with served(pods) as (url, headers):

        async def main() -> float:
            samples = []
            async with _client(url, headers) as http:
                for _ in range(lists + 1):
                    start = time.perf_counter()
                    async with http.get(PODS) as response:
                        body = await response.read()
                    samples.append((time.perf_counter() - start) * 1000)
                    assert body.count(b'"kind":"Pod"') == pods
            return statistics.median(samples[1:])

        return asyncio.run(main())


def run(quick: bool, repeat: int) -> list[Figure]:
    seconds = 1.0 if quick else 5.0
    creates = 500 if quick else 5000
    writes = 200 if quick else 5000
    listed = 1000 if quick else 10_000
    anchor_get = "Kubernetes SLO: p99 <= 1 s for single-object calls"
    figures = []
    value, runs = measure(lambda: get_p99_ms(seconds), repeat)
    figures.append(Figure("api_get_p99_ms", value, "ms", 10, "lower", anchor_get, runs))
    per_cpu: list[float] = []

    def wall(pair: tuple[float, float]) -> float:
        per_cpu.append(pair[1])
        return pair[0]

    value, runs = measure(lambda: wall(creates_per_s(creates)), repeat)
    figures.append(
        Figure("api_creates_per_s", value, "pods/s", 3000, "higher", "kube-apiserver + etcd", runs)
    )
    figures.append(_per_cpu("api_creates_per_cpu_s", per_cpu, "pods/s", "one core of its own"))
    per_cpu.clear()
    value, runs = measure(lambda: wall(watch_events_per_s(writes)), repeat)
    figures.append(
        Figure(
            "api_watch_events_per_s",
            value,
            "events/s",
            100_000,
            "higher",
            "100 watchers, events replayed",
            runs,
        )
    )
    figures.append(
        _per_cpu("api_watch_events_per_cpu_s", per_cpu, "events/s", "one core of its own")
    )
    value, runs = measure(lambda: list_ms(listed), repeat)
    figures.append(
        Figure(
            "api_list_10k_pods_ms",
            value,
            "ms",
            300,
            "lower",
            "Kubernetes SLO: lists p99 <= 30 s",
            runs,
        )
    )
    return figures


def _per_cpu(name: str, samples: list[float], unit: str, anchor: str) -> Figure:
    return Figure(name, statistics.median(samples), unit, None, "higher", anchor, tuple(samples))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", type=int, required=True, metavar="PODS")
    asyncio.run(_serve(parser.parse_args().serve))
