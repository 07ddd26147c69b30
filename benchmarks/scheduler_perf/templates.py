"""Object templates of scheduler_perf workloads: a YAML manifest per file, read
relative to the configuration file, turned into many objects.

`{{.Index}}` in a template (Go template syntax, as scheduler_perf uses it) is
replaced by the object's index within its op before the YAML is parsed; a
template without it is parsed and validated once and copied per object with
a fresh name. Names: the template's `metadata.name` when given, else its
`generateName` followed by a run-wide counter (what the API server's random
suffix would be). Nodes get the `kubernetes.io/hostname` label set to their
name, as scheduler_perf's node preparer does.

When no path is given, the defaults are scheduler_perf's own node-default
(4 cpu, 32Gi, 110 pods) and pod-default (100m / 500Mi) templates.

Neighbours: `benchmarks.scheduler_perf.runner` (creates what this builds),
`engine.manifests.parse_object` (validation and defaulting).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Final

import yaml

from benchmarks.scheduler_perf.config import ConfigError
from engine.api.base import Resource
from engine.api.core import Node
from engine.errors import ApiError
from engine.manifests import parse_object

__all__ = ["DEFAULT_NODE", "DEFAULT_POD", "Templates"]

DEFAULT_NODE: Final = """\
apiVersion: v1
kind: Node
metadata:
  generateName: scheduler-perf-
spec: {}
status:
  capacity: {pods: "110", cpu: "4", memory: 32Gi}
  conditions: [{status: "True", type: Ready}]
  phase: Running
"""
DEFAULT_POD: Final = """\
apiVersion: v1
kind: Pod
metadata:
  generateName: pod-
spec:
  containers:
  - image: registry.k8s.io/pause:3.10.1
    name: pause
    ports: [{containerPort: 80}]
    resources:
      limits: {cpu: 100m, memory: 500Mi}
      requests: {cpu: 100m, memory: 500Mi}
"""
_INDEX: Final = "{{.Index}}"
HOSTNAME: Final = "kubernetes.io/hostname"
# libyaml's loader when PyYAML has it: templates with {{.Index}} are parsed per object.
_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Templates:
    """Reads templates relative to `base` and builds named objects from them."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._texts: dict[str, str] = {}
        self._parsed: dict[str, tuple[Resource, bool]] = {}
        self._counter = itertools.count()

    def text(self, path: str | None, default: str) -> str:
        if path is None:
            return default
        text = self._texts.get(path)
        if text is None:
            full = self.base / path
            try:
                text = full.read_text()
            except OSError as error:
                raise ConfigError(f"cannot read template {full}: {error.strerror}") from None
            self._texts[path] = text
        return text

    def build(
        self,
        path: str | None,
        default: str,
        index: int,
        *,
        namespace: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> Resource:
        """Object number `index` of the op, named, in `namespace` (if namespaced),
        with `labels` added."""
        text = self.text(path, default)
        key = path or default
        source = str(self.base / path) if path else "built-in template"
        if _INDEX in text:
            base, named = _parse(text.replace(_INDEX, str(index)), source)
        else:
            cached = self._parsed.get(key)
            if cached is None:
                cached = _parse(text, source)
                self._parsed[key] = cached
            base, named = cached
        meta = base.metadata
        name = meta.name if named else f"{meta.generate_name or 'object-'}{next(self._counter):06d}"
        update: dict[str, Any] = {"name": name, "generate_name": None}
        if namespace is not None and type(base).namespaced:
            update["namespace"] = namespace
        if isinstance(base, Node) or labels:
            merged = dict(meta.labels)
            if isinstance(base, Node):
                merged.setdefault(HOSTNAME, name)
            merged.update(labels or {})
            update["labels"] = merged
        return base.model_copy(update={"metadata": meta.model_copy(update=update)})


def _parse(text: str, source: str) -> tuple[Resource, bool]:
    """The validated object and whether the template names it."""
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as error:
        raise ConfigError(f"{source}: not valid YAML: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("metadata", {}), dict):
        raise ConfigError(f"{source}: a template is one manifest (a mapping with metadata)")
    meta = dict(data.get("metadata") or {})
    named = bool(meta.get("name"))
    if not named:
        # A placeholder name lets validation run once; `build` names each copy.
        meta["name"] = "template-placeholder"
        meta.setdefault("generateName", "object-")
    try:
        obj = parse_object({**data, "metadata": meta}, source=source)
    except ApiError as error:
        raise ConfigError(str(error)) from None
    return obj, named
