"""What /proc says about the processes the process runtime started.

psutil is not a dependency; these few readers cover what the runtime and its
tests need:

* `pid_alive(pid)`: the process exists and has not exited (a zombie waiting to
  be reaped counts as exited);
* `group_members(pgid)`: live pids in a process group (a container's processes);
  `groups_of_live_processes()`: every group with its members, in one pass;
* `start_time(pid)`: when a live process started, in clock ticks since boot
  (with `boot_id()`, what tells a process from a later one that reuses its pid);
* `boot_id()`: this boot's id (pids and start times mean nothing across boots);
* `has_environment(pid, name, value)`: the process was started with
  `name=value` in its environment; `pids_with_environment(variables)`: every
  such process (how processes that left their group are still found);
* `usage_by_group(pgids)`: cumulative CPU seconds and resident memory of each
  group, from one pass over /proc, for `ContainerRuntime.stats()`.

Every reader tolerates processes vanishing while it reads.

Neighbours: `runtime.runtimes.process` (stats), `runtime.runtimes.process_groups`
(signals the groups these functions inspect), the process runtime's tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "GroupUsage",
    "boot_id",
    "group_members",
    "groups_of_live_processes",
    "has_environment",
    "pid_alive",
    "pids_with_environment",
    "start_time",
    "usage_by_group",
]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class GroupUsage:
    """Resource usage of one process group's live members."""

    cpu_seconds: float
    """User + system CPU time of the members, and of children they have reaped."""
    resident_bytes: int


def _stat_fields(pid: int | str) -> list[str] | None:
    """/proc/<pid>/stat after the command name: [state, ppid, pgrp, ...], or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            text = stat.read()
    except OSError:
        return None
    # The command name is in parentheses and may itself contain ") ".
    _, _, rest = text.rpartition(")")
    fields = rest.split()
    return fields or None


def _is_live(fields: list[str]) -> bool:
    return fields[0] not in ("Z", "X", "x")


def pid_alive(pid: int) -> bool:
    """Whether `pid` names a process that has not exited."""
    fields = _stat_fields(pid)
    return fields is not None and _is_live(fields)


def start_time(pid: int) -> int | None:
    """When live process `pid` started (clock ticks after boot), or None if it is gone."""
    fields = _stat_fields(pid)
    if fields is None or not _is_live(fields):
        return None
    # starttime is stat field 22 (1-based, counting pid and comm), i.e. 19 here.
    return int(fields[19])


def boot_id() -> str:
    """The kernel's id of this boot ("" where /proc does not say)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as source:
            return source.read().strip()
    except OSError:
        return ""


def has_environment(pid: int, name: str, value: str) -> bool:
    """Whether `pid` was started with `name=value` in its environment (False if
    the process is gone or not ours to read)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as source:
            entries = source.read().split(b"\0")
    except OSError:
        return False
    return f"{name}={value}".encode() in entries


def groups_of_live_processes() -> dict[int, list[int]]:
    """Every live process group and its live members, from one pass over /proc."""
    groups: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(entry)
            if fields is not None and _is_live(fields):
                groups.setdefault(int(fields[2]), []).append(int(entry))
    return groups


def pids_with_environment(variables: Mapping[str, str]) -> list[int]:
    """Live processes (other than this one) started with every `name=value` of
    `variables` in their environment, wherever their process group or session."""
    wanted = [f"{name}={value}".encode() for name, value in variables.items()]
    me = os.getpid()
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as source:
                environment = set(source.read().split(b"\0"))
        except OSError:
            continue  # gone, or not ours to read
        if all(item in environment for item in wanted) and pid_alive(int(entry)):
            found.append(int(entry))
    return found


def group_members(pgid: int) -> list[int]:
    """Live pids whose process group is `pgid`."""
    members: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(entry)
        if fields is not None and int(fields[2]) == pgid and _is_live(fields):
            members.append(int(entry))
    return members


def usage_by_group(pgids: Iterable[int]) -> dict[int, GroupUsage]:
    """CPU seconds and resident bytes of the live members of each group in `pgids`."""
    wanted = set(pgids)
    ticks = dict.fromkeys(wanted, 0)
    resident = dict.fromkeys(wanted, 0)
    if wanted:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            fields = _stat_fields(entry)
            if fields is None or not _is_live(fields) or int(fields[2]) not in wanted:
                continue
            pgid = int(fields[2])
            # utime, stime, cutime, cstime are stat fields 14-17 (1-based, counting
            # pid and comm), i.e. 11-14 here; rss (pages) is field 24, i.e. 21 here.
            ticks[pgid] += sum(int(value) for value in fields[11:15])
            resident[pgid] += int(fields[21]) * _PAGE_SIZE
    return {
        pgid: GroupUsage(cpu_seconds=ticks[pgid] / _CLOCK_TICKS, resident_bytes=resident[pgid])
        for pgid in wanted
    }
