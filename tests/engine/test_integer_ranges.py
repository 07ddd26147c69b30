"""Every integer field of the built-in kinds has Kubernetes' int32 or int64
range; a value outside it is a validation error naming the field path."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from annotated_types import Ge, Le
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from engine.api.apps import Deployment
from engine.api.integers import INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN
from engine.clock import VirtualClock
from engine.errors import Invalid
from engine.manifests import field_errors, load_manifests
from engine.registry import REGISTRY
from engine.store import Store

RANGES = {"int32": (INT32_MIN, INT32_MAX), "int64": (INT64_MIN, INT64_MAX)}


def _members(annotation: Any) -> Iterator[tuple[Any, tuple[Any, ...]]]:
    """(type, Annotated metadata) for every type inside an annotation."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *metadata = typing.get_args(annotation)
        for inner, more in _members(base):
            yield inner, (*more, *metadata)
    elif origin in (typing.Union, types.UnionType, list, dict, tuple):
        for arg in typing.get_args(annotation):
            yield from _members(arg)
    else:
        yield annotation, ()


def _integer_fields() -> Iterator[tuple[type[BaseModel], str, str]]:
    """(model, wire name, int32/int64) for every integer field of every model
    reachable from the built-in kinds."""
    seen: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [
        info.model for info in REGISTRY if info.model.__module__.startswith("engine.api")
    ]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            for member, metadata in _members(info.annotation):
                if isinstance(member, type) and issubclass(member, BaseModel):
                    todo.append(member)
                elif member is int:
                    # Nested Annotated keeps Field(...) as a FieldInfo holding Ge/Le.
                    metadata = tuple(
                        item
                        for m in (*metadata, *info.metadata)
                        for item in (m.metadata if isinstance(m, FieldInfo) else [m])
                    )
                    low = next((m.ge for m in metadata if isinstance(m, Ge)), None)
                    high = next((m.le for m in metadata if isinstance(m, Le)), None)
                    width = next((w for w, r in RANGES.items() if r == (low, high)), None)
                    yield model, info.alias or name, width or f"unbounded {low}..{high}"


INTEGER_FIELDS = sorted(
    set(_integer_fields()), key=lambda f: (f[0].__module__, f[0].__name__, f[1])
)


def test_every_integer_field_is_an_int32_or_an_int64() -> None:
    assert len(INTEGER_FIELDS) > 100
    unbounded = [f"{m.__name__}.{n}: {w}" for m, n, w in INTEGER_FIELDS if w not in RANGES]
    assert unbounded == []


@pytest.mark.parametrize(
    ("model", "field", "width"),
    [
        ("DeploymentSpec", "replicas", "int32"),
        ("ReplicaSetSpec", "replicas", "int32"),
        ("DeploymentStatus", "observedGeneration", "int64"),
        ("ContainerPort", "containerPort", "int32"),
        ("ServicePort", "nodePort", "int32"),
        ("PodSpec", "terminationGracePeriodSeconds", "int64"),
        ("PodSpec", "activeDeadlineSeconds", "int64"),
        ("PodSpec", "priority", "int32"),
        ("PodSecurityContext", "runAsUser", "int64"),
        ("PodSecurityContext", "supplementalGroups", "int64"),
        ("Probe", "periodSeconds", "int32"),
        ("Probe", "terminationGracePeriodSeconds", "int64"),
        ("Toleration", "tolerationSeconds", "int64"),
        ("ObjectMeta", "generation", "int64"),
        ("ObjectMeta", "deletionGracePeriodSeconds", "int64"),
        ("JobSpec", "activeDeadlineSeconds", "int64"),
        ("JobSpec", "backoffLimit", "int32"),
        ("CronJobSpec", "startingDeadlineSeconds", "int64"),
        ("ControllerRevision", "revision", "int64"),
        ("ContainerImage", "sizeBytes", "int64"),
        ("PriorityClass", "value", "int32"),
        ("LeaseSpec", "leaseDurationSeconds", "int32"),
    ],
)
def test_widths_follow_the_kubernetes_types(model: str, field: str, width: str) -> None:
    widths = {(m.__name__, n): w for m, n, w in INTEGER_FIELDS}
    assert widths[(model, field)] == width


