"""ProcessRuntime against real processes: HTTP servers, logs, probes, signals, no orphans.

These are integration tests on real time (real processes do not run on a
virtual clock): every wait is for a condition, bounded, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.api import core
from engine.client import LocalClient
from engine.clock import RealClock, TimerHandle
from engine.manifests import parse_object
from engine.store import Store
from runtime.kubelet import Kubelet, KubeletConfig
from runtime.runtimes.process import ProcessRuntime
from runtime.runtimes.procfs import group_members, pid_alive
from runtime.runtimes.protocol import (
    START_ERROR_EXIT_CODE,
    ContainerConfig,
    ContainerEvent,
    ContainerRuntime,
    ContainerRuntimeError,
    ContainerStatus,
    PodSandboxConfig,
    PortMapping,
    ProbeAction,
)

PYTHON = sys.executable
WAIT = 10.0  # seconds: the bound on any condition a test waits for


async def eventually(condition: Callable[[], object]) -> None:
    """Wait (on real time, at most WAIT seconds) until `condition()` is true;
    `condition` may return an awaitable."""
    async with asyncio.timeout(WAIT):
        while True:
            outcome = condition()
            if inspect.isawaitable(outcome):
                outcome = await outcome
            if outcome:
                return
            await asyncio.sleep(0.02)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


POD_ADDRESS = "127.244.0.7"
"""Where the loopback pod network puts a pod the kubelet gave 10.244.0.7."""


def sandbox(uid: str = "uid-1", name: str = "web") -> PodSandboxConfig:
    return PodSandboxConfig(
        pod_uid=uid, name=name, namespace="default", hostname=name, pod_ip="10.244.0.7"
    )


def python(code: str) -> tuple[str, ...]:
    return (PYTHON, "-c", textwrap.dedent(code))


class Events:
    """Records the runtime's container events."""

    def __init__(self) -> None:
        self.seen: list[ContainerEvent] = []

    def __call__(self, event: ContainerEvent) -> None:
        self.seen.append(event)

    def states(self, name: str) -> list[str]:
        return [event.status.state for event in self.seen if event.name == name]

    async def terminated(self, name: str) -> ContainerStatus:
        await eventually(lambda: "terminated" in self.states(name))
        return next(
            e.status
            for e in reversed(self.seen)
            if e.name == name and e.status.state == "terminated"
        )


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
async def runtime(tmp_path: Path, events: Events) -> AsyncIterator[ProcessRuntime]:
    async with ProcessRuntime(root=tmp_path / "pods") as process_runtime:
        process_runtime.set_event_listener(events)
        yield process_runtime


async def start(
    runtime: ProcessRuntime,
    name: str,
    command: tuple[str, ...],
    *,
    uid: str = "uid-1",
    **extra: object,
) -> int | None:
    """Create and start container `name` (sandbox created if needed); its pid."""
    await runtime.run_pod_sandbox(sandbox(uid))
    await runtime.create_container(uid, ContainerConfig(name=name, command=command, **extra))  # type: ignore[arg-type]
    await runtime.start_container(uid, name)
    return runtime.pid(uid, name)


async def log_lines(
    runtime: ProcessRuntime, name: str, uid: str = "uid-1", **options: object
) -> list[str]:
    return [line async for line in runtime.logs(uid, name, **options)]  # type: ignore[arg-type]


async def logged(runtime: ProcessRuntime, name: str, expected: list[str]) -> bool:
    return await log_lines(runtime, name) == expected


async def http_get(port: int, path: str, host: str = "127.0.0.1") -> int:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    writer.close()
    await writer.wait_closed()
    return status


def test_process_runtime_satisfies_the_protocol() -> None:
    assert isinstance(ProcessRuntime(), ContainerRuntime)
    assert ProcessRuntime().version.startswith("process://")


