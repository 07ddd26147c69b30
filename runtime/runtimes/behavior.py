"""What a simulated container does: `ContainerBehavior`, and how it is chosen.

Role: the policy half of `runtime.runtimes.simulated`. A behaviour says how
long a container takes to start, when it becomes ready, whether and when it
exits (and with which code), how likely it is to crash, what its probes answer
over time, how it reacts to SIGTERM and how much CPU and memory it uses.

Where a container's behaviour comes from, later layers overriding earlier ones:

1. `SimulationPolicy.defaults` (cluster-wide, a `ContainerBehavior`);
2. `SimulationPolicy.images`: overrides for an image, matched by repository
   (`nginx` matches `nginx:1.27`, `docker.io/library/nginx` and
   `registry.example/team/nginx@sha256:...`);
3. pod annotations `sim.kubeloop.io/<field>` (every container of the pod);
4. pod annotations `sim.kubeloop.io/<container>.<field>` (one container).

Overrides are strings, the same syntax in configuration and annotations:

==================== ===================================== =====================
field                example                               meaning
==================== ===================================== =====================
start-latency        `2s`, `uniform(1s,3s)`,               start -> running
                     `exponential(500ms)`, `normal(2s,300ms)`
ready-after          `10s`                                 readiness succeeds after
exit-after           `30s` (or a distribution), `never`    exits by itself after
exit-code            `0`                                   code of that exit
crash-probability    `0.2`                                 chance an instance crashes
crash-after          `uniform(0s,60s)`                     when a crashing one does
crash-exit-code      `1`                                   its exit code
startup-probe        `failure,20s=success`                 outcome over time
liveness-probe       `success,2m=failure`                  outcome over time
readiness-probe      `success,30s=failure,40s=success`     outcome over time
cpu                  `100m`, `200m,1m=800m`                usage over time
memory               `64Mi`, `64Mi,5m=512Mi`               usage over time
cpu-per-request      `5m`                                  cpu added per request/s
shutdown-after       `5s`, `never` (ignores SIGTERM)       SIGTERM -> exit 0
start-error          `exec: "app": not found`              the start fails
latency              `20ms`, `normal(20ms,5ms)`            time to answer a request
==================== ===================================== =====================

Times in timelines count from the moment the container runs. `cpu-per-request`
adds load-driven CPU: that many millicores per request per second the pod
receives, as the runtime's request-rate source reports it (see
`SimulatedRuntime`); 0 by default. A readiness
probe without a `readiness-probe` timeline fails before `ready-after` and
succeeds after. Init containers (that must run to completion) exit 0 right
after starting unless `exit-after` says otherwise; so do the containers of
pods that run to completion (restartPolicy Never or OnFailure, a Job's pods)
after `SimulationPolicy.completes_after` (1 s by default), so that a Job from
the Kubernetes documentation completes without annotations. The defaults make
an ordinary manifest run and become ready half a second after it starts.

A malformed override raises `BehaviorError` naming the annotation; the
simulated runtime reports it as a failed start (reason StartError), so a typo
is visible in the pod's status instead of being ignored.

Neighbours: `runtime.runtimes.simulated` (applies behaviours),
`engine.quantity` (parses cpu and memory).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Generic, Literal, TypeVar

from engine.quantity import Quantity

__all__ = [
    "ANNOTATION_PREFIX",
    "BehaviorError",
    "ContainerBehavior",
    "Distribution",
    "SimulationPolicy",
    "Timeline",
    "parse_duration",
    "resolve_behavior",
]

ANNOTATION_PREFIX = "sim.kubeloop.io/"
T = TypeVar("T")


class BehaviorError(ValueError):
    """A simulation override that does not parse."""


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_duration(text: str) -> float:
    """Seconds from a Go-style duration (`1m30s`, `500ms`) or a plain number of seconds."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if value < 0 or math.isnan(value) or math.isinf(value):
            raise BehaviorError(f"duration must be a finite number >= 0, got {text!r}")
        return value
    pos = 0
    total = 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise BehaviorError(f"not a duration: {text!r} (use e.g. 30s, 1m30s, 500ms)")
    return total


