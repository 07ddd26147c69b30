"""Every way a process-runtime run ends leaves no process and no file behind.

Real `kubeloop run --runtime process` subprocesses are signalled (SIGTERM,
SIGHUP, SIGINT, SIGKILL) while a pod runs `sh` with a background `sleep`; each
subprocess gets a private TMPDIR, so its run folder is the only
`kubeloop-process-*` there. Waits are for conditions, bounded on the wall clock.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import select
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from runtime.cluster import Cluster, ClusterConfig, NodePool
from runtime.runtimes import process_runs
from runtime.runtimes.process_runs import RUN_VARIABLE, RunFolder, sweep
from runtime.runtimes.procfs import boot_id, group_members, pid_alive, start_time

PYTHON = sys.executable
REPO = Path(__file__).resolve().parents[2]
WAIT = 20.0  # wall seconds: the bound on any condition these tests wait for

# The container writes "<its pid> <its background child's pid>" once both run.
POD = """\
apiVersion: v1
kind: Pod
metadata: {name: sleeper}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "sleep 300 & echo $$$$ $! > ready.tmp && mv ready.tmp ready; wait"]
"""


def wait_until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT} s: {what}")
        time.sleep(0.02)


def waiting_for_a_child(pid: int) -> bool:
    """Whether `pid` sleeps in wait() (True where the kernel does not say)."""
    try:
        channel = Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return True
    return channel in ("0", "") or "wait" in channel


def run_folders(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("kubeloop-process-*"))


def ready_file(tmp: Path) -> Path | None:
    found = sorted(tmp.glob("kubeloop-process-*/*/work/ready"))
    return found[0] if found else None


def container_pids(tmp: Path) -> tuple[int, int]:
    """(the container's main pid, which is its process group, and its child's pid)."""
    wait_until(lambda: ready_file(tmp) is not None, "the container started")
    ready = ready_file(tmp)
    assert ready is not None
    main_pid, child = (int(word) for word in ready.read_text().split())
    return main_pid, child


@pytest.fixture
def private_tmp(tmp_path: Path) -> Path:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    return tmp


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "pod.yaml"
    path.write_text(POD)
    return path


@pytest.fixture
def spawned(private_tmp: Path) -> Iterator[list[subprocess.Popen[str]]]:
    """Subprocesses a test starts; if one is left running it is killed, and what
    it left behind is swept."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()
    sweep(private_tmp)


def kubeloop_run(
    spawned: list[subprocess.Popen[str]],
    tmp: Path,
    manifest: Path,
    *,
    terminal: int | None = None,
) -> subprocess.Popen[str]:
    """`kubeloop run --runtime process --watch` in TMPDIR `tmp`: with `--json` and
    piped output, or with the live view on `terminal` (a pty)."""
    command = ["run", "--runtime", "process", "--watch", str(manifest)]
    stdio: dict[str, Any] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    if terminal is None:
        command.append("--json")
    else:
        stdio = {"stdin": terminal, "stdout": terminal, "stderr": terminal}
    process = subprocess.Popen(
        [PYTHON, "-m", "runtime.cli", *command],
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(tmp)},
        text=True,
        **stdio,
    )
    spawned.append(process)
    return process


def python_script(script: str, tmp: Path) -> str:
    """Run `script` in a fresh interpreter with TMPDIR `tmp`; its output."""
    done = subprocess.run(
        [PYTHON, "-c", script],
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(tmp)},
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=True,
    )
    return done.stdout


def assert_nothing_left(tmp: Path, pids: tuple[int, int]) -> None:
    main_pid, child = pids
    wait_until(
        lambda: not pid_alive(main_pid) and not pid_alive(child) and not group_members(main_pid),
        "the container's processes are gone",
    )
    assert run_folders(tmp) == []


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signalled_run_stops_every_process_and_removes_its_folder(
    stop: signal.Signals,
    private_tmp: Path,
    manifest: Path,
    spawned: list[subprocess.Popen[str]],
) -> None:
    run = kubeloop_run(spawned, private_tmp, manifest)
    pids = container_pids(private_tmp)
    assert all(pid_alive(pid) for pid in pids)
    assert len(run_folders(private_tmp)) == 1

    run.send_signal(stop)
    out, err = run.communicate(timeout=WAIT)

    assert run.returncode == 128 + stop, err
    assert f"stopped by {stop.name}" in err
    summary = json.loads(out)
    assert summary["pods"]["total"] == 1
    assert_nothing_left(private_tmp, pids)