async def test_http_server_pod_serves_logs_probes_and_leaves_nothing_behind(
    runtime: ProcessRuntime, events: Events
) -> None:
    port = free_port()
    pid = await start(
        runtime,
        "server",
        (PYTHON, "-m", "http.server", "--bind", POD_ADDRESS),
        args=(str(port),),
        ports=(PortMapping(container_port=port, name="http"),),
    )
    assert pid is not None and pid_alive(pid)
    assert events.states("server") == ["running"]
    ok = ProbeAction("httpGet", port=port, path="/")

    async def answers() -> bool:
        return (await runtime.run_probe("uid-1", "server", "readiness", ok)).ok

    await eventually(answers)

    assert await http_get(port, "/", POD_ADDRESS) == 200
    missing = await runtime.run_probe(
        "uid-1", "server", "liveness", ProbeAction("httpGet", port=port, path="/no-such-page")
    )
    assert missing.outcome == "failure"
    assert "404" in missing.message
    tcp = await runtime.run_probe(
        "uid-1", "server", "liveness", ProbeAction("tcpSocket", port=port)
    )
    assert tcp.ok

    lines = await log_lines(runtime, "server")
    assert any('"GET / HTTP/1.0" 200' in line for line in lines)
    assert any('"GET /no-such-page HTTP/1.1" 404' in line for line in lines)
    assert all(not line.endswith("\n") for line in lines)
    assert await log_lines(runtime, "server", tail=1) == lines[-1:]

    directory = runtime.sandbox_directory("uid-1")
    await runtime.stop_pod_sandbox("uid-1")
    assert not pid_alive(pid)
    await eventually(lambda: group_members(pid) == [])  # SIGKILLed: gone within moments
    assert not directory.exists()
    assert await runtime.list_pod_sandboxes() == []
    assert await runtime.container_status("uid-1", "server") is None


async def test_container_environment_and_working_directory(
    runtime: ProcessRuntime, events: Events
) -> None:
    await start(
        runtime,
        "env",
        (
            "sh",
            "-c",
            'echo "$POD_IP $KUBELOOP_POD_IP $PORT $KUBELOOP_PORT_METRICS_PORT $GREETING"'
            ' "$HOSTNAME"; pwd',
        ),
        env={"GREETING": "hello"},
        ports=(PortMapping(8080, name="http"), PortMapping(9090, name="metrics-port")),
        working_dir="sub/dir",
    )
    status = await events.terminated("env")
    assert (status.exit_code, status.reason) == (0, "Completed")
    first, cwd = await log_lines(runtime, "env")
    # The kubelet's 10.244.0.7 mapped into loopback: the pod's own address.
    assert first == "127.244.0.7 127.244.0.7 8080 9090 hello web"
    assert Path(cwd) == runtime.sandbox_directory("uid-1") / "work" / "sub" / "dir"
    assert runtime.pod_ip("uid-1") == "127.244.0.7"


async def test_exit_codes_become_terminated_states(runtime: ProcessRuntime, events: Events) -> None:
    await start(
        runtime,
        "fails",
        ("sh", "-c", "echo 'bad config' > $KUBELOOP_TERMINATION_MESSAGE_PATH; exit 3"),
    )
    status = await events.terminated("fails")
    assert (status.state, status.exit_code, status.signal, status.reason) == (
        "terminated",
        3,
        None,
        "Error",
    )
    assert status.message == "bad config\n"
    assert status.started_at is not None and status.finished_at is not None
    assert status.finished_at >= status.started_at
    assert await runtime.container_status("uid-1", "fails") == status
    assert events.states("fails") == ["running", "terminated"]


async def test_stop_sends_sigterm_then_the_container_exits(
    runtime: ProcessRuntime, events: Events
) -> None:
    pid = await start(runtime, "sleeper", ("sleep", "60"))
    assert pid is not None
    await runtime.stop_container("uid-1", "sleeper", grace_period=30)
    status = await events.terminated("sleeper")
    assert (status.exit_code, status.signal, status.reason) == (143, 15, "Error")
    assert not pid_alive(pid)
    # Stopping a terminated container is a no-op.
    await runtime.stop_container("uid-1", "sleeper", grace_period=30)
    assert events.states("sleeper") == ["running", "terminated"]


async def test_sigkill_after_the_grace_period_reaches_the_whole_group(
    runtime: ProcessRuntime, events: Events
) -> None:
    stubborn = """
        import signal, subprocess, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen(["sleep", "60"])
        print(child.pid, flush=True)
        time.sleep(60)
    """
    pid = await start(runtime, "stubborn", python(stubborn))
    assert pid is not None
    lines: list[str] = []

    async def child_started() -> bool:
        lines[:] = await log_lines(runtime, "stubborn")
        return bool(lines)

    await eventually(child_started)
    child = int(lines[0])
    assert pid_alive(child)

    await runtime.stop_container("uid-1", "stubborn", grace_period=0.2)
    assert pid_alive(pid)  # SIGTERM is ignored: still there until the grace period ends
    status = await events.terminated("stubborn")
    assert (status.exit_code, status.signal) == (137, 9)
    await eventually(lambda: not pid_alive(child))
    await eventually(lambda: group_members(pid) == [])  # SIGKILLed: gone within moments


