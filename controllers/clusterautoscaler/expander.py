"""Expanders: which node group a scale-up grows when several could help (CA's expander/).

An `Option` is one group with the number of nodes the binpacking estimate
wants and the pending pods those nodes would take. `choose(options, ...)`
runs the configured chain; each expander keeps its best options and hands
ties to the next one, and a seeded random choice breaks what is left:

* `random`: any option (the injected RNG).
* `least-waste`: the smallest fraction of the new nodes' cpu plus memory the
  pods leave idle (CA: wasted cpu ratio + wasted memory ratio).
* `most-pods`: the most pending pods scheduled.
* `priority`: the highest priority whose regular expressions match the group's
  name, from the `priorities` key of the kube-system ConfigMap
  `cluster-autoscaler-priority-expander` (YAML: priority -> list of regexes,
  matched in full as Go's regexp.MatchString matches anywhere: `re.search`).
  Groups that no entry matches are left out unless none matches at all.

Neighbours: `controllers.clusterautoscaler.scaleup` (builds the options).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import yaml

from engine.api.core import Node, Pod
from engine.podresources import pod_requests, resource_amount

__all__ = [
    "PRIORITY_CONFIG_MAP",
    "Option",
    "choose",
    "parse_priorities",
]

PRIORITY_CONFIG_MAP = "cluster-autoscaler-priority-expander"


@dataclass(slots=True)
class Option:
    group: str
    node_count: int
    template: Node
    pods: list[Pod] = field(default_factory=list)


def parse_priorities(text: str) -> dict[int, list[re.Pattern[str]]]:
    """The priority expander's `priorities` text; raises ValueError naming what is wrong."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"priorities: not YAML: {error}") from None
    if not isinstance(data, Mapping):
        raise ValueError("priorities: expected a map of priority to a list of regexes")
    out: dict[int, list[re.Pattern[str]]] = {}
    for key, patterns in data.items():
        try:
            priority = int(key)
        except (TypeError, ValueError):
            raise ValueError(f"priorities: {key!r} is not an integer") from None
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise ValueError(f"priorities[{priority}]: expected a list of strings")
        try:
            out[priority] = [re.compile(p) for p in patterns]
        except re.error as error:
            raise ValueError(f"priorities[{priority}]: bad regex: {error}") from None
    return out


def _wasted(option: Option) -> float:
    allocatable = option.template.status.allocatable or option.template.status.capacity
    cpu = allocatable.get("cpu")
    memory = allocatable.get("memory")
    cpu_total = resource_amount("cpu", cpu) * option.node_count if cpu is not None else 0
    mem_total = resource_amount("memory", memory) * option.node_count if memory else 0
    cpu_used = 0
    mem_used = 0
    for pod in option.pods:
        requests = pod_requests(pod.spec)
        cpu_used += requests.get("cpu", 0)
        mem_used += requests.get("memory", 0)
    wasted_cpu = (cpu_total - cpu_used) / cpu_total if cpu_total else 0.0
    wasted_mem = (mem_total - mem_used) / mem_total if mem_total else 0.0
    return wasted_cpu + wasted_mem


def _best(options: list[Option], key: Sequence[float]) -> list[Option]:
    top = max(key)
    return [o for o, k in zip(options, key, strict=True) if k == top]


def choose(
    options: Sequence[Option],
    expanders: Sequence[str],
    rng: random.Random,
    priorities: Mapping[int, list[re.Pattern[str]]] | None = None,
) -> Option | None:
    """The option the chain picks (see the module docstring); None if there is none."""
    left = list(options)
    if not left:
        return None
    for name in expanders:
        if len(left) == 1:
            break
        if name == "least-waste":
            left = _best(left, [-_wasted(o) for o in left])
        elif name == "most-pods":
            left = _best(left, [float(len(o.pods)) for o in left])
        elif name == "priority":
            left = _by_priority(left, priorities or {})
        elif name == "random":
            break
    return left[rng.randrange(len(left))] if len(left) > 1 else left[0]


def _by_priority(
    options: list[Option], priorities: Mapping[int, list[re.Pattern[str]]]
) -> list[Option]:
    ranked: list[tuple[int, Option]] = []
    for option in options:
        matching = [
            p for p, patterns in priorities.items() if any(r.search(option.group) for r in patterns)
        ]
        if matching:
            ranked.append((max(matching), option))
    if not ranked:
        return options
    top = max(p for p, _ in ranked)
    return [o for p, o in ranked if p == top]
