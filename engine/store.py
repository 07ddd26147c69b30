"""The versioned object store: kube-apiserver and etcd in one in-memory object.

Contract (Kubernetes semantics; see DESIGN.md "Store"):

* One global revision counter. Every write bumps it and stamps the object's
  `metadata.resourceVersion`; revisions strictly increase.
* create / get / list / update / update_status / patch / delete / bind / scale.
  A stale resourceVersion on update is a Conflict (409); an empty one is an
  unconditional update. `generation` starts at 1 and is bumped when anything
  outside metadata and status changes. An update that changes nothing writes
  nothing (no revision, no event), as the apiserver skips identical writes.
* For kinds with a status subresource, `update` keeps the stored status and
  `update_status` keeps everything but the status.
* Deletion: an object with finalizers is only marked (`deletionTimestamp`);
  removing its last finalizer removes it. Foreground and Orphan propagation
  add the `foregroundDeletion` / `orphan` finalizers for the garbage collector.
  Pods bound to a node are deleted gracefully (see `engine.strategies`).
* Objects handed out are shared and never changed afterwards. `create` copies
  what it is given; `update` and `update_status` take ownership of the object
  passed in (it becomes the stored version, stamped) unless it is the stored
  object itself. Do not reuse an object after passing it to update.
* Every change is kept in a per-kind history window; `watch(since=R)` replays
  from any retained revision and raises Gone (410) for older ones.
* Events live `event_ttl` (an hour, kube-apiserver's `--event-ttl`) after
  their last write, then are deleted (a DELETED watch event). Expiry is
  checked after each write, on the store's clock.

Create keeps the status it is given (Kubernetes resets most statuses on
create); this lets tests and simulations seed objects in any state.

Neighbours: `engine.watch` (watchers), `engine.strategies` (per-kind rules),
`engine.client` (the async `Client` over this store), `engine.patch`.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import heapq
import itertools
import json
import random
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from engine import admission, conversion, crd, strategies
from engine.admission import AdmissionRequest, podsecurity
from engine.admission.podsecurity import PodSecurityExemptions
from engine.aggregated import AggregatedAPI
from engine.api import core
from engine.api.base import LabelSelector, ObjectMeta, Resource, copied
from engine.api.integers import INT32_MAX, out_of_range
from engine.clock import Clock, RealClock
from engine.errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    FieldError,
    Gone,
    Invalid,
    KindNotServed,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
)
from engine.fieldselectors import FieldSelector, parse_field_selector
from engine.managedfields import list_kinds
from engine.mutation import detector
from engine.ownership import apply_fields, created_fields, update_fields
from engine.patch import (
    DEFAULT_MERGE_KEYS,
    PatchError,
    json_merge_patch,
    json_patch,
    strategic_merge_patch,
)
from engine.registry import REGISTRY, KindInfo, Registry
from engine.selectors import Selector, from_label_selector, parse_selector
from engine.serviceips import DEFAULT_NODE_PORT_RANGE, DEFAULT_SERVICE_CIDR, ServiceAllocator
from engine.watch import ADDED, DELETED, MODIFIED, EventType, Watcher, WatchEvent

__all__ = [
    "DeletePropagation",
    "ObjectList",
    "Scale",
    "Store",
    "WriteRecord",
]

R = TypeVar("R", bound=Resource)
DeletePropagation = str  # "Background" | "Foreground" | "Orphan"
DEFAULT_FIELD_MANAGER = "kubeloop"
"""The field manager of updates and patches that name none (kubectl's
default is "kubectl-edit", "kubectl-patch", ...; a client names its own)."""

NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

EVENT_TTL_SECONDS = 3600.0
"""How long an Event lives after its last write: kube-apiserver's --event-ttl default."""
LabelSelectorArg = Selector | str | None
FieldSelectorArg = FieldSelector | str | None


@dataclass(frozen=True, slots=True)
class ObjectList(Generic[R]):
    """A list response: the items, the revision they were read at, and the
    continue token for the next page (None on the last page)."""

    items: list[R]
    resource_version: int
    continue_: str | None = None


@dataclass(frozen=True, slots=True)
class Scale:
    """The scale subresource (autoscaling/v1 Scale) of a workload."""

    replicas: int
    status_replicas: int
    selector: str
    resource_version: str


@dataclass(frozen=True, slots=True)
class WriteRecord:
    """One committed write, as passed to write observers (tracing, invariants)."""

    revision: int
    verb: str
    kind: str
    namespace: str
    name: str
    object: Resource
    previous: Resource | None
    type: EventType = MODIFIED
    """ADDED, MODIFIED, or DELETED once the object is gone from the store."""

    @property
    def removed(self) -> bool:
        return self.type == DELETED


@dataclass(slots=True)
class _Change:
    revision: int
    event: WatchEvent[Any]
    object: Resource
    previous: Resource | None


class _Table:
    """Objects, history and watchers of one kind."""

    __slots__ = (
        "compacted",
        "crd",
        "custom",
        "history",
        "info",
        "objects",
        "spec_fields",
        "watchers",
    )

    def __init__(self, info: KindInfo) -> None:
        self.info = info
        self.objects: dict[tuple[str, str], Resource] = {}
        self.history: deque[_Change] = deque()
        self.compacted = 0  # changes with revision <= compacted are gone
        self.watchers: list[Watcher[Any]] = []
        # CustomResourceDefinitions serve kinds when stored (engine.crd).
        self.crd = info.kind == "CustomResourceDefinition" and info.group == "apiextensions.k8s.io"
        self.custom = issubclass(info.model, crd.CustomResource)  # CEL transition rules
        self.spec_fields = tuple(
            name
            for name in info.model.model_fields
            if name not in ("api_version", "kind", "metadata", "status")
        )