@given(data=st.data())
def test_out_of_range_values_are_errors_at_their_path(data: st.DataObject) -> None:
    model, field, width = data.draw(st.sampled_from(INTEGER_FIELDS))
    low, high = RANGES[width]
    value = data.draw(
        st.one_of(st.integers(max_value=low - 1), st.integers(min_value=high + 1)), label="value"
    )
    list_field = "list" in str(model.model_fields[_attribute(model, field)].annotation)
    with pytest.raises(ValidationError) as caught:
        model.model_validate({field: [value] if list_field else value})
    path = f"{field}[0]" if list_field else field
    messages = {e.path: e.message for e in field_errors(model, caught.value)}
    assert messages[path] == f"value {value} is out of range for {width} ({low} to {high})"


@given(data=st.data())
def test_values_at_the_bounds_are_accepted(data: st.DataObject) -> None:
    model, field, width = data.draw(st.sampled_from(INTEGER_FIELDS))
    value = data.draw(st.sampled_from(RANGES[width]))
    list_field = "list" in str(model.model_fields[_attribute(model, field)].annotation)
    try:
        model.model_validate({field: [value] if list_field else value})
    except ValidationError as error:
        paths = {e.path for e in field_errors(model, error)}
        assert (f"{field}[0]" if list_field else field) not in paths


def _attribute(model: type[BaseModel], wire: str) -> str:
    return next(n for n, i in model.model_fields.items() if wire in (i.alias, n))


def test_a_manifest_reports_the_full_path() -> None:
    manifest = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  terminationGracePeriodSeconds: 9223372036854775808
  containers:
  - name: c
    image: nginx
    ports: [{containerPort: 2147483648}]
"""
    with pytest.raises(Invalid) as caught:
        load_manifests(manifest)
    assert {(e.path, e.message) for e in caught.value.errors} == {
        (
            "spec.terminationGracePeriodSeconds",
            "value 9223372036854775808 is out of range for int64 "
            "(-9223372036854775808 to 9223372036854775807)",
        ),
        (
            "spec.containers[0].ports[0].containerPort",
            "value 2147483648 is out of range for int32 (-2147483648 to 2147483647)",
        ),
    }


def test_the_scale_subresource_keeps_replicas_an_int32() -> None:
    store = Store(clock=VirtualClock())
    (deployment,) = load_manifests(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
        "spec:\n  selector: {matchLabels: {app: web}}\n"
        "  template:\n    metadata: {labels: {app: web}}\n"
        "    spec: {containers: [{name: c, image: nginx}]}\n"
    )
    store.create(deployment)
    revision = store.revision
    with pytest.raises(
        Invalid, match=r"spec\.replicas: value 2147483648 is out of range for int32"
    ):
        store.scale(Deployment, "web", replicas=INT32_MAX + 1)
    assert store.revision == revision
    assert store.scale(Deployment, "web", replicas=INT32_MAX).spec.replicas == INT32_MAX


def test_the_largest_int64_grace_period_deletes_without_overflow() -> None:
    # Any int64 is a valid grace period; Python's datetime ends in 9999.
    store = Store(clock=VirtualClock())
    (pod,) = load_manifests(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
        f"spec: {{nodeName: n1, terminationGracePeriodSeconds: {INT64_MAX},"
        " containers: [{name: c, image: nginx}]}\n"
    )
    store.create(pod)
    marked = store.delete(type(pod), "p")
    assert marked is not None
    assert marked.metadata.deletion_grace_period_seconds == INT64_MAX
    assert marked.metadata.deletion_timestamp is not None
    assert marked.metadata.deletion_timestamp.year == 9999
