"""The real kubectl (skipped where it is not installed) against a served
cluster: `create token`, `auth whoami`, `auth can-i` (with `--as`), and
discovery through the aggregated form only (its request log shows no
per-group-version fallback), with a CustomResourceDefinition appearing and
disappearing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed here")

ROBOT = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: robot, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: default}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: robot-reads-pods, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{kind: ServiceAccount, name: robot, namespace: default}]
"""
REQUEST = re.compile(r"\] (GET|POST|PUT|PATCH|DELETE) https?://[^/]+(/[^? ]*)")


def kubectl(
    kubeconfig: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    # A cache directory of the test's own: every run discovers afresh.
    cache = kubeconfig.parent / "kubectl-cache"
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), "--cache-dir", str(cache), *args],
        capture_output=True,
        text=True,
        timeout=60,
        input=stdin,
    )


def requests(done: subprocess.CompletedProcess[str]) -> list[str]:
    """The paths kubectl requested, from its `-v=6` log."""
    return [match.group(2) for match in REQUEST.finditer(done.stderr)]


def test_kubectl_create_token_whoami_and_can_i(kubeconfig: Path) -> None:
    assert kubectl(kubeconfig, "apply", "-f", "-", stdin=ROBOT).returncode == 0
    made = kubectl(kubeconfig, "create", "token", "robot", "--duration=20m")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.count(".") == 2  # a JWT
    whoami = kubectl(kubeconfig, "--token", token, "auth", "whoami")
    assert whoami.returncode == 0, whoami.stderr
    assert "system:serviceaccount:default:robot" in whoami.stdout
    assert "system:serviceaccounts:default" in whoami.stdout
    admin = kubectl(kubeconfig, "auth", "whoami", "-o", "json")
    assert yaml.safe_load(admin.stdout)["status"]["userInfo"]["username"] == "kubeloop-admin"
    allowed = kubectl(kubeconfig, "--token", token, "auth", "can-i", "list", "pods")
    assert (allowed.returncode, allowed.stdout.strip()) == (0, "yes")
    denied = kubectl(kubeconfig, "--token", token, "auth", "can-i", "delete", "pods")
    assert (denied.returncode, denied.stdout.strip()) == (1, "no")
    robot = "system:serviceaccount:default:robot"
    as_robot = kubectl(kubeconfig, "auth", "can-i", "create", "deployments", "--as", robot)
    assert as_robot.stdout.strip() == "no"
    assert kubectl(kubeconfig, "--token", token, "get", "pods").returncode == 0
    refused = kubectl(kubeconfig, "create", "token", "nobody")
    assert refused.returncode != 0 and 'serviceaccounts "nobody" not found' in refused.stderr
    short = kubectl(kubeconfig, "create", "token", "robot", "--duration=5m")
    assert short.returncode != 0 and "less than 10 minutes" in short.stderr


def test_kubectl_discovers_through_the_aggregated_form_only(
    kubeconfig: Path, tmp_path: Path
) -> None:
    from tests.runtime.apiserver.test_http_patch import CRD

    # A group of this run's own: a CRD's kind outlives its cluster in the
    # process-wide registry, so other tests' kinds may be listed.
    group = f"discovery{os.getpid()}.example.com"
    spec = {
        **CRD["spec"],
        "group": group,
        "names": {"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo", "shortNames": ["gz"]},
    }
    crd_document = {**CRD, "metadata": {"name": f"gizmos.{group}"}, "spec": spec}
    listed = kubectl(kubeconfig, "api-resources", "-v=6")
    assert listed.returncode == 0, listed.stderr
    assert requests(listed) == ["/api", "/apis"]
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:]}
    assert rows["deployments"][1:] == ["deploy", "apps/v1", "true", "Deployment"]
    assert rows["selfsubjectaccessreviews"][1:] == [
        "authorization.k8s.io/v1",
        "false",
        "SelfSubjectAccessReview",
    ]
    assert all(row[-3] != f"{group}/v1" for row in rows.values()), listed.stdout
    crd = tmp_path / "crd.yaml"
    crd.write_text(yaml.safe_dump(crd_document))
    assert kubectl(kubeconfig, "apply", "-f", str(crd)).returncode == 0
    listed = kubectl(kubeconfig, "api-resources", f"--api-group={group}", "-v=6")
    assert listed.returncode == 0, listed.stderr
    assert requests(listed) == ["/api", "/apis"]
    assert listed.stdout.splitlines()[1].split() == [
        "gizmos",
        "gz",
        f"{group}/v1",
        "true",
        "Gizmo",
    ]
    assert kubectl(kubeconfig, "delete", "-f", str(crd)).returncode == 0
    listed = kubectl(kubeconfig, "api-resources", f"--api-group={group}", "-v=6")
    assert listed.returncode == 0, listed.stderr
    assert requests(listed) == ["/api", "/apis"]
    assert "gizmos" not in listed.stdout
