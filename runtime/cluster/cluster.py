"""`Cluster`: a whole Kubernetes cluster in one async context manager.

    async with Cluster(ClusterConfig(node_pools=(NodePool(count=5),))) as cluster:
        await cluster.apply(Path("examples/nginx-deployment.yaml"))
        await cluster.wait_converged(timeout=300)
        await cluster.scale(Deployment, "nginx-deployment", 10)

It assembles, from one `ClusterConfig`: the clock (a `VirtualClock` installed
on the running loop, or the real one), the store and client, the informer
factory and `Manager`, the controllers named in the config, the scheduler, and
one kubelet per node in a `NodePool` of simulated or real-process nodes,
and the default StorageClass `standard` (`runtime.cluster.storage`).
Pools with `max_count` become node groups (`runtime.cluster.nodegroups`) that
the cluster autoscaler (`controllers.clusterautoscaler`, set up through
`on_cloud`) grows and shrinks; `autoscaler_state()` shows what it knows and
`node_counts` the number of nodes over cluster time.
Entering starts everything and returns once informers are synced and every
node has registered; leaving stops all of it (and every process a process
runtime started), leaving no task behind. With the mutation detector on
(`engine.mutation`), leaving also compares every shared object and raises
`MutationDetected` if one was changed in place.

`wait_for(condition)` re-evaluates `condition` after each burst of store
writes (a store observer wakes it), never by polling. `converged()` is true
when every workload (Deployment, ReplicaSet, ReplicationController,
StatefulSet, DaemonSet) has its desired pods updated, ready and available
(each kind's rule is its controller package's `unconverged_reason`), no pod
is still settling (see `runtime.cluster.tracker`), and no workload is of a
kind that no running controller drives (see `runtime.cluster.workloads`). It
means "settled": a standalone pod no node fits does not hold it up, as nothing
in the cluster can move it. `problems()` lists what will never come right
without a change from outside (undriven workloads, unschedulable or
crash-looping pods, with their reasons); `kubeloop run` succeeds only when
the cluster converged with no problems.

Neighbours: `runtime.cluster.config`, `runtime.cluster.apply`,
`runtime.cluster.tracker`, `runtime.kubelet` (nodes), `controllers.*`.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import functools
import inspect
import ipaddress
import math
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, ExitStack, suppress
from pathlib import Path
from typing import Any, TypeVar

import anyio

from controllers import daemonset, deployment, statefulset
from controllers.clusterautoscaler import AutoscalerState, ClusterAutoscaler
from controllers.common.network import NetworkSettings
from controllers.registry import CONTROLLERS, Setup
from controllers.scheduler.scheduler import Scheduler
from engine.api.apps import DaemonSet, Deployment, ReplicaSet, StatefulSet
from engine.api.base import Resource
from engine.api.core import Event, Node, Pod, ReplicationController
from engine.client import LocalClient
from engine.clock import Clock, RealClock, VirtualClock
from engine.durable import DATABASE_NAME, SqliteJournal
from engine.errors import AlreadyExists, NotFound
from engine.logging import configure_logging
from engine.manager import Manager
from engine.mutation import detector
from engine.rbac_bootstrap import ensure_bootstrap_policy
from engine.registry import REGISTRY, Registry
from engine.satokens import ServiceAccountTokens
from engine.storage.etcd import EtcdStorage
from engine.store import ObjectList, Store, WriteRecord
from runtime.apiserver import ApiServer, Endpoint
from runtime.cluster import workloads
from runtime.cluster.apply import (
    Applied,
    ApplySource,
    ServerSide,
    apply_objects,
    load_configuration_sources,
    load_sources,
)
from runtime.cluster.autoscalers import ReplicaHistory
from runtime.cluster.batch import batch_unconverged
from runtime.cluster.config import ALL_CONTROLLERS, MAX_NODES, ClusterConfig
from runtime.cluster.drain import drain
from runtime.cluster.nodecounts import NodeCounts
from runtime.cluster.nodegroups import (
    IndexAllocator,
    PoolCloudProvider,
    PoolNodeGroup,
    node_overrides,
)
from runtime.cluster.serving import ServeOptions, api_server
from runtime.cluster.storage import default_storage_class
from runtime.cluster.top import TopRow, top_rows
from runtime.cluster.tracker import ConvergenceTracker, PodCounts
from runtime.cluster.workloads import (
    WORKLOAD_CONTROLLERS,
    Problem,
    WorkloadRow,
    undriven_reason,
    workload_rows,
)
from runtime.kubelet import Kubelet, KubeletConfig, NodeAgentPool
from runtime.metrics import CustomMetrics, MetricsServer
from runtime.network import iproute
from runtime.network.config import (
    LOOPBACK_LOAD_BALANCER_POOL,
    LOOPBACK_SERVICE_CIDR,
    loopback_node_address,
    loopback_pod_cidr,
)
from runtime.network.netns import NamespacePodNetwork
from runtime.network.plane import NetworkPlane
from runtime.network.podnetwork import LoopbackPodNetwork, PodNetwork
from runtime.network.traffic import Target, TrafficRouter, TrafficStats
from runtime.runtimes.process import ProcessRuntime
from runtime.runtimes.protocol import ContainerRuntime

__all__ = [
    "Cluster",
    "ConvergenceTimeout",
    "controller_setups",
    "on_cloud",
    "on_registry",
    "with_network",
]

R = TypeVar("R", bound=Resource)


def controller_setups() -> dict[str, Setup]:
    """Every built-in controller by its `ClusterConfig.controllers` name, as a
    function that sets it up on a `Manager` (`controllers.registry`). The
    simulation harness hosts each one on a manager of its own, so it can wrap
    that controller's client and crash and restart it alone."""
    return dict(CONTROLLERS)


