"""Small helpers the built-in plugins share: Kubernetes' DefaultNormalizeScore,
the one-reason explanation most filters give, and the queueing hint of the
volume plugins (a claim the pod uses appeared).

Neighbours: the modules of `controllers.scheduler.plugins`.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from controllers.scheduler.interfaces import Explanation, Slots
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Status
from engine.volumes import pod_claims

__all__ = ["MAX_NODE_SCORE", "claim_hint", "default_normalize", "same_reason"]

MAX_NODE_SCORE: Final = 100


def default_normalize(scores: npt.NDArray[np.int64], *, reverse: bool) -> npt.NDArray[np.int64]:
    """Scale to 0..100 by the maximum (all 0 stays 0, or 100 when reversed);
    reversed, a higher raw score becomes a lower final one."""
    top = int(scores.max()) if len(scores) else 0
    if top == 0:
        return np.full(len(scores), MAX_NODE_SCORE, np.int64) if reverse else scores
    scaled = scores * MAX_NODE_SCORE // top
    return MAX_NODE_SCORE - scaled if reverse else scaled


def same_reason(slots: Slots, status: Status) -> Explanation:
    """Every slot failed for the same `status`."""
    return np.zeros(len(slots), np.intp), [status]


def claim_hint(pod: PodInfo, _old: Any, new: Any) -> bool:
    """Queueing hint: the claim added or changed is one `pod` uses (by a
    persistentVolumeClaim or a generic ephemeral volume)."""
    if new is None:
        return True
    meta = new.metadata
    if meta.namespace != pod.namespace:
        return False
    return any(c.claim == meta.name for c in pod_claims(pod.pod))