async def test_grace_period_is_a_timer_on_the_injected_clock(tmp_path: Path) -> None:
    class RecordingClock:
        def __init__(self) -> None:
            self.timers: list[tuple[float, Callable[[], object]]] = []

        def now(self) -> datetime:
            return datetime.now(UTC)

        def monotonic(self) -> float:
            return 0.0

        async def sleep(self, seconds: float) -> None:
            await asyncio.sleep(seconds)

        def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
            self.timers.append((delay, callback))
            return asyncio.get_running_loop().call_later(3600, lambda: None)

    clock = RecordingClock()
    events = Events()
    async with ProcessRuntime(clock=clock, root=tmp_path) as runtime:
        runtime.set_event_listener(events)
        pid = await start(
            runtime,
            "stubborn",
            python("""
            import signal, sys, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("ready", flush=True)
            time.sleep(60)
        """),
        )
        assert pid is not None
        await eventually(lambda: logged(runtime, "stubborn", ["ready"]))
        await runtime.stop_container("uid-1", "stubborn", grace_period=45)
        assert [delay for delay, _ in clock.timers] == [45]
        # A second stop with a longer grace period does not postpone the kill...
        await runtime.stop_container("uid-1", "stubborn", grace_period=60)
        assert len(clock.timers) == 1
        # ...a shorter one brings it forward.
        await runtime.stop_container("uid-1", "stubborn", grace_period=5)
        assert [delay for delay, _ in clock.timers] == [45, 5]
        assert pid_alive(pid)
        clock.timers[-1][1]()  # the grace period is over
        status = await events.terminated("stubborn")
        assert status.exit_code == 137


async def test_command_that_cannot_start_is_a_start_error_not_an_exception(
    runtime: ProcessRuntime, events: Events
) -> None:
    await start(runtime, "missing", ("no-such-command-kubeloop",))
    status = await events.terminated("missing")
    assert (status.exit_code, status.reason) == (START_ERROR_EXIT_CODE, "StartError")
    assert status.message == 'exec: "no-such-command-kubeloop": executable file not found in $PATH'

    await start(runtime, "empty", ())
    status = await events.terminated("empty")
    assert status.reason == "StartError"
    assert status.message is not None and "no command" in status.message

    await start(runtime, "nowhere", ("true",), working_dir="/no/such/directory")
    status = await events.terminated("nowhere")
    assert status.reason == "StartError"
    assert status.message is not None and "/no/such/directory" in status.message

    script = runtime.sandbox_directory("uid-1") / "work" / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    await start(runtime, "not-executable", ("./script.sh",))
    status = await events.terminated("not-executable")
    assert status.reason == "StartError"
    assert status.message == 'exec: "./script.sh": permission denied'
    assert await log_lines(runtime, "missing") == []


async def test_restart_is_stop_then_create_then_start_and_keeps_the_previous_log(
    runtime: ProcessRuntime, events: Events
) -> None:
    first = await start(runtime, "app", ("sh", "-c", "echo first; sleep 60"))
    await eventually(lambda: logged(runtime, "app", ["first"]))
    with pytest.raises(ContainerRuntimeError, match="still running"):
        await runtime.create_container("uid-1", ContainerConfig("app", command=("true",)))
    await runtime.stop_container("uid-1", "app", grace_period=5)
    old = await events.terminated("app")

    created = await runtime.create_container(
        "uid-1", ContainerConfig("app", command=("sh", "-c", "echo second; sleep 60"), attempt=1)
    )
    assert (created.state, created.attempt) == ("waiting", 1)
    assert created.container_id != old.container_id
    await runtime.start_container("uid-1", "app")
    second = runtime.pid("uid-1", "app")
    assert second is not None and second != first
    await eventually(lambda: logged(runtime, "app", ["second"]))
    assert await log_lines(runtime, "app", previous=True) == ["first"]
    assert first is not None and not pid_alive(first)


