"""Load generator and HTTP server for the `network_proxy` suite, each run as
its own process so neither competes with the proxy under test for the loop:

    python -m benchmarks.network_load server ADDRESS PORT
    python -m benchmarks.network_load client ADDRESS PORT HOST CONNECTIONS SECONDS

The server answers every HTTP/1.1 request with a small fixed response and
keeps connections alive (asyncio protocol: it should not be the bottleneck).
The client keeps CONNECTIONS kept-alive connections busy with sequential GETs
(Host: HOST) for SECONDS and prints JSON: requests/s, p50 and p99 latency in
ms, and errors (any status other than 200, or a broken connection).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

BODY = b"ok from the benchmark server\n"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)


class _Server(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            assert self.transport is not None
            self.transport.write(RESPONSE)


async def serve(address: str, port: int) -> None:
    server = await asyncio.get_running_loop().create_server(_Server, address, port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


async def _worker(
    address: str, port: int, host: str, until: float, latencies: list[float], errors: list[int]
) -> None:
    request = f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    reader, writer = await asyncio.open_connection(address, port)
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(request)
            status = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if b" 200 " not in status:
                errors.append(1)
    except (OSError, asyncio.IncompleteReadError):
        errors.append(1)
    finally:
        writer.close()


async def load(
    address: str, port: int, host: str, connections: int, seconds: float
) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(
        *(_worker(address, port, host, until, latencies, errors) for _ in range(connections))
    )
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0
        )

    return {
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "errors": float(len(errors)),
    }


def main(argv: list[str]) -> None:
    if argv[0] == "server":
        asyncio.run(serve(argv[1], int(argv[2])))
    elif argv[0] == "client":
        address, port, host, connections, seconds = argv[1:6]
        result = asyncio.run(load(address, int(port), host, int(connections), float(seconds)))
        print(json.dumps(result))
    else:
        raise SystemExit(f"usage: {__doc__}")


if __name__ == "__main__":
    main(sys.argv[1:])
