"""The HorizontalPodAutoscaler's desired state (registered in
`liveness.DESIRED` as `autoscalers`).

With a constant load, an HPA settles on the replica count Kubernetes'
formula gives and stays there: the fuzzed pods use a fixed share of their
cpu request (the simulated runtime's usage model: half the request, or the
`sim.kubeloop.io/cpu` timeline's first value), so every pod's utilization U
is the same and the usage ratio r = U / target does not depend on the
count: above 1 + tolerance the Deployment must be at maxReplicas; below
1 - tolerance the formula ceil(r * N) takes N down until it rounds back up
to N itself (N < 1 / (1 - r)) or reaches minReplicas, so N must be
minReplicas or such a fixed point (50 % of a 70 % target holds at 3: ceil(3
* 5/7) = 3); in between anywhere in [min, max]. In
every case a Deployment scaled by an HPA is never outside [minReplicas,
maxReplicas] once stable (unless scaled to 0 by hand, which turns
autoscaling off, as in Kubernetes).

The exact count is only required while every pod of the Deployment runs and
is ready: pending or unready pods count as 0 % on a scale-up (Kubernetes'
rule), which may rightly hold the count below max when nodes are short.

Neighbours: `runtime.simulation.liveness` (the registry),
`runtime.simulation.strategies_apps.autoscalers` (the HPAs fuzzed),
`controllers.podautoscaler` (the controller checked).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from controllers.common.pods import is_pod_active, is_pod_ready
from engine.api import Deployment, HorizontalPodAutoscaler, Pod
from engine.api.core import PodTemplateSpec
from engine.selectors import from_label_selector
from runtime.runtimes.behavior import ANNOTATION_PREFIX, BehaviorError, ContainerBehavior

__all__ = ["autoscalers", "template_utilization"]

TOLERANCE = 0.1
DEFAULT_CPU_MILLIS = 5.0


def _millicores(value: float) -> int:
    return int(value + 0.5)  # as the metrics server rounds a sample


def template_utilization(template: PodTemplateSpec) -> int | None:
    """Every pod's cpu utilization (% of request) under the simulated usage
    model, or None when a container has no cpu request or the usage is not
    constant (a timeline with steps, load per request)."""
    annotations = template.metadata.annotations
    try:
        pod_wide = ContainerBehavior().overridden(
            {
                k[len(ANNOTATION_PREFIX) :]: v
                for k, v in annotations.items()
                if k.startswith(ANNOTATION_PREFIX) and "." not in k[len(ANNOTATION_PREFIX) :]
            }
        )
    except BehaviorError:
        return None
    if pod_wide.cpu_per_request or (pod_wide.cpu is not None and len(pod_wide.cpu.steps) > 1):
        return None
    if any(
        k.startswith(ANNOTATION_PREFIX) and "." in k[len(ANNOTATION_PREFIX) :] for k in annotations
    ):
        return None  # per-container overrides: not modelled here
    usage = requests = 0
    for container in template.spec.containers:
        request = container.resources.requests.get("cpu")
        if request is None:
            return None
        requests += request.milli_value()
        if pod_wide.cpu is not None:
            usage += _millicores(pod_wide.cpu.steps[0][1])
        else:
            usage += _millicores(request.milli_value() / 2 or DEFAULT_CPU_MILLIS)
    if requests == 0 or template.spec.init_containers:
        return None
    return usage * 100 // requests


def _cpu_target(hpa: HorizontalPodAutoscaler) -> int | None:
    metrics = hpa.spec.metrics
    if len(metrics) != 1 or metrics[0].type != "Resource" or metrics[0].resource is None:
        return None
    source = metrics[0].resource
    if source.name != "cpu" or source.target.type != "Utilization":
        return None
    return source.target.average_utilization


def autoscalers(ctx: Any) -> Iterator[Any]:
    from runtime.simulation.liveness import Difference

    deployments = {(d.metadata.namespace, d.metadata.name): d for d in ctx.objects(Deployment)}
    for hpa in ctx.objects(HorizontalPodAutoscaler):
        ref = hpa.spec.scale_target_ref
        if ref is None or ref.kind != "Deployment":
            continue
        deployment = deployments.get((hpa.metadata.namespace, ref.name))
        if deployment is None or deployment.metadata.deletion_timestamp is not None:
            continue
        replicas = deployment.spec.replicas
        minimum, maximum = hpa.spec.min_replicas, hpa.spec.max_replicas
        where = ("HorizontalPodAutoscaler", hpa.metadata.namespace, hpa.metadata.name)
        if replicas == 0 and minimum > 0:
            continue  # scaled to zero by hand: autoscaling is off
        if not minimum <= replicas <= maximum:
            yield Difference(*where, "target replicas", replicas, f"within [{minimum}, {maximum}]")
            continue
        target = _cpu_target(hpa)
        utilization = template_utilization(deployment.spec.template)
        if target is None or utilization is None:
            continue
        ratio = utilization / target
        if ratio > 1 + TOLERANCE:
            settled, want = replicas == maximum, str(maximum)
        elif ratio < 1 - TOLERANCE:
            # Kubernetes' step is ceil(ratio * ready pods), in floating point.
            settled = replicas == minimum or math.ceil(ratio * replicas) >= replicas
            want = f"{minimum} or a count N with ceil({ratio:.3f} * N) = N"
        else:
            continue  # within tolerance: any count in range holds
        selector = from_label_selector(deployment.spec.selector)
        pods = [
            p
            for p in ctx.objects(Pod)
            if p.metadata.namespace == deployment.metadata.namespace
            and selector.matches(p.metadata.labels)
            and is_pod_active(p)
        ]
        if any(not is_pod_ready(p) for p in pods) or len(pods) != replicas:
            continue  # pods not all up: the formula rightly waits
        if not settled:
            yield Difference(
                *where, f"target replicas at {utilization}% of a {target}% target", replicas, want
            )
