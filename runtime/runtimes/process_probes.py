"""Probe attempts against real processes: httpGet, tcpSocket and exec, the kubelet's way.

Each function runs one attempt and returns a `ProbeResult`; none raises for a
failing target. The rules are the kubelet's (pkg/probe/http, tcp, exec):

* **httpGet**: `GET scheme://host:port/path` with the probe's headers, plus
  `User-Agent: kube-probe/<version>` and `Accept: */*` unless the probe sets
  them (a `Host` header sets the request's host). A status in 200..399 is
  success. Redirects are followed (at most 10) while they stay on the same
  host; a redirect elsewhere counts as success, with a message saying the
  probe stopped there. HTTPS does not verify the certificate, as the kubelet.
* **tcpSocket**: a connection that opens is success; it is closed at once.
* **exec**: the command runs with the container's environment and working
  directory, in a process group of its own; exit code 0 is success, anything
  else failure with the command's output (first 10 KiB) as the message.
* Every attempt is bounded by the probe's `timeout_seconds` on the injected
  clock; an attempt that does not answer in time is a failure with message
  "timeout". A timed-out or cancelled exec probe kills its process group.

`within(clock, seconds, awaitable)` is that bound, usable elsewhere: a
timeout whose timer is the injected clock's, raising `TimeoutError`.

Neighbours: `runtime.runtimes.process` (calls these from `run_probe`),
`runtime.runtimes.protocol` (ProbeAction, ProbeResult),
`runtime.runtimes.process_groups` (owns exec probe processes while they run).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

from engine.clock import Clock
from runtime.runtimes.process_groups import ProcessGroups
from runtime.runtimes.protocol import ProbeAction, ProbeResult

__all__ = [
    "PROBE_USER_AGENT",
    "exec_probe",
    "http_get_probe",
    "tcp_socket_probe",
    "within",
]

T = TypeVar("T")

PROBE_USER_AGENT = "kube-probe/1.33"
MAX_REDIRECTS = 10
MAX_OUTPUT = 10 * 1024
"""The kubelet keeps at most this much of a probe's output or response."""

TIMEOUT = ProbeResult("failure", "timeout")


async def within(clock: Clock, seconds: float, awaitable: Awaitable[T]) -> T:
    """Await `awaitable`, raising `TimeoutError` if it takes longer than `seconds`
    on `clock`. Cancelling the caller still cancels (not turned into a timeout)."""
    task = asyncio.current_task()
    assert task is not None, "within() must run inside a task"
    timed_out = False

    def expire() -> None:
        nonlocal timed_out
        timed_out = True
        task.cancel()

    timer = clock.call_later(seconds, expire)
    try:
        return await awaitable
    except asyncio.CancelledError:
        if timed_out and task.uncancel() == 0:
            raise TimeoutError from None
        raise
    finally:
        timer.cancel()


async def tcp_socket_probe(clock: Clock, host: str, action: ProbeAction) -> ProbeResult:
    """Open a TCP connection to `host:port`; success if it opens."""
    if action.port is None:
        return ProbeResult("failure", "tcpSocket probe without a port")
    try:
        _, writer = await within(
            clock, action.timeout_seconds, asyncio.open_connection(host, action.port)
        )
    except TimeoutError:
        return TIMEOUT
    except OSError as error:
        return ProbeResult("failure", f"dial tcp {host}:{action.port}: {_describe(error)}")
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return ProbeResult("success")


async def http_get_probe(clock: Clock, host: str, action: ProbeAction) -> ProbeResult:
    """GET the probe's URL; success for a status in 200..399 (see the module docstring)."""
    if action.port is None:
        return ProbeResult("failure", "httpGet probe without a port")
    scheme = action.scheme.lower()
    if scheme not in ("http", "https"):
        return ProbeResult("failure", f"unsupported scheme {action.scheme!r}")
    path = action.path if action.path.startswith("/") else "/" + action.path
    url = f"{scheme}://{_host_port(host, action.port)}{path}"
    try:
        return await within(clock, action.timeout_seconds, _follow_redirects(url, action))
    except TimeoutError:
        return TIMEOUT