@dataclass(frozen=True, slots=True)
class Distribution:
    """A non-negative random duration: constant, uniform, exponential or normal
    (the normal one is clipped at 0). Samples come from the runtime's RNG."""

    kind: Literal["constant", "uniform", "exponential", "normal"] = "constant"
    a: float = 0.0
    b: float = 0.0

    @classmethod
    def constant(cls, seconds: float) -> Distribution:
        return cls("constant", seconds)

    @classmethod
    def parse(cls, text: str) -> Distribution:
        text = text.strip()
        match = re.fullmatch(r"(uniform|exponential|exp|normal)\((.*)\)", text)
        if match is None:
            return cls.constant(parse_duration(text))
        name, inner = match.group(1), match.group(2)
        args = [parse_duration(part) for part in inner.split(",")]
        if name in ("exponential", "exp"):
            if len(args) != 1:
                raise BehaviorError(f"exponential takes one argument (the mean): {text!r}")
            return cls("exponential", args[0])
        if len(args) != 2:
            raise BehaviorError(f"{name} takes two arguments: {text!r}")
        if name == "uniform":
            low, high = sorted(args)
            return cls("uniform", low, high)
        return cls("normal", args[0], args[1])

    def sample(self, rng: random.Random) -> float:
        if self.kind == "constant":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        if self.kind == "exponential":
            return rng.expovariate(1.0 / self.a) if self.a > 0 else 0.0
        return max(0.0, rng.gauss(self.a, self.b))


@dataclass(frozen=True, slots=True)
class Timeline(Generic[T]):
    """A value that changes at given offsets (seconds since the container runs).

    `steps` are (offset, value) pairs in increasing offset order; before the
    first offset the first value holds.
    """

    steps: tuple[tuple[float, T], ...]

    @classmethod
    def constant(cls, value: T) -> Timeline[T]:
        return cls(((0.0, value),))

    @classmethod
    def parse(cls, text: str, value: Callable[[str], T]) -> Timeline[T]:
        """`v0,30s=v1,1m=v2`: a first value, then changes at offsets."""
        steps: list[tuple[float, T]] = []
        for index, part in enumerate(text.split(",")):
            part = part.strip()
            if "=" in part:
                offset_text, _, value_text = part.partition("=")
                offset = parse_duration(offset_text)
            elif index == 0:
                offset, value_text = 0.0, part
            else:
                raise BehaviorError(f"timeline step {part!r} needs an offset (e.g. 30s={part})")
            if steps and offset < steps[-1][0]:
                raise BehaviorError(f"timeline offsets must increase: {text!r}")
            steps.append((offset, value(value_text.strip())))
        return cls(tuple(steps))

    def at(self, t: float) -> T:
        current = self.steps[0][1]
        for offset, value in self.steps:
            if offset > t:
                break
            current = value
        return current

    def integral(self, t: float, weight: Callable[[T], float]) -> float:
        """The integral of `weight(value)` from 0 to `t` (piecewise constant)."""
        total = 0.0
        steps = self.steps
        for i, (offset, value) in enumerate(steps):
            start = 0.0 if i == 0 else offset
            end = steps[i + 1][0] if i + 1 < len(steps) else math.inf
            if start >= t:
                break
            total += weight(value) * (min(end, t) - start)
        return total