async def test_follow_yields_lines_as_they_are_written_and_stops_at_exit(
    runtime: ProcessRuntime, events: Events
) -> None:
    await runtime.run_pod_sandbox(sandbox())
    await runtime.create_container(
        "uid-1",
        ContainerConfig(
            "talker",
            command=python("""
                import sys
                print("one", flush=True)
                sys.stdin.close()
                import time
                while True:
                    try:
                        open("go").close()
                        break
                    except FileNotFoundError:
                        time.sleep(0.01)
                print("two", flush=True)
                sys.stdout.write("three without newline")
            """),
        ),
    )
    followed = runtime.logs("uid-1", "talker", follow=True)  # follows from before the start
    await runtime.start_container("uid-1", "talker")
    async with asyncio.timeout(WAIT):
        assert await anext(followed) == "one"
        (runtime.sandbox_directory("uid-1") / "work" / "go").touch()
        rest = [line async for line in followed]
    assert rest == ["two", "three without newline"]
    assert (await events.terminated("talker")).exit_code == 0
    assert await log_lines(runtime, "talker", tail=2) == ["two", "three without newline"]
    assert await log_lines(runtime, "talker", tail=0) == []
    async with asyncio.timeout(WAIT):
        assert [line async for line in runtime.logs("uid-1", "talker", follow=True, tail=1)] == [
            "three without newline"
        ]


async def test_follow_ends_when_the_sandbox_is_stopped(runtime: ProcessRuntime) -> None:
    await start(runtime, "quiet", ("sleep", "60"))
    followed = runtime.logs("uid-1", "quiet", follow=True)
    reader = asyncio.ensure_future(anext(followed, None))
    await asyncio.sleep(0)
    await runtime.stop_pod_sandbox("uid-1")
    async with asyncio.timeout(WAIT):
        assert await reader is None


async def test_exec_probe_runs_in_the_container_environment_and_is_bounded(
    runtime: ProcessRuntime,
) -> None:
    await start(runtime, "app", ("sleep", "60"), env={"HEALTH": "fine"})

    async def probe(command: str, limit: float = 5) -> tuple[str, str]:
        result = await runtime.run_probe(
            "uid-1",
            "app",
            "liveness",
            ProbeAction("exec", command=("sh", "-c", command), timeout_seconds=limit),
        )
        return result.outcome, result.message

    assert await probe('test "$HEALTH" = fine && echo ok') == ("success", "ok\n")
    assert await probe("echo broken; exit 1") == ("failure", "broken\n")
    assert await probe("echo $$ > probe.pid; exec sleep 60", limit=0.3) == ("failure", "timeout")
    probe_pid = int((runtime.sandbox_directory("uid-1") / "work" / "probe.pid").read_text())
    await eventually(lambda: not pid_alive(probe_pid))
    missing = await runtime.run_probe(
        "uid-1", "app", "liveness", ProbeAction("exec", command=("no-such-probe",))
    )
    assert missing.outcome == "failure"


async def test_network_probe_failures(runtime: ProcessRuntime) -> None:
    await start(runtime, "app", ("sleep", "60"))
    closed = free_port()
    tcp = await runtime.run_probe("uid-1", "app", "liveness", ProbeAction("tcpSocket", port=closed))
    assert (tcp.outcome, tcp.message) == (
        "failure",
        f"dial tcp {runtime.pod_ip('uid-1')}:{closed}: connect: connection refused",
    )
    http = await runtime.run_probe("uid-1", "app", "liveness", ProbeAction("httpGet", port=closed))
    assert http.outcome == "failure" and "connection refused" in http.message

    # A server that accepts and never answers: the probe times out.
    accepted: list[asyncio.StreamWriter] = []
    silent = await asyncio.start_server(
        lambda _, writer: accepted.append(writer), runtime.pod_ip("uid-1"), 0
    )
    async with silent:
        port = silent.sockets[0].getsockname()[1]
        slow = await runtime.run_probe(
            "uid-1", "app", "liveness", ProbeAction("httpGet", port=port, timeout_seconds=0.2)
        )
        for writer in accepted:
            writer.close()
    assert (slow.outcome, slow.message) == ("failure", "timeout")
    grpc = await runtime.run_probe("uid-1", "app", "liveness", ProbeAction("grpc", port=port))
    assert grpc.outcome == "failure" and "not supported" in grpc.message


