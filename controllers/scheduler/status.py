"""Plugin results: a `Code` and the reasons behind it, as kube-scheduler's
framework.Status.

Contract: `None` means Success everywhere a `Status | None` is returned, so the
hot path allocates nothing when all is well. Reasons are the texts users read
in the pod's PodScheduled condition ("Insufficient cpu", "node(s) had
untolerated taint(s)"); a Status built from the same reasons is
equal and hashable, so the diagnostics can count nodes by status.

Neighbours: every plugin returns these; `controllers.scheduler.framework`
interprets them; `controllers.scheduler.diagnostics` turns them into messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

__all__ = ["Code", "Status", "is_rejection"]


class Code(IntEnum):
    """Kubernetes' status codes. Unschedulable may be fixed by preemption;
    UnschedulableAndUnresolvable cannot (preemption skips such nodes)."""

    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    SKIP = 5


@dataclass(frozen=True, slots=True)
class Status:
    """A non-trivial plugin result. `plugin` names who said it (filled by the framework)."""

    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @classmethod
    def unschedulable(cls, *reasons: str, plugin: str = "") -> Status:
        return cls(Code.UNSCHEDULABLE, reasons, plugin)

    @classmethod
    def unresolvable(cls, *reasons: str, plugin: str = "") -> Status:
        return cls(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons, plugin)

    @classmethod
    def error(cls, message: str, plugin: str = "") -> Status:
        return cls(Code.ERROR, (message,), plugin)

    @classmethod
    def skip(cls) -> Status:
        return _SKIP

    @classmethod
    def wait(cls, reason: str = "", plugin: str = "") -> Status:
        return cls(Code.WAIT, (reason,) if reason else (), plugin)

    @property
    def is_success(self) -> bool:
        return self.code is Code.SUCCESS

    @property
    def is_skip(self) -> bool:
        return self.code is Code.SKIP

    @property
    def is_rejection(self) -> bool:
        """Unschedulable or UnschedulableAndUnresolvable."""
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def message(self) -> str:
        return ", ".join(self.reasons)

    def with_plugin(self, plugin: str) -> Status:
        return self if self.plugin == plugin else Status(self.code, self.reasons, plugin)

    def __str__(self) -> str:
        name = self.code.name.title().replace("_", "")
        return f"{name}: {self.message()}" if self.reasons else name


_SKIP = Status(Code.SKIP)


def is_rejection(status: Status | None) -> bool:
    return status is not None and status.is_rejection