class Store:
    """The in-memory API server. Methods are synchronous; `engine.client` wraps
    them in the async `Client` protocol that controllers use."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        registry: Registry = REGISTRY,
        history_size: int = 20_000,
        watch_capacity: int = 50_000,
        bookmark_interval: float = 60.0,
        namespace_lifecycle: bool = True,
        event_ttl: float | None = EVENT_TTL_SECONDS,
        admission: bool = True,
        pod_security_exemptions: PodSecurityExemptions | None = None,
        service_cidr: str = DEFAULT_SERVICE_CIDR,
        node_port_range: str = DEFAULT_NODE_PORT_RANGE,
    ) -> None:
        self.clock: Clock = clock or RealClock()
        self.rng = rng or random.Random(0)
        self.service_ips = ServiceAllocator(
            service_cidr, node_port_range, rng=random.Random(self.rng.getrandbits(64))
        )
        """Cluster IPs and node ports of the stored Services (`engine.serviceips`)."""
        self.registry = registry
        self.pod_security_exemptions = pod_security_exemptions
        """Who PodSecurity admission leaves alone (`engine.admission.podsecurity`)."""
        self.admission_memo: dict[Any, Any] = {}
        """Admission plugins' results that depend on this store's RNG, by the
        identity of their input (`engine.admission.serviceaccount`): per
        store, so that one store's runs replay alike whatever ran before."""
        self.history_size = history_size
        self.watch_capacity = watch_capacity
        self.bookmark_interval = bookmark_interval
        self.namespace_lifecycle = namespace_lifecycle
        self.event_ttl = event_ttl
        # Events expire `event_ttl` after their last write, as kube-apiserver's
        # --event-ttl (an etcd lease per Event write): (expiry, table, key).
        self._event_expiry: list[tuple[float, int, _Table, tuple[str, str]]] = []
        self._event_deadline: dict[tuple[int, tuple[str, str]], float] = {}
        self._event_writes = itertools.count()
        self._expiring = False
        self.admission = admission
        # Admission warnings (PodSecurity `warn`): (kind, namespace, name, message).
        self.warning_handlers: list[Callable[[str, str, str, str], None]] = []
        self._revision = 0
        self._history_floor = 0  # revisions at or below this were before a restore
        self._tables: dict[type[Resource], _Table] = {}
        self._views: dict[type[Resource], type[Resource] | None] = {}
        self._snapshots: OrderedDict[int, tuple[int, list[Resource]]] = OrderedDict()
        self._snapshot_ids = 0
        self.observers: list[Callable[[WriteRecord], None]] = []
        self._aggregated: dict[type[Resource], AggregatedAPI] = {}
        # Scale subresources by the id of the (immutable) object they were
        # read from; the object is kept with it so an id is never reused.
        self._scales: dict[int, tuple[Resource, Scale]] = {}
        if namespace_lifecycle:
            # What a freshly started apiserver holds before any client writes.
            for name in strategies.INITIAL_NAMESPACES:
                self.create(strategies.new_namespace(name))
            for priority_class in strategies.SYSTEM_PRIORITY_CLASSES:
                self.create(priority_class)
            self.create(strategies.kubernetes_service(self.service_ips.kubernetes_ip))
            service_cidr_object = strategies.default_service_cidr(self.registry, service_cidr)
            if service_cidr_object is not None:
                self.create(service_cidr_object)

    # -- bookkeeping -------------------------------------------------------------------

    @property
    def revision(self) -> int:
        """The revision of the last write."""
        return self._revision

    def add_aggregated(self, provider: AggregatedAPI) -> None:
        """Serve `provider`'s kinds from it, read only (`engine.aggregated`)."""
        for served in provider.served_kinds():
            self._aggregated[served] = provider

    def remove_aggregated(self, provider: AggregatedAPI) -> None:
        """Stop serving `provider`'s kinds (its component stopped)."""
        for served, owner in list(self._aggregated.items()):
            if owner is provider:
                del self._aggregated[served]

    def _aggregated_list(
        self,
        provider: AggregatedAPI,
        kind: type[Resource],
        namespace: str | None,
        label_selector: LabelSelectorArg,
        field_selector: FieldSelectorArg,
    ) -> builtins.list[Resource]:
        sel = _label_selector(label_selector)
        fsel = (
            None
            if field_selector is None
            else _field_selector(field_selector, self.registry.info(kind))
        )
        items = provider.list_objects(kind, namespace if kind.namespaced else None, sel)
        if fsel is None:
            return list(items)
        return [obj for obj in items if fsel.matches(obj)]

    def table(self, kind: type[Resource]) -> _Table:
        # Every call (read or write) comes through here before it changes
        # anything: a shared object found changed in place fails it.
        if detector.failure is not None:
            detector.raise_if_tripped()
        table = self._tables.get(kind)
        if table is None:
            if kind.read_only:
                resource = f"{kind.plural}.{kind.api_group_version.rpartition('/')[0]}"
                if kind in self._aggregated:
                    raise MethodNotAllowed(f"{resource} is served read only (get and list)")
                raise ServiceUnavailable(
                    f"the server is currently unable to handle the request ({resource}: "
                    "no aggregated API serves it; is the metrics server running?)"
                )
            try:
                info = self.registry.info(kind)
            except KeyError:
                raise KindNotServed(
                    f"the server could not find the requested resource ({kind.__name__} "
                    "is not a served kind)"
                ) from None
            table = _Table(info)
            table.compacted = self._history_floor
            self._tables[kind] = table
        return table

    def drop_kind(self, kind: type[Resource]) -> None:
        """Remove every object of a kind (DELETED events) and end its watches: the
        kind stops being served (a deleted CustomResourceDefinition's)."""
        table = self._tables.get(kind)
        if table is None:
            return
        for obj in list(table.objects.values()):
            self._remove(table, obj, "delete")
        for watcher in list(table.watchers):
            watcher.stop()
        del self._tables[kind]

    def all_objects(self) -> Iterable[Resource]:
        """Every stored object, kind by kind (shared objects: never mutate them)."""
        for table in list(self._tables.values()):
            yield from list(table.objects.values())

    def serve_definition(self, definition: Resource) -> None:
        """Serve the kinds of a stored CustomResourceDefinition (before its
        objects are restored); the definition itself is not written."""
        crd.admit(self, definition)

    def restore(self, objects: Iterable[Resource], revision: int) -> None:
        """Replace every object with `objects` (stored versions, with their uids
        and resourceVersions) and go on from `revision`: what a durable backend
        loads at start (`engine.durable`). Open watches end; a watch from a
        revision before `revision` is Gone (no history before it is kept).
        Nothing is written and no observer is called."""
        for table in self._tables.values():
            for watcher in list(table.watchers):
                watcher.stop()
        self._tables.clear()
        self._snapshots.clear()
        highest = revision
        self._history_floor = revision
        for obj in objects:
            table = self.table(type(obj))
            meta = obj.metadata
            table.objects[self._key(table.info, meta.namespace, meta.name)] = obj
            highest = max(highest, int(meta.resource_version or 0))
        self._revision = highest
        self._history_floor = highest
        self._event_expiry.clear()
        self._event_deadline.clear()
        for table in self._tables.values():
            table.compacted = highest
            if self.event_ttl is not None and table.info.kind == "Event":
                for event in table.objects.values():  # a full time to live from now
                    self._note_event_write(table, event)
        # New uids and names must not repeat the ones made before the restart,
        # which a generator seeded as before would draw again.
        self.rng.seed(f"restored/{highest}/{self.rng.getrandbits(64)}")

    def kinds(self) -> list[KindInfo]:
        """Every kind this store has seen an object or watcher of."""
        return [t.info for t in self._tables.values()]

    def _key(self, info: KindInfo, namespace: str | None, name: str) -> tuple[str, str]:
        if not info.namespaced:
            return ("", name)
        return (namespace or "default", name)

    def _commit(
        self,
        table: _Table,
        verb: str,
        event_type: EventType,
        obj: Resource,
        previous: Resource | None,
    ) -> None:
        revision = self._revision
        event: WatchEvent[Any] = WatchEvent(event_type, obj, revision)
        history = table.history
        history.append(_Change(revision, event, obj, previous))
        if len(history) > self.history_size:
            table.compacted = history.popleft().revision
        if detector.enabled:
            detector.record(obj)
        for watcher in table.watchers:
            if watcher.namespace is not None and watcher.namespace != obj.metadata.namespace:
                continue
            if watcher.label_selector is None and watcher.field_selector is None:
                watcher.push(event)
            else:
                self._push_filtered(watcher, event, previous)
        if self.observers:
            meta = obj.metadata
            record = WriteRecord(
                revision,
                verb,
                table.info.kind,
                meta.namespace,
                meta.name,
                obj,
                previous,
                event_type,
            )
            for observer in self.observers:
                observer(record)
        if detector.enabled:
            detector.after_write(previous)
        if self.event_ttl is not None:
            if table.info.kind == "Event" and event_type != DELETED:
                self._note_event_write(table, obj)
            if self._event_expiry and not self._expiring:
                self._expire_events()

    def _note_event_write(self, table: _Table, obj: Resource) -> None:
        assert self.event_ttl is not None
        key = obj.key
        expiry = self.clock.now().timestamp() + self.event_ttl
        self._event_deadline[(id(table), key)] = expiry
        heapq.heappush(self._event_expiry, (expiry, next(self._event_writes), table, key))

    def _expire_events(self) -> None:
        """Delete the Events whose time to live has passed (checked after each
        write: a store nobody writes to keeps its Events until the next write)."""
        now = self.clock.now().timestamp()
        queue = self._event_expiry
        if queue[0][0] > now:
            return
        self._expiring = True
        try:
            while queue and queue[0][0] <= now:
                expiry, _, table, key = heapq.heappop(queue)
                if self._event_deadline.get((id(table), key)) != expiry:
                    continue  # written again since: a later entry holds its expiry
                del self._event_deadline[(id(table), key)]
                obj = table.objects.get(key)
                if obj is not None and self._tables.get(type(obj)) is table:
                    self._remove(table, obj, "delete")
        finally:
            self._expiring = False

    @staticmethod
    def _matches(watcher: Watcher[Any], obj: Resource | None) -> bool:
        if obj is None:
            return False
        sel = watcher.label_selector
        if sel is not None and not sel.matches(obj.metadata.labels):
            return False
        fsel = watcher.field_selector
        return fsel is None or bool(fsel.matches(obj))

    def _push_filtered(
        self, watcher: Watcher[Any], event: WatchEvent[Any], previous: Resource | None
    ) -> None:
        # An object that starts or stops matching a selector is ADDED to or
        # DELETED from that watcher's view, as the apiserver's watch cache does.
        now = event.type != DELETED and self._matches(watcher, event.object)
        before = self._matches(watcher, previous) if event.type != ADDED else False
        if event.type == DELETED:
            now, before = False, self._matches(watcher, event.object)
        if now and before:
            watcher.push(event)
        elif now:
            watcher.push(WatchEvent(ADDED, event.object, event.revision))
        elif before:
            gone = event.object if event.type == DELETED else previous
            assert gone is not None
            if event.type != DELETED:
                gone = _stamp(gone, revision=event.revision)
            watcher.push(WatchEvent(DELETED, gone, event.revision))

    def _next_revision(self) -> int:
        self._revision += 1
        return self._revision

    # -- reads ---------------------------------------------------------------------------

    def _storage_of(self, kind: type[Resource]) -> type[Resource] | None:
        """The storage version's model when `kind` is another version of it (an
        autoscaling/v1 HorizontalPodAutoscaler); None for a stored kind."""
        try:
            return self._views[kind]
        except KeyError:
            storage = conversion.storage_model(kind, self.registry)
            self._views[kind] = storage
            return storage

    def get(self, kind: type[R], name: str, namespace: str | None = None) -> R:
        """The object; asked for in another version than its storage version, it
        is converted (the model class asked for decides the version)."""
        provider = self._aggregated.get(kind)
        if provider is not None:
            found = provider.get_object(kind, name, (namespace or "default") * kind.namespaced)
            if found is None:
                raise NotFound(f'{kind.plural} "{name}" not found')
            return cast(R, found)
        storage = self._storage_of(kind)
        if storage is not None:
            return conversion.convert(self.get(storage, name, namespace), kind)
        table = self.table(kind)
        obj = table.objects.get(self._key(table.info, namespace, name))
        if obj is None:
            raise NotFound(f'{table.info.plural} "{name}" not found')
        return cast(R, obj)

    def try_get(self, kind: type[R], name: str, namespace: str | None = None) -> R | None:
        provider = self._aggregated.get(kind)
        if provider is not None:
            found = provider.get_object(kind, name, (namespace or "default") * kind.namespaced)
            return cast("R | None", found)
        storage = self._storage_of(kind)
        if storage is not None:
            found = self.try_get(storage, name, namespace)
            return None if found is None else conversion.convert(found, kind)
        table = self.table(kind)
        return cast("R | None", table.objects.get(self._key(table.info, namespace, name)))

    def list(
        self,
        kind: type[R],
        namespace: str | None = None,
        *,
        label_selector: LabelSelectorArg = None,
        field_selector: FieldSelectorArg = None,
        limit: int | None = None,
        continue_: str | None = None,
    ) -> ObjectList[R]:
        """Objects of a kind, sorted by (namespace, name). With `limit`, pages
        that all see the revision of the first page (an expired token is Gone)."""
        provider = self._aggregated.get(kind)
        if provider is not None:
            found = self._aggregated_list(provider, kind, namespace, label_selector, field_selector)
            return ObjectList(cast(builtins.list[R], found), self._revision)
        storage = self._storage_of(kind)
        if storage is not None:
            stored = self.list(
                storage,
                namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                limit=limit,
                continue_=continue_,
            )
            views = [conversion.convert(obj, kind) for obj in stored.items]
            return ObjectList(views, stored.resource_version, stored.continue_)
        table = self.table(kind)
        sel = _label_selector(label_selector)
        fsel = _field_selector(field_selector, table.info)
        if continue_:
            revision, items = self._resume(continue_)
        else:
            revision = self._revision
            items = [
                obj
                for key, obj in sorted(table.objects.items())
                if (namespace is None or key[0] == namespace)
                and (sel is None or sel.matches(obj.metadata.labels))
                and (fsel is None or fsel.matches(obj))
            ]
        if limit is None or limit <= 0 or len(items) <= limit:
            return ObjectList(cast(builtins.list[R], items), revision)
        token = self._save_snapshot(revision, items[limit:])
        return ObjectList(cast(builtins.list[R], items[:limit]), revision, token)

    def _save_snapshot(self, revision: int, rest: builtins.list[Resource]) -> str:
        self._snapshot_ids += 1
        self._snapshots[self._snapshot_ids] = (revision, rest)
        while len(self._snapshots) > 64:
            self._snapshots.popitem(last=False)
        raw = json.dumps({"rv": revision, "id": self._snapshot_ids}).encode()
        return base64.urlsafe_b64encode(raw).decode()

    def _resume(self, token: str) -> tuple[int, builtins.list[Resource]]:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            snapshot_id = int(data["id"])
        except (ValueError, KeyError, TypeError):
            raise BadRequest(f"invalid continue token {token!r}") from None
        snapshot = self._snapshots.pop(snapshot_id, None)
        if snapshot is None:
            raise Gone("the provided continue parameter is too old; restart the list")
        return snapshot

    # -- writes ---------------------------------------------------------------------------

    def create(self, obj: R) -> R:
        """Store a new object; returns the stored version (a stamped copy), in the
        version it was given in."""
        storage = self._storage_of(type(obj))
        if storage is not None:
            return conversion.convert(self.create(conversion.convert(obj, storage)), type(obj))
        table = self.table(type(obj))
        info = table.info
        meta = obj.metadata
        if meta.resource_version:
            raise BadRequest("resourceVersion should not be set on objects to be created")
        obj = cast(R, strategies.default_object(obj))
        meta = obj.metadata
        namespace = (meta.namespace or "default") if info.namespaced else ""
        if info.namespaced and self.namespace_lifecycle:
            strategies.check_namespace_accepts(self, namespace)
        name = meta.name
        if not name:
            if not meta.generate_name:
                raise Invalid(
                    f"{info.kind}",
                    [FieldError("metadata.name", "name or generateName is required")],
                )
            name = self._generate_name(table, namespace, meta.generate_name)
        key = (namespace, name)
        if key in table.objects:
            raise AlreadyExists(f'{info.plural} "{name}" already exists')
        request = None
        if self.admission:
            request = AdmissionRequest(self, "CREATE", name, namespace, info.plural, kind=info.kind)
            obj = cast(R, admission.admit(request, obj))
            meta = obj.metadata
        revision = self._revision + 1
        new_meta = copied(
            meta,
            {
                "name": name,
                "namespace": namespace,
                "uid": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                "resource_version": str(revision),
                "generation": 1,
                "creation_timestamp": self.clock.now(),
                "deletion_timestamp": None,
                "deletion_grace_period_seconds": None,
            },
        )
        stored = copied(obj, {"metadata": new_meta})
        errors = strategies.validate(stored)
        if errors:
            raise Invalid(f'{info.kind} "{name}"', errors)
        stored = cast(R, strategies.prepare_for_create(stored))
        if table.crd:
            stored = cast(R, crd.admit(self, stored))
        if request is not None:
            admission.validate(request, stored)
        if isinstance(stored, core.Service):
            stored = cast(R, self.service_ips.admit(stored, None))
        self._revision = revision
        table.objects[key] = stored
        self._commit(table, "create", ADDED, stored, None)
        if isinstance(stored, core.Service):
            self.service_ips.record(stored)
        if request is not None:
            for after in request.after_commit:
                after()
        return stored

    def random_name_suffix(self) -> str:
        """Five characters as apimachinery's SimpleNameGenerator appends (no
        vowels, no look-alike digits), drawn from the store's seeded RNG (what
        generateName and admission's generated names use)."""
        return "".join(self.rng.choice(NAME_SUFFIX_ALPHABET) for _ in range(5))

    def _generate_name(self, table: _Table, namespace: str, prefix: str) -> str:
        for _ in range(16):
            name = prefix[:58] + self.random_name_suffix()
            if (namespace, name) not in table.objects:
                return name
        raise AlreadyExists(f"could not generate a unique name with prefix {prefix!r}")

    def _current_for_write(self, table: _Table, obj: Resource) -> Resource:
        key = self._key(table.info, obj.metadata.namespace, obj.metadata.name)
        current = table.objects.get(key)
        if current is None:
            raise NotFound(f'{table.info.plural} "{obj.metadata.name}" not found')
        meta = obj.metadata
        if meta.resource_version and meta.resource_version != current.metadata.resource_version:
            raise Conflict(
                f'Operation cannot be fulfilled on {table.info.plural} "{meta.name}": '
                "the object has been modified; please apply your changes to the latest "
                "version and try again"
            )
        if meta.uid and meta.uid != current.metadata.uid:
            raise Conflict(
                f'Precondition failed for {table.info.plural} "{meta.name}": UID in object '
                f"meta: {meta.uid}, UID in stored object: {current.metadata.uid}"
            )
        return current

    def update(self, obj: R, *, field_manager: str | None = DEFAULT_FIELD_MANAGER) -> R:
        """Replace an object's spec and metadata (not its status, for kinds with a
        status subresource). Returns the stored version; if the update removed
        the object (its last finalizer went while it was being deleted), its
        final state, which `try_get` no longer finds. On an object that has
        managedFields (it was server-side applied), `field_manager` takes
        ownership of the fields it changed (operation Update); objects never
        applied are not tracked, which keeps the cost off controllers' writes."""
        table = self.table(type(obj))
        current = self._current_for_write(table, obj)
        if obj is current:
            if detector.enabled:
                detector.verify(obj)  # an update of the shared object changed in place
            return obj
        info = table.info
        errors = strategies.validate(obj, metadata_checked=obj.metadata is current.metadata)
        if table.custom:
            errors = errors + crd.transition_errors(current, obj)
        if errors:
            raise Invalid(f'{info.kind} "{obj.metadata.name}"', errors)
        strategies.check_update(current, obj)
        if self.admission and info.kind in podsecurity.WORKLOAD_KINDS:
            request = AdmissionRequest(
                self, "UPDATE", obj.metadata.name, obj.metadata.namespace, info.plural, info.kind
            )
            podsecurity.warn_update(request, obj, current)
        if isinstance(obj, core.Service):
            obj = cast(R, self.service_ips.admit(obj, cast(core.Service, current)))
        if info.has_status_subresource and obj.__dict__.get("status") is not current.__dict__.get(
            "status"
        ):
            object.__setattr__(obj, "status", current.__dict__["status"])
        spec_changed = _differs(obj, current, table.spec_fields)
        old_meta = current.metadata
        meta = obj.metadata
        generation = old_meta.generation + 1 if spec_changed else old_meta.generation
        merged = {
            "namespace": old_meta.namespace,
            "uid": old_meta.uid,
            "resource_version": old_meta.resource_version,
            "generation": generation,
            "creation_timestamp": old_meta.creation_timestamp,
            "deletion_timestamp": old_meta.deletion_timestamp,
            "deletion_grace_period_seconds": old_meta.deletion_grace_period_seconds,
        }
        if (
            not spec_changed
            and _meta_equal(meta, old_meta, merged)
            # kinds without a status subresource change their status through update
            and (info.has_status_subresource or not _differs(obj, current, ("status",)))
        ):
            return cast(R, current)
        if old_meta.deletion_timestamp is not None and len(meta.finalizers) > len(
            old_meta.finalizers
        ):
            new_finalizers = set(meta.finalizers) - set(old_meta.finalizers)
            raise Invalid(
                f'{info.kind} "{meta.name}"',
                [
                    FieldError(
                        "metadata.finalizers",
                        f"no new finalizers can be added if the object is being deleted, "
                        f"found new finalizers {sorted(new_finalizers)}",
                    )
                ],
            )
        if table.crd and spec_changed:
            admitted = crd.admit(self, obj)
            object.__setattr__(obj, "status", admitted.__dict__["status"])
        if field_manager is not None and old_meta.managed_fields:
            merged["managed_fields"] = update_fields(
                current.to_dict(),
                obj.to_dict(),
                old_meta.managed_fields,
                manager=field_manager,
                kinds=list_kinds(obj),
                api_version=obj.api_version,
                now=self.clock.now(),
            )
        revision = self._next_revision()
        merged["resource_version"] = str(revision)
        object.__setattr__(obj, "metadata", copied(meta, merged))
        if strategies.ready_to_remove(obj):
            return cast(R, self._remove(table, obj, "update"))
        table.objects[obj.key] = obj
        self._commit(table, "update", MODIFIED, obj, current)
        if isinstance(obj, core.Service):
            self.service_ips.record(obj)
        return obj

    def update_status(self, obj: R) -> R:
        """Replace only the status of an object. Returns the stored version."""
        table = self.table(type(obj))
        if not table.info.has_status_subresource:
            raise NotFound(f"{table.info.plural} has no status subresource")
        current = self._current_for_write(table, obj)
        status = obj.__dict__["status"]
        if obj is current or status == current.__dict__["status"]:
            return cast(R, current)
        revision = self._next_revision()
        new_meta = copied(current.metadata, {"resource_version": str(revision)})
        if obj.metadata is current.metadata and not _differs(obj, current, table.spec_fields):
            stored: Resource = obj  # the caller copied the stored object: take it over
            object.__setattr__(stored, "metadata", new_meta)
        else:
            stored = copied(current, {"status": status, "metadata": new_meta})
        table.objects[stored.key] = stored
        self._commit(table, "update_status", MODIFIED, stored, current)
        return cast(R, stored)

    def delete(
        self,
        kind: type[R],
        name: str,
        namespace: str | None = None,
        *,
        propagation_policy: DeletePropagation | None = None,
        grace_period_seconds: int | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
    ) -> R | None:
        """Delete an object. Returns the object if it is only marked for deletion
        (finalizers or graceful termination pending), None once it is gone."""
        table = self.table(kind)
        key = self._key(table.info, namespace, name)
        current = table.objects.get(key)
        if current is None:
            raise NotFound(f'{table.info.plural} "{name}" not found')
        meta = current.metadata
        if uid is not None and uid != meta.uid:
            raise Conflict(
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: {meta.uid}"
            )
        if resource_version is not None and resource_version != meta.resource_version:
            raise Conflict(
                f"Precondition failed: ResourceVersion in precondition: {resource_version}, "
                f"ResourceVersion in object meta: {meta.resource_version}"
            )
        if propagation_policy not in (None, "Background", "Foreground", "Orphan"):
            raise BadRequest(f"unsupported propagationPolicy {propagation_policy!r}")
        plan = strategies.plan_deletion(
            current, self.clock.now(), propagation_policy, grace_period_seconds
        )
        if plan is None:
            self._remove(table, current, "delete")
            return None
        if plan is current:
            return cast(R, current)
        revision = self._next_revision()
        marked = plan.model_copy(
            update={
                "metadata": plan.metadata.model_copy(update={"resource_version": str(revision)})
            }
        )
        table.objects[key] = marked
        self._commit(table, "delete", MODIFIED, marked, current)
        return cast(R, marked)

    def _remove(self, table: _Table, obj: Resource, verb: str) -> Resource:
        """Remove an object; returns its final state, stamped with the revision."""
        previous = table.objects.pop(obj.key, None)
        revision = self._next_revision()
        final = _stamp(obj, revision=revision)
        self._commit(table, verb, DELETED, final, previous)
        if table.crd:
            crd.remove(self, final)
        if isinstance(final, core.Service):
            self.service_ips.release(final)
        return final

    def write(self, obj: R, *, verb: str = "update") -> R:
        """Store `obj` as given (spec, status and metadata), bypassing the
        subresource split. For strategies (binding, scale, patch); not for users."""
        table = self.table(type(obj))
        current = self._current_for_write(table, obj)
        revision = self._next_revision()
        stored = _stamp(obj, revision=revision)
        table.objects[stored.key] = stored
        self._commit(table, verb, MODIFIED, stored, current)
        return stored

    def apply(
        self,
        config: Mapping[str, Any],
        field_manager: str,
        *,
        force: bool = False,
        dry_run: bool = False,
    ) -> Resource:
        """Server-side apply of one object's applied configuration (a decoded
        manifest, as `application/apply-patch+yaml` carries): created if
        missing, else merged in with field ownership (`engine.ownership`):
        `ApplyConflict` (409) when it would change fields other managers own,
        unless `force`. Returns the stored object; with `dry_run`, the object
        that would be stored, after every check, without writing it."""
        from engine.manifests import parse_object

        if not field_manager:
            raise BadRequest("a field manager is required for apply")
        api_version, kind_name = config.get("apiVersion"), config.get("kind")
        meta = config.get("metadata")
        if not isinstance(api_version, str) or not isinstance(kind_name, str):
            raise BadRequest("an applied configuration names its apiVersion and kind")
        if not isinstance(meta, Mapping) or not meta.get("name"):
            raise BadRequest("an applied configuration names its object (metadata.name)")
        info = self.registry.lookup(api_version, kind_name)
        namespace = (meta.get("namespace") or "default") if info.namespaced else None
        current = self.try_get(info.model, meta["name"], namespace)
        now = self.clock.now()
        if current is None:
            # A new object: the configuration is the whole object and validates alone.
            desired = parse_object(dict(config), registry=self.registry)
            entries = created_fields(
                config,
                manager=field_manager,
                kinds=list_kinds(desired),
                api_version=api_version,
                now=now,
            )
            new_meta = desired.metadata.model_copy(update={"managed_fields": entries})
            created = desired.model_copy(update={"metadata": new_meta})
            return created if dry_run else self.create(created)
        # An existing one: only the merged result has to be valid.
        kinds = list_kinds(current)
        document, entries = apply_fields(
            current.to_dict(),
            current.metadata.managed_fields,
            config,
            manager=field_manager,
            force=force,
            kinds=kinds,
            api_version=api_version,
            now=now,
        )
        document.setdefault("metadata", {})["managedFields"] = [
            e.model_dump(mode="json", by_alias=True, exclude_none=True) for e in entries
        ]
        document["metadata"]["resourceVersion"] = current.metadata.resource_version
        new = parse_object(document, registry=self.registry)
        if dry_run:
            strategies.check_update(current, new)
            return new
        return self.update(new, field_manager=None)

    def patch(
        self,
        kind: type[R],
        name: str,
        namespace: str | None,
        patch: Any,
        *,
        patch_type: str = "merge",
        subresource: str | None = None,
        field_manager: str | None = DEFAULT_FIELD_MANAGER,
    ) -> R:
        """Apply a JSON merge patch ("merge"), a JSON patch ("json") or a strategic
        merge patch ("strategic") to the stored object, then update it. A
        resourceVersion inside the patch acts as a precondition."""
        current = self.get(kind, name, namespace)
        document = current.to_dict()
        try:
            if patch_type == "merge":
                patched = json_merge_patch(document, patch)
            elif patch_type == "json":
                patched = json_patch(document, patch)
            elif patch_type == "strategic":
                patched = strategic_merge_patch(document, patch, DEFAULT_MERGE_KEYS)
            else:
                raise BadRequest(f"unsupported patch type {patch_type!r}")
        except PatchError as error:
            raise BadRequest(f"the patch could not be applied: {error}") from None
        if not isinstance(patched, dict):
            raise BadRequest("the patched object is not a JSON object")
        for field, expected in (("kind", current.kind), ("apiVersion", current.api_version)):
            if patched.get(field) != expected:
                raise BadRequest(f"a patch may not change {field} (from {expected!r})")
        meta = patched.get("metadata") or {}
        if (
            meta.get("name") != current.metadata.name
            or meta.get("namespace", "") != current.metadata.namespace
        ):
            raise BadRequest("a patch may not change metadata.name or metadata.namespace")
        from engine.manifests import parse_object

        new = cast(R, parse_object(patched, registry=self.registry))
        if subresource == "status":
            return self.update_status(new)
        if subresource is not None:
            raise NotFound(f"unsupported subresource {subresource!r} for patch")
        return self.update(new, field_manager=field_manager)

    def bind(self, name: str, namespace: str | None, node_name: str) -> Resource:
        """pods/binding: assign a pod to a node once; Conflict if already bound."""
        pod = self.get(core.Pod, name, namespace)
        return self.write(strategies.bind_pod(pod, node_name, self.clock.now()), verb="bind")

    def get_scale(self, kind: type[Resource], name: str, namespace: str | None = None) -> Scale:
        """The scale subresource of a Deployment, ReplicaSet, StatefulSet or
        ReplicationController, or of a custom kind whose CRD version has one.
        Kept per object until it changes (the HPA reads it every sync)."""
        obj: Any = self.get(kind, name, namespace)
        cached = self._scales.get(id(obj))
        if cached is not None and cached[0] is obj:
            return cached[1]
        result = self._scale_of(kind, obj)
        if len(self._scales) >= 4096:
            self._scales.clear()
        self._scales[id(obj)] = (obj, result)
        return result

    def _scale_of(self, kind: type[Resource], obj: Any) -> Scale:
        if isinstance(obj, crd.CustomResource) and (scale := crd.scale_of(obj)) is not None:
            replicas, status_replicas, selector = scale
            return Scale(replicas, status_replicas, selector, obj.metadata.resource_version)
        if not kind.has_scale_subresource:
            raise NotFound(f"{self.table(kind).info.plural} has no scale subresource")
        spec_selector = obj.spec.selector
        if isinstance(spec_selector, dict):  # ReplicationController: an equality map
            spec_selector = LabelSelector(match_labels=spec_selector)
        return Scale(
            replicas=obj.spec.replicas,
            status_replicas=obj.status.replicas or 0,
            selector=str(from_label_selector(spec_selector)),
            resource_version=obj.metadata.resource_version,
        )

    def scale(
        self,
        kind: type[R],
        name: str,
        namespace: str | None = None,
        *,
        replicas: int,
        resource_version: str | None = None,
    ) -> R:
        """Set spec.replicas through the scale subresource."""
        if replicas < 0:
            raise Invalid(
                f'{kind.kind_name} "{name}"', [FieldError("spec.replicas", "must be >= 0")]
            )
        if replicas > INT32_MAX:  # the Scale object's spec.replicas is an int32
            raise Invalid(
                f'{kind.kind_name} "{name}"',
                [FieldError("spec.replicas", out_of_range(replicas))],
            )
        current: Any = self.get(kind, name, namespace)
        custom = isinstance(current, crd.CustomResource) and crd.scale_of(current) is not None
        if not custom and not kind.has_scale_subresource:
            raise NotFound(f"{self.table(kind).info.plural} has no scale subresource")
        if resource_version and resource_version != current.metadata.resource_version:
            raise Conflict(
                f'Operation cannot be fulfilled on {self.table(kind).info.plural} "{name}": '
                "the object has been modified"
            )
        if custom:
            return self.update(cast(R, crd.with_replicas(current, replicas)))
        new = current.model_copy(
            update={"spec": current.spec.model_copy(update={"replicas": replicas})}
        )
        return self.update(cast(R, new))

    # -- watch ------------------------------------------------------------------------------

    def watch(
        self,
        kind: type[R],
        namespace: str | None = None,
        *,
        label_selector: LabelSelectorArg = None,
        field_selector: FieldSelectorArg = None,
        since: int | None = None,
        bookmarks: bool = False,
        capacity: int | None = None,
    ) -> Watcher[R]:
        """Events of a kind after revision `since` (None: from now on). Raises Gone
        if `since` is older than the retained history."""
        table = self.table(kind)
        if self._storage_of(kind) is not None:
            raise BadRequest(
                f"watch {kind.kind_name} in its storage version: converting watch events "
                "is not supported"
            )
        if since is not None and since < table.compacted:
            raise Gone(
                f"too old resource version: {since} (the oldest retained for "
                f"{table.info.plural} is {table.compacted})"
            )
        watcher: Watcher[R] = Watcher(
            capacity=capacity or self.watch_capacity,
            namespace=namespace if table.info.namespaced else None,
            label_selector=_label_selector(label_selector),
            field_selector=_field_selector(field_selector, table.info),
            clock=self.clock,
            current_revision=lambda: self._revision,
            on_close=lambda w: _discard(table.watchers, w),
            bookmark_interval=self.bookmark_interval if bookmarks else None,
        )
        if since is not None:
            for change in table.history:
                if change.revision <= since:
                    continue
                event = change.event
                obj = change.object
                if watcher.namespace is not None and obj.metadata.namespace != watcher.namespace:
                    continue
                if watcher.label_selector is None and watcher.field_selector is None:
                    watcher.push(event)
                else:
                    self._push_filtered(watcher, event, change.previous)
        if not watcher.stopped:
            table.watchers.append(watcher)
        return watcher

    def watcher_count(self, kind: type[Resource]) -> int:
        return len(self.table(kind).watchers)

    def peek(self, kind: type[R], name: str, namespace: str = "") -> R | None:
        """`try_get` for admission's lookups on every create: the stored object of
        exactly this model (no conversion), without creating the kind's table."""
        table = self._tables.get(kind)
        return None if table is None else cast("R | None", table.objects.get((namespace, name)))

    def objects_in(self, kind: type[R], namespace: str) -> builtins.list[R]:
        """The stored objects of a kind in one namespace, unordered and without
        copying; a kind never stored costs a dict lookup (admission asks this on
        every create, for LimitRanges and quotas that are mostly absent)."""
        table = self._tables.get(kind)
        if table is None or not table.objects:
            return []
        found = [obj for (ns, _), obj in table.objects.items() if ns == namespace]
        return cast(builtins.list[R], found)

    def objects(self, kind: type[R]) -> Iterable[R]:
        """Every stored object of a kind, unordered and without copying."""
        return cast(Iterable[R], self.table(kind).objects.values())


