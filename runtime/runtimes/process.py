"""ProcessRuntime: containers as real local processes, for hands-on use.

Implements `runtime.runtimes.protocol.ContainerRuntime` (read its contract
first). Each container runs `command + args` as a process on this machine:

* **No images.** The `image` field is ignored: nothing is pulled, there is no
  root filesystem, and a container with neither command nor args cannot
  start. The process sees the host's filesystem, in a working directory per
  pod (see `runtime.runtimes.process_sandbox` for the layout and for the
  environment: the container's `env` plus the pod's variables).
* **Network.** A pod network (`runtime.network.podnetwork`) gives each
  sandbox its address: by default (`LoopbackPodNetwork`) a loopback address
  of its own (127.x.y.z, the kubelet's pod IP when it is one), or with
  `NamespacePodNetwork` a network namespace of its own. Containers get it as
  `POD_IP` and bind it (their declared `containerPort`s; `PORT` names the
  first); probes without a host go to it; `pod_ip()` reports it, and the
  kubelet reports that as the pod's IP. In the namespaces mode, containers
  and exec probes run inside the pod's namespace.
* **Processes.** A container is started in a new session, so it leads a
  process group holding everything it forks. Stopping it sends SIGTERM to the
  group and SIGKILL when the grace period (a timer on the injected clock)
  runs out. When the main process exits, whatever is left of its group is
  killed, as a container's PID namespace would be. Exit codes become
  terminated states (128+N for signal N). A container stopped before it
  started never starts.
* **Start failures** (no command, program not found, bad working directory,
  or any error from spawning) are reported as terminated with reason
  `StartError` and exit code 128, never raised.
* **Logs.** stdout and stderr are pipes that kubeloop copies into one log
  file per container instance, as CRI records, rotated at the kubelet's
  `containerLogMaxSize` / `containerLogMaxFiles` (`log_max_size`,
  `log_max_files`; `runtime.runtimes.process_logs`). `logs()` streams the
  current file (as `kubectl logs`), `tail=N` reads back from its end,
  `follow=True` follows it across rotations. A container's exit is reported
  once its output is in the log (waiting at most `LOG_DRAIN_SECONDS` for
  pipes that a process outside its group still holds).
* **No orphans.** Processes belong to the runtime's `ProcessGroups`, recorded
  in the runtime's run folder (`runtime.runtimes.process_runs`). They are
  killed when their pod's sandbox is stopped, when the runtime is closed
  (`async with ProcessRuntime() as runtime:` or `await runtime.aclose()`;
  the kill happens before the first await, so it survives cancellation), when
  the task watching a container is cancelled (`asyncio.run` cancels leftover
  tasks on exit), when the runtime is garbage-collected, and at interpreter
  exit; the run folder goes with them. Processes that left their group
  (setsid) are found by their environment and killed with their container.
  A run killed with SIGKILL is cleaned up by the next runtime to start: its
  recorded groups (if provably its own: pid reuse is checked) are killed and
  its folder removed.

Time: grace periods, probe timeouts and the log drain are timers on the
injected clock. The processes themselves run on real time, so give this
runtime a `RealClock` (the default): on a virtual clock in auto mode, time
jumps ahead whenever the loop only waits for a process, and every timeout
fires at once.

Neighbours: `runtime.kubelet` (the caller), `runtime.runtimes.protocol`,
`process_sandbox` (directories, environment, start checks), `process_logs`,
`process_probes`, `process_groups` (signals), `process_runs` (run folder,
sweep of dead runs), `procfs` (stats, pids).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import weakref
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType

from engine.clock import Clock, RealClock, TimerHandle
from runtime.network.iproute import IpError
from runtime.network.podnetwork import LoopbackPodNetwork, PodAttachment, PodNetwork
from runtime.runtimes.process_groups import ProcessGroups
from runtime.runtimes.process_logs import DEFAULT_MAX_FILES, DEFAULT_MAX_SIZE, ContainerLog
from runtime.runtimes.process_probes import (
    exec_probe,
    http_get_probe,
    tcp_socket_probe,
    within,
)
from runtime.runtimes.process_runs import RUN_VARIABLE, RunFolder
from runtime.runtimes.process_sandbox import (
    SandboxDirectory,
    StartFailure,
    container_environment,
    find_executable,
    resolve_working_dir,
)
from runtime.runtimes.procfs import usage_by_group
from runtime.runtimes.protocol import (
    START_ERROR_EXIT_CODE,
    ContainerConfig,
    ContainerEvent,
    ContainerEventListener,
    ContainerRuntimeError,
    ContainerStats,
    ContainerStatus,
    PodSandboxConfig,
    ProbeAction,
    ProbeResult,
    ProbeType,
)

__all__ = ["ProcessRuntime"]

VERSION = "process://0.1.0"

LOG_DRAIN_SECONDS = 2.0
"""How long an exited container's output pipes are waited for before the exit
is reported anyway (they stay open, and the log keeps growing, until they end
or the sandbox is removed)."""

_log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Container:
    """One container instance: from create_container until replaced or removed."""

    config: ContainerConfig
    status: ContainerStatus
    log: ContainerLog
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    process: asyncio.subprocess.Process | None = None
    watcher: asyncio.Task[None] | None = None
    kill_timer: TimerHandle | None = None
    kill_at: float | None = None  # monotonic time the pending SIGKILL is due
    starting: bool = False  # start_container is spawning the process
    stopped_before_start: bool = False  # stop_container came first: never start
    removed: bool = False  # the sandbox is gone: no more events
    cpu_sample: tuple[float, float] | None = None  # (monotonic, cpu seconds) of last stats()

    @property
    def running(self) -> bool:
        return self.status.state == "running"


@dataclass(eq=False)
class _Sandbox:
    config: PodSandboxConfig
    directory: SandboxDirectory
    attachment: PodAttachment
    containers: dict[str, _Container] = field(default_factory=dict)
    previous_logs: dict[str, ContainerLog] = field(default_factory=dict)
    instances: int = 0  # numbers the log files of the pod's container instances


class ProcessRuntime:
    """A `ContainerRuntime` whose containers are local processes (module docstring)."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        root: str | os.PathLike[str] | None = None,
        inherit_environment: bool = True,
        log_max_size: int = DEFAULT_MAX_SIZE,
        log_max_files: int = DEFAULT_MAX_FILES,
        network: PodNetwork | None = None,
    ) -> None:
        """`root` holds the pods' directories (the run folder, removed on close,
        when None). `inherit_environment=False` gives processes only PATH from
        the host's environment. `log_max_size` (bytes) and `log_max_files` are
        the kubelet's containerLogMaxSize and containerLogMaxFiles. `network`
        places the pods on the network (default: `LoopbackPodNetwork`)."""
        if log_max_size <= 0:
            raise ValueError(f"containerLogMaxSize must be positive, got {log_max_size}")
        if log_max_files < 2:
            raise ValueError(f"containerLogMaxFiles must be at least 2, got {log_max_files}")
        self._clock: Clock = clock or RealClock()
        self._rng = rng or random.Random()
        self._given_root = Path(root) if root is not None else None
        self._root: Path | None = self._given_root
        self._inherit_environment = inherit_environment
        self._log_max_size = log_max_size
        self._log_max_files = log_max_files
        self._sandboxes: dict[str, _Sandbox] = {}
        self.network: PodNetwork = network or LoopbackPodNetwork()
        self._listener: ContainerEventListener | None = None
        self._groups = ProcessGroups()
        self._run: RunFolder | None = None
        self._run_lock = asyncio.Lock()
        self._closed = False
        # Cleaning up needs only the groups, not the runtime, so it can run
        # after the runtime is unreachable.
        weakref.finalize(self, self._groups.shutdown)

    # -- lifecycle (beyond the protocol) ---------------------------------------

    async def __aenter__(self) -> ProcessRuntime:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Kill every process, remove every sandbox, and refuse new ones."""
        self._closed = True
        self._groups.kill_all()  # first, before any await: cancellation cannot skip it
        try:
            for pod_uid in list(self._sandboxes):
                await self.stop_pod_sandbox(pod_uid)
            await asyncio.to_thread(self._groups.shutdown)  # the run folder goes
            await self.network.aclose()
        finally:
            self._groups.shutdown()  # done already, unless this was cancelled
            self._root = self._given_root

    @property
    def root(self) -> Path:
        """The directory holding the pods' directories: the run folder unless a
        root was given (created on first use, after sweeping dead runs)."""
        if self._root is None:
            self._start_run()
        assert self._root is not None
        return self._root

    def _start_run(self) -> None:
        """Sweep dead runs' leftovers and create this runtime's run folder."""
        if self._run is None:
            self._run = RunFolder.create()
            self._groups.record = self._run
        if self._root is None:
            self._root = self._run.path

    # -- the protocol -----------------------------------------------------------

    @property
    def version(self) -> str:
        return VERSION

    def set_event_listener(self, listener: ContainerEventListener | None) -> None:
        self._listener = listener

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> None:
        if self._closed:
            raise ContainerRuntimeError("the process runtime is closed")
        if config.pod_uid in self._sandboxes:
            return
        if self._run is None:
            async with self._run_lock:
                if self._run is None:
                    await asyncio.to_thread(self._start_run)
        try:
            attachment = await self.network.attach(config)
        except (IpError, OSError, ValueError) as error:
            await self.network.detach(config.pod_uid)
            raise ContainerRuntimeError(
                f"pod {config.namespace}/{config.name}: network setup failed: {error}"
            ) from error
        self.root.mkdir(parents=True, exist_ok=True)
        directory = SandboxDirectory.create(self.root, config)
        self._sandboxes[config.pod_uid] = _Sandbox(config, directory, attachment)

    async def stop_pod_sandbox(self, pod_uid: str) -> None:
        sandbox = self._sandboxes.pop(pod_uid, None)
        if sandbox is None:
            return
        watchers: list[asyncio.Task[None]] = []
        for container in sandbox.containers.values():
            container.removed = True
            self._cancel_kill_timer(container)
            if container.process is not None:
                self._groups.release(container.process.pid)  # SIGKILL to the group
            if container.watcher is not None and not container.watcher.done():
                watchers.append(container.watcher)
            container.log.finish()
        for log in sandbox.previous_logs.values():
            log.finish()
        if self._run is not None:
            # Processes of the pod that left their group (setsid) go too.
            await asyncio.to_thread(self._run.kill_strays, KUBELOOP_POD_UID=pod_uid)
        # The watchers see the SIGKILLed processes exit and reap them.
        if watchers:
            await asyncio.wait(watchers)
        await self.network.detach(pod_uid)
        await asyncio.to_thread(sandbox.directory.remove)

    async def list_pod_sandboxes(self) -> Sequence[str]:
        return list(self._sandboxes)

    async def create_container(self, pod_uid: str, config: ContainerConfig) -> ContainerStatus:
        sandbox = self._sandbox(pod_uid)
        old = sandbox.containers.get(config.name)
        if old is not None:
            if old.running:
                raise ContainerRuntimeError(
                    f"container {config.name!r} of pod {pod_uid} is still running; "
                    "stop it before creating its replacement"
                )
            old.log.finish()
            replaced = sandbox.previous_logs.get(config.name)
            if replaced is not None:
                replaced.remove()  # only the previous instance is kept
            sandbox.previous_logs[config.name] = old.log
        sandbox.instances += 1
        log = ContainerLog(
            sandbox.directory.log_path(config.name, sandbox.instances),
            self._clock,
            max_size=self._log_max_size,
            max_files=self._log_max_files,
        )
        status = ContainerStatus(
            pod_uid=pod_uid,
            name=config.name,
            container_id=f"process://{self._rng.getrandbits(128):032x}",
            state="waiting",
            attempt=config.attempt,
            reason="ContainerCreating",
            created_at=self._clock.now(),
        )
        sandbox.containers[config.name] = _Container(config, status, log)
        return status

    async def start_container(self, pod_uid: str, name: str) -> None:
        sandbox = self._sandbox(pod_uid)
        container = self._container(sandbox, name)
        if container.stopped_before_start:
            return  # stopped while waiting: it never starts (already reported terminated)
        if container.status.state != "waiting" or container.starting:
            raise ContainerRuntimeError(
                f"container {name!r} of pod {pod_uid} was already started; create it again"
            )
        container.starting = True
        config = container.config
        argv = [*config.command, *config.args]
        try:
            container.env = container_environment(
                sandbox.config,
                sandbox.directory,
                config,
                pod_ip=sandbox.attachment.ip,
                inherit=self._inherit_environment,
            )
            if self._run is not None:  # how a sweep recognises the run's processes
                container.env[RUN_VARIABLE] = str(self._run.path)
            container.cwd = resolve_working_dir(sandbox.directory, config.working_dir)
            find_executable(argv, container.env, container.cwd)
            sandbox.directory.reset_termination_message(name)
            process = await self._spawn(container, self.network.command(sandbox.attachment, argv))
        except StartFailure as failure:
            self._fail_start(container, str(failure))
            return
        except OSError as error:
            self._fail_start(container, f'exec: "{argv[0]}": {error.strerror or error}')
            return
        finally:
            container.starting = False
        if container.removed or container.stopped_before_start:
            # The sandbox or the container was stopped while we spawned.
            self._groups.release(process.pid)
            await process.wait()
            return
        container.process = process
        container.cpu_sample = (self._clock.monotonic(), 0.0)
        container.status = replace(
            container.status, state="running", reason=None, started_at=self._clock.now()
        )
        container.watcher = asyncio.get_running_loop().create_task(
            self._watch(sandbox, container, process),
            name=f"process-runtime {sandbox.config.namespace}/{sandbox.config.name}/{name}",
        )
        self._emit(container)

    async def stop_container(self, pod_uid: str, name: str, grace_period: float) -> None:
        container = self._container(self._sandbox(pod_uid), name)
        if container.status.state == "waiting":
            self._stop_before_start(container, grace_period)
            return
        process = container.process
        if not container.running or process is None:
            return
        if grace_period <= 0:
            self._cancel_kill_timer(container)
            self._groups.kill(process.pid)
            return
        kill_at = self._clock.monotonic() + grace_period
        if container.kill_at is not None and container.kill_at <= kill_at:
            return  # already stopping, with a SIGKILL due no later than this one
        if container.kill_at is None:
            self._groups.terminate(process.pid, signal.SIGTERM)
        self._cancel_kill_timer(container)
        container.kill_at = kill_at
        container.kill_timer = self._clock.call_later(
            grace_period, lambda: self._groups.kill(process.pid)
        )

    async def container_status(self, pod_uid: str, name: str) -> ContainerStatus | None:
        sandbox = self._sandboxes.get(pod_uid)
        container = sandbox.containers.get(name) if sandbox is not None else None
        return container.status if container is not None else None

    async def run_probe(
        self, pod_uid: str, name: str, probe_type: ProbeType, action: ProbeAction
    ) -> ProbeResult:
        sandbox = self._sandbox(pod_uid)
        container = self._container(sandbox, name)
        if not container.running or container.cwd is None:
            return ProbeResult("failure", f"container {name!r} is not running")
        host = action.host or sandbox.attachment.ip
        if action.handler == "httpGet":
            return await http_get_probe(self._clock, host, action)
        if action.handler == "tcpSocket":
            return await tcp_socket_probe(self._clock, host, action)
        if action.handler == "exec":
            command = tuple(self.network.command(sandbox.attachment, action.command))
            return await exec_probe(
                self._clock,
                self._groups,
                replace(action, command=command) if action.command else action,
                env=container.env,
                cwd=container.cwd,
            )
        return ProbeResult(
            "failure", f"{action.handler} probes are not supported by the process runtime"
        )

    def logs(
        self,
        pod_uid: str,
        name: str,
        *,
        tail: int | None = None,
        follow: bool = False,
        previous: bool = False,
    ) -> AsyncIterator[str]:
        sandbox = self._sandbox(pod_uid)
        log = self._container(sandbox, name).log
        if previous:
            found = sandbox.previous_logs.get(name)
            if found is None:
                raise ContainerRuntimeError(
                    f"previous terminated container {name!r} in pod {pod_uid} not found"
                )
            log = found
        return log.follow(tail) if follow else log.read(tail)

    async def stats(self) -> Sequence[ContainerStats]:
        running = [
            (container, container.process)
            for sandbox in self._sandboxes.values()
            for container in sandbox.containers.values()
            if container.running and container.process is not None
        ]
        if not running:
            return []
        usage = await asyncio.to_thread(usage_by_group, [process.pid for _, process in running])
        now, timestamp = self._clock.monotonic(), self._clock.now()
        stats: list[ContainerStats] = []
        for container, process in running:
            group = usage[process.pid]
            since, before = container.cpu_sample or (now, group.cpu_seconds)
            elapsed = now - since
            rate = (group.cpu_seconds - before) / elapsed * 1000 if elapsed > 0 else 0.0
            container.cpu_sample = (now, group.cpu_seconds)
            stats.append(
                ContainerStats(
                    pod_uid=container.status.pod_uid,
                    name=container.config.name,
                    timestamp=timestamp,
                    cpu_millicores=max(0.0, rate),
                    memory_working_set_bytes=group.resident_bytes,
                    cpu_usage_core_seconds=group.cpu_seconds,
                )
            )
        return stats

    # -- beyond the protocol ----------------------------------------------------

    def pod_ip(self, pod_uid: str) -> str:
        """The pod's address on its network (what its containers bind)."""
        return self._sandbox(pod_uid).attachment.ip

    def pod_command(self, pod_uid: str, argv: Sequence[str]) -> list[str]:
        """`argv` made to run on the pod's network (in its namespace, with its
        resolv.conf, in the namespaces mode), as `kubectl exec` would; the
        caller runs it."""
        return self.network.command(self._sandbox(pod_uid).attachment, argv)

    def pid(self, pod_uid: str, name: str) -> int | None:
        """The pid (and process group id) of a running container's main process."""
        sandbox = self._sandboxes.get(pod_uid)
        container = sandbox.containers.get(name) if sandbox is not None else None
        if container is None or not container.running or container.process is None:
            return None
        return container.process.pid

    def sandbox_directory(self, pod_uid: str) -> Path:
        """The pod's directory (work/, logs/, containers/)."""
        return self._sandbox(pod_uid).directory.root

    # -- internals ----------------------------------------------------------------

    def _sandbox(self, pod_uid: str) -> _Sandbox:
        sandbox = self._sandboxes.get(pod_uid)
        if sandbox is None:
            raise ContainerRuntimeError(f"no sandbox for pod {pod_uid}")
        return sandbox

    @staticmethod
    def _container(sandbox: _Sandbox, name: str) -> _Container:
        container = sandbox.containers.get(name)
        if container is None:
            raise ContainerRuntimeError(
                f"no container {name!r} in pod {sandbox.config.pod_uid}; create it first"
            )
        return container

    async def _spawn(self, container: _Container, argv: list[str]) -> asyncio.subprocess.Process:
        stdout = container.log.pipe("stdout")
        stderr = container.log.pipe("stderr")
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=container.cwd,
                env=container.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        finally:
            os.close(stdout)
            os.close(stderr)
        self._groups.adopt(process.pid)
        return process

    async def _watch(
        self, sandbox: _Sandbox, container: _Container, process: asyncio.subprocess.Process
    ) -> None:
        """Wait for the container's main process to exit and report it."""
        try:
            returncode = await process.wait()
        finally:
            # Exited, or this task was cancelled: either way the container's
            # processes go (cancellation included: nothing outlives its owner).
            self._groups.release(process.pid)
            self._cancel_kill_timer(container)
        if self._run is not None:
            # As when a PID namespace's first process exits: the container's
            # processes that left its group (setsid) go too.
            await asyncio.to_thread(
                self._run.kill_strays,
                KUBELOOP_POD_UID=sandbox.config.pod_uid,
                KUBELOOP_CONTAINER_NAME=container.config.name,
            )
        # What the container wrote is in its log before its exit is reported.
        # The group is dead, so the pipes end at once, unless a process that
        # left the group holds them: that one is not waited for long.
        with contextlib.suppress(TimeoutError):
            await within(self._clock, LOG_DRAIN_SECONDS, container.log.drained())
        if container.removed:
            return
        signal_number = -returncode if returncode < 0 else None
        exit_code = 128 + signal_number if signal_number is not None else returncode
        container.status = replace(
            container.status,
            state="terminated",
            exit_code=exit_code,
            signal=signal_number,
            reason="Completed" if exit_code == 0 else "Error",
            message=sandbox.directory.read_termination_message(container.config.name),
            finished_at=self._clock.now(),
        )
        self._emit(container)

    def _stop_before_start(self, container: _Container, grace_period: float) -> None:
        """A container stopped before it started never starts; it is reported
        terminated by the signal that would have stopped it."""
        signal_number = signal.SIGTERM if grace_period > 0 else signal.SIGKILL
        container.stopped_before_start = True
        container.log.finish()
        now = self._clock.now()
        container.status = replace(
            container.status,
            state="terminated",
            exit_code=128 + signal_number,
            signal=int(signal_number),
            reason="Error",
            started_at=None,
            finished_at=now,
        )
        self._emit(container)

    def _fail_start(self, container: _Container, message: str) -> None:
        if container.stopped_before_start:
            return  # already reported terminated by the stop
        container.log.finish()
        container.status = replace(
            container.status,
            state="terminated",
            exit_code=START_ERROR_EXIT_CODE,
            reason="StartError",
            message=message,
            finished_at=self._clock.now(),
        )
        self._emit(container)

    def _cancel_kill_timer(self, container: _Container) -> None:
        if container.kill_timer is not None:
            container.kill_timer.cancel()
        container.kill_timer = None
        container.kill_at = None

    def _emit(self, container: _Container) -> None:
        if self._listener is None or container.removed:
            return
        try:
            self._listener(ContainerEvent(container.status))
        except Exception:
            _log.exception("container event listener failed")
