"""Shared pieces of server-side printing: apimachinery's HumanDuration, the
small formatters kube-apiserver's printers use (labels, selectors, quantities,
access modes...), column definitions with the published field descriptions,
and the registry of printers by (group, kind) that `engine.printers_workloads`
and `engine.printers_cluster` fill and `engine.printers.table` reads.

Neighbours: `engine.printers` (the Table), `engine.schema.builtin` (field docs).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from engine.quantity import parse_quantity
from engine.schema.builtin import definitions

Row = list[Any]
Printer = Callable[[Mapping[str, Any], datetime], Row]

# -- durations and timestamps ----------------------------------------------


def _trunc_div(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero)."""
    q = abs(a) // b
    return q if a >= 0 else -q


def human_duration(d: timedelta) -> str:
    """apimachinery's `duration.HumanDuration`: "45s", "5m3s", "3h", "2d5h", "3y"."""
    ns = d // timedelta(microseconds=1) * 1000
    seconds = _trunc_div(ns, 10**9)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _since(value: Any, now: datetime) -> str:
    """translateTimestampSince: "<unknown>" for a missing time."""
    moment = _time(value)
    if moment is None:
        return "<unknown>"
    return human_duration(now - moment)


# -- small formatters kubectl's printers share -------------------------------


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    value: Any = obj
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _map(obj: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    value = _get(obj, *path)
    return value if isinstance(value, Mapping) else {}


def _list(obj: Mapping[str, Any], *path: str) -> list[Any]:
    value = _get(obj, *path)
    return value if isinstance(value, list) else []


def _items(obj: Mapping[str, Any], *path: str) -> list[Mapping[str, Any]]:
    """The objects of a list field (entries of another type are skipped)."""
    return [item for item in _list(obj, *path) if isinstance(item, Mapping)]


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _name(obj: Mapping[str, Any]) -> str:
    return _str(_get(obj, "metadata", "name"))


def _age(obj: Mapping[str, Any], now: datetime) -> str:
    return _since(_get(obj, "metadata", "creationTimestamp"), now)


def format_labels(labels: Mapping[str, Any] | None) -> str:
    """labels.FormatLabels: sorted `k=v` pairs, "<none>" when empty."""
    if not isinstance(labels, Mapping) or not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def _selector_string(selector: Mapping[str, Any] | None) -> str:
    """metav1.LabelSelectorAsSelector(...).String() ("" selects everything)."""
    if not isinstance(selector, Mapping) or not selector:
        return ""
    parts: list[tuple[str, str]] = []
    for key, value in _map(selector, "matchLabels").items():
        parts.append((key, f"{key}={value}"))
    for expression in _items(selector, "matchExpressions"):
        key, op = _str(expression.get("key")), expression.get("operator")
        values = sorted({str(v) for v in _list(expression, "values")})
        if op == "In":
            parts.append((key, f"{key} in ({','.join(values)})"))
        elif op == "NotIn":
            parts.append((key, f"{key} notin ({','.join(values)})"))
        elif op == "Exists":
            parts.append((key, key))
        elif op == "DoesNotExist":
            parts.append((key, "!" + key))
    return ",".join(text for _, text in sorted(parts, key=lambda p: p[0]))


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """metav1.FormatLabelSelector: the selector's string, "<none>" when empty."""
    return _selector_string(selector) or "<none>"


def _containers(template_spec: Mapping[str, Any]) -> tuple[str, str]:
    containers = _items(template_spec, "containers")
    return (
        ",".join(_str(c.get("name")) for c in containers),
        ",".join(_str(c.get("image")) for c in containers),
    )


def _bool_ptr(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return "<unset>"


def _quantity(value: Any) -> str:
    if value is None:
        return "0"
    try:
        return str(parse_quantity(str(value)))
    except ValueError:
        return str(value)


def _int_or_string(value: Any) -> str:
    return str(value)


def _access_modes(modes: Sequence[Any]) -> str:
    """helper.GetAccessModesAsString: RWO, ROX, RWX, RWOP in that order."""
    present = {m for m in modes if isinstance(m, str)}
    short = (
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    )
    return ",".join(abbr for mode, abbr in short if mode in present)


def _with_more(items: list[str], count: int, limit: int, empty: str) -> str:
    text = ",".join(items)
    if count > limit:
        return f"{text} + {count - limit} more..."
    return text or empty


def _load_balancer(status: Mapping[str, Any]) -> str:
    found = set()
    for ingress in _items(status, "ingress"):
        if ingress.get("ip"):
            found.add(ingress["ip"])
        elif ingress.get("hostname"):
            found.add(ingress["hostname"])
    return ",".join(sorted(found))


# -- descriptions: the published field docs, as SwaggerDoc() gives them ----


@functools.cache
def _doc(reference: str) -> str:
    """`reference` is "<definition suffix>.<field>", e.g. "core.v1.PodSpec.nodeName"."""
    definition, _, field = reference.rpartition(".")
    prefix = "io.k8s.apimachinery.pkg.apis." if definition.startswith("meta.") else "io.k8s.api."
    schema = definitions().get(prefix + definition, {})
    return _str(_get(schema, "properties", field, "description"))


Column = tuple[str, str, str, int]  # name, type, description (or @reference), priority
_NAME: Final[Column] = ("Name", "string", "@meta.v1.ObjectMeta.name", 0)
_AGE: Final[Column] = ("Age", "string", "@meta.v1.ObjectMeta.creationTimestamp", 0)
_CONTAINERS: Final[Column] = ("Containers", "string", "Names of each container in the template.", 1)
_IMAGES: Final[Column] = (
    "Images",
    "string",
    "Images referenced by each container in the template.",
    1,
)


def _definition(column: Column) -> dict[str, Any]:
    name, type_, description, priority = column
    if description.startswith("@"):
        description = _doc(description[1:])
    return {
        "name": name,
        "type": type_,
        "format": "name" if column is _NAME or (name == "Name" and type_ == "string") else "",
        "description": description,
        "priority": priority,
    }


# -- the printers, by (group, kind) ------------------------------------------

PRINTERS: dict[tuple[str, str], tuple[tuple[Column, ...], Printer]] = {}


def _printer(group: str, kind: str, *columns: Column) -> Callable[[Printer], Printer]:
    def register(fn: Printer) -> Printer:
        PRINTERS[(group, kind)] = (columns, fn)
        return fn

    return register
