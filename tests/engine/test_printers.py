"""Server-side printing (`as=Table`): the columns and cells kube-apiserver's
printers give, kubectl's pod STATUS rules, CRD printer columns through JSONPath,
and apimachinery's HumanDuration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine.printcells
from engine.jsonpath import JSONPathError, compile_jsonpath, print_value
from engine.printers import human_duration, table

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=1), "1s"),
        (timedelta(seconds=70), "70s"),
        (timedelta(seconds=119, milliseconds=999), "119s"),
        (timedelta(seconds=190), "3m10s"),
        (timedelta(minutes=5), "5m"),
        (timedelta(minutes=70), "70m"),
        (timedelta(hours=3, minutes=10), "3h10m"),
        (timedelta(hours=5), "5h"),
        (timedelta(hours=47), "47h"),
        (timedelta(hours=49), "2d1h"),
        (timedelta(hours=72), "3d"),
        (timedelta(hours=8 * 24 + 2), "8d"),
        (timedelta(hours=367 * 24), "367d"),
        (timedelta(hours=365 * 2 * 24 + 25), "2y1d"),
        (timedelta(hours=365 * 2 * 24), "2y"),
        (timedelta(hours=365 * 8 * 24 + 2), "8y"),
        (timedelta(seconds=-2), "<invalid>"),
        (timedelta(seconds=-1, milliseconds=-999), "0s"),
        (timedelta(0), "0s"),
    ],
)
def test_human_duration_matches_apimachinery(delta: timedelta, text: str) -> None:
    assert human_duration(delta) == text


@given(st.integers(min_value=0, max_value=10 * 365 * 86400))
def test_human_duration_is_monotonic_in_its_leading_unit(seconds: int) -> None:
    text = human_duration(timedelta(seconds=seconds))
    assert text[0].isdigit()
    assert text[-1] in "smhdy"


def pod(**status: Any) -> dict[str, Any]:
    spec = status.pop("spec", {"containers": [{"name": "app", "image": "nginx"}]})
    metadata = {"name": "web", "namespace": "default", "creationTimestamp": ago(minutes=5)}
    metadata.update(status.pop("metadata", {}))
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}


def pod_row(obj: dict[str, Any]) -> list[Any]:
    result = table([obj], group="", version="v1", kind="Pod", now=NOW)
    cells: list[Any] = result["rows"][0]["cells"]
    return cells


def test_pod_columns_are_kubectls() -> None:
    result = table([], group="", version="v1", kind="Pod", now=NOW)
    names = [(c["name"], c["priority"]) for c in result["columnDefinitions"]]
    assert names == [
        ("Name", 0),
        ("Ready", 0),
        ("Status", 0),
        ("Restarts", 0),
        ("Age", 0),
        ("IP", 1),
        ("Node", 1),
        ("Nominated Node", 1),
        ("Readiness Gates", 1),
    ]
    assert result["columnDefinitions"][0]["format"] == "name"
    assert result["columnDefinitions"][0]["description"].startswith("Name must be unique")
    assert result["kind"] == "Table" and result["apiVersion"] == "meta.k8s.io/v1"


def test_running_pod_row_with_wide_cells() -> None:
    obj = pod(
        phase="Running",
        podIPs=[{"ip": "10.0.0.7"}],
        containerStatuses=[
            {"name": "app", "ready": True, "restartCount": 0, "state": {"running": {}}}
        ],
    )
    obj["spec"]["nodeName"] = "node-1"
    assert pod_row(obj) == [
        "web",
        "1/1",
        "Running",
        "0",
        "5m",
        "10.0.0.7",
        "node-1",
        "<none>",
        "<none>",
    ]


def test_crash_looping_pod_shows_reason_and_last_restart() -> None:
    obj = pod(
        phase="Running",
        containerStatuses=[
            {
                "name": "app",
                "ready": False,
                "restartCount": 3,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(seconds=90)}},
            }
        ],
    )
    assert pod_row(obj)[1:4] == ["0/1", "CrashLoopBackOff", "3 (90s ago)"]


def test_completed_pod_and_row_condition() -> None:
    obj = pod(
        phase="Succeeded",
        containerStatuses=[
            {
                "name": "app",
                "ready": False,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
            }
        ],
    )
    result = table([obj], group="", version="v1", kind="Pod", now=NOW)
    assert result["rows"][0]["cells"][2] == "Completed"
    assert result["rows"][0]["conditions"][0]["reason"] == "Succeeded"


def test_exit_code_and_signal_without_reason() -> None:
    obj = pod(
        phase="Failed",
        containerStatuses=[{"name": "app", "state": {"terminated": {"exitCode": 2}}}],
    )
    assert pod_row(obj)[2] == "ExitCode:2"
    obj = pod(
        phase="Failed",
        containerStatuses=[
            {"name": "app", "state": {"terminated": {"exitCode": 137, "signal": 9}}}
        ],
    )
    assert pod_row(obj)[2] == "Signal:9"


def test_init_containers_progress() -> None:
    spec = {
        "initContainers": [{"name": "a", "image": "x"}, {"name": "b", "image": "x"}],
        "containers": [{"name": "app", "image": "x"}],
    }
    running_first = pod(
        spec=spec,
        phase="Pending",
        initContainerStatuses=[
            {"name": "a", "state": {"running": {}}},
            {"name": "b", "state": {"waiting": {"reason": "PodInitializing"}}},
        ],
    )
    assert pod_row(running_first)[2] == "Init:0/2"
    second = pod(
        spec=spec,
        phase="Pending",
        initContainerStatuses=[
            {"name": "a", "state": {"terminated": {"exitCode": 0}}},
            {"name": "b", "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "restartCount": 4},
        ],
    )
    assert pod_row(second)[2:4] == ["Init:CrashLoopBackOff", "4"]
    failed = pod(
        spec=spec,
        phase="Pending",
        initContainerStatuses=[{"name": "a", "state": {"terminated": {"exitCode": 3}}}],
    )
    assert pod_row(failed)[2] == "Init:ExitCode:3"


def test_sidecar_counts_as_a_container() -> None:
    spec = {
        "initContainers": [{"name": "proxy", "image": "x", "restartPolicy": "Always"}],
        "containers": [{"name": "app", "image": "x"}],
    }
    obj = pod(
        spec=spec,
        phase="Running",
        conditions=[{"type": "Initialized", "status": "True"}],
        initContainerStatuses=[
            {"name": "proxy", "started": True, "ready": True, "state": {"running": {}}}
        ],
        containerStatuses=[{"name": "app", "ready": True, "state": {"running": {}}}],
    )
    assert pod_row(obj)[1:3] == ["2/2", "Running"]


def test_terminating_unknown_and_gated() -> None:
    deleting = pod(phase="Running", metadata={"deletionTimestamp": ago(seconds=1)})
    assert pod_row(deleting)[2] == "Terminating"
    finished = pod(phase="Succeeded", metadata={"deletionTimestamp": ago(seconds=1)})
    assert pod_row(finished)[2] == "Succeeded"
    lost = pod(phase="Running", reason="NodeLost", metadata={"deletionTimestamp": ago(seconds=1)})
    assert pod_row(lost)[2] == "Unknown"
    gated = pod(
        phase="Pending",
        conditions=[{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
    )
    assert pod_row(gated)[2] == "SchedulingGated"


def test_readiness_gates_cell() -> None:
    obj = pod(phase="Running", conditions=[{"type": "example.com/lb", "status": "True"}])
    obj["spec"]["readinessGates"] = [
        {"conditionType": "example.com/lb"},
        {"conditionType": "example.com/dns"},
    ]
    assert pod_row(obj)[8] == "1/2"


def test_workload_rows() -> None:
    template = {
        "spec": {"containers": [{"name": "a", "image": "i1"}, {"name": "b", "image": "i2"}]}
    }
    deployment = {
        "metadata": {"name": "web", "creationTimestamp": ago(hours=50)},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": template,
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    result = table([deployment], group="apps", version="v1", kind="Deployment", now=NOW)
    assert [c["name"] for c in result["columnDefinitions"]][:5] == [
        "Name",
        "Ready",
        "Up-to-date",
        "Available",
        "Age",
    ]
    assert result["rows"][0]["cells"] == ["web", "2/3", 3, 2, "2d2h", "a,b", "i1,i2", "app=web"]
    job = {
        "metadata": {"name": "pi", "creationTimestamp": ago(minutes=3)},
        "spec": {"completions": 1, "template": template},
        "status": {
            "succeeded": 1,
            "startTime": ago(minutes=3),
            "completionTime": ago(minutes=2, seconds=20),
            "conditions": [{"type": "Complete", "status": "True"}],
        },
    }
    cells = table([job], group="batch", version="v1", kind="Job", now=NOW)["rows"][0]["cells"]
    assert cells[:5] == ["pi", "Complete", "1/1", "40s", "3m"]
    assert cells[7] == "<none>"


def test_service_node_and_event_rows() -> None:
    service = {
        "metadata": {"name": "web", "creationTimestamp": ago(seconds=30)},
        "spec": {
            "type": "LoadBalancer",
            "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10"],
            "ports": [
                {"port": 80, "nodePort": 30080, "protocol": "TCP"},
                {"port": 53, "protocol": "UDP"},
            ],
            "selector": {"app": "web"},
        },
    }
    cells = table([service], group="", version="v1", kind="Service", now=NOW)["rows"][0]["cells"]
    assert cells == [
        "web",
        "LoadBalancer",
        "10.96.0.10",
        "<pending>",
        "80:30080/TCP,53/UDP",
        "30s",
        "app=web",
    ]
    node = {
        "metadata": {
            "name": "n1",
            "creationTimestamp": ago(days=1),
            "labels": {"node-role.kubernetes.io/control-plane": ""},
        },
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "nodeInfo": {"kubeletVersion": "v1.34.0"},
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
        },
    }
    cells = table([node], group="", version="v1", kind="Node", now=NOW)["rows"][0]["cells"]
    assert cells[:6] == [
        "n1",
        "Ready,SchedulingDisabled",
        "control-plane",
        "24h",
        "v1.34.0",
        "10.0.0.1",
    ]
    event = {
        "metadata": {"name": "web.1"},
        "involvedObject": {"kind": "Pod", "name": "web"},
        "reason": "Scheduled",
        "type": "Normal",
        "message": "Successfully assigned default/web to n1 ",
        "source": {"component": "default-scheduler"},
        "firstTimestamp": ago(minutes=2),
        "lastTimestamp": ago(minutes=1),
        "count": 2,
    }
    cells = table([event], group="", version="v1", kind="Event", now=NOW)["rows"][0]["cells"]
    assert cells == [
        "60s",
        "Normal",
        "Scheduled",
        "pod/web",
        "",
        "default-scheduler",
        "Successfully assigned default/web to n1",
        "2m",
        2,
        "web.1",
    ]


def test_kinds_without_printer_get_name_and_created_at() -> None:
    role = {"metadata": {"name": "view", "creationTimestamp": "2026-01-02T03:04:05Z"}, "rules": []}
    result = table(
        [role], group="rbac.authorization.k8s.io", version="v1", kind="ClusterRole", now=NOW
    )
    assert [c["name"] for c in result["columnDefinitions"]] == ["Name", "Created At"]
    assert result["rows"][0]["cells"] == ["view", "2026-01-02T03:04:05Z"]


def test_include_object_variants() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    meta = table([obj], group="", version="v1", kind="ConfigMap", now=NOW)
    assert meta["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"name": "c"},
    }
    assert meta["rows"][0]["cells"] == ["c", 1, "<unknown>"]
    full = table([obj], group="", version="v1", kind="ConfigMap", include_object="Object", now=NOW)
    assert full["rows"][0]["object"] == obj
    none = table([obj], group="", version="v1", kind="ConfigMap", include_object="None", now=NOW)
    assert none["rows"][0]["object"] is None
    with pytest.raises(ValueError, match="includeObject"):
        table([obj], group="", version="v1", kind="ConfigMap", include_object="All", now=NOW)


CRD_COLUMNS: list[dict[str, Any]] = [
    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
    },
    {"name": "Labels", "type": "string", "jsonPath": ".metadata.labels", "priority": 1},
    {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio"},
    {"name": "Started", "type": "date", "jsonPath": ".status.startedAt"},
    {"name": "Missing", "type": "string", "jsonPath": ".spec.nothing"},
]


def test_crd_printer_columns() -> None:
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "labels": {"b": "2", "a": "<1>"}},
        "spec": {"replicas": 3, "ratio": 2},
        "status": {
            "conditions": [
                {"type": "Synced", "status": "False"},
                {"type": "Ready", "status": "True"},
            ],
            "startedAt": ago(hours=3),
        },
    }
    result = table(
        [widget], group="example.com", version="v1", kind="Widget", crd_columns=CRD_COLUMNS, now=NOW
    )
    definitions = result["columnDefinitions"]
    assert [c["name"] for c in definitions] == [
        "Name",
        "Replicas",
        "Ready",
        "Labels",
        "Ratio",
        "Started",
        "Missing",
    ]
    assert definitions[1]["description"] == (
        "Custom resource definition column (in JSONPath format): .spec.replicas"
    )
    assert definitions[3]["priority"] == 1
    assert result["rows"][0]["cells"] == [
        "w",
        3,
        "True",
        '{"a":"\\u003c1\\u003e","b":"2"}',
        2.0,
        "3h",
        None,
    ]


def test_crd_without_columns_shows_age() -> None:
    widget = {"metadata": {"name": "w", "creationTimestamp": ago(seconds=42)}}
    result = table(
        [widget], group="example.com", version="v1", kind="Widget", crd_columns=[], now=NOW
    )
    assert [(c["name"], c["type"]) for c in result["columnDefinitions"]] == [
        ("Name", "string"),
        ("Age", "date"),
    ]
    assert result["rows"][0]["cells"] == ["w", "42s"]


def test_kubernetes_jsonpath_dialect() -> None:
    doc = {"metadata": {"labels": {"app.kubernetes.io/name": "web"}}, "items": [{"a": 1}, {"a": 2}]}
    assert compile_jsonpath(r"{.metadata.labels.app\.kubernetes\.io/name}")(doc) == ["web"]
    assert compile_jsonpath(".items[*].a")(doc) == [1, 2]
    assert compile_jsonpath(".items[-1:].a")(doc) == [2]
    assert compile_jsonpath("..a")(doc) == [1, 2]
    with pytest.raises(JSONPathError):
        compile_jsonpath(".items[?(@.a==")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3, "3"),
        (2.5, "2.5"),
        (3.0, "3"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (True, "true"),
        ([1], "[1]"),
    ],
)
def test_values_print_as_go_does(value: Any, text: str) -> None:
    assert print_value(value) == text


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False)
    | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)
FIELDS = ["spec", "status", "metadata", "data", "subsets", "rules", "subjects", "roleRef", "ports"]
KEYS = [
    "containers",
    "initContainers",
    "containerStatuses",
    "initContainerStatuses",
    "conditions",
    "replicas",
    "selector",
    "template",
    "ports",
    "type",
    "metrics",
    "currentMetrics",
    "hard",
    "capacity",
    "accessModes",
    "claimRef",
    "rules",
    "tls",
    "loadBalancer",
    "addresses",
    "state",
    "lastState",
    "labels",
    "annotations",
    "creationTimestamp",
    "deletionTimestamp",
    "phase",
    "readinessGates",
    "podIPs",
    "nodeInfo",
    "jobTemplate",
    "completions",
    "startTime",
]
shaped = st.dictionaries(
    st.sampled_from(FIELDS),
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6) | json_values,
    max_size=5,
)
KINDS = sorted(engine.printcells.PRINTERS)


@given(st.sampled_from(KINDS), shaped)
def test_any_json_prints_without_raising(kind: tuple[str, str], obj: dict[str, Any]) -> None:
    result = table([obj], group=kind[0], version="v1", kind=kind[1], now=NOW)
    assert len(result["rows"][0]["cells"]) == len(result["columnDefinitions"])


def cells_of(group: str, kind: str, obj: dict[str, Any]) -> list[Any]:
    cells: list[Any] = table([obj], group=group, version="v1", kind=kind, now=NOW)["rows"][0][
        "cells"
    ]
    return cells


def test_storage_rows() -> None:
    meta = {"name": "data", "creationTimestamp": ago(minutes=30)}
    pv = {
        "metadata": meta,
        "spec": {
            "capacity": {"storage": "1024Mi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": "default", "name": "claim"},
            "storageClassName": "fast",
        },
        "status": {"phase": "Bound"},
    }
    assert cells_of("", "PersistentVolume", pv) == [
        "data",
        "1Gi",
        "RWO,RWX",
        "Retain",
        "Bound",
        "default/claim",
        "fast",
        "<unset>",
        "",
        "30m",
        "<unset>",
    ]
    pending = {
        "metadata": {**meta, "annotations": {"volume.beta.kubernetes.io/storage-class": "old"}},
        "spec": {},
    }
    assert cells_of("", "PersistentVolumeClaim", pending)[:7] == [
        "data",
        "",
        "",
        "",
        "",
        "old",
        "<unset>",
    ]
    default = {
        "metadata": {
            **meta,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "kubeloop.io/fake",
    }
    assert cells_of("storage.k8s.io", "StorageClass", default) == [
        "data (default)",
        "kubeloop.io/fake",
        "Delete",
        "Immediate",
        False,
        "30m",
    ]


def test_policy_and_rbac_rows() -> None:
    meta = {"name": "web", "creationTimestamp": ago(seconds=5)}
    hpa = {
        "metadata": meta,
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 80},
                    },
                },
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "qps"},
                        "target": {"type": "AverageValue", "averageValue": "1k"},
                    },
                },
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "target": {"type": "AverageValue", "averageValue": "512Mi"},
                    },
                },
            ],
        },
        "status": {
            "currentReplicas": 3,
            "currentMetrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "current": {"averageUtilization": 45}},
                }
            ],
        },
    }
    assert cells_of("autoscaling", "HorizontalPodAutoscaler", hpa) == [
        "web",
        "Deployment/web",
        "cpu: 45%/80%, <unknown>/1k + 1 more...",
        "2",
        10,
        3,
        "5s",
    ]
    pdb = {"metadata": meta, "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}}
    assert cells_of("policy", "PodDisruptionBudget", pdb) == ["web", "50%", "N/A", 1, "5s"]
    binding = {
        "metadata": {**meta, "namespace": "default"},
        "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "Group", "name": "dev"},
            {"kind": "ServiceAccount", "name": "x", "namespace": "default"},
            {"kind": "User", "name": "bob"},
        ],
    }
    assert cells_of("rbac.authorization.k8s.io", "RoleBinding", binding) == [
        "web",
        "ClusterRole/view",
        "5s",
        "alice, bob",
        "dev",
        "default:x",
    ]
    secret = {"metadata": meta, "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}}
    assert cells_of("", "Secret", secret) == ["web", "kubernetes.io/tls", 2, "5s"]
    ingress = {
        "metadata": meta,
        "spec": {"ingressClassName": "nginx", "rules": [{"host": "a.example"}, {}], "tls": [{}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}]}},
    }
    assert cells_of("networking.k8s.io", "Ingress", ingress) == [
        "web",
        "nginx",
        "a.example",
        "10.0.0.9",
        "80, 443",
        "5s",
    ]
