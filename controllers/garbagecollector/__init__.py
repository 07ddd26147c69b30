"""The garbage collector (kube-controller-manager's garbagecollector).

Deletes objects whose owners (by `metadata.ownerReferences` uid) no longer
exist, and carries out Foreground and Orphan propagation for deletes that ask
for it. `setup(manager)` builds one on the manager's client, informers and
clock and adds it; `GarbageCollector` is the same thing built by hand.

Modules: `graph` (the dependency graph), `monitors` (an informer per
registered kind feeding it), `collector` (the attempt-to-delete and
attempt-to-orphan controllers), `edits` (the metadata edits it writes).
"""

from controllers.garbagecollector.collector import (
    GarbageCollector,
    GarbageCollectorStatistics,
    UnknownOwnerKind,
    setup,
)
from controllers.garbagecollector.graph import DependencyGraph, Identity, Node

__all__ = [
    "DependencyGraph",
    "GarbageCollector",
    "GarbageCollectorStatistics",
    "Identity",
    "Node",
    "UnknownOwnerKind",
    "setup",
]