async def test_http_probe_follows_redirects_on_the_same_host(runtime: ProcessRuntime) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = (await reader.readuntil(b"\r\n\r\n")).decode()
        path = request.split()[1]
        assert "User-Agent: kube-probe/" in request and "X-Probe: yes" in request
        if path == "/old":
            response = "HTTP/1.1 301 Moved\r\nLocation: /healthz\r\n\r\n"
        elif path == "/away":
            response = "HTTP/1.1 302 Found\r\nLocation: http://elsewhere.invalid/\r\n\r\n"
        elif path == "/healthz":
            response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        else:
            response = "HTTP/1.1 500 Oops\r\n\r\n"
        writer.write(response.encode())
        await writer.drain()
        writer.close()

    await start(runtime, "app", ("sleep", "60"))
    server = await asyncio.start_server(answer, runtime.pod_ip("uid-1"), 0)
    async with server:
        port = server.sockets[0].getsockname()[1]

        async def probe(path: str) -> tuple[str, str]:
            action = ProbeAction("httpGet", port=port, path=path, headers=(("X-Probe", "yes"),))
            result = await runtime.run_probe("uid-1", "app", "readiness", action)
            return result.outcome, result.message

        assert await probe("/old") == ("success", "")
        outcome, message = await probe("/away")
        assert outcome == "success" and "redirect" in message
        assert await probe("/broken") == ("failure", "HTTP probe failed with statuscode: 500")


async def test_probing_a_container_that_is_not_running_fails(
    runtime: ProcessRuntime, events: Events
) -> None:
    await start(runtime, "done", ("true",))
    await events.terminated("done")
    result = await runtime.run_probe("uid-1", "done", "liveness", ProbeAction("tcpSocket", port=1))
    assert result.outcome == "failure" and "not running" in result.message


async def test_a_container_stopped_before_it_starts_never_starts(
    runtime: ProcessRuntime, events: Events
) -> None:
    await runtime.run_pod_sandbox(sandbox())
    await runtime.create_container("uid-1", ContainerConfig("late", command=("sleep", "60")))
    await runtime.stop_container("uid-1", "late", grace_period=30)
    status = await events.terminated("late")
    assert (status.exit_code, status.signal, status.started_at) == (143, 15, None)
    await runtime.start_container("uid-1", "late")
    assert runtime.pid("uid-1", "late") is None
    assert events.states("late") == ["terminated"]


async def test_misuse_raises_container_runtime_error(runtime: ProcessRuntime) -> None:
    with pytest.raises(ContainerRuntimeError):
        await runtime.create_container("nope", ContainerConfig("c", command=("true",)))
    with pytest.raises(ContainerRuntimeError):
        runtime.logs("nope", "c")
    await start(runtime, "c", ("sleep", "60"))
    with pytest.raises(ContainerRuntimeError, match="already started"):
        await runtime.start_container("uid-1", "c")
    with pytest.raises(ContainerRuntimeError):
        await runtime.start_container("uid-1", "other")
    with pytest.raises(ContainerRuntimeError):
        await runtime.stop_container("uid-1", "other", 1)
    with pytest.raises(ContainerRuntimeError, match="previous"):
        runtime.logs("uid-1", "c", previous=True)
    assert await runtime.container_status("uid-1", "other") is None
    await runtime.run_pod_sandbox(sandbox())  # again: a no-op
    assert runtime.pid("uid-1", "c") is not None
    await runtime.stop_pod_sandbox("uid-1")
    await runtime.stop_pod_sandbox("uid-1")  # idempotent
    await runtime.stop_pod_sandbox("never-existed")


async def test_stats_report_running_containers(runtime: ProcessRuntime) -> None:
    pid = await start(runtime, "busy", python("import time\nwhile True: sum(range(10000))"))
    assert pid is not None

    async def measured() -> bool:
        # Linux updates a fresh process's counters lazily: wait for them to show.
        [stats] = await runtime.stats()
        assert (stats.pod_uid, stats.name) == ("uid-1", "busy")
        assert stats.cpu_millicores >= 0
        return stats.cpu_usage_core_seconds > 0 and stats.memory_working_set_bytes > 0

    await eventually(measured)
    await runtime.stop_container("uid-1", "busy", grace_period=0)
    await eventually(lambda: runtime.pid("uid-1", "busy") is None)
    assert await runtime.stats() == []


