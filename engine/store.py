"""The versioned object store: kube-apiserver's registry over a `Storage`.

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

The store is a facade over one module per concept: what is kept and at which
revision (history, compaction, Gone) is the `Storage` under it
(`engine.storage`, in memory by default); here are the write path (defaults,
admission, validation, generation, finalizers, the revision each write is
stamped with) and reads with version conversion and aggregated APIs. Watch
fan-out is `engine.watchcache`, paged lists `engine.paging`, patch, apply,
bind and scale `engine.subresources`, eviction `engine.eviction`, Event
expiry `engine.eventttl`.

Neighbours: those modules, `engine.watch` (watchers), `engine.strategies`
(per-kind rules), `engine.client` (the async `Client` over this store).
"""

from __future__ import annotations

import builtins
import contextlib
import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, TypeVar, Unpack, cast

from engine import admission, conversion, crd, strategies, subresources
from engine.admission import AdmissionRequest, podsecurity
from engine.admission.podsecurity import PodSecurityExemptions
from engine.aggregated import AggregatedAPI
from engine.api import core
from engine.api.base import ObjectMeta, Resource, copied
from engine.clock import Clock, RealClock
from engine.errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    FieldError,
    Invalid,
    KindNotServed,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
)
from engine.eventttl import EVENT_TTL_SECONDS, EventExpiry
from engine.fieldselectors import FieldSelector, parse_field_selector
from engine.managedfields import list_kinds
from engine.mutation import detector
from engine.options import (
    DeleteArgs,
    DeleteOptions,
    FieldSelectorArg,
    LabelSelectorArg,
    ListArgs,
    ListOptions,
    WatchArgs,
    WatchOptions,
    of,
)
from engine.ownership import update_fields
from engine.paging import ContinueTokens, ObjectList
from engine.registry import REGISTRY, KindInfo, Registry
from engine.selectors import Selector, parse_selector
from engine.serviceips import DEFAULT_NODE_PORT_RANGE, DEFAULT_SERVICE_CIDR, ServiceAllocator
from engine.storage import Change, Keyspace, MemoryStorage, SharedStorage, Storage, Unwatch
from engine.subresources import DEFAULT_FIELD_MANAGER, Scale
from engine.watch import ADDED, DELETED, MODIFIED, EventType, Watcher
from engine.watchcache import Fanout

__all__ = [
    "DEFAULT_FIELD_MANAGER",
    "EVENT_TTL_SECONDS",
    "DeletePropagation",
    "FieldSelectorArg",
    "LabelSelectorArg",
    "ObjectList",
    "Scale",
    "Store",
    "WriteRecord",
]

R = TypeVar("R", bound=Resource)
DeletePropagation = str  # "Background" | "Foreground" | "Orphan"
NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


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


