"""Scenario files: a cluster and a list of timed steps, in YAML.

    cluster:                  # optional; every key has a default
      nodes: 100              # or node_pools: [{name: big, count: 10, cpu: "16"}]
      seed: 7                 # a pool with min_count/max_count is autoscaled
      cluster_autoscaler: {expander: least-waste}   # options, as AutoscalingOptions
    steps:
      - apply: nginx.yaml     # a path (relative to the scenario file) or inline manifests
      - wait: converged       # `converged`, or seconds of cluster time
        timeout: 300
      - set_image: {deployment: web, container: nginx, image: "nginx:1.28"}
      - scale: {kind: Deployment, name: web, replicas: 10}
      - fail_node: node-3     # also crash_node, partition_node, restore_node
      - drain: node-2         # kubectl drain --ignore-daemonsets --force (timeout applies)
      - at: 600               # any step may wait until this cluster time first
        restore_node: node-3
      - delete: {kind: Deployment, name: web}
      - assert: {kind: Deployment, name: web, path: status.availableReplicas, equals: 10}
      - metric: {kind: Pod, name: web-0, metric: rps, value: "12"}   # custom metric
      - metric: {external: queue_ready, value: 30, labels: {queue: jobs}}
      - traffic: {service: web, rps: 1000, duration: 60}   # or ingress: NAME (host, path)

Each step has exactly one action; `at` (absolute cluster seconds), `after`
(seconds after the previous step) and `timeout` (for waits and drains) are
optional.
A `traffic` step starts simulated requests to a Service (or through an
Ingress, with `host` and `path`) and returns at once: they flow for
`duration` cluster seconds while the next steps run (a rolling update under
traffic), and the run waits for them before it ends. Each target's requests,
errors and latency p50/p99 are in the summary (`runtime.network.traffic`).
The whole file is validated before the cluster starts; a bad step is an error
naming its index and field. `run_scenario` returns each step's timing and
result; a step that ends the run (a wait that timed out, a failed step) is
reported as such, and `not_run` adds the steps after it. A step the API
refuses when it runs (an immutable field changed, an object that is not
there) raises `StepRejected` naming the step: the scenario stops there
(`kubeloop run` exits 2).

Neighbours: `runtime.cluster` (runs the steps), `runtime.cli` (`kubeloop run`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from controllers.clusterautoscaler import AutoscalingOptions
from engine.api.apps import Deployment
from engine.api.integers import Int32
from engine.documents import decode_documents, read_text
from engine.errors import ApiError, BadRequest, FieldError, Invalid
from engine.manifests import load_manifests
from engine.registry import REGISTRY
from runtime.cluster import Cluster, ClusterConfig, NodePool

__all__ = [
    "AssertionFailed",
    "Scenario",
    "Step",
    "StepRejected",
    "StepResult",
    "TrafficArgs",
    "load_scenario",
    "not_run",
    "run_scenario",
]

ACTIONS = (
    "apply",
    "wait",
    "scale",
    "set_image",
    "delete",
    "fail_node",
    "crash_node",
    "partition_node",
    "restore_node",
    "drain",
    "assert",
    "metric",
    "traffic",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ObjectRef(_Strict):
    kind: str
    name: str
    namespace: str | None = None
    api_version: str | None = Field(None, alias="apiVersion")


class ScaleArgs(ObjectRef):
    replicas: Int32 = Field(ge=0)


class SetImageArgs(_Strict):
    deployment: str
    container: str | None = None
    image: str
    namespace: str | None = None


class AssertArgs(ObjectRef):
    path: str
    equals: Any


class MetricArgs(_Strict):
    """Publish a custom metric (`kind`, `name`, `metric`) or an external one
    (`external`, optional `labels`) with `value` (`runtime.metrics.custom`)."""

    value: str | int | float
    namespace: str = "default"
    kind: str | None = None
    name: str | None = None
    metric: str | None = None
    external: str | None = None
    labels: dict[str, str] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> MetricArgs:
        custom = (self.kind, self.name, self.metric)
        if self.external is None and None in custom:
            raise ValueError("a metric step needs kind, name and metric, or external")
        if self.external is not None and any(v is not None for v in custom):
            raise ValueError("a metric step is either custom (kind, name, metric) or external")
        return self


class TrafficArgs(_Strict):
    service: str | None = None
    ingress: str | None = None
    namespace: str | None = None
    rps: float = Field(gt=0)
    duration: float = Field(gt=0)
    path: str = "/"
    host: str | None = None
    port: int | str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> TrafficArgs:
        if (self.service is None) == (self.ingress is None):
            raise ValueError("traffic needs exactly one of service or ingress")
        if not self.path.startswith("/"):
            raise ValueError(f"traffic path must start with '/', got {self.path!r}")
        return self


class Step(_Strict):
    """One scenario step (see the module docstring)."""

    at: float | None = Field(None, ge=0)
    after: float | None = Field(None, ge=0)
    timeout: float | None = Field(None, gt=0)
    apply: str | None = None
    wait: Literal["converged"] | float | None = None
    scale: ScaleArgs | None = None
    set_image: SetImageArgs | None = None
    delete: ObjectRef | None = None
    fail_node: str | None = None
    crash_node: str | None = None
    partition_node: str | None = None
    restore_node: str | None = None
    drain: str | None = None
    assert_: AssertArgs | None = Field(None, alias="assert")
    metric: MetricArgs | None = None
    traffic: TrafficArgs | None = None

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        given = [a for a in ACTIONS if getattr(self, "assert_" if a == "assert" else a) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a step needs exactly one action of {', '.join(ACTIONS)}; got {given or 'none'}"
            )
        return self

    @property
    def action(self) -> str:
        return next(
            a for a in ACTIONS if getattr(self, "assert_" if a == "assert" else a) is not None
        )

    def describe(self) -> str:
        value = getattr(self, "assert_" if self.action == "assert" else self.action)
        if isinstance(value, BaseModel):
            args = " ".join(f"{k}={v}" for k, v in value.model_dump(exclude_none=True).items())
        elif self.action == "apply" and isinstance(value, str) and "\n" in value:
            args = "(inline manifests)"
        else:
            args = str(value)
        return f"{self.action} {args}"


class ClusterSection(_Strict):
    nodes: int | None = Field(None, ge=0)
    node_pools: list[dict[str, Any]] | None = None
    cluster_autoscaler: dict[str, Any] | None = None
    seed: int = 0
    runtime: Literal["simulated", "process"] = "simulated"
    virtual_time: bool = True


class Scenario(_Strict):
    cluster: ClusterSection = Field(default_factory=ClusterSection)
    steps: list[Step]
    source: Path | None = None

    def config(self, **overrides: Any) -> ClusterConfig:
        c = self.cluster
        pools: tuple[NodePool, ...]
        if c.node_pools is not None:
            pools = tuple(NodePool(**p) for p in c.node_pools)
        else:
            pools = (NodePool(count=3 if c.nodes is None else c.nodes),)
        values: dict[str, Any] = {
            "node_pools": pools,
            "seed": c.seed,
            "runtime": c.runtime,
            "virtual_time": c.virtual_time,
        }
        if c.cluster_autoscaler is not None:
            values["cluster_autoscaler"] = AutoscalingOptions(**c.cluster_autoscaler)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return ClusterConfig(**values)


class AssertionFailed(AssertionError):
    """An `assert` step found another value: the scenario failed (`kubeloop
    run` exits 1), as opposed to a scenario that is not valid (exit 2)."""


class StepRejected(ApiError):
    """The API refused a step (an invalid change, an object that is not
    there): the scenario stops there, and the step is not counted as done."""

    def __init__(self, index: int, step: Step, error: ApiError) -> None:
        super().__init__(f"step {index} ({step.describe()}): {error}")
        self.reason = error.reason
        self.code = error.code
        self.error = error


@dataclass(frozen=True, slots=True)
class StepResult:
    """How one step went. `result` is "ok"; "timed out: ..." (its wait ran out
    of time, with what was left); "failed: ..." (it raised); "stopped..." (the
    run's own time limit ended it); or "not run" (an earlier step ended the run).
    `started_at` is None for a step that never started."""

    index: int
    description: str
    started_at: float | None  # cluster clock seconds
    seconds: float  # cluster clock seconds the step took
    result: str = "ok"

    @property
    def ok(self) -> bool:
        return self.result == "ok"


def is_scenario(text: str) -> bool:
    """A scenario is a YAML mapping with `steps`; anything else is manifests."""
    if "steps" not in text:
        return False  # spares decoding a large manifest file twice
    try:
        documents = decode_documents(text, "scenario")
    except ApiError:
        return False  # not a scenario; loading it as manifests reports why
    data = documents[0] if len(documents) == 1 else None
    return isinstance(data, dict) and "steps" in data and "apiVersion" not in data


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file, including every manifest it applies.
    It is decoded as strictly as manifests are (`engine.documents`)."""
    documents = decode_documents(read_text(path), str(path))
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise BadRequest(f"{path}: a scenario is one YAML mapping with `steps`")
    data = documents[0]
    try:
        scenario = Scenario.model_validate({**data, "source": path})
    except ValidationError as error:
        raise Invalid(f"scenario {path}", _field_errors(error)) from None
    for index, step in enumerate(scenario.steps):
        if step.apply is not None:
            load_manifests(_manifest_text(scenario, step.apply), source=f"{path} step {index}")
        for ref in (step.scale, step.delete, step.assert_):
            if ref is not None:
                _kind(ref)
    return scenario


def _field_errors(error: ValidationError) -> list[FieldError]:
    errors = []
    for e in error.errors():
        loc = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in e["loc"])
        errors.append(FieldError(loc.replace(".[", "["), e["msg"]))
    return errors


