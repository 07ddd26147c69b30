"""Defaults match Kubernetes': static SetDefaults_* on every object, the
kind-dependent ones and DefaultTolerationSeconds through `default_object`,
which never mutates and returns its argument when nothing is missing."""

from __future__ import annotations

from typing import Any

from hypothesis import given

from engine.api import (
    CronJob,
    DaemonSet,
    Deployment,
    HorizontalPodAutoscaler,
    Job,
    Namespace,
    Node,
    Pod,
    PriorityClass,
    ReplicaSet,
    Secret,
    Service,
    StatefulSet,
)
from engine.api.defaulting import default_object
from engine.manifests import parse_object
from engine.quantity import Quantity
from tests.engine.test_api_models import pod_manifests

NGINX_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "nginx"},
    "spec": {
        "containers": [{"name": "nginx", "image": "nginx:1.14.2", "ports": [{"containerPort": 80}]}]
    },
}

TEMPLATE = {
    "metadata": {"labels": {"app": "nginx"}},
    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.14.2"}]},
}
SELECTOR = {"matchLabels": {"app": "nginx"}}


def load(data: dict[str, Any]) -> Any:
    return parse_object(data)


def test_pod_defaults_match_kubernetes() -> None:
    pod = load(NGINX_POD)
    spec = pod.to_dict()["spec"]
    assert spec == {
        "containers": [
            {
                "name": "nginx",
                "image": "nginx:1.14.2",
                "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
            }
        ],
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": True,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "terminationGracePeriodSeconds": 30,
        "tolerations": [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
            {
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
        ],
    }
    assert pod.spec.security_context is not None  # {} on the wire, pruned by to_dict
    assert pod.status.qos_class == "BestEffort"


def test_probe_and_handler_defaults() -> None:
    pod = load(
        {
            **NGINX_POD,
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "i",
                        "livenessProbe": {"httpGet": {"port": 8080}},
                        "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 5},
                    }
                ]
            },
        }
    )
    liveness = pod.spec.containers[0].liveness_probe
    assert (
        liveness.timeout_seconds,
        liveness.period_seconds,
        liveness.success_threshold,
        liveness.failure_threshold,
    ) == (1, 10, 1, 3)
    assert (liveness.http_get.path, liveness.http_get.scheme) == ("/", "HTTP")
    assert pod.spec.containers[0].readiness_probe.period_seconds == 5


def test_volume_defaults() -> None:
    pod = load(
        {
            **NGINX_POD,
            "spec": {
                "containers": [{"name": "c", "image": "i"}],
                "volumes": [
                    {"name": "scratch"},
                    {"name": "cm", "configMap": {"name": "cm"}},
                    {"name": "s", "secret": {"secretName": "s"}},
                    {"name": "host", "hostPath": {"path": "/var/log"}},
                    {
                        "name": "token",
                        "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]},
                    },
                ],
            },
        }
    )
    scratch, config, secret, host, token = pod.spec.volumes
    assert scratch.empty_dir is not None
    assert config.config_map.default_mode == 0o644 == secret.secret.default_mode == 420
    assert host.host_path.type == ""
    assert token.projected.sources[0].service_account_token.expiration_seconds == 3600


def test_requests_default_to_limits_for_pods_only() -> None:
    container = {
        "name": "c",
        "image": "i",
        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "250m"}},
    }
    pod = load({**NGINX_POD, "spec": {"containers": [container]}})
    requests = pod.spec.containers[0].resources.requests
    assert requests == {"cpu": Quantity("250m"), "memory": Quantity("128Mi")}
    deployment = load(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {
                "selector": SELECTOR,
                "template": {**TEMPLATE, "spec": {"containers": [container]}},
            },
        }
    )
    assert deployment.spec.template.spec.containers[0].resources.requests == {
        "cpu": Quantity("250m")
    }


def test_guaranteed_pod_gets_its_qos_class() -> None:
    container = {"name": "c", "image": "i", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}
    pod = load({**NGINX_POD, "spec": {"containers": [container]}})
    assert pod.status.qos_class == "Guaranteed"


def test_host_network_pods_get_host_ports() -> None:
    pod = load(
        {
            **NGINX_POD,
            "spec": {
                "hostNetwork": True,
                "containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 9100}]}],
            },
        }
    )
    assert pod.spec.containers[0].ports[0].host_port == 9100


