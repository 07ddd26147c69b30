"""Scale-up planning: which group grows, and by how many nodes (CA's core/scaleup).

`plan_scale_up(...)` works on the simulator, forked by the caller:

1. Upcoming nodes (requested, not registered yet) join the simulation as
   copies of their group's template, so pods they will take do not ask for
   more nodes.
2. Pending pods that now fit some node (an existing or an upcoming one) are
   placed there and dropped, as CA's filter-out-schedulable does: the
   scheduler will place them.
3. For each group that is not at its maximum nor backed off, the scheduler's
   PreFilter and Filter plugins decide which of the remaining pods fit an
   empty template node; the binpacking estimator (first-fit decreasing by the
   pods' cpu and memory share of a node, on template nodes added one at a time)
   says how many nodes they need, capped by the group's maximum and
   `max_nodes_total`.
4. The expander chain picks one option.

Pods that fit no group are reported with why (the scheduler's own messages,
counted over groups), for the NotTriggerScaleUp events.

Neighbours: `controllers.clusterautoscaler.autoscaler` (calls it, applies the
result), `expander`, `provider.Simulator`.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from controllers.clusterautoscaler.expander import Option, choose
from controllers.clusterautoscaler.provider import NodeGroup, Simulator
from engine.api.base import ObjectMeta
from engine.api.core import Node, Pod
from engine.podresources import pod_requests, resource_amount

__all__ = ["ScaleUpPlan", "named_template", "plan_scale_up"]

HOSTNAME = "kubernetes.io/hostname"
MAX_GROUP_SIZE_REACHED = "max node group size reached"
IN_BACKOFF = "in backoff after failed scale-up"
MAX_TOTAL_REACHED = "max cluster size reached"


@dataclass(slots=True)
class ScaleUpPlan:
    chosen: Option | None
    options: list[Option]
    fit_existing: int
    """Pending pods that fit existing or upcoming nodes."""
    not_helped: dict[str, tuple[Pod, Counter[str]]] = field(default_factory=dict)
    """uid -> (pod, reasons over groups) for pods no option helps."""


def named_template(template: Node, name: str) -> Node:
    """The group's template as a node called `name`."""
    labels = {**template.metadata.labels, HOSTNAME: name}
    meta = ObjectMeta(name=name, labels=labels, annotations=dict(template.metadata.annotations))
    return template.model_copy(update={"metadata": meta})


def _share(pod: Pod, template: Node) -> float:
    allocatable = template.status.allocatable or template.status.capacity
    requests = pod_requests(pod.spec)
    share = 0.0
    for resource in ("cpu", "memory"):
        total = allocatable.get(resource)
        amount = resource_amount(resource, total) if total is not None else 0
        if amount:
            share += requests.get(resource, 0) / amount
    return share


def _estimate(
    sim: Simulator, group: str, template: Node, pods: list[Pod], limit: int
) -> tuple[int, list[Pod]]:
    """Binpacking: nodes needed for `pods` (at most `limit`) and the pods they take."""
    new_nodes: list[str] = []
    scheduled: list[Pod] = []
    for pod in sorted(pods, key=lambda p: -_share(p, template)):
        target = None
        if new_nodes:
            if sim.fits(pod, new_nodes[-1]) is None:
                target = new_nodes[-1]
            else:
                target = sim.find_node(pod, among=new_nodes)
        if target is None:
            if len(new_nodes) >= limit:
                continue
            name = f"template-node-for-{group}-{len(new_nodes)}"
            mark = sim.mark()
            sim.add_node(named_template(template, name))
            if sim.fits(pod, name) is not None:
                sim.revert(mark)
                continue
            new_nodes.append(name)
            target = name
        sim.place(pod, target)
        scheduled.append(pod)
    return len(new_nodes), scheduled


def plan_scale_up(
    sim: Simulator,
    groups: Sequence[NodeGroup],
    pending: Sequence[Pod],
    *,
    upcoming: Mapping[str, Sequence[str]],
    backed_off: Callable[[str], bool],
    nodes_left: int | None,
    expanders: Sequence[str],
    rng: random.Random,
    priorities: Mapping[int, list[re.Pattern[str]]] | None = None,
    exclude: frozenset[str] = frozenset(),
) -> ScaleUpPlan:
    """See the module docstring. `sim` must be forked; the caller reverts it."""
    templates = {g.name: g.template_node() for g in groups}
    for group in groups:
        for name in upcoming.get(group.name, ()):
            sim.add_node(named_template(templates[group.name], name))
    remaining: list[Pod] = []
    for pod in pending:
        node = sim.find_node(pod, exclude=exclude)
        if node is None:
            remaining.append(pod)
        else:
            sim.place(pod, node)
    plan = ScaleUpPlan(None, [], len(pending) - len(remaining))
    if not remaining:
        return plan
    reasons: dict[str, Counter[str]] = {p.metadata.uid: Counter() for p in remaining}
    helped: set[str] = set()
    for group in sorted(groups, key=lambda g: g.name):
        target = group.target_size()
        if backed_off(group.name):
            for counter in reasons.values():
                counter[IN_BACKOFF] += 1
            continue
        limit = group.max_size - target
        if nodes_left is not None:
            limit = min(limit, nodes_left)
        if limit <= 0:
            why = MAX_GROUP_SIZE_REACHED if group.max_size <= target else MAX_TOTAL_REACHED
            for counter in reasons.values():
                counter[why] += 1
            continue
        template = templates[group.name]
        probe = f"template-node-for-{group.name}-probe"
        mark = sim.mark()
        sim.add_node(named_template(template, probe))
        fitting: list[Pod] = []
        for pod in remaining:
            why_not = sim.fits(pod, probe)
            if why_not is None:
                fitting.append(pod)
            else:
                reasons[pod.metadata.uid][why_not] += 1
        sim.revert(mark)
        if not fitting:
            continue
        count, scheduled = _estimate(sim, group.name, template, fitting, limit)
        sim.revert(mark)
        if count:
            plan.options.append(Option(group.name, count, template, scheduled))
            helped.update(p.metadata.uid for p in scheduled)
    plan.chosen = choose(plan.options, expanders, rng, priorities)
    plan.not_helped = {
        p.metadata.uid: (p, reasons[p.metadata.uid])
        for p in remaining
        if p.metadata.uid not in helped
    }
    return plan
