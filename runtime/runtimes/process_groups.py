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
* `kill_all()` sends SIGKILL to every group still owned. It is synchronous, so
  it can run from `finally:` blocks during cancellation, from a
  `weakref.finalize` when the runtime is garbage-collected, and from the
  `atexit` hook this module installs: an interpreter that exits while a
  runtime still owns processes kills them on the way out.

Neighbours: `runtime.runtimes.process` (owns one), `runtime.runtimes.procfs`
(reads what is left of a group), `runtime.runtimes.process_probes` (exec
probes are process groups too).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import weakref

__all__ = ["ProcessGroups", "signal_group"]

_live: weakref.WeakSet[ProcessGroups] = weakref.WeakSet()


class ProcessGroups:
    """The process groups one runtime started and has not yet torn down."""

    def __init__(self) -> None:
        self._pgids: set[int] = set()
        _live.add(self)

    def __len__(self) -> int:
        return len(self._pgids)

    def __contains__(self, pgid: object) -> bool:
        return pgid in self._pgids

    def adopt(self, pgid: int) -> None:
        """Own `pgid` from now on (called right after the process is spawned)."""
        self._pgids.add(pgid)

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
            groups.kill_all()


atexit.register(_kill_everything_at_exit)
