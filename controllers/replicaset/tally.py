"""Running counts of the active pods each controller owns, kept by a pod
event handler, so that a ReplicaSet sync with nothing to create or delete
does not read every pod of the set.

Per controller uid (the pod's controllerRef): how many of its pods are active
(neither terminating nor finished), how many of those are Ready, and how many
carry each distinct label set. The handler runs in the pod informer's task
right after the cache changed, for every add, update (resyncs included) and
delete, relists too, so after each delivered event the counts equal a
recount over the cache. A handler added to a synced informer first receives
an add for every cached pod.

What was counted for each pod is remembered by its key, and a change takes
back exactly that: a delete event carries the pod's final state, which is
not what the cache held when earlier events were lost (a watch that dropped
the pod's last updates), and the counts must follow the cache.

Label sets are told apart by content: a relist can replace a pod with an
equal copy whose labels dict is another object. The content key is computed
once per dict (pods of one template share theirs).

Neighbours: `controllers.replicaset.controller` (the counted fast path of a
sync), `controllers.common.pods` (what active and Ready mean).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from controllers.common.pods import is_pod_active, is_pod_ready
from engine.api import Pod
from engine.informer import DeletedFinalStateUnknown, SharedInformer

__all__ = ["OwnerTally", "PodTally", "shared_tally"]

LabelSet = frozenset[tuple[str, str]]
_KEY_MEMO: Final = 4096


@dataclass(slots=True)
class OwnerTally:
    """The active pods of one controller: counts, and label sets with their counts."""

    active: int = 0
    ready: int = 0
    label_sets: dict[LabelSet, tuple[Mapping[str, str], int]] = field(default_factory=dict)


_TALLIES: weakref.WeakKeyDictionary[SharedInformer[Pod], PodTally] = weakref.WeakKeyDictionary()


def shared_tally(pods: SharedInformer[Pod]) -> PodTally:
    """The tally kept on this pod informer, registered on first use (the
    ReplicaSet and ReplicationController controllers share one)."""
    tally = _TALLIES.get(pods)
    if tally is None:
        tally = _TALLIES[pods] = PodTally()
        pods.add_event_handler(tally)
    return tally


class PodTally:
    """A pod informer event handler keeping an `OwnerTally` per controller uid."""

    def __init__(self) -> None:
        self._owners: dict[str, OwnerTally] = {}
        # pod key -> what was counted for it: (owner uid, ready, label set, labels)
        self._counted: dict[tuple[str, str], tuple[str, bool, LabelSet, Mapping[str, str]]] = {}
        # id(labels) -> (labels, content key); the dict is held so its id is not reused.
        self._keys: dict[int, tuple[Mapping[str, str], LabelSet]] = {}

    def owner(self, uid: str) -> OwnerTally | None:
        """The counts for a controller uid; None when it owns no active pod."""
        return self._owners.get(uid)

    # -- ResourceEventHandler ------------------------------------------------------------

    def on_add(self, obj: Pod, is_in_initial_list: bool) -> None:
        self._set(obj)

    def on_update(self, old: Pod, new: Pod) -> None:
        self._set(new)

    def on_delete(self, obj: Pod | DeletedFinalStateUnknown[Any]) -> None:
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        meta = pod.metadata
        self._forget((meta.namespace, meta.name))

    # -- counting ------------------------------------------------------------------------

    def _set(self, pod: Pod) -> None:
        meta = pod.metadata
        key = (meta.namespace, meta.name)
        self._forget(key)
        if not is_pod_active(pod):
            return
        ref = meta.controller_ref()
        if ref is None:
            return
        labels = meta.labels
        facts = (ref.uid, is_pod_ready(pod), self._label_key(labels), labels)
        self._counted[key] = facts
        self._change(facts, 1)

    def _forget(self, key: tuple[str, str]) -> None:
        facts = self._counted.pop(key, None)
        if facts is not None:
            self._change(facts, -1)

    def _change(self, facts: tuple[str, bool, LabelSet, Mapping[str, str]], sign: int) -> None:
        uid, ready, label_set, labels = facts
        tally = self._owners.get(uid)
        if tally is None:
            tally = self._owners[uid] = OwnerTally()
        tally.active += sign
        if ready:
            tally.ready += sign
        held = tally.label_sets.get(label_set)
        count = (held[1] if held is not None else 0) + sign
        if count:
            tally.label_sets[label_set] = (labels if held is None else held[0], count)
        else:
            del tally.label_sets[label_set]
        if not tally.active:
            del self._owners[uid]

    def _label_key(self, labels: Mapping[str, str]) -> LabelSet:
        memo = self._keys.get(id(labels))
        if memo is not None and memo[0] is labels:
            return memo[1]
        key = frozenset(labels.items())
        if len(self._keys) >= _KEY_MEMO:
            self._keys.clear()
        self._keys[id(labels)] = (labels, key)
        return key
