"""The kubelet: one node agent per node, driving a container runtime.

Standalone (`Kubelet(...).run()`, with its own pod watch) or pooled
(`NodeAgentPool`, one shared pod informer and one worker for thousands of
simulated nodes). See `runtime.kubelet.kubelet` for the design and the fault
controls, `runtime.kubelet.pods` for the pod lifecycle.
"""

from runtime.kubelet.config import KubeletConfig
from runtime.kubelet.kubelet import ContainerUsage, Kubelet, KubeletStatistics, NodeUsage
from runtime.kubelet.podsource import InformerPodSource, PodSource
from runtime.kubelet.pool import NodeAgentPool, PoolStatistics

__all__ = [
    "ContainerUsage",
    "InformerPodSource",
    "Kubelet",
    "KubeletConfig",
    "KubeletStatistics",
    "NodeAgentPool",
    "NodeUsage",
    "PodSource",
    "PoolStatistics",
]