def _discard(watchers: list[Watcher[Any]], watcher: Watcher[Any]) -> None:
    with contextlib.suppress(ValueError):
        watchers.remove(watcher)


def _label_selector(value: LabelSelectorArg) -> Selector | None:
    if value is None:
        return None
    if isinstance(value, str):
        return parse_selector(value) if value.strip() else None
    return value


def _field_selector(value: FieldSelectorArg, info: KindInfo) -> FieldSelector | None:
    if value is None:
        return None
    if isinstance(value, str):
        return parse_field_selector(value, info.kind) if value.strip() else None
    return value


def _differs(a: Resource, b: Resource, fields: tuple[str, ...]) -> bool:
    da, db = a.__dict__, b.__dict__
    for name in fields:
        va, vb = da.get(name), db.get(name)
        if va is not vb and va != vb:
            return True
    return False


def _meta_equal(meta: ObjectMeta, old: ObjectMeta, carried: dict[str, Any]) -> bool:
    """Whether `meta` equals `old` in every field the writer controls."""
    old_values = old.__dict__
    for name, value in meta.__dict__.items():
        if name in carried:
            continue
        old_value = old_values[name]
        if value is not old_value and value != old_value:
            return False
    return True


def _stamp(obj: R, *, revision: int) -> R:
    meta = copied(obj.metadata, {"resource_version": str(revision)})
    return copied(obj, {"metadata": meta})
