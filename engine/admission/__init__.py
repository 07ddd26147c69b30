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
LimitRanger, ServiceAccount, Priority, DefaultStorageClass,
StorageObjectInUseProtection; then validating: PodSecurity, ResourceQuota.

Neighbours: `engine.store` (calls `admit` on create), `engine.strategies`
(the Priority plugin and namespace lifecycle).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

from engine.api.base import Resource
from engine.errors import ApiError
from engine.logging import get_logger

if TYPE_CHECKING:
    from engine.registry import Registry
    from engine.store import Store

__all__ = ["AdmissionRequest", "Plugin", "admit", "builtin_model", "validate"]

log = get_logger("admission")


class AdmissionRequest:
    """What a plugin knows about the write besides the object itself: the
    store, the operation ("CREATE", the only one admitted so far), the
    object's name (generated already when generateName was used), namespace,
    kind and plural (for messages: `pods "x" is forbidden: ...`), and
    `after_commit`, what validating plugins do once the object is stored
    (quota charges). A plain class with slots: one is made per create."""

    __slots__ = ("after_commit", "kind", "name", "namespace", "operation", "plural", "store")

    def __init__(
        self, store: Store, operation: str, name: str, namespace: str, plural: str, kind: str = ""
    ) -> None:
        self.store = store
        self.operation = operation
        self.name = name
        self.namespace = namespace
        self.plural = plural
        self.kind = kind
        self.after_commit: list[Callable[[], None]] = []

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


@lru_cache(maxsize=64)
def builtin_model(registry: Registry, api_version: str, kind: str) -> type[Resource]:
    """A built-in kind's model (looked up once: plugins ask on every create)."""
    return registry.lookup(api_version, kind).model


@lru_cache(maxsize=64)
def served_model(registry: Registry, api_version: str, kind: str) -> type[Resource] | None:
    """`builtin_model`, or None when `registry` does not serve the kind: a
    plugin whose kind is not served does nothing, as on an apiserver without
    that API (a store over a registry of the caller's own kinds)."""
    try:
        return registry.lookup(api_version, kind).model
    except ApiError:
        return None


Plugin = Callable[[AdmissionRequest, Resource], Resource]


def _plugins() -> tuple[Plugin, ...]:
    from engine.admission import (
        defaultstorageclass,
        limitranger,
        priority,
        serviceaccount,
        storageprotection,
    )

    return (
        limitranger.admit,
        serviceaccount.admit,
        priority.admit,
        defaultstorageclass.admit,
        storageprotection.admit,
    )


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