def test_existing_tolerations_are_respected() -> None:
    pod = load(
        {
            **NGINX_POD,
            "spec": {
                "containers": [{"name": "c", "image": "i"}],
                "tolerations": [
                    {
                        "key": "node.kubernetes.io/not-ready",
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 10,
                    }
                ],
            },
        }
    )
    keys = [(t.key, t.toleration_seconds) for t in pod.spec.tolerations]
    assert keys == [("node.kubernetes.io/not-ready", 10), ("node.kubernetes.io/unreachable", 300)]
    everything = load(
        {
            **NGINX_POD,
            "spec": {
                "containers": [{"name": "c", "image": "i"}],
                "tolerations": [{"operator": "Exists"}],
            },
        }
    )
    assert len(everything.spec.tolerations) == 1


def test_default_object_returns_the_same_object_when_nothing_is_missing() -> None:
    pod = load(NGINX_POD)
    assert default_object(pod) is pod
    for obj in (Deployment(), Namespace(), PriorityClass(value=1)):
        assert default_object(obj) is obj


def test_default_object_never_mutates() -> None:
    pod = Pod.model_validate(NGINX_POD)
    before = pod.to_dict()
    defaulted = default_object(pod)
    assert defaulted is not pod
    assert pod.to_dict() == before


@given(pod_manifests())
def test_defaulting_is_idempotent(manifest: dict[str, Any]) -> None:
    pod = parse_object(manifest)
    assert default_object(pod) is pod
    assert parse_object(pod.to_dict()) == pod


def test_deployment_defaults_match_kubernetes() -> None:
    deployment = load(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {"selector": SELECTOR, "template": TEMPLATE},
        }
    )
    spec = deployment.to_dict()["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    template_spec = spec["template"]["spec"]
    assert template_spec["restartPolicy"] == "Always"
    assert template_spec["terminationGracePeriodSeconds"] == 30
    # Pod-only defaults do not reach templates, as in Kubernetes.
    assert "enableServiceLinks" not in template_spec
    assert "tolerations" not in template_spec


def test_recreate_strategy_has_no_rolling_update() -> None:
    deployment = Deployment.model_validate({"spec": {"strategy": {"type": "Recreate"}}})
    assert deployment.spec.strategy.rolling_update is None


def test_replica_set_defaults() -> None:
    assert ReplicaSet().spec.replicas == 1


def test_stateful_set_defaults() -> None:
    spec = StatefulSet().spec
    assert (spec.replicas, spec.revision_history_limit, spec.pod_management_policy) == (
        1,
        10,
        "OrderedReady",
    )
    assert spec.update_strategy.type == "RollingUpdate"
    assert spec.update_strategy.rolling_update is not None
    assert spec.update_strategy.rolling_update.partition == 0
    policy = spec.persistent_volume_claim_retention_policy
    assert (policy.when_deleted, policy.when_scaled) == ("Retain", "Retain")
    # An explicit type gets no rollingUpdate block, as in Kubernetes.
    explicit = StatefulSet.model_validate({"spec": {"updateStrategy": {"type": "RollingUpdate"}}})
    assert explicit.spec.update_strategy.rolling_update is None
    claim = StatefulSet.model_validate(
        {"spec": {"volumeClaimTemplates": [{"metadata": {"name": "www"}}]}}
    ).spec.volume_claim_templates[0]
    assert (claim.spec.volume_mode, claim.status.phase) == ("Filesystem", "Pending")


def test_daemon_set_defaults() -> None:
    spec = DaemonSet().spec
    assert spec.update_strategy.type == "RollingUpdate"
    rolling = spec.update_strategy.rolling_update
    assert rolling is not None and (rolling.max_unavailable, rolling.max_surge) == (1, 0)
    assert spec.revision_history_limit == 10
    on_delete = DaemonSet.model_validate({"spec": {"updateStrategy": {"type": "OnDelete"}}})
    assert on_delete.spec.update_strategy.rolling_update is None


def _job(spec: dict[str, Any], labels: dict[str, str] | None = None) -> Job:
    template = {
        "metadata": {"labels": {"app": "pi"}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]},
    }
    metadata: dict[str, Any] = {"name": "pi"}
    if labels is not None:
        metadata["labels"] = labels
    job: Job = load(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": metadata,
            "spec": {"template": template, **spec},
        }
    )
    return job


def test_job_defaults_match_kubernetes() -> None:
    job = _job({})
    spec = job.spec
    assert (spec.completions, spec.parallelism, spec.backoff_limit) == (1, 1, 6)
    assert (spec.completion_mode, spec.suspend) == ("NonIndexed", False)
    assert spec.pod_replacement_policy == "TerminatingOrFailed"
    assert job.metadata.labels == {"app": "pi"}  # from the template, as SetDefaults_Job does
    assert _job({}, labels={"team": "a"}).metadata.labels == {"team": "a"}