def _probe_outcome(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("success", "succeed", "ok", "true", "pass"):
        return True
    if lowered in ("failure", "fail", "false"):
        return False
    raise BehaviorError(f"probe outcome must be success or failure, got {text!r}")


def _millicores(text: str) -> float:
    try:
        return float(Quantity(text).milli_value())
    except (ValueError, TypeError) as error:
        raise BehaviorError(f"not a cpu quantity: {text!r}") from error


def _bytes(text: str) -> int:
    try:
        return int(Quantity(text).value())
    except (ValueError, TypeError) as error:
        raise BehaviorError(f"not a memory quantity: {text!r}") from error


@dataclass(frozen=True, slots=True)
class ContainerBehavior:
    """How one simulated container behaves (see the module docstring for fields).

    `exit_after` None runs forever; `shutdown_after` None ignores SIGTERM (the
    container is killed when the grace period ends); `cpu`/`memory` None use
    half the container's requests (or 5m / 16Mi without requests).
    """

    start_latency: Distribution = Distribution("constant", 0.5)
    ready_after: float = 0.0
    exit_after: Distribution | None = None
    exit_code: int = 0
    crash_probability: float = 0.0
    crash_after: Distribution = Distribution("uniform", 0.0, 60.0)
    crash_exit_code: int = 1
    startup_probe: Timeline[bool] = Timeline(((0.0, True),))
    liveness_probe: Timeline[bool] = Timeline(((0.0, True),))
    readiness_probe: Timeline[bool] | None = None
    cpu: Timeline[float] | None = None
    memory: Timeline[int] | None = None
    cpu_per_request: float = 0.0
    shutdown_after: float | None = 0.0
    start_error: str | None = None
    latency: Distribution = Distribution("normal", 0.002, 0.0005)
    """How long the container takes to answer one simulated request
    (`runtime.network.traffic`)."""

    def overridden(self, overrides: Mapping[str, str], *, source: str = "") -> ContainerBehavior:
        """A copy with `overrides` (field name in kebab-case -> text) applied."""
        if not overrides:
            return self
        changes: dict[str, Any] = {}
        for name, text in overrides.items():
            parser = _PARSERS.get(name)
            if parser is None:
                known = ", ".join(sorted(_PARSERS))
                raise BehaviorError(f"{source}{name}: unknown simulation field (known: {known})")
            try:
                changes[name.replace("-", "_")] = parser(text)
            except BehaviorError as error:
                raise BehaviorError(f"{source}{name}: {error}") from None
        return replace(self, **changes)


def _never_or(parse: Callable[[str], T]) -> Callable[[str], T | None]:
    def parser(text: str) -> T | None:
        return None if text.strip().lower() in ("never", "none", "") else parse(text)

    return parser


def _int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise BehaviorError(f"not an integer: {text!r}") from None


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BehaviorError(f"not a probability: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise BehaviorError(f"probability must be within [0, 1], got {text!r}")
    return value


_PARSERS: dict[str, Callable[[str], Any]] = {
    "start-latency": Distribution.parse,
    "ready-after": parse_duration,
    "exit-after": _never_or(Distribution.parse),
    "exit-code": _int,
    "crash-probability": _probability,
    "crash-after": Distribution.parse,
    "crash-exit-code": _int,
    "startup-probe": lambda text: Timeline.parse(text, _probe_outcome),
    "liveness-probe": lambda text: Timeline.parse(text, _probe_outcome),
    "readiness-probe": lambda text: Timeline.parse(text, _probe_outcome),
    "cpu": lambda text: Timeline.parse(text, _millicores),
    "memory": lambda text: Timeline.parse(text, _bytes),
    "cpu-per-request": _millicores,
    "shutdown-after": _never_or(parse_duration),
    "start-error": lambda text: text,
    "latency": Distribution.parse,
}
assert set(_PARSERS) == {f.name.replace("_", "-") for f in fields(ContainerBehavior)}


@dataclass(frozen=True, slots=True)
class SimulationPolicy:
    """Cluster-wide simulation settings: the default behaviour and per-image overrides."""

    defaults: ContainerBehavior = field(default_factory=ContainerBehavior)
    images: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    completes_after: Distribution = Distribution("constant", 1.0)
    """When a container of a run-to-completion pod with no `exit-after` exits (code 0)."""


def image_repository(image: str) -> str:
    """`registry/team/nginx:1.2@sha256:..` -> `registry/team/nginx`."""
    name = image.partition("@")[0]
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name = name[:colon]
    return name


def _image_overrides(policy: SimulationPolicy, image: str) -> Mapping[str, str]:
    if not policy.images or not image:
        return {}
    repository = image_repository(image)
    for candidate in (image, repository):
        found = policy.images.get(candidate)
        if found is not None:
            return found
    for key, found in policy.images.items():
        if repository.endswith("/" + key):
            return found
    return {}


def resolve_behavior(
    policy: SimulationPolicy, image: str, container: str, annotations: Mapping[str, str]
) -> ContainerBehavior:
    """The behaviour of `container` (running `image`) in a pod with `annotations`."""
    behavior = policy.defaults.overridden(
        _image_overrides(policy, image), source=f"image {image}: "
    )
    if not annotations:
        return behavior
    pod_wide: dict[str, str] = {}
    own: dict[str, str] = {}
    own_prefix = container + "."
    for key, value in annotations.items():
        if not key.startswith(ANNOTATION_PREFIX):
            continue
        name = key[len(ANNOTATION_PREFIX) :]
        if "." not in name:
            pod_wide[name] = value
        elif name.startswith(own_prefix):
            own[name[len(own_prefix) :]] = value
    behavior = behavior.overridden(pod_wide, source=f"annotation {ANNOTATION_PREFIX}")
    return behavior.overridden(own, source=f"annotation {ANNOTATION_PREFIX}{own_prefix}")
