"""Options of list, watch and delete: one frozen type each, defined once.

`ListOptions`, `WatchOptions` and `DeleteOptions` carry what Kubernetes'
ListOptions and DeleteOptions carry (in kubeloop's snake_case). Every
signature that takes them (`Client`, `LocalClient`, `Store`, the simulation's
fault-injecting client) accepts `options=` and, for the callers written
before these types, the same fields as keyword arguments, typed by the
`...Args` TypedDict beside each type (`**args: Unpack[ListArgs]`); `of`
merges the two, keywords winning. A new option is one field here and one
line in its TypedDict, and reaches every signature without touching it.

Neighbours: `engine.client` and `engine.store` (take them), `engine.paging`
(`ListOptions.limit`/`continue_`), `engine.informer` (lists and watches).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TypedDict, TypeVar

from engine.fieldselectors import FieldSelector
from engine.selectors import Selector

__all__ = [
    "DeleteArgs",
    "DeleteOptions",
    "FieldSelectorArg",
    "LabelSelectorArg",
    "ListArgs",
    "ListOptions",
    "WatchArgs",
    "WatchOptions",
    "of",
]

LabelSelectorArg = Selector | str | None
"""A parsed label selector, its text (`app=web,tier!=db`), or None for all."""
FieldSelectorArg = FieldSelector | str | None
"""A parsed field selector, its text (`spec.nodeName=n1`), or None for all."""


@dataclass(frozen=True, slots=True)
class ListOptions:
    """What to list: selectors, and a page (`limit` items from `continue_`)."""

    label_selector: LabelSelectorArg = None
    field_selector: FieldSelectorArg = None
    limit: int | None = None
    """At most this many items, with a continue token for the rest (None or 0: all)."""
    continue_: str | None = None
    """The token of the previous page (its list's revision is kept)."""


class ListArgs(TypedDict, total=False):
    """`ListOptions`' fields as keyword arguments."""

    label_selector: LabelSelectorArg
    field_selector: FieldSelectorArg
    limit: int | None
    continue_: str | None


@dataclass(frozen=True, slots=True)
class WatchOptions:
    """What to watch: selectors, where to start, and whether to get bookmarks."""

    label_selector: LabelSelectorArg = None
    field_selector: FieldSelectorArg = None
    since: int | None = None
    """Events after this revision (None: from now on); Gone if compacted."""
    bookmarks: bool = False
    """BOOKMARK events carrying the current revision while nothing else comes."""


class WatchArgs(TypedDict, total=False):
    """`WatchOptions`' fields as keyword arguments."""

    label_selector: LabelSelectorArg
    field_selector: FieldSelectorArg
    since: int | None
    bookmarks: bool


@dataclass(frozen=True, slots=True)
class DeleteOptions:
    """How to delete: propagation, grace period, and preconditions."""

    propagation_policy: str | None = None
    """"Background" (the default), "Foreground" or "Orphan"."""
    grace_period_seconds: int | None = None
    uid: str | None = None
    """Precondition: the object still has this uid (Conflict otherwise)."""
    resource_version: str | None = None
    """Precondition: the object is still at this resourceVersion (Conflict otherwise)."""


class DeleteArgs(TypedDict, total=False):
    """`DeleteOptions`' fields as keyword arguments."""

    propagation_policy: str | None
    grace_period_seconds: int | None
    uid: str | None
    resource_version: str | None


Opts = TypeVar("Opts", ListOptions, WatchOptions, DeleteOptions)

_DEFAULTS: dict[type[object], object] = {
    ListOptions: ListOptions(),
    WatchOptions: WatchOptions(),
    DeleteOptions: DeleteOptions(),
}


def of(kind: type[Opts], options: Opts | None, args: Mapping[str, object]) -> Opts:
    """The options of one call: `options` (or the defaults) with the keyword
    arguments `args` (a `...Args` dict) set over them."""
    if options is None:
        if not args:
            return _DEFAULTS[kind]  # type: ignore[return-value]
        return kind(**args)  # type: ignore[arg-type]
    if not isinstance(options, kind):
        raise TypeError(f"options must be {kind.__name__}, not {type(options).__name__}")
    return replace(options, **args) if args else options  # type: ignore[arg-type]
