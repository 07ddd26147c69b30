"""The namespace lifecycle controller (kube-controller-manager's namespace controller).

A deleted namespace is Terminating until this controller has deleted every
namespaced object in it, of every registered kind, and removed its
`kubernetes` finalizer. `setup(manager)` builds one on the manager's client,
informers and clock and adds it; `NamespaceController` is the same built by hand.

Modules: `controller` (the reconciler), `content` (one deletion pass over a
namespace's content), `conditions` (the status conditions reporting progress).
"""

from controllers.namespace.conditions import (
    CONTENT_FAILURE,
    CONTENT_REMAINING,
    FINALIZERS_REMAINING,
    namespace_conditions,
)
from controllers.namespace.content import ContentDeleter, ContentReport
from controllers.namespace.controller import ContentDeletionFailed, NamespaceController, setup

__all__ = [
    "CONTENT_FAILURE",
    "CONTENT_REMAINING",
    "FINALIZERS_REMAINING",
    "ContentDeleter",
    "ContentDeletionFailed",
    "ContentReport",
    "NamespaceController",
    "namespace_conditions",
    "setup",
]
