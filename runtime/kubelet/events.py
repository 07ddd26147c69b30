"""The kubelet's Events, worded as Kubernetes' kubelet words them.

Role: one place that turns what the kubelet does into the Events a user
sees in `kubectl describe pod` / `describe node` (source `kubelet`, host the
node, container events with `involvedObject.fieldPath`
`spec.containers{<name>}` or `spec.initContainers{<name>}`):

* images: `Pulling` (`Pulling image "nginx"`) and `Pulled` (`Successfully
  pulled image "nginx" in 0s (0s including waiting)`), or `Pulled` with
  `Container image "nginx" already present on machine`, by the container's
  imagePullPolicy (Always pulls every time; IfNotPresent pulls an image this
  node has not pulled yet; Never never pulls: a simulated node holds every
  image, and the process runtime runs no images at all). An image reference
  that does not parse is `InspectFailed` and `Failed` (`Error:
  InvalidImageName`);
* containers: `Created` (`Created container: web`), `Started` (`Started
  container web`, once the runtime reports it running), `Failed` (`Error:
  <why>`: a start error, or a configMap / secret the environment needs is
  missing), `Killing` (`Stopping container web`, or `Container web failed
  liveness probe, will be restarted`), `BackOff` (`Back-off restarting
  failed container web in pod web-0_default(<uid>)`), `Unhealthy`
  (`Readiness probe failed: <output>`, once per failed attempt);
* volumes: `FailedMount` (`runtime.kubelet.volumes` words the message);
* the node: `Starting` (`Starting kubelet.`), then on every change of a
  condition the kubelet owns, `NodeHasSufficientMemory` /
  `NodeHasInsufficientMemory`, `NodeHasNoDiskPressure` / `NodeHasDiskPressure`,
  `NodeHasSufficientPID` / `NodeHasInsufficientPID`, `NodeReady` /
  `NodeNotReady` (`Node node-0 status is now: NodeReady`), and
  `NodeAllocatableEnforced` at start.

Events go through an `engine.events.EventRecorder` (one per kubelet, or one
shared by a node pool): recording never blocks a sync and never fails it.

Neighbours: `runtime.kubelet.pods` and `runtime.kubelet.kubelet` (the
callers), `engine.events`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from engine.api import core
from engine.events import EventRecorder

__all__ = ["KubeletEvents", "container_field_path"]

NORMAL: Final = "Normal"
WARNING: Final = "Warning"

# Condition type -> (event when the kubelet reports it True, when False).
_NODE_CONDITIONS: Final = {
    "MemoryPressure": ("NodeHasInsufficientMemory", "NodeHasSufficientMemory"),
    "DiskPressure": ("NodeHasDiskPressure", "NodeHasNoDiskPressure"),
    "PIDPressure": ("NodeHasInsufficientPID", "NodeHasSufficientPID"),
    "Ready": ("NodeReady", "NodeNotReady"),
}


def container_field_path(container: str, init: bool) -> str:
    return f"spec.{'initContainers' if init else 'containers'}{{{container}}}"


class KubeletEvents:
    """The Events of one node's kubelet (see the module docstring)."""

    def __init__(
        self, recorder: EventRecorder, node_name: str, enabled: Callable[[], bool]
    ) -> None:
        self.recorder = recorder
        self.node_name = node_name
        self.enabled = enabled  # False while the node is cut off from the API
        # Images this node has pulled (kept across kubelet restarts, as a
        # node's image store is).
        self.images: set[str] = set()
        self._starting = False

    # -- pods --------------------------------------------------------------------------

    def pod(self, pod: core.Pod, type_: str, reason: str, message: str) -> None:
        if self.enabled():
            self.recorder.record(pod, type_, reason, message, host=self.node_name)

    def container(
        self, pod: core.Pod, container: str, init: bool, type_: str, reason: str, message: str
    ) -> None:
        if not self.enabled():
            return
        self.recorder.record(
            pod,
            type_,
            reason,
            message,
            field_path=container_field_path(container, init),
            host=self.node_name,
        )

    def image(self, pod: core.Pod, spec: core.Container, init: bool) -> None:
        """Pulling / Pulled before a container is created."""
        image = spec.image or ""
        policy = spec.image_pull_policy or core.default_image_pull_policy(image)
        if policy == "Always" or (policy == "IfNotPresent" and image not in self.images):
            self.images.add(image)
            self.container(pod, spec.name, init, NORMAL, "Pulling", f'Pulling image "{image}"')
            pulled = f'Successfully pulled image "{image}" in 0s (0s including waiting)'
        else:
            pulled = f'Container image "{image}" already present on machine'
        self.container(pod, spec.name, init, NORMAL, "Pulled", pulled)

    def create_failed(
        self, pod: core.Pod, spec: core.Container, init: bool, reason: str, message: str
    ) -> None:
        """A container that could not be created: its image reference does not
        parse (`reason` InvalidImageName) or its configuration is incomplete."""
        if reason == "InvalidImageName":
            self.container(pod, spec.name, init, WARNING, "InspectFailed", message)
            message = reason
        self.container(pod, spec.name, init, WARNING, "Failed", f"Error: {message}")

    def back_off(self, pod: core.Pod, container: str, init: bool) -> None:
        meta = pod.metadata
        self.container(
            pod,
            container,
            init,
            WARNING,
            "BackOff",
            f"Back-off restarting failed container {container} in pod "
            f"{meta.name}_{meta.namespace}({meta.uid})",
        )

    def probe_failed(
        self, pod: core.Pod, container: str, init: bool, probe_type: str, output: str
    ) -> None:
        self.container(
            pod,
            container,
            init,
            WARNING,
            "Unhealthy",
            f"{probe_type.capitalize()} probe failed: {output}",
        )

    # -- the node ----------------------------------------------------------------------

    def starting(self) -> None:
        """The kubelet starts: its next status post opens with `Starting`."""
        self._starting = True

    def _node_started(self, node: core.Node) -> None:
        self.recorder.record(node, NORMAL, "Starting", "Starting kubelet.", host=self.node_name)
        self.recorder.record(
            node,
            NORMAL,
            "NodeAllocatableEnforced",
            "Updated Node Allocatable limit across pods",
            host=self.node_name,
        )

    def node_status(self, before: core.Node | None, after: core.Node) -> None:
        """Events for the kubelet-owned conditions that changed in a status post."""
        if not self.enabled():
            return
        if self._starting:
            self._starting = False
            self._node_started(after)
        old = {c.type: c.status for c in before.status.conditions} if before else {}
        for condition in after.status.conditions:
            names = _NODE_CONDITIONS.get(condition.type)
            if names is None or old.get(condition.type) == condition.status:
                continue
            reason = names[0] if condition.status == "True" else names[1]
            self.recorder.record(
                after,
                NORMAL,
                reason,
                f"Node {self.node_name} status is now: {reason}",
                host=self.node_name,
            )