async def test_close_kills_everything_and_removes_the_temporary_root() -> None:
    runtime = ProcessRuntime()
    pids = [
        await start(runtime, "a", ("sleep", "60"), uid="pod-a"),
        await start(runtime, "b", ("sh", "-c", "sleep 60 & wait"), uid="pod-b"),
    ]
    root = runtime.root
    assert root.exists()
    await runtime.aclose()
    assert not any(pid is not None and pid_alive(pid) for pid in pids)
    await eventually(lambda: all(group_members(pid) == [] for pid in pids if pid is not None))
    assert not root.exists()
    with pytest.raises(ContainerRuntimeError, match="closed"):
        await runtime.run_pod_sandbox(sandbox())


ESCAPE = "setsid sleep 300 >/dev/null 2>&1 & echo $! > escaped.tmp && mv escaped.tmp escaped; "


async def escaped_pid(runtime: ProcessRuntime, container: int | None) -> int:
    """The pid of the process that left the container's group (setsid)."""
    path = runtime.sandbox_directory("uid-1") / "work" / "escaped"
    await eventually(path.exists)
    pid = int(path.read_text())
    await eventually(lambda: os.getsid(pid) != container)  # setsid has run
    assert pid_alive(pid) and os.getpgid(pid) != container
    return pid


async def test_processes_that_left_the_group_die_with_their_pod(runtime: ProcessRuntime) -> None:
    container = await start(runtime, "daemon", ("sh", "-c", ESCAPE + "sleep 300"))
    pid = await escaped_pid(runtime, container)
    await runtime.stop_pod_sandbox("uid-1")
    await eventually(lambda: not pid_alive(pid))


async def test_processes_that_left_the_group_die_when_the_container_exits(
    runtime: ProcessRuntime, events: Events
) -> None:
    wait_for_stop = "while [ ! -e stop ]; do sleep 0.02; done"
    container = await start(runtime, "daemon", ("sh", "-c", ESCAPE + wait_for_stop))
    pid = await escaped_pid(runtime, container)
    (runtime.sandbox_directory("uid-1") / "work" / "stop").touch()
    assert (await events.terminated("daemon")).exit_code == 0
    await eventually(lambda: not pid_alive(pid))


async def test_closing_kills_processes_that_left_their_group_and_leaks_no_descriptor() -> None:
    descriptors = len(os.listdir("/proc/self/fd"))
    runtime = ProcessRuntime()
    container = await start(runtime, "daemon", ("sh", "-c", ESCAPE + "sleep 300"))
    pid = await escaped_pid(runtime, container)
    await runtime.aclose()
    await eventually(lambda: not pid_alive(pid))
    assert len(os.listdir("/proc/self/fd")) == descriptors


async def test_cancelling_the_owner_kills_its_processes(tmp_path: Path) -> None:
    started: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def owner() -> None:
        async with ProcessRuntime(root=tmp_path) as runtime:
            pid = await start(runtime, "app", ("sh", "-c", "sleep 60 & sleep 60"))
            assert pid is not None
            started.set_result(pid)
            await asyncio.Event().wait()

    task = asyncio.ensure_future(owner())
    async with asyncio.timeout(WAIT):
        pid = await started
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not pid_alive(pid)
    await eventually(lambda: group_members(pid) == [])  # SIGKILLed: gone within moments


def test_no_process_outlives_the_interpreter(tmp_path: Path) -> None:
    """An owner that never closes its runtime, nor even finishes its loop: the
    processes still go when the interpreter exits."""
    script = textwrap.dedent(
        f"""
        import asyncio
        from runtime.runtimes.process import ProcessRuntime
        from runtime.runtimes.protocol import ContainerConfig, PodSandboxConfig

        async def main():
            runtime = ProcessRuntime(root={str(tmp_path)!r})
            await runtime.run_pod_sandbox(PodSandboxConfig("u", "p", "default", "p", "10.0.0.1"))
            await runtime.create_container("u", ContainerConfig("c", command=("sleep", "60")))
            await runtime.start_container("u", "c")
            print(runtime.pid("u", "c"), flush=True)
            globals()["keep"] = runtime

        loop = asyncio.new_event_loop()
        loop.run_until_complete(main())
        """
    )
    done = subprocess.run(
        [PYTHON, "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    )
    pid = int(done.stdout.split()[0])
    assert not pid_alive(pid)


# -- end to end: a kubelet driving the process runtime --------------------------------


async def answers_http(port: int, path: str = "/", host: str = "127.0.0.1") -> bool:
    try:
        return await http_get(port, path, host) == 200
    except OSError:
        return False


def web_pod(port: int, *, command: list[str] | None = None) -> core.Pod:
    pod = parse_object(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "nodeName": "node-1",
                "terminationGracePeriodSeconds": 5,
                "containers": [
                    {
                        "name": "web",
                        "image": "python:3.11-slim",  # ignored by the process runtime
                        "command": command or [PYTHON, "-m", "http.server"],
                        "args": ["--bind", "$(MY_POD_IP)", "$(PORT)"],
                        "ports": [{"name": "http", "containerPort": port}],
                        "env": [
                            {"name": "PORT", "value": str(port)},
                            {
                                "name": "MY_POD_IP",
                                "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}},
                            },
                        ],
                        "livenessProbe": {
                            "httpGet": {"path": "/healthz-is-not-there", "port": "http"},
                            "initialDelaySeconds": 1,
                            "periodSeconds": 1,
                            "failureThreshold": 1,
                        },
                    }
                ],
            },
        }
    )
    assert isinstance(pod, core.Pod)
    return pod


