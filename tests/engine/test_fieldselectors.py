"""Field selectors: syntax and escaping, per-kind supported fields, Kubernetes'
"absent reads as empty" rule, custom kinds, and the real core models."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field

from engine.api.base import KubeModel, ObjectMeta, Resource
from engine.fieldselectors import (
    FieldOperator,
    FieldRequirement,
    FieldSelector,
    field_value,
    parse_field_selector,
    path_extractor,
    register_fields,
    supported_fields,
)
from engine.registry import Registry, kind
from engine.selectors import InvalidSelector

TEST_REGISTRY = Registry()


class TinyPodSpec(KubeModel):
    node_name: str | None = None
    restart_policy: str = "Always"
    scheduler_name: str = "default-scheduler"
    service_account_name: str | None = None
    host_network: bool | None = None


class TinyPodIP(KubeModel):
    ip: str


class TinyPodStatus(KubeModel):
    phase: str | None = None
    pod_ip: str | None = Field(None, alias="podIP")
    pod_ips: list[TinyPodIP] = Field(default_factory=list, alias="podIPs")
    nominated_node_name: str | None = None


@kind("v1", "Pod", registry=TEST_REGISTRY)
class TinyPod(Resource):
    spec: TinyPodSpec = Field(default_factory=TinyPodSpec)
    status: TinyPodStatus = Field(default_factory=TinyPodStatus)


class WidgetSpec(KubeModel):
    color: str | None = None
    size_class: str | None = None
    replicas: int | None = None


@kind("example.com/v1", "Widget", registry=TEST_REGISTRY)
class Widget(Resource):
    spec: WidgetSpec = Field(default_factory=WidgetSpec)


def pod(name: str = "p", namespace: str = "default", **fields: Any) -> TinyPod:
    return TinyPod.model_validate({"metadata": {"name": name, "namespace": namespace}, **fields})


UNBOUND = pod("unbound")
BOUND = pod("bound", spec={"nodeName": "node-1"}, status={"phase": "Running"})
HOST = pod("host", "kube-system", spec={"nodeName": "node-2", "hostNetwork": True})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {"unbound", "bound", "host"}),
        ("spec.nodeName=", {"unbound"}),  # absent reads as ""
        ("spec.nodeName!=", {"bound", "host"}),
        ("spec.nodeName=node-1", {"bound"}),
        ("spec.nodeName==node-1", {"bound"}),
        ("spec.host=node-1", {"bound"}),  # Kubernetes' old alias
        ("status.phase==Running", {"bound"}),
        ("status.phase!=Running", {"unbound", "host"}),
        ("metadata.name=host", {"host"}),
        ("metadata.namespace=default", {"unbound", "bound"}),
        ("metadata.namespace=default,spec.nodeName!=", {"bound"}),
        ("spec.hostNetwork=true", {"host"}),
        ("spec.hostNetwork=false", {"unbound", "bound"}),  # unset reads as false
        ("spec.restartPolicy=Always", {"unbound", "bound", "host"}),
        ("spec.schedulerName=default-scheduler", {"unbound", "bound", "host"}),
        ("spec.serviceAccountName=", {"unbound", "bound", "host"}),
        ("status.nominatedNodeName=", {"unbound", "bound", "host"}),
        ("status.podIP=", {"unbound", "bound", "host"}),
    ],
)
def test_pod_fields(text: str, expected: set[str]) -> None:
    selector = parse_field_selector(text, "Pod")
    assert {p.metadata.name for p in (UNBOUND, BOUND, HOST) if selector.matches(p)} == expected


def test_pod_ip_reads_the_first_of_pod_ips() -> None:
    both = pod(status={"podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}]})
    only_ip = pod(status={"podIP": "10.0.0.2"})
    assert parse_field_selector("status.podIP=10.0.0.1").matches(both)
    assert not parse_field_selector("status.podIP=fd00::1").matches(both)
    assert parse_field_selector("status.podIP=10.0.0.2").matches(only_ip)


def test_unsupported_field_names_field_and_kind() -> None:
    with pytest.raises(
        InvalidSelector, match=r'field label not supported: spec\.foo \(kind "Pod"\)'
    ):
        parse_field_selector("spec.foo=x", TinyPod)
    with pytest.raises(InvalidSelector, match=r"field label not supported: status\.phase"):
        parse_field_selector("status.phase=Running", "Widget")
    # Without a kind the check happens on the first match of an object.
    selector = parse_field_selector("spec.foo=x")
    with pytest.raises(InvalidSelector, match=r"spec\.foo"):
        selector.matches(UNBOUND)
    with pytest.raises(InvalidSelector, match=r"spec\.foo"):
        selector.check("Pod")


def test_every_kind_supports_name_and_namespace() -> None:
    widget = Widget(metadata=ObjectMeta(name="w", namespace="ns"))
    assert parse_field_selector("metadata.name=w,metadata.namespace=ns", Widget).matches(widget)
    assert supported_fields("Unheard") == {"metadata.name", "metadata.namespace"}
    assert "spec.nodeName" in supported_fields("Pod")
    assert "spec.host" in supported_fields(TinyPod)


def test_register_fields_for_a_custom_kind() -> None:
    register_fields(
        "Widget",
        {
            "spec.color": lambda w: w.spec.color,
            "spec.sizeClass": None,  # follow the camelCase path through the model
            "spec.replicas": None,
        },
    )
    red = Widget(metadata=ObjectMeta(name="red"), spec=WidgetSpec(color="red", size_class="L"))
    plain = Widget(metadata=ObjectMeta(name="plain"), spec=WidgetSpec(replicas=3))
    assert parse_field_selector("spec.color=red", Widget).matches(red)
    assert not parse_field_selector("spec.color=red", Widget).matches(plain)
    assert parse_field_selector("spec.color=", Widget).matches(plain)
    assert parse_field_selector("spec.sizeClass=L", Widget).matches(red)
    assert parse_field_selector("spec.replicas=3", Widget).matches(plain)
    assert field_value(plain, "spec.replicas") == "3"
    assert field_value(red, "metadata.name") == "red"


def test_path_extractor_reads_models_by_alias_and_dicts() -> None:
    status = TinyPodStatus.model_validate({"podIP": "1.2.3.4"})
    assert path_extractor("status.podIP")(pod(status={"podIP": "1.2.3.4"})) == "1.2.3.4"
    assert path_extractor("podIP")(status) == "1.2.3.4"
    assert path_extractor("spec.nodeName", default="")(UNBOUND) == ""
    assert path_extractor("spec.missing")(UNBOUND) is None
    raw = {"kind": "Gadget", "spec": {"mode": "fast"}}
    assert path_extractor("spec.mode")(raw) == "fast"
    register_fields("Gadget", {"spec.mode": None})
    assert parse_field_selector("spec.mode=fast").matches(raw)
    assert not parse_field_selector("spec.mode=slow").matches(raw)


@pytest.mark.parametrize(
    ("text", "field", "op", "value"),
    [
        ("a=b", "a", FieldOperator.EQUALS, "b"),
        ("a==b", "a", FieldOperator.EQUALS, "b"),
        ("a!=b", "a", FieldOperator.NOT_EQUALS, "b"),
        ("a=", "a", FieldOperator.EQUALS, ""),
        ("a!=", "a", FieldOperator.NOT_EQUALS, ""),
        ("a=b\\,c", "a", FieldOperator.EQUALS, "b,c"),
        ("a=b\\=c", "a", FieldOperator.EQUALS, "b=c"),
        ("a=b\\\\c", "a", FieldOperator.EQUALS, "b\\c"),
        ("a= b ", "a", FieldOperator.EQUALS, " b "),  # values are verbatim
        (" a =b", "a", FieldOperator.EQUALS, "b"),  # field names are trimmed
        ("a=!b", "a", FieldOperator.EQUALS, "!b"),
    ],
)
def test_term_syntax(text: str, field: str, op: FieldOperator, value: str) -> None:
    assert parse_field_selector(text).requirements == (FieldRequirement(field, op, value),)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a", "can't understand 'a'"),
        ("a=b,c", "can't understand 'c'"),
        ("a<b", "can't understand"),
        ("a=b=c", "unescaped '='"),
        ("a=\\x", "invalid escape sequence"),
        ("a=b\\", "invalid escape sequence"),
    ],
)
def test_invalid_syntax(text: str, fragment: str) -> None:
    with pytest.raises(InvalidSelector, match=fragment.replace("'", ".")):
        parse_field_selector(text)


def test_canonical_string_and_equality() -> None:
    selector = parse_field_selector("status.phase==Running,metadata.name=a\\,b,,spec.nodeName!=")
    assert str(selector) == "metadata.name=a\\,b,spec.nodeName!=,status.phase=Running"
    assert parse_field_selector(str(selector)) == selector
    assert hash(selector) == hash(parse_field_selector(str(selector)))
    assert FieldSelector.empty().is_empty() and str(FieldSelector.empty()) == ""
    assert parse_field_selector("") == FieldSelector.empty()
    assert FieldSelector.equals("spec.nodeName", "n1") == parse_field_selector("spec.nodeName=n1")


def test_exact_match_for_indexes() -> None:
    selector = parse_field_selector("spec.nodeName=n1,status.phase!=Failed")
    assert selector.exact_match("spec.nodeName") == "n1"
    assert selector.exact_match("status.phase") is None
    assert selector.exact_match("metadata.name") is None


fields = st.sampled_from(["metadata.name", "metadata.namespace", "spec.nodeName", "status.phase"])
values = st.text(alphabet="ab,=\\! -", max_size=6)
requirement_lists = st.lists(
    st.builds(FieldRequirement, fields, st.sampled_from(list(FieldOperator)), values), max_size=4
)


@given(requirement_lists)
def test_string_form_round_trips(requirements: list[FieldRequirement]) -> None:
    selector = FieldSelector.of(requirements)
    again = parse_field_selector(str(selector), "Pod")
    assert again == selector
    assert str(again) == str(selector)


@given(requirement_lists, st.sampled_from(["", "a", "ab", "a,b"]), st.none() | values)
def test_matches_agrees_with_reference(
    requirements: list[FieldRequirement], name: str, node: str | None
) -> None:
    obj = pod(name or "x", spec={"nodeName": node} if node is not None else {})
    actual = {
        "metadata.name": obj.metadata.name,
        "metadata.namespace": "default",
        "spec.nodeName": node or "",
        "status.phase": "",
    }
    expected = all(
        (actual[r.field] == r.value) == (r.operator is FieldOperator.EQUALS) for r in requirements
    )
    assert FieldSelector.of(requirements).matches(obj) == expected


# -- the real core/v1 models (written alongside this module) -----------------


def test_real_core_models() -> None:
    core = pytest.importorskip("engine.api.core")
    real_pod = core.Pod.model_validate(
        {
            "metadata": {"name": "web", "namespace": "prod"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], "nodeName": "n1"},
            "status": {"phase": "Running", "podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}]},
        }
    )
    assert parse_field_selector(
        "spec.nodeName=n1,status.phase=Running,status.podIP=10.1.0.5,spec.hostNetwork=false"
        ",spec.restartPolicy=Always,spec.schedulerName=default-scheduler,metadata.namespace=prod",
        core.Pod,
    ).matches(real_pod)
    pending = core.Pod.model_validate(
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    )
    assert parse_field_selector("spec.nodeName=,status.nominatedNodeName=").matches(pending)

    node = core.Node.model_validate({"metadata": {"name": "n1"}, "spec": {"unschedulable": True}})
    assert parse_field_selector("spec.unschedulable=true", core.Node).matches(node)
    assert parse_field_selector("spec.unschedulable=false").matches(
        core.Node.model_validate({"metadata": {"name": "n2"}})
    )

    secret = core.Secret.model_validate({"metadata": {"name": "s"}})
    assert parse_field_selector("type=Opaque", core.Secret).matches(secret)

    namespace = core.Namespace.model_validate({"metadata": {"name": "ns"}})
    assert parse_field_selector("status.phase=Active", core.Namespace).matches(namespace)

    event = core.Event.model_validate(
        {
            "metadata": {"name": "e", "namespace": "prod"},
            "involvedObject": {"kind": "Pod", "namespace": "prod", "name": "web", "uid": "u1"},
            "reason": "Scheduled",
            "source": {"component": "default-scheduler"},
            "reportingComponent": "default-scheduler",
            "type": "Normal",
        }
    )
    assert parse_field_selector(
        "involvedObject.kind=Pod,involvedObject.name=web,involvedObject.namespace=prod"
        ",involvedObject.uid=u1,involvedObject.fieldPath=,reason=Scheduled"
        ",source=default-scheduler,reportingComponent=default-scheduler,type=Normal",
        core.Event,
    ).matches(event)


def test_real_workload_models() -> None:
    apps = pytest.importorskip("engine.api.apps")
    batch = pytest.importorskip("engine.api.batch")
    rs = apps.ReplicaSet.model_validate({"metadata": {"name": "rs"}})
    assert parse_field_selector("status.replicas=0", apps.ReplicaSet).matches(rs)
    assert not parse_field_selector("status.replicas=1").matches(rs)
    job = batch.Job.model_validate({"metadata": {"name": "j"}})
    assert parse_field_selector("status.successful=0", batch.Job).matches(job)