def test_job_defaults_depend_on_other_fields() -> None:
    parallel = _job({"parallelism": 4})
    assert (parallel.spec.completions, parallel.spec.parallelism) == (None, 4)
    only_completions = _job({"completions": 5})
    assert (only_completions.spec.completions, only_completions.spec.parallelism) == (5, 1)
    per_index = _job({"completions": 3, "completionMode": "Indexed", "backoffLimitPerIndex": 1})
    assert per_index.spec.backoff_limit == 2**31 - 1
    with_policy = _job(
        {
            "podFailurePolicy": {
                "rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]
            }
        }
    )
    assert with_policy.spec.pod_replacement_policy == "Failed"
    assert with_policy.spec.pod_failure_policy is not None
    assert with_policy.spec.pod_failure_policy.rules[0].on_pod_conditions[0].status == "True"


def test_cron_job_defaults_and_untouched_job_template() -> None:
    cron = CronJob.model_validate({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {}}}})
    spec = cron.spec
    assert (spec.concurrency_policy, spec.suspend) == ("Allow", False)
    assert (spec.successful_jobs_history_limit, spec.failed_jobs_history_limit) == (3, 1)
    assert spec.job_template.spec.completions is None  # SetDefaults_Job is for Jobs only
    assert default_object(cron) is cron


def _service(spec: dict[str, Any]) -> Service:
    service: Service = load(
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": spec}
    )
    return service


def test_service_defaults_match_kubernetes() -> None:
    service = _service({"selector": {"app": "a"}, "ports": [{"port": 80}]})
    spec = service.spec
    assert (spec.type, spec.session_affinity, spec.internal_traffic_policy) == (
        "ClusterIP",
        "None",
        "Cluster",
    )
    assert (spec.ports[0].protocol, spec.ports[0].target_port) == ("TCP", 80)
    assert spec.external_traffic_policy is None
    assert spec.allocate_load_balancer_node_ports is None


def test_load_balancer_and_external_name_service_defaults() -> None:
    lb = _service({"type": "LoadBalancer", "ports": [{"port": 80, "targetPort": "http"}]}).spec
    assert (lb.external_traffic_policy, lb.allocate_load_balancer_node_ports) == ("Cluster", True)
    assert lb.ports[0].target_port == "http"
    external = _service({"type": "ExternalName", "externalName": "example.com"}).spec
    assert external.internal_traffic_policy is None


def test_client_ip_affinity_gets_a_timeout() -> None:
    spec = _service({"sessionAffinity": "ClientIP", "ports": [{"port": 80}]}).spec
    assert spec.session_affinity_config is not None
    assert spec.session_affinity_config.client_ip is not None
    assert spec.session_affinity_config.client_ip.timeout_seconds == 10800


def test_hpa_defaults_match_kubernetes() -> None:
    hpa = HorizontalPodAutoscaler.model_validate(
        {
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "web"},
                "maxReplicas": 5,
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}},
            }
        }
    )
    spec = hpa.spec
    assert spec.min_replicas == 1
    assert spec.metrics[0].resource is not None
    assert spec.metrics[0].resource.target.average_utilization == 80
    behavior = spec.behavior
    assert behavior is not None and behavior.scale_up is not None
    assert behavior.scale_down is not None
    assert behavior.scale_up.stabilization_window_seconds == 0
    assert [(p.type, p.value, p.period_seconds) for p in behavior.scale_up.policies or []] == [
        ("Pods", 4, 15),
        ("Percent", 100, 15),
    ]
    assert behavior.scale_down.stabilization_window_seconds == 60
    assert behavior.scale_down.select_policy == "Max"
    assert HorizontalPodAutoscaler().spec.behavior is None


def test_secret_string_data_is_merged_into_data() -> None:
    secret = load(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s"},
            "data": {"user": "b2xk", "other": "eA=="},
            "stringData": {"user": "admin"},
        }
    )
    assert secret.type == "Opaque"
    assert secret.string_data == {}
    assert secret.decoded("user") == b"admin" and secret.decoded("other") == b"x"
    assert isinstance(secret, Secret)


def test_namespace_gets_its_name_label() -> None:
    namespace = load({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    assert namespace.metadata.labels == {"kubernetes.io/metadata.name": "team-a"}
    assert namespace.status.phase == "Active"


def test_node_allocatable_defaults_to_capacity() -> None:
    node = load(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "n1"},
            "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}},
        }
    )
    assert node.status.allocatable == node.status.capacity
    assert node.status.allocatable["cpu"].milli_value() == 4000
    kept = Node.model_validate(
        {"status": {"capacity": {"cpu": "4"}, "allocatable": {"cpu": "3800m"}}}
    )
    assert default_object(kept) is kept


def test_priority_class_default_preemption_policy() -> None:
    assert PriorityClass(value=1000).preemption_policy == "PreemptLowerPriority"