@contextlib.asynccontextmanager
async def kubelet_node(tmp_path: Path) -> AsyncIterator[tuple[Store, ProcessRuntime]]:
    clock = RealClock()
    store = Store(clock=clock)
    async with ProcessRuntime(root=tmp_path / "pods") as runtime:
        config = KubeletConfig(
            node_name="node-1", crash_loop_initial_backoff=0.2, crash_loop_max_backoff=0.5
        )
        kubelet = Kubelet(LocalClient(store), runtime, config, clock=clock)
        task = asyncio.ensure_future(kubelet.run())
        try:
            yield store, runtime
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def pod_ip(store: Store) -> str:
    pod = store.try_get(core.Pod, "web", "default")
    return (pod.status.pod_ip if pod is not None else None) or ""


def container_status(store: Store) -> core.ContainerStatus | None:
    pod = store.try_get(core.Pod, "web", "default")
    statuses = pod.status.container_statuses if pod is not None else []
    return statuses[0] if statuses else None


async def test_kubelet_runs_an_http_server_pod_restarts_it_on_liveness_failure_and_deletes_it(
    tmp_path: Path,
) -> None:
    port = free_port()
    async with kubelet_node(tmp_path) as (store, runtime):
        pod = store.create(web_pod(port))
        uid = pod.metadata.uid
        assert uid is not None
        # The pod reports its own loopback address (the kubelet's 10.244.0.x
        # mapped into 127/8) and serves there.
        await eventually(lambda: bool(pod_ip(store)))
        assert pod_ip(store).startswith("127.244.0.")
        await eventually(lambda: answers_http(port, host=pod_ip(store)))
        first = runtime.pid(uid, "web")
        assert first is not None
        lines = [line async for line in runtime.logs(uid, "web")]
        assert any("Serving HTTP" in line for line in lines)

        # The liveness probe asks for a page that does not exist: killed, restarted.
        await eventually(lambda: (status := container_status(store)) and status.restart_count >= 1)
        await eventually(lambda: not pid_alive(first))
        previous = [line async for line in runtime.logs(uid, "web", previous=True)]
        assert any("GET /healthz-is-not-there" in line and "404" in line for line in previous)
        status = container_status(store)
        assert status is not None and status.last_state.terminated is not None
        await eventually(lambda: runtime.pid(uid, "web") not in (None, first))
        latest = runtime.pid(uid, "web")
        assert latest is not None

        store.delete(core.Pod, "web", "default")
        await eventually(lambda: store.try_get(core.Pod, "web", "default") is None)
        assert not pid_alive(latest)
        assert await runtime.list_pod_sandboxes() == []


async def test_kubelet_shows_a_pod_whose_command_is_missing_as_waiting(tmp_path: Path) -> None:
    async with kubelet_node(tmp_path) as (store, _):
        store.create(web_pod(free_port(), command=["no-such-command-kubeloop"]))

        def waiting() -> bool:
            status = container_status(store)
            return (
                status is not None
                and status.state.waiting is not None
                and (status.last_state.terminated is not None)
            )

        await eventually(waiting)
        status = container_status(store)
        assert status is not None and status.state.waiting is not None
        assert status.state.waiting.reason == "CrashLoopBackOff"
        assert status.last_state.terminated is not None
        assert status.last_state.terminated.reason == "StartError"
        assert "executable file not found" in (status.last_state.terminated.message or "")