def on_cloud(setup: Setup, cluster: Cluster | Callable[[], Cluster]) -> Setup:
    """`setup` given the cluster's node groups and autoscaling options, if it
    takes them (the cluster autoscaler); other setups are returned as they are.
    `cluster` may be a function giving it, read when `setup` runs (the
    simulation wraps its setups before its cluster has started)."""
    if "cloud_provider" not in inspect.signature(setup).parameters:
        return setup
    takes: Callable[..., Any] = setup  # the signature was just checked

    def with_cloud(manager: Manager) -> Any:
        target = cluster if isinstance(cluster, Cluster) else cluster()
        return takes(
            manager,
            cloud_provider=target.cloud_provider,
            autoscaling=target.config.cluster_autoscaler,
        )

    return with_cloud


def on_registry(setup: Setup, registry: Registry) -> Setup:
    """`setup` made to serve `registry`'s kinds, if it takes a `registry`
    (the garbage collector and the namespace controller, which act on every
    served kind); other setups are returned as they are."""
    if "registry" not in inspect.signature(setup).parameters:
        return setup
    takes_registry: Callable[..., Any] = setup  # the signature was just checked
    return functools.partial(takes_registry, registry=registry)


def with_network(setup: Setup, network: NetworkSettings) -> Setup:
    """`setup` given the cluster's address plan, if it takes a `network`
    (node IPAM, the load balancer, the EndpointSlice controller)."""
    if "network" not in inspect.signature(setup).parameters:
        return setup
    takes_network: Callable[..., Any] = setup  # the signature was just checked
    return functools.partial(takes_network, network=network)


class ConvergenceTimeout(TimeoutError):
    """`wait_for` or `wait_converged` ran out of time; the message says what is left."""