def _manifest_text(scenario: Scenario, value: str) -> str:
    if "\n" in value or value.lstrip().startswith(("{", "apiVersion")):
        return value
    base = scenario.source.parent if scenario.source else Path.cwd()
    path = (base / value).resolve()
    if not path.is_file():
        raise BadRequest(f"scenario applies {value!r}, but {path} is not a file")
    return read_text(path)


def _kind(ref: ObjectRef) -> type[Any]:
    for info in REGISTRY:
        if info.kind == ref.kind and (ref.api_version in (None, info.api_version)):
            return info.model
    raise BadRequest(f'no kind "{ref.kind}" is registered')


async def run_scenario(
    cluster: Cluster, scenario: Scenario, results: list[StepResult] | None = None
) -> list[StepResult]:
    """Run every step in order on a running cluster; each step's timing is
    appended to `results` as it finishes (so it survives a timeout), and returned."""
    results = [] if results is None else results
    clock = cluster.clock
    previous_end = clock.monotonic()
    for index, step in enumerate(scenario.steps):
        started: float | None = None
        try:
            if step.at is not None and clock.monotonic() < step.at:
                await clock.sleep(step.at - clock.monotonic())
            if step.after is not None:
                await clock.sleep(max(0.0, previous_end + step.after - clock.monotonic()))
            started = clock.monotonic()
            try:
                await _run_step(cluster, scenario, index, step)
            except ApiError as error:
                raise StepRejected(index, step, error) from error
        except BaseException as error:
            # Say in the step table how this step ended, then let the run end.
            if started is None:
                result = "stopped: the run ended while the step waited for its time"
                results.append(StepResult(index, step.describe(), None, 0.0, result))
            else:
                took = clock.monotonic() - started
                results.append(StepResult(index, step.describe(), started, took, _ended(error)))
            raise
        previous_end = clock.monotonic()
        results.append(StepResult(index, step.describe(), started, previous_end - started))
    await cluster.wait_traffic()  # traffic steps still flowing
    return results


