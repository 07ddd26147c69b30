"""The admission chain: what kube-apiserver's admission plugins do to an object
being created, after defaulting and before validation and storage.

Contract: `admit(request, obj)` runs the mutating plugins in Kubernetes'
order, before the object is validated, and returns the admitted object (a
new one if a plugin changed it) or raises `Forbidden` with Kubernetes'
message (`pods "x" is forbidden: ...`). Plugins are pure: they read the
store through `request.store` and never change what they are given.
`validate(request, obj)` then runs the validating plugins on the validated
object; those that must write once it is stored (ResourceQuota charges
usage) leave a callback in `request.after_commit`, which the store runs
right after committing the object, in the same synchronous call, so no
other write comes between the check and the charge.
Each plugin is one module with `admit(request, obj) -> obj`; a plugin that
does not apply to a kind returns the object as it is, cheaply (a dict lookup
at most), so kinds and namespaces without LimitRanges pay nothing more.

Order (Kubernetes' default order, restricted to what kubeloop implements):
NamespaceLifecycle (`engine.strategies.check_namespace_accepts`, run by the
store before this chain, since it applies to every namespaced kind),
LimitRanger, ServiceAccount, Priority; then validating: PodSecurity,
ResourceQuota.

Neighbours: `engine.store` (calls `admit` on create), `engine.strategies`
(the Priority plugin and namespace lifecycle).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.api.base import Resource
from engine.logging import get_logger

if TYPE_CHECKING:
    from engine.store import Store

__all__ = ["AdmissionRequest", "Plugin", "admit", "validate"]

log = get_logger("admission")


@dataclass(frozen=True, slots=True)
class AdmissionRequest:
    """What a plugin knows about the write besides the object itself."""

    store: Store
    operation: str  # "CREATE" (the only operation admitted so far)
    name: str  # the object's name, generated already when generateName was used
    namespace: str
    plural: str  # for messages: `pods "x" is forbidden: ...`
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    """What validating plugins do once the object is stored (quota charges)."""
    kind: str = ""

    def warn(self, message: str) -> None:
        """An admission warning (PodSecurity's `warn` mode): to the store's
        `warning_handlers` and the log."""
        log.warning(
            "admission warning",
            kind=self.kind,
            namespace=self.namespace,
            name=self.name,
            warning=message,
        )
        for handler in self.store.warning_handlers:
            handler(self.kind, self.namespace, self.name, message)

    def forbidden_prefix(self) -> str:
        return f'{self.plural} "{self.name}" is forbidden: '


Plugin = Callable[[AdmissionRequest, Resource], Resource]


def _plugins() -> tuple[Plugin, ...]:
    from engine.admission import limitranger, priority, serviceaccount

    return (limitranger.admit, serviceaccount.admit, priority.admit)


def _validating() -> tuple[Plugin, ...]:
    from engine.admission import podsecurity, resourcequota

    return (podsecurity.admit, resourcequota.admit)


_CHAIN: list[Plugin] = []
_VALIDATING: list[Plugin] = []


def admit(request: AdmissionRequest, obj: Resource) -> Resource:
    """Run the mutating plugins (before the object is validated); returns the
    admitted object or raises `Forbidden`."""
    if not _CHAIN:
        _CHAIN.extend(_plugins())
    for plugin in _CHAIN:
        obj = plugin(request, obj)
    return obj


def validate(request: AdmissionRequest, obj: Resource) -> None:
    """Run the validating plugins on the validated object, just before it is
    stored; what they must do once it is stored is in `request.after_commit`."""
    if not _VALIDATING:
        _VALIDATING.extend(_validating())
    for plugin in _VALIDATING:
        plugin(request, obj)