class Cluster:
    """See the module docstring."""

    def __init__(
        self,
        config: ClusterConfig | None = None,
        *,
        registry: Registry = REGISTRY,
        api: bool | ServeOptions = False,
    ) -> None:
        self.config = config or ClusterConfig()
        self._serve_on_start = ServeOptions() if api is True else api or None
        self.api: ApiServer | None = None
        """The HTTP API server, once serving (`api=True` or `serve()`)."""
        self.journal: SqliteJournal | None = None
        """Where the state is kept durable, with `config.data_dir`."""
        self.service_account_tokens: ServiceAccountTokens | None = None
        """Issues and checks ServiceAccount tokens, once serving (`engine.satokens`)."""
        self.registry = registry
        """The kinds the cluster's store serves (default: the process-wide ones)."""
        self.rng = random.Random(self.config.seed)
        self.clock: Clock = VirtualClock() if self.config.virtual_time else RealClock()
        self.store: Store | None = None
        self.client: LocalClient | None = None
        self.manager: Manager | None = None
        self.scheduler: Scheduler | None = None
        self.nodes: NodeAgentPool | None = None
        self.cloud_provider: PoolCloudProvider | None = None
        """The autoscaled node pools as node groups (None: no pool has `max_count`)."""
        self.autoscaler: ClusterAutoscaler | None = None
        self.tracker = ConvergenceTracker()
        self.hpa_history = ReplicaHistory(self.clock)
        """Each HPA's desired replicas over cluster time (the run summary's)."""
        self.node_counts = NodeCounts(self.clock)
        """The number of Nodes over cluster time (see `runtime.cluster.nodecounts`)."""
        self.running_controllers: frozenset[str] = frozenset(self.config.controllers)
        """The controllers that drive this cluster's objects (`config.controllers`,
        unless a host such as the simulation runs them itself and says so)."""
        self.metrics: MetricsServer | None = None
        """The metrics server (resource metrics), once the cluster runs."""
        self.custom_metrics = CustomMetrics(self.clock)
        """Publish custom and external metrics here (`runtime.metrics.custom`)."""
        self._changed = asyncio.Event()
        self._stack: AsyncExitStack | None = None
        self._process_runtimes: list[ProcessRuntime] = []
        self.network: NetworkPlane | None = None
        """A process cluster's kube-proxy, DNS and ingress (`runtime.network.plane`)."""
        self._router: TrafficRouter | None = None
        self._rates: tuple[float, dict[str, float]] = (-1.0, {})
        self._traffic_tasks: builtins.list[asyncio.Task[TrafficStats]] = []

    # -- lifecycle ------------------------------------------------------------------

    def _open_durable_state(self, store: Store, stack: AsyncExitStack) -> None:
        """Restore `store` from `config.data_dir`'s database and journal every
        later write there (`engine.durable`)."""
        assert self.config.data_dir is not None
        journal = SqliteJournal(Path(self.config.data_dir) / DATABASE_NAME, fsync=self.config.fsync)
        stack.callback(journal.close)
        if journal.revision:
            journal.restore(store)
        journal.attach(store)
        self.journal = journal

    async def __aenter__(self) -> Cluster:
        config = self.config
        if config.log_level:
            configure_logging(config.log_level)
        if isinstance(self.clock, RealClock):
            self.clock = RealClock()  # cluster time starts at 0 when the cluster does
            self.hpa_history.clock = self.custom_metrics.clock = self.clock
        async with AsyncExitStack() as stack:
            if isinstance(self.clock, VirtualClock):
                sync_stack = ExitStack()
                sync_stack.enter_context(self.clock.installed())
                stack.callback(sync_stack.close)
            etcd = None
            if config.etcd_servers:
                etcd = EtcdStorage(
                    list(config.etcd_servers),
                    registry=self.registry,
                    history_size=config.history_size,
                )
                stack.callback(etcd.close)
            store = Store(
                registry=self.registry,
                clock=self.clock,
                rng=random.Random(f"{config.seed}/store"),
                history_size=config.history_size,
                service_cidr=self.addresses.service_cidr,
                node_port_range=self.addresses.node_port_range,
                storage=etcd,
                pod_security_exemptions=config.pod_security_exemptions,
            )
            if etcd is not None:
                etcd.load(store)
            if config.data_dir is not None:
                self._open_durable_state(store, stack)
            if config.default_storage_class:
                standard = default_storage_class()
                # A cluster restored from its data directory, or sharing etcd
                # with another, has it already.
                if store.try_get(type(standard), standard.metadata.name) is None:
                    with suppress(AlreadyExists):
                        store.create(standard)
            store.observers.append(self.tracker)
            store.observers.append(self.hpa_history)
            self.node_counts = NodeCounts(self.clock)
            store.observers.append(self.node_counts)
            store.observers.append(self._on_write)
            for obj in store.all_objects():  # restored from `data_dir`, if any
                if isinstance(obj, (Pod, Node)):
                    meta = obj.metadata
                    self.tracker(
                        WriteRecord(
                            store.revision,
                            "restore",
                            obj.kind,
                            meta.namespace,
                            meta.name,
                            obj,
                            None,
                        )
                    )
            self.store = store
            self.client = client = LocalClient(store)
            self.manager = manager = Manager(
                client, clock=self.clock, rng=random.Random(f"{config.seed}/controllers")
            )
            self.cloud_provider = self._cloud_provider(client)
            for name in config.controllers:
                setup = on_cloud(
                    with_network(on_registry(CONTROLLERS[name], self.registry), self.addresses),
                    self,
                )
                built = setup(manager)
                if isinstance(built, Scheduler):
                    self.scheduler = built
                elif isinstance(built, ClusterAutoscaler):
                    self.autoscaler = built
            await stack.enter_async_context(manager)
            if config.runtime == "process" and config.network.mode == "namespaces":
                why = iproute.available()
                if why is not None:
                    raise RuntimeError(f"the namespaces network mode cannot run here: {why}")
                await asyncio.to_thread(iproute.sweep_stale)  # a killed run's leftovers
            self.nodes = nodes = self._node_pool(client, manager)
            stack.push_async_callback(self._close_runtimes)
            await stack.enter_async_context(nodes)
            self.metrics = MetricsServer(
                lambda: nodes, self.clock, resolution=config.metric_resolution
            )
            store.add_aggregated(self.metrics)
            store.add_aggregated(self.custom_metrics)
            manager.add_runnable(self.metrics.run)
            if config.runtime == "process" and config.node_count:
                self.network = NetworkPlane(
                    manager.factory,
                    client,
                    config.network,
                    [f"{p.name}-{i}" for p in config.node_pools for i in range(p.count)],
                    clock=self.clock,
                    rng=random.Random(f"{config.seed}/network"),
                )
                await stack.enter_async_context(self.network)
            self._stack = stack.pop_all()
        if self._serve_on_start is not None:
            try:
                await self.serve(self._serve_on_start)
            except BaseException as error:
                await self.__aexit__(type(error), error, error.__traceback__)
                raise
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        for task in self._traffic_tasks:
            task.cancel()
        if self._traffic_tasks:
            await asyncio.gather(*self._traffic_tasks, return_exceptions=True)
        self._traffic_tasks.clear()
        stack, self._stack = self._stack, None
        if stack is not None:
            try:
                await stack.__aexit__(*exc_info)
            except Exception:
                detector.raise_if_tripped()  # what made the cluster's tasks fail
                raise
        if detector.enabled and exc_info[1] is None:
            detector.check()  # a shared object changed in place fails the `async with`

    async def serve(self, options: ServeOptions | None = None) -> Endpoint:
        """Serve the Kubernetes HTTP API (`runtime.cluster.serving`); returns
        its endpoint (URL, token, CA, `kubeconfig_text()`). Serving already: the
        same endpoint. The server stops when the cluster does, before the rest."""
        if self.api is not None and self.api.endpoint is not None:
            return self.api.endpoint
        if self._stack is None:
            raise RuntimeError("the cluster is not running: use `async with Cluster(...)`")
        assert self.client is not None
        # What kube-apiserver's RBAC bootstrap makes at start: the default
        # ClusterRoles and bindings (cluster-admin, admin, edit, view, ...).
        await ensure_bootstrap_policy(self.client)
        server = api_server(self, options or ServeOptions())
        endpoint = await server.start()
        self.api = server
        self._stack.push_async_callback(server.stop)
        return endpoint

    @property
    def addresses(self) -> NetworkSettings:
        """The address plan in force: `config.addresses`, whose default service
        range and load-balancer pool a loopback process cluster swaps for
        loopback ones, so the host can bind and reach them
        (`runtime.network.config`)."""
        config = self.config
        plan = config.addresses
        if config.runtime != "process" or config.network.mode != "loopback":
            return plan
        defaults = NetworkSettings()
        if plan.service_cidr == defaults.service_cidr:
            plan = dataclasses.replace(plan, service_cidr=LOOPBACK_SERVICE_CIDR)
        if plan.load_balancer_pool == defaults.load_balancer_pool:
            plan = dataclasses.replace(plan, load_balancer_pool=LOOPBACK_LOAD_BALANCER_POOL)
        return plan

    def _node_pool(self, client: LocalClient, manager: Manager) -> NodeAgentPool:
        config = self.config
        addresses = self.addresses
        factory = None
        network = config.network
        if config.runtime == "process":
            bridges = iter(range(MAX_NODES))

            def factory(node: KubeletConfig, rng: random.Random) -> ContainerRuntime:
                pod_network: PodNetwork = LoopbackPodNetwork()
                if network.mode == "namespaces":
                    pod_network = NamespacePodNetwork(
                        node.pod_cidr,
                        next(bridges),
                        dns_address=network.resolved_dns_address,
                        cluster_domain=network.cluster_domain,
                    )
                runtime = ProcessRuntime(
                    clock=self.clock,
                    rng=rng,
                    log_max_size=node.container_log_max_size_bytes,
                    log_max_files=node.container_log_max_files,
                    network=pod_network,
                )
                self._process_runtimes.append(runtime)
                return runtime

        pool = NodeAgentPool(
            client,
            clock=self.clock,
            rng=random.Random(f"{config.seed}/nodes"),
            runtime_factory=factory,
            pod_informer=manager.factory.informer(Pod),
            request_rate=config.request_rate or self._pod_request_rate,
        )
        index = 0
        for node_pool in config.node_pools:
            for i in range(node_pool.count):
                overrides = {
                    # the CIDR node IPAM gives the index-th node (kubelet --pod-cidr)
                    "pod_cidr": addresses.node_cidr(index),
                    **node_overrides(node_pool, i),
                }
                if config.runtime == "process":
                    overrides.update(
                        _process_node_addresses(network.mode, index, overrides["pod_cidr"])
                    )
                pool.add_node(KubeletConfig.for_node(f"{node_pool.name}-{i}", index, **overrides))
                index += 1
        return pool

    def _cloud_provider(self, client: LocalClient) -> PoolCloudProvider | None:
        config = self.config
        if not config.autoscaled:
            return None
        indexes = IndexAllocator(config.node_count)
        groups = []
        index = 0
        for pool in config.node_pools:
            names = {f"{pool.name}-{i}": index + i for i in range(pool.count)}
            index += pool.count
            if pool.autoscaled:
                groups.append(PoolNodeGroup(pool, self._agents, client, self.clock, indexes, names))
        return PoolCloudProvider(groups)

    def _agents(self) -> NodeAgentPool:
        if self.nodes is None:
            raise RuntimeError("the cluster's nodes are not up yet")
        return self.nodes

    async def _close_runtimes(self) -> None:
        for runtime in self._process_runtimes:
            await runtime.aclose()

    def _on_write(self, record: WriteRecord) -> None:
        self._changed.set()

    def _require(self) -> tuple[Store, LocalClient]:
        if self.store is None or self.client is None:
            raise RuntimeError("the cluster is not running: use `async with Cluster(...)`")
        return self.store, self.client

    # -- objects --------------------------------------------------------------------

    async def apply(
        self,
        source: ApplySource,
        *,
        server_side: bool = False,
        field_manager: str = "kubeloop",
        force: bool = False,
    ) -> list[Applied]:
        """Create or update from manifest text, paths, dicts, objects or lists of
        them: client-side (three-way, as `kubectl apply`) or, with
        `server_side`, as `field_manager` (`kubectl apply --server-side
        --field-manager=... --force-conflicts`). Everything the writes need is
        checked before anything is written; a write that fails anyway is
        reported per object (`ApplyError`) while the others are written (see
        `runtime.cluster.apply`)."""
        _, client = self._require()
        if server_side:
            options = ServerSide(field_manager, force)
            return await apply_objects(client, load_configuration_sources(source), options)
        return await apply_objects(client, load_sources(source))

    async def get(self, kind: type[R], name: str, namespace: str | None = None) -> R:
        return await self._require()[1].get(kind, name, namespace=namespace)

    async def list(
        self, kind: type[R], namespace: str | None = None, *, label_selector: str | None = None
    ) -> ObjectList[R]:
        return await self._require()[1].list(
            kind, namespace=namespace, label_selector=label_selector
        )

    async def delete(
        self,
        kind: type[Resource],
        name: str,
        namespace: str | None = None,
        *,
        propagation_policy: str = "Background",
    ) -> None:
        await self._require()[1].delete(
            kind, name, namespace=namespace, propagation_policy=propagation_policy
        )

    async def scale(
        self, kind: type[R], name: str, replicas: int, namespace: str | None = None
    ) -> R:
        return await self._require()[1].scale(kind, name, replicas, namespace=namespace)

    async def rollout_status(
        self, name: str, namespace: str | None = None, *, timeout: float | None = None
    ) -> str:
        """`kubectl rollout status deployment/NAME`: wait (on a watch) until the
        rollout finished; returns kubectl's final message."""
        _, client = self._require()
        with anyio.fail_after(timeout):
            return await deployment.rollout_status(client, name, namespace=namespace)

    async def rollback(
        self, name: str, namespace: str | None = None, *, to_revision: int = 0
    ) -> str:
        """`kubectl rollout undo deployment/NAME [--to-revision=N]`."""
        _, client = self._require()
        return await deployment.rollback(client, name, namespace=namespace, to_revision=to_revision)

    async def pause(self, name: str, namespace: str | None = None) -> Deployment:
        return await deployment.pause(self._require()[1], name, namespace=namespace)

    async def resume(self, name: str, namespace: str | None = None) -> Deployment:
        return await deployment.resume(self._require()[1], name, namespace=namespace)

    async def drain_node(
        self,
        node: str,
        *,
        timeout: float | None = None,
        grace_period_seconds: int | None = None,
        force: bool = True,
    ) -> builtins.list[str]:
        """`kubectl drain NODE --ignore-daemonsets --force`: cordon, evict (honouring
        PodDisruptionBudgets, retrying refused evictions) and wait for the pods
        to go; returns the pods evicted. See `runtime.cluster.drain`."""
        store, client = self._require()

        async def gone(pods: builtins.list[Pod], within: float | None) -> bool:
            def none_left() -> bool:
                for pod in pods:
                    found = store.try_get(Pod, pod.metadata.name, pod.metadata.namespace)
                    if found is not None and found.metadata.uid == pod.metadata.uid:
                        return False
                return True

            try:
                await self.wait_for(none_left, timeout=within, what="evicted pods gone")
            except ConvergenceTimeout:
                return False
            return True

        return await drain(
            client,
            node,
            gone,
            timeout=timeout,
            grace_period_seconds=grace_period_seconds,
            force=force,
        )

    async def top(
        self, what: str = "pods", *, namespace: str | None = None
    ) -> builtins.list[TopRow]:
        """`kubectl top pods|nodes`: the metrics server's latest usage, read
        through the metrics API (scraped now if no round ran yet)."""
        _, client = self._require()
        assert self.metrics is not None
        if self.metrics.rounds == 0:
            await self.metrics.scrape()
        return await top_rows(client, what, namespace=namespace)

    async def events(self, namespace: str | None = None) -> builtins.list[Event]:
        """Events, oldest first."""
        items = (await self.list(Event, namespace)).items
        return sorted(items, key=lambda e: (int(e.metadata.resource_version), e.metadata.name))

    # -- waiting ----------------------------------------------------------------------

    async def wait_for(
        self, condition: Callable[[], bool], *, timeout: float | None = None, what: str = ""
    ) -> None:
        """Return once `condition()` holds; it is re-checked after store writes.
        Raises ConvergenceTimeout after `timeout` seconds (of the cluster's clock)."""
        try:
            with anyio.fail_after(timeout):
                while not condition():
                    detector.raise_if_tripped()
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise ConvergenceTimeout(
                f"not reached after {timeout} s: {what or 'condition'}"
            ) from None

    def converged(self) -> bool:
        # Checked after every batch of writes while a cluster converges: pods
        # still starting answer it in O(1), before any workload is read.
        if self.tracker.unsettled:
            return False
        return not self.unconverged()

    def unconverged(self) -> builtins.list[str]:
        """What keeps the cluster from having converged, one line per reason.
        A workload whose kind no running controller drives is one of them."""
        store, _ = self._require()
        reasons: builtins.list[str] = []
        undriven: set[type[Resource]] = set()
        for kind in WORKLOAD_CONTROLLERS:
            why = undriven_reason(kind, self.running_controllers, ALL_CONTROLLERS)
            if why is None:
                continue
            undriven.add(kind)
            name = REGISTRY.info(kind).kind
            reasons.extend(
                f"{name} {o.metadata.namespace}/{o.metadata.name}: {why}"
                for o in store.objects(kind)
            )
        for d in () if Deployment in undriven else store.objects(Deployment):
            want = d.spec.replicas
            s = d.status
            if d.spec.paused:
                continue
            if (
                s.observed_generation < d.metadata.generation
                or s.updated_replicas != want
                or s.replicas != want
                or s.available_replicas != want
            ):
                reasons.append(
                    f"deployment {d.metadata.namespace}/{d.metadata.name}: "
                    f"{s.updated_replicas} updated, {s.available_replicas} available of {want}"
                )
        reasons.extend(
            f"replicaset {rs.metadata.namespace}/{rs.metadata.name}: "
            f"{rs.status.ready_replicas} ready of {rs.spec.replicas}"
            for rs in (() if ReplicaSet in undriven else store.objects(ReplicaSet))
            if rs.status.observed_generation < rs.metadata.generation
            or rs.status.ready_replicas != rs.spec.replicas
        )
        reasons.extend(
            f"replicationcontroller {rc.metadata.namespace}/{rc.metadata.name}: "
            f"{rc.status.ready_replicas} ready of {rc.spec.replicas}"
            for rc in (
                () if ReplicationController in undriven else store.objects(ReplicationController)
            )
            if rc.status.observed_generation < rc.metadata.generation
            or rc.status.ready_replicas != rc.spec.replicas
        )
        for sts in () if StatefulSet in undriven else store.objects(StatefulSet):
            why = statefulset.unconverged_reason(sts)
            if why is not None:
                reasons.append(f"statefulset {sts.metadata.namespace}/{sts.metadata.name}: {why}")
        for ds in () if DaemonSet in undriven else store.objects(DaemonSet):
            why = daemonset.unconverged_reason(ds)
            if why is not None:
                reasons.append(f"daemonset {ds.metadata.namespace}/{ds.metadata.name}: {why}")
        reasons.extend(batch_unconverged(store, self.clock.now(), undriven))
        unsettled = len(self.tracker.unsettled)
        if unsettled:
            reasons.append(f"{unsettled} pod(s) not yet running and ready")
        return reasons

    async def wait_converged(self, *, timeout: float | None = None) -> None:
        """Wait until `converged()`; on timeout the error lists what is left."""
        try:
            await self.wait_for(self.converged, timeout=timeout)
        except ConvergenceTimeout:
            left = "; ".join(self.unconverged()[:5])
            raise ConvergenceTimeout(f"not converged after {timeout} s: {left}") from None

    def workloads(self) -> builtins.list[WorkloadRow]:
        """Every workload with its pods by state and what is wrong with it
        (see `runtime.cluster.workloads`); O(pods)."""
        store, _ = self._require()
        schedulers = frozenset(self.scheduler.frameworks) if self.scheduler is not None else None
        return workload_rows(store, self.running_controllers, ALL_CONTROLLERS, schedulers)

    def problems(self) -> builtins.list[Problem]:
        """What will never come right without a change from outside: workloads
        no running controller drives, and pods that cannot start (unschedulable,
        CrashLoopBackOff, a missing ConfigMap, ...), with their reasons. A
        cluster can be `converged()` (settled) and still have problems, such as
        a standalone pod no node fits; `kubeloop run` exits 1 for either."""
        return workloads.problems(self.workloads())

    def pod_counts(self) -> PodCounts:
        return self.tracker.counts()

    # -- traffic ------------------------------------------------------------------------

    @property
    def router(self) -> TrafficRouter:
        """The simulated traffic router (`runtime.network.traffic`), made on first use."""
        store, _ = self._require()
        if self._router is None:
            policy = self.nodes.policy if self.nodes is not None else None
            self._router = TrafficRouter(store, seed=self.config.seed, policy=policy)
        return self._router

    async def traffic(
        self,
        *,
        service: str | None = None,
        ingress: str | None = None,
        namespace: str | None = None,
        rps: float,
        duration: float,
        path: str = "/",
        host: str | None = None,
        port: int | str | None = None,
        external: bool = False,
        step: float = 0.1,
    ) -> TrafficStats:
        """Send simulated requests to a Service or an Ingress: `rps` per cluster
        second for `duration` seconds, in batches every `step` seconds, each
        routed as kube-proxy and the Ingress route it against the state of
        that instant, to pods that answer by their state (see
        `runtime.network.traffic`). Returns the target's accumulated stats
        (`traffic_stats()` has every target's)."""
        if rps < 0 or duration < 0 or step <= 0:
            raise ValueError("traffic needs rps >= 0, duration >= 0 and step > 0")
        target = Target(
            namespace=namespace or "default",
            service=service,
            ingress=ingress,
            port=port,
            host=host,
            path=path,
            external=external,
        )
        router = self.router
        stats = router.stats.setdefault(target.name, TrafficStats())
        start = self.clock.monotonic()
        sent = 0.0
        batches = max(1, math.ceil(duration / step - 1e-9)) if duration > 0 else 0
        for index in range(batches):
            due = rps * min(duration, (index + 1) * step)
            count = int(due - sent)
            sent += count
            router.route(target, count)
            wake = min(start + (index + 1) * step, start + duration)
            await self.clock.sleep(max(0.0, wake - self.clock.monotonic()))
        return stats

    def start_traffic(self, **kwargs: Any) -> asyncio.Task[TrafficStats]:
        """`traffic(...)` in the background; `wait_traffic()` waits for every one started."""
        task = asyncio.get_running_loop().create_task(self.traffic(**kwargs))
        self._traffic_tasks.append(task)
        return task

    async def wait_traffic(self) -> None:
        tasks, self._traffic_tasks = self._traffic_tasks, []
        for task in tasks:
            await task

    def traffic_stats(self) -> dict[str, TrafficStats]:
        """Every traffic target's stats so far, by `service/NS/NAME` or `ingress/NS/NAME`."""
        return dict(self._router.stats) if self._router is not None else {}

    def _pod_request_rate(self, uid: str) -> float:
        """The simulated traffic a pod receives, for its load-driven CPU
        (`sim.kubeloop.io/cpu-per-request`): `ClusterConfig.request_rate`'s
        default. One snapshot of the router's rates serves a whole instant."""
        if self._router is None:
            return 0.0
        now = self.clock.monotonic()
        if self._rates[0] != now:
            self._rates = (now, self._router.rates.snapshot())
        return self._rates[1].get(uid, 0.0)

    def request_rates(self) -> dict[str, float]:
        """Requests per second each pod (by uid) received over the last window
        of simulated traffic (`RequestRates`; the router's `rates` is the same
        as a live mapping)."""
        return self.router.rates.snapshot() if self._router is not None else {}

    # -- nodes ------------------------------------------------------------------------

    def autoscaler_state(self) -> AutoscalerState | None:
        """What the cluster autoscaler knows now (group sizes, unneeded nodes,
        back-offs, counts of scale-ups and downs); None when it does not run."""
        return None if self.autoscaler is None else self.autoscaler.state()

    def kubelet(self, node: str) -> Kubelet:
        if self.nodes is None:
            raise RuntimeError("the cluster is not running")
        return self.nodes.kubelet(node)

    async def fail_node(self, node: str) -> None:
        """The node's kubelet stops: heartbeats end and its containers are stopped."""
        await self.kubelet(node).stop()

    async def crash_node(self, node: str) -> None:
        """The node dies at once: heartbeats end, containers are killed."""
        await self.kubelet(node).crash()

    def partition_node(self, node: str) -> None:
        """Cut the node off from the API; its containers keep running."""
        self.kubelet(node).partition()

    async def restore_node(self, node: str) -> None:
        """Heal a partition, or start a stopped or crashed node again."""
        await self.kubelet(node).restore()

    async def logs(
        self,
        pod: str,
        container: str | None = None,
        namespace: str | None = None,
        *,
        tail: int | None = None,
        follow: bool = False,
    ) -> AsyncIterator[str]:
        """Lines of a container's log (process runtime; simulated containers log nothing)."""
        obj = await self.get(Pod, pod, namespace)
        if not obj.spec.node_name:
            raise NotFound(f'pod "{pod}" is not running on a node yet')
        name = container or obj.spec.containers[0].name
        runtime = self.kubelet(obj.spec.node_name).runtime
        async for line in runtime.logs(obj.metadata.uid, name, tail=tail, follow=follow):
            yield line


def _process_node_addresses(mode: str, index: int, pod_cidr: str) -> dict[str, Any]:
    """A process node's podCIDR and address (`runtime.network.config`): loopback
    ones, or in the namespaces mode the usual podCIDR with its bridge's
    address (the podCIDR's first) as the node's."""
    if mode == "loopback":
        return {"pod_cidr": loopback_pod_cidr(index), "internal_ip": loopback_node_address(index)}
    gateway = ipaddress.IPv4Network(pod_cidr).network_address + 1
    return {"internal_ip": str(gateway)}