def not_run(scenario: Scenario, results: list[StepResult]) -> list[StepResult]:
    """`results` followed by a "not run" entry for each step it does not cover."""
    done = len(results)
    rest = [
        StepResult(i, step.describe(), None, 0.0, "not run")
        for i, step in enumerate(scenario.steps)
        if i >= done
    ]
    return [*results, *rest]


def _ended(error: BaseException) -> str:
    if isinstance(error, TimeoutError) and str(error):  # a wait's ConvergenceTimeout
        return "timed out: " + " ".join(str(error).split())
    if isinstance(error, (TimeoutError, asyncio.CancelledError)):
        return "stopped: the run ended during the step"  # its time limit, or Ctrl-C
    return f"failed: {' '.join(str(error).split()) or type(error).__name__}"


async def _run_step(cluster: Cluster, scenario: Scenario, index: int, step: Step) -> None:
    action = step.action
    if action == "apply":
        assert step.apply is not None
        await cluster.apply(_manifest_text(scenario, step.apply))
    elif action == "wait":
        if step.wait == "converged":
            await cluster.wait_converged(timeout=step.timeout)
        else:
            await cluster.clock.sleep(float(step.wait or 0))
    elif action == "scale":
        assert step.scale is not None
        await cluster.scale(
            _kind(step.scale), step.scale.name, step.scale.replicas, step.scale.namespace
        )
    elif action == "set_image":
        assert step.set_image is not None
        await set_image(cluster, step.set_image)
    elif action == "delete":
        assert step.delete is not None
        await cluster.delete(_kind(step.delete), step.delete.name, step.delete.namespace)
    elif action in ("fail_node", "crash_node", "restore_node"):
        await getattr(cluster, action)(getattr(step, action))
    elif action == "partition_node":
        assert step.partition_node is not None
        cluster.partition_node(step.partition_node)
    elif action == "drain":
        assert step.drain is not None
        await cluster.drain_node(step.drain, timeout=step.timeout)
    elif action == "assert":
        assert step.assert_ is not None
        await check_assertion(cluster, index, step.assert_)
    elif action == "metric":
        assert step.metric is not None
        publish_metric(cluster, step.metric)
    elif action == "traffic":
        assert step.traffic is not None
        cluster.start_traffic(**step.traffic.model_dump())


