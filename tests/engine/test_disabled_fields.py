"""Pod fields behind feature gates a 1.34 apiserver has off are dropped, and
the pod is judged without them, as 1.34 judges it."""

from __future__ import annotations

from typing import Any

import pytest

from engine.api.core import Pod
from engine.errors import Invalid
from engine.manifests import parse_object


def _pod(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}


def _container(**fields: Any) -> dict[str, Any]:
    return {"name": "app", "image": "busybox", **fields}


def test_an_env_var_whose_only_source_is_a_file_key_ref_is_refused() -> None:
    env = [
        {
            "name": "DB",
            "valueFrom": {"fileKeyRef": {"volumeName": "c", "path": "a.env", "key": "DB"}},
        }
    ]
    manifest = _pod(containers=[_container(env=env)], volumes=[{"name": "c", "emptyDir": {}}])
    with pytest.raises(
        Invalid, match=r"spec\.containers\[0\]\.env\[0\]\.valueFrom: .*must specify one of"
    ):
        parse_object(manifest)


def test_an_image_volume_is_dropped_and_the_volume_has_no_type_left() -> None:
    volume = {"name": "v", "image": {"reference": "quay.io/crio/artifact:v2"}}
    with pytest.raises(
        Invalid, match=r"spec\.volumes\[0\]: Required value: must specify a volume type"
    ):
        parse_object(_pod(containers=[_container()], volumes=[volume]))


def test_restart_policy_rules_and_trust_bundle_projections_are_dropped() -> None:
    rules = [{"action": "Restart", "exitCodes": {"operator": "In", "values": [42]}}]
    projected = {
        "sources": [
            {"clusterTrustBundle": {"name": "example", "path": "roots.pem"}},
            {"configMap": {"name": "settings"}},
        ]
    }
    pod = parse_object(
        _pod(
            containers=[_container(restartPolicy="Never", restartPolicyRules=rules)],
            restartPolicy="Never",
            volumes=[{"name": "v", "projected": projected}],
        )
    )
    assert isinstance(pod, Pod)
    assert pod.spec.containers[0].restart_policy_rules == []
    assert pod.spec.containers[0].restart_policy is None
    sources = pod.spec.volumes[0].projected.sources  # type: ignore[union-attr]
    assert sources[0].cluster_trust_bundle is None
    assert sources[1].config_map is not None and sources[1].config_map.name == "settings"


def test_a_pod_without_gated_fields_is_the_same_object() -> None:
    from engine.api.disabled_fields import drop_disabled_fields

    pod = parse_object(_pod(containers=[_container(env=[{"name": "A", "value": "1"}])]))
    assert isinstance(pod, Pod)
    assert drop_disabled_fields(pod.spec) is pod.spec