def test_a_run_killed_with_sigkill_is_cleaned_up_by_the_next_start(
    private_tmp: Path,
    manifest: Path,
    spawned: list[subprocess.Popen[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = kubeloop_run(spawned, private_tmp, manifest)
    pids = container_pids(private_tmp)
    run.kill()
    run.wait(timeout=WAIT)
    # SIGKILL leaves no chance to clean up: the container lives on, orphaned.
    assert all(pid_alive(pid) for pid in pids)
    [leftover] = run_folders(private_tmp)

    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    fresh = RunFolder.create()
    try:
        assert run_folders(private_tmp) == [fresh.path]
        assert not leftover.exists()
        wait_until(lambda: not any(pid_alive(pid) for pid in pids), "the leftovers are killed")
        assert group_members(pids[0]) == []
    finally:
        fresh.remove()


def test_an_embedding_program_that_exits_with_its_cluster_open_leaves_nothing(
    private_tmp: Path, manifest: Path
) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, pathlib
        from runtime.cluster import Cluster, ClusterConfig, NodePool

        async def main():
            cluster = Cluster(ClusterConfig(
                runtime="process", virtual_time=False, node_pools=(NodePool(count=1),)
            ))
            await cluster.__aenter__()  # never left
            await cluster.apply(pathlib.Path({str(manifest)!r}))
            tmp = pathlib.Path({str(private_tmp)!r})
            while not list(tmp.glob("kubeloop-process-*/*/work/ready")):
                await asyncio.sleep(0.02)
            print(next(tmp.glob("kubeloop-process-*/*/work/ready")).read_text(), flush=True)

        asyncio.run(main())
        """
    )
    main_pid, child = (int(word) for word in python_script(script, private_tmp).split())
    assert_nothing_left(private_tmp, (main_pid, child))


class TestSweep:
    """What the sweep at start may and may not touch (no kubeloop subprocess)."""

    @pytest.fixture
    def sleeper(self) -> Iterator[subprocess.Popen[bytes]]:
        process = subprocess.Popen(["sleep", "60"], start_new_session=True)
        yield process
        process.kill()
        process.wait()

    def fake_run(
        self, tmp: Path, owner: Mapping[str, object], groups: list[tuple[int, int | None]]
    ) -> Path:
        folder = Path(tempfile.mkdtemp(prefix=process_runs.PREFIX, dir=tmp))
        (folder / process_runs.OWNER_FILE).write_text(json.dumps(owner))
        (folder / process_runs.GROUPS_FILE).write_text(
            "".join(f"{pgid} {'-' if start is None else start}\n" for pgid, start in groups)
        )
        return folder

    def dead_owner(self) -> dict[str, object]:
        # Linux pids stay below 2**22 (pid_max's ceiling): no such process can exist.
        return {"pid": 1 << 22, "start_time": 1, "boot_id": boot_id()}

    def test_a_live_run_is_left_alone(
        self, private_tmp: Path, sleeper: subprocess.Popen[bytes]
    ) -> None:
        me = {
            "pid": os.getpid(),
            "start_time": start_time(os.getpid()),
            "boot_id": boot_id(),
        }
        folder = self.fake_run(private_tmp, me, [(sleeper.pid, start_time(sleeper.pid))])
        assert sweep(private_tmp) == []
        assert folder.exists() and pid_alive(sleeper.pid)

    def test_a_folder_without_an_owner_record_is_left_alone(self, private_tmp: Path) -> None:
        folder = private_tmp / f"{process_runs.PREFIX}being-created"
        folder.mkdir()
        assert sweep(private_tmp) == []
        assert folder.exists()

    def test_a_reused_pgid_is_not_killed(
        self, private_tmp: Path, sleeper: subprocess.Popen[bytes]
    ) -> None:
        """The dead run recorded this pgid, but its leader now is another process
        (a different start time): a stranger that reused the pid."""
        started = start_time(sleeper.pid)
        assert started is not None
        folder = self.fake_run(private_tmp, self.dead_owner(), [(sleeper.pid, started - 1)])
        assert sweep(private_tmp) == [folder]
        assert not folder.exists()
        assert pid_alive(sleeper.pid)

    def test_a_group_whose_leader_is_gone_is_killed_only_with_the_run_marker(
        self, private_tmp: Path
    ) -> None:
        folder = Path(tempfile.mkdtemp(prefix=process_runs.PREFIX, dir=private_tmp))
        pids: dict[str, int] = {}
        for name, marker in (("ours", str(folder)), ("stranger", str(folder) + "-other")):
            # The leader forks a sleep into its group and exits: the group lives on.
            leader = subprocess.run(
                ["sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!"],
                env={**os.environ, RUN_VARIABLE: marker},
                start_new_session=True,
                capture_output=True,
                text=True,
                check=True,
            )
            pids[name] = int(leader.stdout)
        try:
            groups = [(os.getpgid(pid), None) for pid in pids.values()]
            (folder / process_runs.OWNER_FILE).write_text(json.dumps(self.dead_owner()))
            (folder / process_runs.GROUPS_FILE).write_text(
                "".join(f"{pgid} -\n" for pgid, _ in groups)
            )
            assert sweep(private_tmp) == [folder]
            wait_until(lambda: not pid_alive(pids["ours"]), "our leftover is killed")
            assert pid_alive(pids["stranger"])
        finally:
            for pid in pids.values():
                if pid_alive(pid):
                    os.kill(pid, signal.SIGKILL)

    def test_a_run_of_another_boot_is_removed_without_killing(
        self, private_tmp: Path, sleeper: subprocess.Popen[bytes]
    ) -> None:
        owner = {"pid": os.getpid(), "start_time": start_time(os.getpid()), "boot_id": "other"}
        folder = self.fake_run(private_tmp, owner, [(sleeper.pid, start_time(sleeper.pid))])
        assert sweep(private_tmp) == [folder]
        assert pid_alive(sleeper.pid)


class Boom(Exception):
    pass


async def wait_for_container(tmp: Path) -> tuple[int, int]:
    return await asyncio.to_thread(container_pids, tmp)  # the loop runs the cluster meanwhile


@pytest.mark.parametrize("ending", ["exception", "cancellation"])
async def test_a_cluster_left_by_an_exception_or_a_cancellation_leaves_nothing(
    ending: str, private_tmp: Path, manifest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    config = ClusterConfig(runtime="process", virtual_time=False, node_pools=(NodePool(count=1),))
    started: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()

    async def owner() -> None:
        async with Cluster(config) as cluster:
            await cluster.apply(manifest)
            started.set_result(await wait_for_container(private_tmp))
            if ending == "exception":
                raise Boom
            await asyncio.Event().wait()

    task = asyncio.ensure_future(owner())
    pids = await asyncio.wait_for(asyncio.shield(started), WAIT)
    if ending == "cancellation":
        task.cancel()
    with pytest.raises(Boom if ending == "exception" else asyncio.CancelledError):
        await task
    assert_nothing_left(private_tmp, pids)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_a_synchronous_command_stopped_by_a_signal_kills_its_subprocess(
    stop: signal.Signals, tmp_path: Path, spawned: list[subprocess.Popen[str]]
) -> None:
    """What `kubeloop bench` relies on: inside `stopsignals.raising()`, SIGTERM
    and SIGHUP unwind the program, and `subprocess.run` kills its child."""
    pid_file = tmp_path / "child"
    child_command = f"echo $$ > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}; exec sleep 60"
    script = textwrap.dedent(
        f"""
        import subprocess, sys
        from runtime import stopsignals

        try:
            with stopsignals.raising():
                subprocess.run(["sh", "-c", {child_command!r}])
        except stopsignals.Stopped as stopped:
            sys.exit(stopped.exit_status)
        """
    )
    command = subprocess.Popen([PYTHON, "-c", script], cwd=REPO, text=True)
    spawned.append(command)
    wait_until(pid_file.exists, "the child started")
    child = int(pid_file.read_text())
    # Past Popen's start (a signal inside it would leave the child unknown to
    # `run`, as with Ctrl-C): `run` is waiting for the child.
    wait_until(lambda: waiting_for_a_child(command.pid), "subprocess.run waits")
    command.send_signal(stop)
    assert command.wait(timeout=WAIT) == 128 + stop
    wait_until(lambda: not pid_alive(child), "the child is gone")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_kubeloop_bench_stopped_by_a_signal_leaves_no_measurement_process(
    stop: signal.Signals, tmp_path: Path, spawned: list[subprocess.Popen[str]]
) -> None:
    """`kubeloop bench` runs the suites in a child Python that starts processes
    of its own (each measurement in a fresh interpreter): a signal to the
    command stops the child and those grandchildren too."""
    pid_file = tmp_path / "grandchild"
    suite = f"sleep 60 & echo $! > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}; wait"
    script = textwrap.dedent(
        f"""
        import sys
        from runtime import cli, cli_bench

        cli_bench.bench_argv = lambda args: ["sh", "-c", {suite!r}]
        sys.exit(cli.main(["bench", "informer", "--quick"]))
        """
    )
    command = subprocess.Popen([PYTHON, "-c", script], cwd=REPO, text=True)
    spawned.append(command)
    wait_until(pid_file.exists, "the measurement process started")
    grandchild = int(pid_file.read_text())
    wait_until(lambda: waiting_for_a_child(command.pid), "bench waits for its suite")
    command.send_signal(stop)
    assert command.wait(timeout=WAIT) == 128 + stop
    wait_until(lambda: not pid_alive(grandchild), "the measurement process is gone")


def test_a_forked_child_that_exits_leaves_its_parents_containers_alone(tmp_path: Path) -> None:
    """The exit hooks act only in the process that started the containers."""
    script = textwrap.dedent(
        """
        import asyncio, atexit, os
        from runtime.runtimes.process import ProcessRuntime
        from runtime.runtimes.procfs import pid_alive
        from runtime.runtimes.protocol import ContainerConfig, PodSandboxConfig

        async def main():
            runtime = ProcessRuntime()
            await runtime.run_pod_sandbox(PodSandboxConfig("u", "p", "default", "p", ""))
            await runtime.create_container("u", ContainerConfig("c", command=("sleep", "60")))
            await runtime.start_container("u", "c")
            pid = runtime.pid("u", "c")
            child = os.fork()
            if child == 0:  # the child runs the interpreter's exit hooks, and exits
                atexit._run_exitfuncs()
                os._exit(0)
            os.waitpid(child, 0)
            print(pid_alive(pid), runtime.root.exists(), flush=True)
            await runtime.aclose()
            print(pid_alive(pid), runtime.root.exists(), flush=True)

        asyncio.run(main())
        """
    )
    assert python_script(script, tmp_path).split("\n")[:2] == ["True True", "False False"]
    assert run_folders(tmp_path) == []


def test_a_hang_up_that_takes_the_terminal_away_still_cleans_up(
    private_tmp: Path, manifest: Path, spawned: list[subprocess.Popen[str]]
) -> None:
    """SIGHUP as a closing terminal sends it: the live view cannot draw any more,
    and the run still stops everything and exits 129."""
    terminal, side = pty.openpty()
    run = kubeloop_run(spawned, private_tmp, manifest, terminal=side)
    os.close(side)
    try:

        def started() -> bool:
            while select.select([terminal], [], [], 0)[0]:  # keep the view from blocking
                os.read(terminal, 65536)
            return ready_file(private_tmp) is not None

        wait_until(started, "the container started")
        pids = container_pids(private_tmp)
    finally:
        os.close(terminal)  # the terminal is gone...
    run.send_signal(signal.SIGHUP)  # ...and says so
    assert run.wait(timeout=WAIT) == 128 + signal.SIGHUP
    assert_nothing_left(private_tmp, pids)


def test_a_second_signal_still_leaves_nothing(
    private_tmp: Path, manifest: Path, spawned: list[subprocess.Popen[str]]
) -> None:
    """A second SIGTERM while the run stops (or just after) cuts the shutdown
    short; the container processes and the folder go all the same."""
    run = kubeloop_run(spawned, private_tmp, manifest)
    pids = container_pids(private_tmp)
    run.send_signal(signal.SIGTERM)
    run.send_signal(signal.SIGTERM)  # no-op if the first was quick enough to end the run
    _, err = run.communicate(timeout=WAIT)
    assert run.returncode == 128 + signal.SIGTERM, err
    assert "stopped by SIGTERM" in err
    assert_nothing_left(private_tmp, pids)