async def _follow_redirects(url: str, action: ProbeAction) -> ProbeResult:
    origin = urlsplit(url).hostname
    for _ in range(MAX_REDIRECTS + 1):
        try:
            status, location = await _get(url, action.headers)
        except (OSError, ValueError) as error:
            target = urlsplit(url)
            return ProbeResult(
                "failure", f'Get "{url}": dial tcp {target.netloc}: {_describe(error)}'
            )
        if 300 <= status < 400 and location:
            next_url = urljoin(url, location)
            if urlsplit(next_url).hostname != origin:
                return ProbeResult("success", f"Probe terminated redirects, response: {status}")
            url = next_url
            continue
        if 200 <= status < 400:
            return ProbeResult("success")
        return ProbeResult("failure", f"HTTP probe failed with statuscode: {status}")
    return ProbeResult("failure", f"stopped after {MAX_REDIRECTS} redirects")


async def _get(url: str, headers: tuple[tuple[str, str], ...]) -> tuple[int, str | None]:
    """One HTTP/1.1 GET; the status code and the Location header (if any)."""
    target = urlsplit(url)
    https = target.scheme == "https"
    port = target.port or (443 if https else 80)
    context: ssl.SSLContext | None = None
    if https:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    request_headers = {
        "host": ("Host", target.netloc),
        "user-agent": ("User-Agent", PROBE_USER_AGENT),
        "accept": ("Accept", "*/*"),
    }
    for name, value in headers:
        request_headers[name.lower()] = (name, value)
    request_headers["connection"] = ("Connection", "close")
    path = target.path or "/"
    if target.query:
        path += "?" + target.query
    lines = [f"GET {path} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in request_headers.values()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    reader, writer = await asyncio.open_connection(target.hostname, port, ssl=context)
    try:
        writer.write(request)
        await writer.drain()
        status_line = await reader.readline()
        parts = status_line.decode("latin-1").split(maxsplit=2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ValueError(f"malformed HTTP response {status_line[:100]!r}")
        location: str | None = None
        while True:
            header = await reader.readline()
            if header in (b"\r\n", b"\n", b""):
                break
            name, _, value = header.decode("latin-1").partition(":")
            if name.strip().lower() == "location":
                location = value.strip()
        return int(parts[1]), location
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


async def exec_probe(
    clock: Clock,
    groups: ProcessGroups,
    action: ProbeAction,
    *,
    env: Mapping[str, str],
    cwd: Path,
) -> ProbeResult:
    """Run the probe's command in the container's environment; exit code 0 is success."""
    if not action.command:
        return ProbeResult("failure", "exec probe without a command")
    try:
        process = await asyncio.create_subprocess_exec(
            *action.command,
            cwd=cwd,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as error:
        return ProbeResult("failure", f"exec {action.command[0]!r}: {_describe(error)}")
    groups.adopt(process.pid)
    try:
        output = await within(clock, action.timeout_seconds, _output_and_exit(process))
    except TimeoutError:
        return TIMEOUT
    finally:
        # Whatever happened (timeout, cancellation, a forked child left over),
        # nothing of the probe outlives the attempt.
        groups.release(process.pid)
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await asyncio.shield(process.wait())
    message = output[:MAX_OUTPUT].decode("utf-8", errors="replace")
    if process.returncode == 0:
        return ProbeResult("success", message)
    return ProbeResult("failure", message or f"command exited with code {process.returncode}")


async def _output_and_exit(process: asyncio.subprocess.Process) -> bytes:
    assert process.stdout is not None
    chunks: list[bytes] = []
    size = 0
    while chunk := await process.stdout.read(MAX_OUTPUT):
        # Keep reading (so the command never blocks on a full pipe) but keep little.
        if size < MAX_OUTPUT:
            chunks.append(chunk)
            size += len(chunk)
    await process.wait()
    return b"".join(chunks)


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _describe(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connect: connection refused"
    if isinstance(error, FileNotFoundError):
        return "executable file not found"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error) or type(error).__name__
