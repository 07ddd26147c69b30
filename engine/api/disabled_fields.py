"""Pod fields a Kubernetes 1.34 apiserver drops because their feature gate is
off by default (kube-apiserver's dropDisabledPodFields): kubeloop serves what
a 1.34 apiserver serves with its default gates, and its models know these
fields (they follow later releases), so they are dropped as 1.34 drops them.
A pod that needed one is then judged without it, as 1.34 judges it: an env
var whose only source was a `fileKeyRef` has none left and is refused.

| field | feature gate (stage in 1.34) |
| --- | --- |
| `volumes[].image` | ImageVolume (beta, off) |
| `volumes[].projected.sources[].clusterTrustBundle` | ClusterTrustBundleProjection (beta, off) |
| `volumes[].projected.sources[].podCertificate` | PodCertificateRequest (alpha) |
| `restartPolicy` of app containers, `restartPolicyRules` | ContainerRestartRules (alpha) |
| `env[].valueFrom.fileKeyRef` of any container | EnvFiles (alpha) |

`drop_disabled_fields(spec)` returns `spec` itself when none is set, else a
copy without them; it never changes what it is given.

Neighbours: `engine.api.defaulting` (calls it for every pod spec it
defaults), `engine.gated` (kinds behind gates).
"""

from __future__ import annotations

from typing import Any

from engine.api.core import Container, PodSpec, Volume

__all__ = ["drop_disabled_fields"]


def drop_disabled_fields(spec: PodSpec) -> PodSpec:
    update: dict[str, Any] = {}
    volumes = _volumes(spec.volumes)
    if volumes is not spec.volumes:
        update["volumes"] = volumes
    for field in ("containers", "init_containers"):
        containers: list[Container] = getattr(spec, field)
        # An init container's restartPolicy (Always: a sidecar) is GA; an app
        # container's is the gated part.
        changed = _containers(containers, app=field == "containers")
        if changed is not containers:
            update[field] = changed
    return spec.model_copy(update=update) if update else spec


def _volumes(volumes: list[Volume]) -> list[Volume]:
    result: list[Volume] | None = None
    for index, volume in enumerate(volumes):
        new = volume
        if volume.image is not None:
            new = new.model_copy(update={"image": None})
        projected = volume.projected
        if projected is not None and any(
            s.cluster_trust_bundle is not None or s.pod_certificate is not None
            for s in projected.sources
        ):
            sources = [
                s.model_copy(update={"cluster_trust_bundle": None, "pod_certificate": None})
                for s in projected.sources
            ]
            new = new.model_copy(
                update={"projected": projected.model_copy(update={"sources": sources})}
            )
        if new is not volume:
            if result is None:
                result = list(volumes)
            result[index] = new
    return volumes if result is None else result


def _containers(containers: list[Container], *, app: bool) -> list[Container]:
    result: list[Container] | None = None
    for index, container in enumerate(containers):
        update: dict[str, Any] = {}
        if container.restart_policy_rules:
            update["restart_policy_rules"] = []
        if app and container.restart_policy is not None:
            update["restart_policy"] = None
        if any(e.value_from is not None and e.value_from.file_key_ref for e in container.env):
            update["env"] = [
                e.model_copy(
                    update={"value_from": e.value_from.model_copy(update={"file_key_ref": None})}
                )
                if e.value_from is not None and e.value_from.file_key_ref is not None
                else e
                for e in container.env
            ]
        if update:
            if result is None:
                result = list(containers)
            result[index] = container.model_copy(update=update)
    return containers if result is None else result
