"""Process groups the process runtime started, and the guarantee that none outlives it.

Every container process is started with `start_new_session=True`, so it leads
a session and a process group of its own (pgid == pid), and everything it
forks stays in that group unless it deliberately calls setsid(). Signalling
the group (`os.killpg`) then reaches the whole container, the way stopping a
real container reaches every process in its PID namespace.

`ProcessGroups` is the set of groups one runtime owns. It is the single place
that signals them:

* `terminate(pgid)` / `kill(pgid)` signal one group (a group that is already
  gone is not an error);
* `release(pgid)` forgets a group once the container is torn down;
* `kill_all()` sends SIGKILL to every group still owned;
* `shutdown()` is `kill_all()` and then removes the runtime's run folder
  (`record`, a `runtime.runtimes.process_runs.RunFolder`, which also learns of
  every group adopted). Both are synchronous and idempotent, so they can run
  from `finally:` blocks during cancellation, from a `weakref.finalize` when
  the runtime is garbage-collected, and from the `atexit` hook this module
  installs: an interpreter that exits while a runtime still owns processes
  kills them and removes their files on the way out. The hook acts only in the
  process that created the groups (a forked child exiting leaves its
  parent's containers alone).

A process killed with SIGKILL runs none of this; the next runtime to start
cleans up after it (`runtime.runtimes.process_runs.sweep`).

Neighbours: `runtime.runtimes.process` (owns one), `runtime.runtimes.procfs`
(reads what is left of a group), `runtime.runtimes.process_probes` (exec
probes are process groups too).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import weakref
from typing import Protocol

__all__ = ["GroupRecord", "ProcessGroups", "signal_group"]

_log = logging.getLogger(__name__)

_live: weakref.WeakSet[ProcessGroups] = weakref.WeakSet()


class GroupRecord(Protocol):
    """Where a runtime keeps the record of its groups (a `RunFolder`)."""

    def record_group(self, pgid: int) -> None: ...

    def remove(self) -> None: ...


class ProcessGroups:
    """The process groups one runtime started and has not yet torn down."""

    def __init__(self) -> None:
        self._pgids: set[int] = set()
        self._owner = os.getpid()
        self.record: GroupRecord | None = None
        _live.add(self)

    def __len__(self) -> int:
        return len(self._pgids)

    def __contains__(self, pgid: object) -> bool:
        return pgid in self._pgids

    def adopt(self, pgid: int) -> None:
        """Own `pgid` from now on (called right after the process is spawned)."""
        self._pgids.add(pgid)
        if self.record is not None:
            try:
                self.record.record_group(pgid)
            except OSError as error:
                # The group still dies with the runtime; only a SIGKILLed run's
                # sweep would miss it.
                _log.warning("cannot record process group %d: %s", pgid, error)

    def release(self, pgid: int) -> None:
        """Stop owning `pgid`; SIGKILL whatever is left of the group first."""
        if pgid in self._pgids:
            signal_group(pgid, signal.SIGKILL)
            self._pgids.discard(pgid)

    def terminate(self, pgid: int, sig: int = signal.SIGTERM) -> bool:
        """Send `sig` to the group; False if no process of it is left."""
        return signal_group(pgid, sig)

    def kill(self, pgid: int) -> bool:
        return signal_group(pgid, signal.SIGKILL)

    def kill_all(self) -> None:
        """SIGKILL every owned group and forget them (synchronous, idempotent)."""
        pgids, self._pgids = self._pgids, set()
        for pgid in pgids:
            signal_group(pgid, signal.SIGKILL)

    def shutdown(self) -> None:
        """`kill_all()`, then remove the run folder (synchronous, idempotent; a
        no-op in a forked child, whose parent still owns them)."""
        if os.getpid() != self._owner:
            return
        self.kill_all()
        record, self.record = self.record, None
        if record is not None:
            record.remove()


def signal_group(pgid: int, sig: int) -> bool:
    """`os.killpg` that treats an empty group as done rather than an error."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        # The pgid was recycled by a process we do not own: ours is gone.
        return False
    return True


def _kill_everything_at_exit() -> None:
    for groups in list(_live):
        with contextlib.suppress(Exception):
            groups.shutdown()


atexit.register(_kill_everything_at_exit)
