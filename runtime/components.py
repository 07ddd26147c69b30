"""The control plane's components as processes of their own: kube-controller-manager
and kube-scheduler against a running API server.

`kubeloop serve --role controllers|scheduler --kubeconfig PATH` runs
`run_component`: the built-in controllers (every entry of
`controllers.registry.CONTROLLERS` but the scheduler and the cluster
autoscaler, which needs the cluster's node pools) or the scheduler, on a
`Manager` whose client is a `RemoteClient` reaching the server the
kubeconfig names. `--role apiserver` is the cluster without them (store,
HTTP API, nodes); `all`, the default, is everything in one process.

Leader election is on by default, as for the Kubernetes components: the
candidates of one role race for the Lease `kube-system/kube-controller-manager`
or `kube-system/kube-scheduler` (`engine.leaderelection`, client-go's rules and
durations: 15 s lease, 10 s renew deadline, 2 s retry), and only the holder
runs its controllers. A leader that cannot renew stops them before any other
candidate can take over, and, like the Kubernetes components, ends:
`run_component` raises `LeadershipLost` (`kubeloop serve` exits with status 1;
a supervisor starts it again as a candidate). A leader that stops on a signal
releases the Lease, so the next candidate need not wait for it to expire.

Neighbours: `runtime.remote` (the client), `engine.leaderelection`,
`controllers.registry`, `runtime.cli_serve` (the command line).
"""

from __future__ import annotations

import random
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import anyio

from controllers.common.network import NetworkSettings
from controllers.registry import CONTROLLERS, Setup
from engine.clock import Clock, RealClock
from engine.leaderelection import LeaderElector, LeaseTiming
from engine.logging import get_logger
from engine.manager import Manager
from engine.registry import REGISTRY
from runtime.cluster.cluster import on_registry, with_network
from runtime.remote import Connection, RemoteClient

__all__ = [
    "COMPONENT_ROLES",
    "ROLES",
    "ComponentOptions",
    "LeadershipLost",
    "component_setups",
    "default_identity",
    "run_component",
]

log = get_logger("components")

ROLES = ("all", "apiserver", "controllers", "scheduler")
COMPONENT_ROLES = ("controllers", "scheduler")
"""The roles that run against a server rather than serving one."""

LEASE_NAMES: Mapping[str, str] = {
    "controllers": "kube-controller-manager",
    "scheduler": "kube-scheduler",
}
_NOT_REMOTE = ("scheduler", "clusterautoscaler")


class LeadershipLost(RuntimeError):
    """This candidate led and lost its Lease; its component has stopped."""


@dataclass(frozen=True)
class ComponentOptions:
    """How one component process runs."""

    role: str
    leader_elect: bool = True
    timing: LeaseTiming = field(default_factory=LeaseTiming)
    identity: str = ""
    """The candidate's name in the Lease; default `<hostname>_<uuid4>`, as client-go's."""

    def __post_init__(self) -> None:
        if self.role not in COMPONENT_ROLES:
            raise ValueError(f"role {self.role!r} is not one of {', '.join(COMPONENT_ROLES)}")


def default_identity() -> str:
    """client-go's candidate identity: the host name, `_`, a fresh uuid."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


def component_setups(role: str) -> dict[str, Setup]:
    """What a role's process builds, by controller name."""
    if role == "scheduler":
        return {"scheduler": CONTROLLERS["scheduler"]}
    return {name: setup for name, setup in CONTROLLERS.items() if name not in _NOT_REMOTE}


async def run_component(
    connection: Connection,
    options: ComponentOptions,
    *,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    network: NetworkSettings | None = None,
) -> None:
    """Run the role's controllers against the server until cancelled (see the
    module docstring); raises `LeadershipLost` when a leader loses its Lease."""
    clock = clock or RealClock()
    rng = rng or random.Random()
    identity = options.identity or default_identity()
    setups = component_setups(options.role)
    settings = network or NetworkSettings()
    lease = LEASE_NAMES[options.role]
    async with RemoteClient(connection, field_manager=lease) as client:

        async def lead() -> None:
            manager = Manager(client, clock=clock, rng=rng)
            for setup in setups.values():
                with_network(on_registry(setup, REGISTRY), settings)(manager)
            async with manager:
                log.info("component running", role=options.role, identity=identity)
                await anyio.sleep_forever()

        if not options.leader_elect:
            await lead()
            return
        elector = LeaderElector(
            client,
            clock=clock,
            rng=rng,
            name=lease,
            identity=identity,
            timing=options.timing,
            release_on_cancel=True,
        )
        await elector.run(lead)
        raise LeadershipLost(f"{identity} lost the Lease kube-system/{lease}")
