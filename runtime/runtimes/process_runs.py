"""The run folder of a process runtime, and the sweep that cleans up after dead runs.

Every `ProcessRuntime` that starts a pod owns a run folder,
`<tmp>/kubeloop-process-<random>`, where `<tmp>` is `tempfile.gettempdir()`
(so `TMPDIR` moves it). It holds the pods' directories (unless the runtime
was given a `root` of its own: that directory is the caller's, and the sweep
kills a dead run's processes but leaves the pods' directories in it) and two
records:

* `.kubeloop-owner`: JSON `{pid, start_time, boot_id}` of the process that owns
  the run (written once, atomically, before anything is started);
* `.kubeloop-groups`: one line `<pgid> <start time of its leader or ->` per
  process group the runtime started (containers and exec probes), appended as
  each is spawned.

Every process the runtime starts carries `KUBELOOP_RUN_DIR=<run folder>` in its
environment (`RUN_VARIABLE`).

An orderly end (closing the runtime, cancellation, garbage collection,
interpreter exit) kills the groups and removes the folder
(`runtime.runtimes.process_groups`). A run killed with SIGKILL (or by the OOM
killer) cannot, so before a runtime creates its run folder, `sweep()` judges
every `kubeloop-process-*` folder in the temporary directory:

* no readable owner record: not judged (a run being created, or not ours);
* owner alive (this boot, a process with that pid *and* that start time): a
  live run, left alone;
* owner from another boot: its processes died with the machine (its pids mean
  nothing now); the folder is removed, nothing is signalled;
* owner dead, this boot: every recorded group that still has live members is
  SIGKILLed if it is provably the run's: its leader is alive with the recorded
  start time, or (the leader gone) a member carries the run's
  `KUBELOOP_RUN_DIR`. A pgid is not reused while any member of its group
  lives, so one proven member proves the whole group. Then the folder goes.

Processes that left their group (setsid(), as daemons do) are found by their
environment: every live process carrying the run's `KUBELOOP_RUN_DIR` is
killed too, by the sweep, when the run ends (`RunFolder.remove`), and, for
one pod's `KUBELOOP_POD_UID`, when that pod's sandbox is stopped
(`kill_strays`), as a container's PID namespace would take them all.

What cannot be proven is left alone: a reused pid must never make kubeloop
kill a stranger. (So a process that left its group and cleared its
environment is not found.)

Neighbours: `runtime.runtimes.process` (creates one per runtime),
`runtime.runtimes.process_groups` (records groups in it, removes it at the
end), `runtime.runtimes.procfs` (pids, start times, environments).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path

from runtime.runtimes.process_groups import signal_group
from runtime.runtimes.procfs import (
    boot_id,
    groups_of_live_processes,
    has_environment,
    pids_with_environment,
    start_time,
)

__all__ = ["GROUPS_FILE", "OWNER_FILE", "PREFIX", "RUN_VARIABLE", "RunFolder", "sweep"]

PREFIX = "kubeloop-process-"
OWNER_FILE = ".kubeloop-owner"
GROUPS_FILE = ".kubeloop-groups"
RUN_VARIABLE = "KUBELOOP_RUN_DIR"

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunFolder:
    """One runtime's run folder (see the module docstring)."""

    path: Path

    @classmethod
    def create(cls, parent: str | os.PathLike[str] | None = None) -> RunFolder:
        """Sweep the leftovers of dead runs, then make a new folder owned by this
        process (in `parent`, the temporary directory by default)."""
        directory = Path(parent) if parent is not None else Path(tempfile.gettempdir())
        sweep(directory)
        path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=directory))
        me = os.getpid()
        owner = {"pid": me, "start_time": start_time(me), "boot_id": boot_id()}
        staging = path / f"{OWNER_FILE}.tmp"
        staging.write_text(json.dumps(owner))
        staging.replace(path / OWNER_FILE)
        return cls(path)

    def record_group(self, pgid: int) -> None:
        """Note a process group just spawned (its leader's start time with it)."""
        started = start_time(pgid)
        with open(self.path / GROUPS_FILE, "a", encoding="ascii") as record:
            record.write(f"{pgid} {'-' if started is None else started}\n")

    def kill_strays(self, **variables: str) -> list[int]:
        """SIGKILL every process carrying this run's `KUBELOOP_RUN_DIR` (and
        `variables`, e.g. one pod's `KUBELOOP_POD_UID`): those that left their
        process group, which killing the groups does not reach."""
        return _kill_marked(self.path, variables)

    def remove(self) -> None:
        """Kill the run's strays, then delete the folder."""
        self.kill_strays()
        shutil.rmtree(self.path, ignore_errors=True)


def sweep(directory: str | os.PathLike[str]) -> list[Path]:
    """Clean up the run folders in `directory` whose owner is dead (rules in the
    module docstring); the folders removed."""
    removed: list[Path] = []
    if not Path("/proc/self/stat").exists():
        return removed  # without /proc nothing can be proven: nothing is touched
    try:
        candidates = sorted(Path(directory).glob(PREFIX + "*"))
    except OSError:
        return removed
    this_boot = boot_id()
    live_groups: dict[int, list[int]] | None = None
    for folder in candidates:
        owner = _read_owner(folder)
        if owner is None:
            continue
        pid, started, boot = owner
        if boot == this_boot:
            running = start_time(pid)
            if running is not None and started in (None, running):
                continue  # a live run (or one whose owner we cannot tell from a stranger)
            if live_groups is None:
                live_groups = groups_of_live_processes()
            for pgid, leader_start in _read_groups(folder):
                members = live_groups.get(pgid)
                if members and _proven(folder, pgid, leader_start, members):
                    _log.info("killing process group %d left by a dead run in %s", pgid, folder)
                    signal_group(pgid, signal.SIGKILL)
            _kill_marked(folder, {})
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _kill_marked(folder: Path, variables: dict[str, str]) -> list[int]:
    killed: list[int] = []
    for pid in pids_with_environment({RUN_VARIABLE: str(folder), **variables}):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    return killed


def _proven(folder: Path, pgid: int, leader_start: int | None, members: list[int]) -> bool:
    if pgid in members:
        return leader_start is not None and start_time(pgid) == leader_start
    return any(has_environment(pid, RUN_VARIABLE, str(folder)) for pid in members)


def _read_owner(folder: Path) -> tuple[int, int | None, str] | None:
    try:
        owner = json.loads((folder / OWNER_FILE).read_text())
        pid, started, boot = owner["pid"], owner["start_time"], owner["boot_id"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(pid, int) or not isinstance(boot, str):
        return None
    return pid, started if isinstance(started, int) else None, boot


def _read_groups(folder: Path) -> list[tuple[int, int | None]]:
    groups: list[tuple[int, int | None]] = []
    with contextlib.suppress(OSError):
        for line in (folder / GROUPS_FILE).read_text(encoding="ascii").splitlines():
            words = line.split()
            if len(words) == 2 and words[0].isdigit():
                groups.append((int(words[0]), int(words[1]) if words[1].isdigit() else None))
    return groups
