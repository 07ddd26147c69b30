"""The kind registry: kind <-> group/version <-> plural <-> model <-> namespaced.

A kind is identified in Python by its model class (`Pod`, `Deployment`, or a
user's own subclass of `Resource`); the registry answers the other names for
it. Built-in kinds with models register themselves when `engine.api` is
imported; the rest of the served catalogue (`engine.catalogue`, schema-backed)
registers on the registry's first lookup or iteration. Custom
kinds register a typed model with `@kind(...)`, or stay unstructured through
`register_unstructured`, and from then on get store, watch, informers and
controllers like any built-in kind.

Neighbours: `engine.api` (the models), `engine.manifests` (looks kinds up by
apiVersion and kind), `engine.store` (keeps one table per kind).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ConfigDict, Field

from engine.api.base import Resource
from engine.configfiles import config_file_owner
from engine.errors import BadRequest
from engine.gated import gated_message

__all__ = [
    "REGISTRY",
    "KindInfo",
    "Registry",
    "Unstructured",
    "builtin_registry",
    "kind",
    "register_unstructured",
]

R = TypeVar("R", bound=type[Resource])


@dataclass(frozen=True, slots=True)
class KindInfo:
    """Everything the machinery needs to know about one kind (a snapshot of the
    model's class variables when it was registered)."""

    model: type[Resource]
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    has_status_subresource: bool
    has_scale_subresource: bool = False
    read_only: bool = False
    """Served by an aggregated API (get and list only; `engine.aggregated`)."""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_kind(self) -> str:
        """`Kind.group` (or just `Kind` for the core group), as kubectl prints it."""
        return f"{self.kind}.{self.group}" if self.group else self.kind


class Registry:
    """A set of kinds, looked up by model, by (apiVersion, kind) or by plural."""

    def __init__(self) -> None:
        self._by_model: dict[type[Resource], KindInfo] = {}
        self._by_gvk: dict[tuple[str, str], KindInfo] = {}
        self._by_plural: dict[tuple[str, str], KindInfo] = {}
        self._builtins_loaded = False

    def register(self, model: type[Resource]) -> KindInfo:
        """Add a model whose class variables name its kind; idempotent per model."""
        if not model.kind_name or not model.api_group_version or not model.plural:
            raise ValueError(
                f"{model.__name__}: kind_name, api_group_version and plural are required"
            )
        group, _, version = model.api_group_version.rpartition("/")
        info = KindInfo(
            model=model,
            group=group,
            version=version,
            kind=model.kind_name,
            plural=model.plural,
            namespaced=model.namespaced,
            has_status_subresource=model.has_status_subresource,
            has_scale_subresource=model.has_scale_subresource,
            read_only=model.read_only,
        )
        existing = self._by_gvk.get((info.api_version, info.kind))
        if existing is not None and existing.model is not model:
            raise ValueError(
                f"kind {info.kind} in {info.api_version} is already registered "
                f"by {existing.model.__name__}"
            )
        self._by_model[model] = info
        self._by_gvk[(info.api_version, info.kind)] = info
        # The first version registered of a kind is its preferred (storage) one.
        self._by_plural.setdefault((info.group, info.plural), info)
        return info

    def info(self, model: type[Resource]) -> KindInfo:
        """The kind of a registered model; KeyError names unregistered ones."""
        try:
            return self._by_model[model]
        except KeyError:
            raise KeyError(f"{model.__name__} is not a registered kind") from None

    def _ensure_builtins(self) -> None:
        # Importing only this module does not register the built-in kinds (the
        # API package imports this one); lookups by name load them on first use.
        if self is REGISTRY and not self._builtins_loaded:
            self._builtins_loaded = True
            importlib.import_module("engine.api").load_builtin_kinds()
            importlib.import_module("engine.catalogue").register_catalogue(self)

    def lookup(self, api_version: str, kind_name: str) -> KindInfo:
        """The kind for a manifest's apiVersion and kind, or BadRequest naming both."""
        self._ensure_builtins()
        info = self._by_gvk.get((api_version, kind_name))
        if info is None:
            raise BadRequest(self._unknown_kind_message(api_version, kind_name))
        return info

    def _unknown_kind_message(self, api_version: str, kind_name: str) -> str:
        """Why (api_version, kind_name) is not known: a removed version (naming its
        replacement), a kind served in other versions, or a group that needs
        its CustomResourceDefinition first."""
        removed = importlib.import_module("engine.removed").removed_message(api_version, kind_name)
        if removed is not None:
            return str(removed)
        base = f'no kind "{kind_name}" is registered for apiVersion "{api_version}"'
        owner = config_file_owner(api_version, kind_name)
        if owner is not None:
            return (
                f"{base}: {kind_name} is a {owner}, read by that program, "
                "not an object an apiserver serves"
            )
        group = api_version.rpartition("/")[0]
        versions = sorted(i.api_version for i in self._by_gvk.values() if i.kind == kind_name)
        if versions and group in {v.rpartition("/")[0] for v in versions}:
            return f"{base}; {kind_name} is served as {', '.join(versions)}"
        gated = gated_message(api_version, kind_name)
        if gated is not None:
            return f"{base}: {gated}"
        builtin_groups = importlib.import_module("engine.catalogue").SERVED_GROUPS
        if group in builtin_groups:
            return f"{base}: {group or 'the core group'} is a built-in API group without this kind"
        if "." in group:
            return (
                f"{base}: {group} looks like a custom resource group; create the "
                f"CustomResourceDefinition of {kind_name} first"
            )
        return base

    def replace(self, model: type[Resource]) -> KindInfo:
        """Register `model`, taking its apiVersion, kind and plural over from any
        model that had them (a CRD defining a kind again)."""
        group = model.api_group_version.rpartition("/")[0]
        old = self._by_gvk.get((model.api_group_version, model.kind_name))
        if old is not None and old.model is not model:
            self.unregister(old.model)
        old_plural = self._by_plural.get((group, model.plural))
        if old_plural is not None and old_plural.model is not model:
            owner = getattr(old_plural.model, "crd_name", None)
            # Another version of the same CRD keeps its entry (the storage version's).
            if owner is None or owner != getattr(model, "crd_name", None):
                self.unregister(old_plural.model)
        self._by_model.pop(model, None)
        return self.register(model)

    def has_gvk(self, api_version: str, kind_name: str) -> bool:
        """Whether a kind is registered for (api_version, kind_name)."""
        return (api_version, kind_name) in self._by_gvk

    def unregister(self, model: type[Resource]) -> None:
        """Remove a kind (a deleted CustomResourceDefinition's); no-op if absent."""
        info = self._by_model.pop(model, None)
        if info is None:
            return
        if self._by_gvk.get((info.api_version, info.kind)) is info:
            del self._by_gvk[(info.api_version, info.kind)]
        if self._by_plural.get((info.group, info.plural)) is info:
            del self._by_plural[(info.group, info.plural)]

    def by_plural(self, group: str, plural: str) -> KindInfo | None:
        self._ensure_builtins()
        return self._by_plural.get((group, plural))

    def __contains__(self, model: object) -> bool:
        return model in self._by_model

    def __iter__(self) -> Iterator[KindInfo]:
        self._ensure_builtins()
        return iter(list(self._by_model.values()))


REGISTRY = Registry()
"""The process-wide registry that built-in kinds and `@kind` register into."""


def builtin_registry() -> Registry:
    """A new registry holding only the built-in kinds (typed models, then the
    schema-backed catalogue), in an order fixed by `engine.api.GROUP_MODULES`.

    `REGISTRY` also holds whatever kinds code earlier in the process
    registered (`@kind`, CustomResourceDefinitions), and its built-ins come in
    whichever order their modules were first imported. A cluster that must
    behave the same whatever ran before it in the process (a simulation
    replaying a recorded schedule) serves this registry instead: the garbage
    collector keeps an informer per served kind, and each extra informer's
    tasks change how the event loop interleaves everything else.
    """
    REGISTRY._ensure_builtins()
    modules = (*importlib.import_module("engine.api").GROUP_MODULES, "engine.catalogue")

    def rank(info: KindInfo) -> int | None:
        module = info.model.__module__
        for i, group_module in enumerate(modules):
            if module == group_module or module.startswith(group_module + "."):
                return i
        return None

    ranked = [(r, info) for info in REGISTRY if (r := rank(info)) is not None]
    # A stable sort: kinds of one module keep their definition order, so the
    # first version of a kind registered stays its preferred one.
    ranked.sort(key=lambda pair: pair[0])
    registry = Registry()
    for _, info in ranked:
        registry.register(info.model)
    return registry


def kind(
    api_version: str,
    kind_name: str,
    *,
    plural: str | None = None,
    namespaced: bool = True,
    status_subresource: bool = True,
    scale_subresource: bool = False,
    read_only: bool = False,
    registry: Registry | None = None,
) -> Callable[[R], R]:
    """Class decorator registering a `Resource` subclass as a kind.

    `scale_subresource`: the kind has the scale subresource at `spec.replicas`
    (`Store.get_scale`/`scale`; the HorizontalPodAutoscaler scales it).
    `read_only`: an aggregated API serves it (get and list only).

    >>> @kind("example.com/v1", "Widget")
    ... class Widget(Resource): ...
    """

    def decorate(model: R) -> R:
        model.api_group_version = api_version
        model.kind_name = kind_name
        model.plural = plural or default_plural(kind_name)
        model.namespaced = namespaced
        model.has_status_subresource = status_subresource
        model.has_scale_subresource = scale_subresource
        model.read_only = read_only
        (registry or REGISTRY).register(model)
        return model

    return decorate


def default_plural(kind_name: str) -> str:
    """Kubernetes' guess of a plural: lower case, `y` -> `ies`, `s`/`x` -> `es`."""
    lower = kind_name.lower()
    if lower.endswith("y") and lower[-2:-1] not in ("a", "e", "i", "o", "u"):
        return lower[:-1] + "ies"
    if lower.endswith(("s", "x", "ch", "sh")):
        return lower + "es"
    return lower + "s"


class Unstructured(Resource):
    """A kind without a typed model: spec, status and any other top-level field
    are kept as plain JSON values (read them from `model_extra`)."""

    model_config = ConfigDict(extra="allow")

    spec: dict[str, Any] = Field(default_factory=dict)
    status: dict[str, Any] = Field(default_factory=dict)


def register_unstructured(
    api_version: str,
    kind_name: str,
    *,
    plural: str | None = None,
    namespaced: bool = True,
    status_subresource: bool = True,
    registry: Registry | None = None,
) -> type[Unstructured]:
    """Register a custom kind stored as unstructured JSON; returns its class."""
    model = type(kind_name, (Unstructured,), {"__module__": __name__})
    return kind(
        api_version,
        kind_name,
        plural=plural,
        namespaced=namespaced,
        status_subresource=status_subresource,
        registry=registry,
    )(model)