class _Table:
    """One served kind: its rules, its keyspace in the storage, and its watchers."""

    __slots__ = ("crd", "custom", "fanout", "info", "space", "spec_fields", "unwatch")

    def __init__(self, info: KindInfo, space: Keyspace) -> None:
        self.info = info
        self.space = space
        self.fanout = Fanout()
        # The kind's watch cache follows its keyspace from now on.
        self.unwatch: Unwatch = space.watch(None, self.fanout.publish)
        # CustomResourceDefinitions serve kinds when stored (engine.crd).
        self.crd = info.kind == "CustomResourceDefinition" and info.group == "apiextensions.k8s.io"
        self.custom = issubclass(info.model, crd.CustomResource)  # CEL transition rules
        self.spec_fields = tuple(
            name
            for name in info.model.model_fields
            if name not in ("api_version", "kind", "metadata", "status")
        )

    @property
    def compacted(self) -> int:
        """Changes at or below this revision are gone from the kind's history."""
        return self.space.compacted

    def close(self) -> None:
        """End the kind's watches and stop following its keyspace."""
        self.unwatch()
        self.fanout.stop_all()


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
        storage: Storage | None = None,
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
        # Events expire `event_ttl` after their last write (`engine.eventttl`).
        self._event_expiry = EventExpiry(event_ttl or 0.0, self.clock)
        self.admission = admission
        # Admission warnings (PodSecurity `warn`): (kind, namespace, name, message).
        self.warning_handlers: list[Callable[[str, str, str, str], None]] = []
        # What is stored, and at which revision (`engine.storage`): memory
        # unless another (empty) storage is given.
        self._storage: Storage = (
            storage if storage is not None else MemoryStorage(history_size=history_size)
        )
        self._revision = self._storage.revision
        if isinstance(self._storage, SharedStorage):  # others' writes count too
            self._storage.on_remote = self._observe_remote
        self._tables: dict[type[Resource], _Table] = {}
        self._views: dict[type[Resource], type[Resource] | None] = {}
        self._pages = ContinueTokens()
        self.observers: list[Callable[[WriteRecord], None]] = []
        self._aggregated: dict[type[Resource], AggregatedAPI] = {}
        self._scales = subresources.ScaleCache()
        if namespace_lifecycle:
            # What a freshly started apiserver holds before any client writes
            # (kept if a storage shared with other apiservers has it already).
            for name in strategies.INITIAL_NAMESPACES:
                self._ensure(strategies.new_namespace(name))
            for priority_class in strategies.SYSTEM_PRIORITY_CLASSES:
                self._ensure(priority_class)
            self._ensure(strategies.kubernetes_service(self.service_ips.kubernetes_ip))
            service_cidr_object = strategies.default_service_cidr(self.registry, service_cidr)
            if service_cidr_object is not None:
                self._ensure(service_cidr_object)

    def _observe_remote(self, change: Change) -> None:
        """Tell the write observers of a change another apiserver made."""
        self._synced()
        if not self.observers:
            return
        meta = change.object.metadata
        verb = {ADDED: "create", DELETED: "delete"}.get(change.type, "update")
        record = WriteRecord(
            change.revision,
            verb,
            change.object.kind,
            meta.namespace,
            meta.name,
            change.object,
            change.previous,
            change.type,
        )
        for observer in self.observers:
            observer(record)

    def _ensure(self, obj: Resource) -> None:
        with contextlib.suppress(AlreadyExists):
            self.create(obj)

    # -- bookkeeping -------------------------------------------------------------------

    @property
    def revision(self) -> int:
        """The revision of the last write."""
        return self._synced()

    def _synced(self) -> int:
        """The store's revision, brought up to the storage's: a storage that
        others write too (etcd, with several apiservers) moves on by itself."""
        revision = self._storage.revision
        if revision > self._revision:
            self._revision = revision
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
            info = self._served(kind)
            table = _Table(info, self._storage.keyspace(info))
            self._tables[kind] = table
        return table

    def _served(self, kind: type[Resource]) -> KindInfo:
        """The registry's entry for a kind this store keeps, or the error that
        answers a request for one it does not."""
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
        return info

    def drop_kind(self, kind: type[Resource]) -> None:
        """Remove every object of a kind (DELETED events) and end its watches: the
        kind stops being served (a deleted CustomResourceDefinition's)."""
        table = self._tables.get(kind)
        if table is None:
            return
        for obj in list(table.space.values()):
            self._remove(table, obj, "delete")
        table.close()
        del self._tables[kind]
        self._storage.drop(table.info)

    def all_objects(self) -> Iterable[Resource]:
        """Every stored object, kind by kind (shared objects: never mutate them)."""
        for table in list(self._tables.values()):
            yield from list(table.space.values())

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
            table.close()
        self._tables.clear()
        self._pages.clear()
        infos: dict[type[Resource], KindInfo] = {}  # in the order first loaded
        loaded: builtins.list[tuple[KindInfo, Resource]] = []
        for obj in objects:
            info = infos.get(type(obj))
            if info is None:
                info = infos[type(obj)] = self._served(type(obj))
            loaded.append((info, obj))
        highest = self._storage.restore(loaded, revision)
        self._revision = highest
        self._event_expiry.clear()
        for kind in infos:
            self.table(kind)
        for table in self._tables.values():
            if self.event_ttl is not None and table.info.kind == "Event":
                for event in table.space.values():  # a full time to live from now
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
    ) -> Resource:
        """Write `obj` (stamped with the revision allocated for it) in place of
        `previous` (None: absent) and tell everyone; returns the stored version."""
        # The storage delivers the change to the kind's watchers (its fan-out
        # follows the keyspace); a storage that assigns revisions itself (etcd)
        # returns the object restamped, and the store goes on from its revision.
        space = table.space
        if event_type == DELETED:
            change = space.delete(obj, expected=previous, revision=self._revision)
        else:
            change = space.put(obj, expected=previous, revision=self._revision)
        obj = change.object
        revision = self._revision = change.revision
        if detector.enabled:
            detector.record(obj)
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
        return obj

    @property
    def _expiring(self) -> bool:
        return self._event_expiry.expiring

    def _note_event_write(self, table: _Table, obj: Resource) -> None:
        self._event_expiry.note(table, obj.key)

    def _expire_events(self) -> None:
        """Delete the Events whose time to live has passed (`engine.eventttl`)."""
        self._event_expiry.expire(self._expire_event)

    def _expire_event(self, table: _Table, key: tuple[str, str]) -> None:
        obj = table.space.get(key)
        if obj is not None and self._tables.get(type(obj)) is table:
            self._remove(table, obj, "delete")

    def _next_revision(self) -> int:
        self._revision = self._synced() + 1
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
        obj = table.space.get(self._key(table.info, namespace, name))
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
        return cast("R | None", table.space.get(self._key(table.info, namespace, name)))

    def list(
        self,
        kind: type[R],
        namespace: str | None = None,
        *,
        options: ListOptions | None = None,
        **args: Unpack[ListArgs],
    ) -> ObjectList[R]:
        """Objects of a kind, sorted by (namespace, name). With `limit`, pages
        that all see the revision of the first page (an expired token is Gone).
        `options` or its fields as keywords (`engine.options.ListOptions`)."""
        opts = of(ListOptions, options, args)
        label_selector, field_selector = opts.label_selector, opts.field_selector
        limit, continue_ = opts.limit, opts.continue_
        provider = self._aggregated.get(kind)
        if provider is not None:
            found = self._aggregated_list(provider, kind, namespace, label_selector, field_selector)
            return ObjectList(cast(builtins.list[R], found), self._synced())
        storage = self._storage_of(kind)
        if storage is not None:
            stored = self.list(storage, namespace, options=opts)
            views = [conversion.convert(obj, kind) for obj in stored.items]
            return ObjectList(views, stored.resource_version, stored.continue_)
        table = self.table(kind)
        sel = _label_selector(label_selector)
        fsel = _field_selector(field_selector, table.info)
        if continue_:
            revision, items = self._pages.resume(continue_)
        else:
            revision = self._synced()
            if sel is None and fsel is None:
                items = table.space.list(namespace)
            else:
                # Select first, then sort what matched: a controller listing
                # its few pods must not sort every pod of the cluster.
                items = sorted(
                    (
                        obj
                        for obj in table.space.values()
                        if (namespace is None or obj.metadata.namespace == namespace)
                        and (sel is None or sel.matches(obj.metadata.labels))
                        and (fsel is None or fsel.matches(obj))
                    ),
                    key=attrgetter("key"),
                )
        if limit is None or limit <= 0 or len(items) <= limit:
            return ObjectList(cast(builtins.list[R], items), revision)
        token = self._pages.save(revision, items[limit:])
        return ObjectList(cast(builtins.list[R], items[:limit]), revision, token)

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
        if table.space.get(key) is not None:
            raise AlreadyExists(f'{info.plural} "{name}" already exists')
        request = None
        if self.admission:
            request = AdmissionRequest(self, "CREATE", name, namespace, info.plural, kind=info.kind)
            obj = cast(R, admission.admit(request, obj))
            meta = obj.metadata
        revision = self._synced() + 1
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
        stored = cast(R, self._commit(table, "create", ADDED, stored, None))
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
            if table.space.get((namespace, name)) is None:
                return name
        raise AlreadyExists(f"could not generate a unique name with prefix {prefix!r}")

    def _current_for_write(self, table: _Table, obj: Resource) -> Resource:
        key = self._key(table.info, obj.metadata.namespace, obj.metadata.name)
        current = table.space.get(key)
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
        errors = strategies.validate_update(obj, current)
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
        obj = cast(R, self._commit(table, "update", MODIFIED, obj, current))
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
        stored = self._commit(table, "update_status", MODIFIED, stored, current)
        return cast(R, stored)

    def delete(
        self,
        kind: type[R],
        name: str,
        namespace: str | None = None,
        *,
        options: DeleteOptions | None = None,
        **args: Unpack[DeleteArgs],
    ) -> R | None:
        """Delete an object. Returns the object if it is only marked for deletion
        (finalizers or graceful termination pending), None once it is gone.
        `options` or its fields as keywords (`engine.options.DeleteOptions`)."""
        opts = of(DeleteOptions, options, args)
        propagation_policy, grace_period_seconds = (
            opts.propagation_policy,
            opts.grace_period_seconds,
        )
        uid, resource_version = opts.uid, opts.resource_version
        table = self.table(kind)
        key = self._key(table.info, namespace, name)
        current = table.space.get(key)
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
        return cast(R, self._commit(table, "delete", MODIFIED, marked, current))

    def _remove(self, table: _Table, obj: Resource, verb: str) -> Resource:
        """Remove an object; returns its final state, stamped with the revision."""
        previous = table.space.get(obj.key)
        revision = self._next_revision()
        final = _stamp(obj, revision=revision)
        final = self._commit(table, verb, DELETED, final, previous)
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
        return cast(R, self._commit(table, verb, MODIFIED, stored, current))

    # Subresources and patches (`engine.subresources`), as methods of the store.
    apply = subresources.apply
    patch = subresources.patch
    bind = subresources.bind
    scale = subresources.scale

    def get_scale(self, kind: type[Resource], name: str, namespace: str | None = None) -> Scale:
        """The scale subresource of an object (`engine.subresources.ScaleCache`)."""
        return self._scales.get(self, kind, name, namespace)

    # -- watch ------------------------------------------------------------------------------

    def watch(
        self,
        kind: type[R],
        namespace: str | None = None,
        *,
        options: WatchOptions | None = None,
        capacity: int | None = None,
        **args: Unpack[WatchArgs],
    ) -> Watcher[R]:
        """Events of a kind after revision `since` (None: from now on). Raises Gone
        if `since` is older than the retained history. `options` or its fields
        as keywords (`engine.options.WatchOptions`); `capacity` bounds this
        watcher's buffer (default `watch_capacity`)."""
        opts = of(WatchOptions, options, args)
        since, bookmarks = opts.since, opts.bookmarks
        table = self.table(kind)
        if self._storage_of(kind) is not None:
            raise BadRequest(
                f"watch {kind.kind_name} in its storage version: converting watch events "
                "is not supported"
            )
        history = () if since is None else table.space.changes(since)  # Gone if compacted
        return table.fanout.open(
            history=history,
            namespace=namespace if table.info.namespaced else None,
            label_selector=_label_selector(opts.label_selector),
            field_selector=_field_selector(opts.field_selector, table.info),
            capacity=capacity or self.watch_capacity,
            clock=self.clock,
            current_revision=self._synced,
            bookmark_interval=self.bookmark_interval if bookmarks else None,
        )

    def watcher_count(self, kind: type[Resource]) -> int:
        return len(self.table(kind).fanout)

    def peek(self, kind: type[R], name: str, namespace: str = "") -> R | None:
        """`try_get` for admission's lookups on every create: the stored object of
        exactly this model (no conversion), without creating the kind's table."""
        table = self._tables.get(kind)
        return None if table is None else cast("R | None", table.space.get((namespace, name)))

    def objects_in(self, kind: type[R], namespace: str) -> builtins.list[R]:
        """The stored objects of a kind in one namespace, unordered and without
        copying; a kind never stored costs a dict lookup (admission asks this on
        every create, for LimitRanges and quotas that are mostly absent)."""
        table = self._tables.get(kind)
        if table is None or not len(table.space):
            return []
        found = [obj for obj in table.space.values() if obj.metadata.namespace == namespace]
        return cast(builtins.list[R], found)

    def objects(self, kind: type[R]) -> Iterable[R]:
        """Every stored object of a kind, unordered and without copying."""
        return cast(Iterable[R], self.table(kind).space.values())


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