def publish_metric(cluster: Cluster, args: MetricArgs) -> None:
    """A `metric` step: publish a custom or external metric value."""
    try:
        if args.external is not None:
            cluster.custom_metrics.publish_external(
                args.external, args.value, namespace=args.namespace, labels=args.labels
            )
        else:
            assert args.kind is not None and args.name is not None and args.metric is not None
            cluster.custom_metrics.publish(
                args.kind,
                args.name,
                args.metric,
                args.value,
                namespace=args.namespace,
                metric_labels=args.labels,
            )
    except ValueError as error:
        raise BadRequest(str(error)) from None


async def set_image(cluster: Cluster, args: SetImageArgs) -> None:
    """`kubectl set image deployment/NAME CONTAINER=IMAGE`."""
    deployment = await cluster.get(Deployment, args.deployment, args.namespace)
    pod_spec = deployment.spec.template.spec
    names = [c.name for c in pod_spec.containers]
    target = args.container or names[0]
    if target not in names:
        raise BadRequest(f"deployment {args.deployment} has no container {target!r} ({names})")
    containers = [
        c.model_copy(update={"image": args.image}) if c.name == target else c
        for c in pod_spec.containers
    ]
    template = deployment.spec.template.model_copy(
        update={"spec": pod_spec.model_copy(update={"containers": containers})}
    )
    spec = deployment.spec.model_copy(update={"template": template})
    assert cluster.client is not None
    await cluster.client.update(deployment.model_copy(update={"spec": spec}))


async def check_assertion(cluster: Cluster, index: int, args: AssertArgs) -> None:
    obj = await cluster.get(_kind(args), args.name, args.namespace)
    value: Any = obj.to_dict()
    for part in args.path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value != args.equals:
        raise AssertionFailed(
            f"step {index}: {args.kind} {args.name} {args.path} is {value!r}, "
            f"expected {args.equals!r}"
        )
