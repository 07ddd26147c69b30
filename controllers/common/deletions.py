"""Deleting a controller's pods under expectations (the deletion half of
Kubernetes' PodControl as the ReplicaSet and DaemonSet controllers use it).

`delete_pods` deletes each pod with its uid as a precondition (so a pod
re-created under the same name is never deleted by mistake). No watch event
will come for a pod that was gone already (NotFound, or a uid Conflict) or
whose deletion failed, so its expected deletion is marked observed at once;
a deletion answered with a timeout may well have been carried out, so its
event is still expected (if none comes, the expectation expires).

Neighbours: `engine.expectations`; the replicaset and daemonset controllers.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from engine.api import Pod
from engine.client import Client
from engine.errors import ApiError, Conflict, NotFound, ServerTimeout
from engine.expectations import Expectations

__all__ = ["delete_pods"]


async def delete_pods(
    client: Client, pods: Sequence[Pod], expectations: Expectations, key: Hashable
) -> tuple[list[Pod], ApiError | None]:
    """Delete `pods` (see the module docstring); returns the pods whose
    deletion was accepted and the first error."""
    deleted: list[Pod] = []
    first_error: ApiError | None = None
    for pod in pods:
        meta = pod.metadata
        try:
            await client.delete(Pod, meta.name, namespace=meta.namespace, uid=meta.uid)
        except (NotFound, Conflict):
            expectations.deletion_observed(key, meta.uid)
        except ServerTimeout:
            pass  # perhaps deleted: expect its event, as for a create that timed out
        except ApiError as error:
            expectations.deletion_observed(key, meta.uid)
            if first_error is None:
                first_error = error
        else:
            deleted.append(pod)
    return deleted, first_error
