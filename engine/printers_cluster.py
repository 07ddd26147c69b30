"""Printers of the cluster, network, config, storage, RBAC and admission kinds
(kube-apiserver's printers.go): Services, Endpoints and EndpointSlices, Nodes,
Events (core and events.k8s.io), Namespaces, Secrets, ConfigMaps,
ServiceAccounts, PersistentVolumes and claims, StorageClasses, Ingresses and
IngressClasses, NetworkPolicies, (Cluster)RoleBindings, Leases,
ResourceQuotas, PriorityClasses, RuntimeClasses, webhook configurations and
CertificateSigningRequests. Importing the module registers them in
`engine.printcells.PRINTERS`.

Neighbours: `engine.printers` (the Table), `engine.printcells` (helpers).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from engine.printcells import (
    _AGE,
    _NAME,
    PRINTERS,
    Column,
    Row,
    _access_modes,
    _age,
    _get,
    _int,
    _items,
    _list,
    _load_balancer,
    _map,
    _name,
    _printer,
    _quantity,
    _since,
    _str,
    _with_more,
    format_label_selector,
    format_labels,
    human_duration,
)


def _service_external_ip(obj: Mapping[str, Any]) -> str:
    spec = _map(obj, "spec")
    external = [str(ip) for ip in _list(spec, "externalIPs")]
    kind = _str(spec.get("type")) or "ClusterIP"
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if kind == "LoadBalancer":
        lb = _load_balancer(_map(obj, "status", "loadBalancer"))
        results = ([*lb.split(",")] if lb else []) + external
        if external:
            return ",".join(results)
        return lb or "<pending>"
    if kind == "ExternalName":
        return _str(spec.get("externalName"))
    return "<unknown>"


@_printer(
    "",
    "Service",
    _NAME,
    ("Type", "string", "@core.v1.ServiceSpec.type", 0),
    ("Cluster-IP", "string", "@core.v1.ServiceSpec.clusterIP", 0),
    ("External-IP", "string", "@core.v1.ServiceSpec.externalIPs", 0),
    ("Port(s)", "string", "@core.v1.ServiceSpec.ports", 0),
    _AGE,
    ("Selector", "string", "@core.v1.ServiceSpec.selector", 1),
)
def _service(obj: Mapping[str, Any], now: datetime) -> Row:
    spec = _map(obj, "spec")
    cluster_ips = [str(ip) for ip in _list(spec, "clusterIPs")] or (
        [_str(spec.get("clusterIP"))] if _str(spec.get("clusterIP")) else []
    )
    ports = []
    for port in _items(spec, "ports"):
        protocol = port.get("protocol") or "TCP"
        if _int(port.get("nodePort")) > 0:
            ports.append(f"{_int(port.get('port'))}:{port['nodePort']}/{protocol}")
        else:
            ports.append(f"{_int(port.get('port'))}/{protocol}")
    return [
        _name(obj),
        _str(spec.get("type")) or "ClusterIP",
        cluster_ips[0] if cluster_ips else "<none>",
        _service_external_ip(obj),
        ",".join(ports) or "<none>",
        _age(obj, now),
        format_labels(spec.get("selector")),
    ]


def _join_host_port(host: str, port: int) -> str:
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]:{port}"
    except ValueError:
        pass
    return f"{host}:{port}"


@_printer("", "Endpoints", _NAME, ("Endpoints", "string", "@core.v1.Endpoints.subsets", 0), _AGE)
def _endpoints(obj: Mapping[str, Any], now: datetime) -> Row:
    subsets = _items(obj, "subsets")
    if not subsets:
        return [_name(obj), "<none>", _age(obj, now)]
    shown: list[str] = []
    count = 0
    for subset in subsets:
        if not isinstance(subset, Mapping):
            continue
        addresses = [_str(a.get("ip")) for a in _items(subset, "addresses")]
        ports = _items(subset, "ports")
        if not ports:
            for ip in addresses:
                if len(shown) < 3:
                    shown.append(ip)
                count += 1
        for port in ports:
            for ip in addresses:
                if len(shown) < 3:
                    shown.append(_join_host_port(ip, _int(port.get("port"))))
                count += 1
    return [_name(obj), _with_more(shown, count, 3, ""), _age(obj, now)]


@_printer(
    "discovery.k8s.io",
    "EndpointSlice",
    _NAME,
    ("AddressType", "string", "@discovery.v1.EndpointSlice.addressType", 0),
    ("Ports", "string", "@discovery.v1.EndpointSlice.ports", 0),
    ("Endpoints", "string", "@discovery.v1.EndpointSlice.endpoints", 0),
    _AGE,
)
def _endpoint_slice(obj: Mapping[str, Any], now: datetime) -> Row:
    ports = _items(obj, "ports")
    port_list = []
    for port in ports[:3]:
        if port.get("port") is not None:
            port_list.append(str(port["port"]))
        elif port.get("name") is not None:
            port_list.append(_str(port["name"]))
        else:
            port_list.append("*")
    addresses = [a for e in _items(obj, "endpoints") for a in _list(e, "addresses")]
    return [
        _name(obj),
        _str(obj.get("addressType")),
        _with_more(port_list, len(ports), 3, "<unset>"),
        _with_more([str(a) for a in addresses[:3]], len(addresses), 3, "<unset>"),
        _age(obj, now),
    ]


def _node_roles(labels: Mapping[str, Any]) -> list[str]:
    roles = set()
    for key, value in labels.items():
        if key.startswith("node-role.kubernetes.io/"):
            role = key.removeprefix("node-role.kubernetes.io/")
            if role:
                roles.add(role)
        elif key == "kubernetes.io/role" and value:
            roles.add(str(value))
    return sorted(roles)


@_printer(
    "",
    "Node",
    _NAME,
    ("Status", "string", "The status of the node", 0),
    ("Roles", "string", "The roles of the node", 0),
    _AGE,
    ("Version", "string", "@core.v1.NodeSystemInfo.kubeletVersion", 0),
    ("Internal-IP", "string", "@core.v1.NodeStatus.addresses", 1),
    ("External-IP", "string", "@core.v1.NodeStatus.addresses", 1),
    ("OS-Image", "string", "@core.v1.NodeSystemInfo.osImage", 1),
    ("Kernel-Version", "string", "@core.v1.NodeSystemInfo.kernelVersion", 1),
    ("Container-Runtime", "string", "@core.v1.NodeSystemInfo.containerRuntimeVersion", 1),
)
def _node(obj: Mapping[str, Any], now: datetime) -> Row:
    status: list[str] = []
    for condition in _items(obj, "status", "conditions"):
        if condition.get("type") == "Ready":
            status = ["Ready" if condition.get("status") == "True" else "NotReady"]
    if not status:
        status = ["Unknown"]
    if _get(obj, "spec", "unschedulable") is True:
        status.append("SchedulingDisabled")
    info = _map(obj, "status", "nodeInfo")

    def address(kind: str) -> str:
        for entry in _items(obj, "status", "addresses"):
            if entry.get("type") == kind:
                return _str(entry.get("address"))
        return "<none>"

    return [
        _name(obj),
        ",".join(status),
        ",".join(_node_roles(_map(obj, "metadata", "labels"))) or "<none>",
        _age(obj, now),
        _str(info.get("kubeletVersion")),
        address("InternalIP"),
        address("ExternalIP"),
        _str(info.get("osImage")) or "<unknown>",
        _str(info.get("kernelVersion")) or "<unknown>",
        _str(info.get("containerRuntimeVersion")) or "<unknown>",
    ]


_EVENT_COLUMNS: Final[tuple[Column, ...]] = (
    ("Last Seen", "string", "@core.v1.Event.lastTimestamp", 0),
    ("Type", "string", "@core.v1.Event.type", 0),
    ("Reason", "string", "@core.v1.Event.reason", 0),
    ("Object", "string", "@core.v1.Event.involvedObject", 0),
    ("Subobject", "string", "@core.v1.ObjectReference.fieldPath", 1),
    ("Source", "string", "@core.v1.Event.source", 1),
    ("Message", "string", "@core.v1.Event.message", 0),
    ("First Seen", "string", "@core.v1.Event.firstTimestamp", 1),
    ("Count", "string", "@core.v1.Event.count", 1),
    ("Name", "string", "@meta.v1.ObjectMeta.name", 1),
)


def _event_row(
    obj: Mapping[str, Any], now: datetime, involved: Mapping[str, Any], message: str, source: str
) -> Row:
    first = obj.get("firstTimestamp") or obj.get("deprecatedFirstTimestamp")
    first_text = _since(first, now) if first else _since(obj.get("eventTime"), now)
    last = obj.get("lastTimestamp") or obj.get("deprecatedLastTimestamp")
    last_text = _since(last, now) if last else first_text
    count = _int(obj.get("count") or obj.get("deprecatedCount"))
    series = obj.get("series")
    if isinstance(series, Mapping):
        last_text = _since(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    elif count == 0:
        count = 1
    kind = _str(involved.get("kind")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    return [
        last_text,
        _str(obj.get("type")),
        _str(obj.get("reason")),
        target,
        _str(involved.get("fieldPath")),
        source,
        message.strip(),
        first_text,
        count,
        _name(obj),
    ]


def _source(component: str, instance: str) -> str:
    return f"{component}, {instance}" if instance else component


@_printer("", "Event", *_EVENT_COLUMNS)
def _event(obj: Mapping[str, Any], now: datetime) -> Row:
    source = _source(
        _str(_get(obj, "source", "component")) or _str(obj.get("reportingComponent")),
        _str(_get(obj, "source", "host")) or _str(obj.get("reportingInstance")),
    )
    return _event_row(obj, now, _map(obj, "involvedObject"), _str(obj.get("message")), source)


@_printer("events.k8s.io", "Event", *_EVENT_COLUMNS)
def _events_v1_event(obj: Mapping[str, Any], now: datetime) -> Row:
    source = _source(
        _str(_get(obj, "deprecatedSource", "component")) or _str(obj.get("reportingController")),
        _str(_get(obj, "deprecatedSource", "host")) or _str(obj.get("reportingInstance")),
    )
    return _event_row(obj, now, _map(obj, "regarding"), _str(obj.get("note")), source)


@_printer("", "Namespace", _NAME, ("Status", "string", "The status of the namespace", 0), _AGE)
def _namespace(obj: Mapping[str, Any], now: datetime) -> Row:
    return [_name(obj), _str(_get(obj, "status", "phase")), _age(obj, now)]


@_printer(
    "",
    "Secret",
    _NAME,
    ("Type", "string", "@core.v1.Secret.type", 0),
    ("Data", "string", "@core.v1.Secret.data", 0),
    _AGE,
)
def _secret(obj: Mapping[str, Any], now: datetime) -> Row:
    data = set(_map(obj, "data")) | set(_map(obj, "stringData"))
    return [_name(obj), _str(obj.get("type")) or "Opaque", len(data), _age(obj, now)]


@_printer("", "ConfigMap", _NAME, ("Data", "string", "@core.v1.ConfigMap.data", 0), _AGE)
def _config_map(obj: Mapping[str, Any], now: datetime) -> Row:
    return [_name(obj), len(_map(obj, "data")) + len(_map(obj, "binaryData")), _age(obj, now)]


@_printer(
    "", "ServiceAccount", _NAME, ("Secrets", "string", "@core.v1.ServiceAccount.secrets", 0), _AGE
)
def _service_account(obj: Mapping[str, Any], now: datetime) -> Row:
    return [_name(obj), len(_list(obj, "secrets")), _age(obj, now)]


def _storage_class_of(obj: Mapping[str, Any]) -> str:
    """GetPersistentVolume(Claim)Class: the beta annotation, else the field."""
    annotation = _get(obj, "metadata", "annotations", "volume.beta.kubernetes.io/storage-class")
    return _str(annotation) or _str(_get(obj, "spec", "storageClassName"))


@_printer(
    "",
    "PersistentVolume",
    _NAME,
    ("Capacity", "string", "@core.v1.PersistentVolumeSpec.capacity", 0),
    ("Access Modes", "string", "@core.v1.PersistentVolumeSpec.accessModes", 0),
    ("Reclaim Policy", "string", "@core.v1.PersistentVolumeSpec.persistentVolumeReclaimPolicy", 0),
    ("Status", "string", "@core.v1.PersistentVolumeStatus.phase", 0),
    ("Claim", "string", "@core.v1.PersistentVolumeSpec.claimRef", 0),
    ("StorageClass", "string", "StorageClass of the pv", 0),
    ("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv", 0),
    ("Reason", "string", "@core.v1.PersistentVolumeStatus.reason", 0),
    _AGE,
    ("VolumeMode", "string", "@core.v1.PersistentVolumeSpec.volumeMode", 1),
)
def _persistent_volume(obj: Mapping[str, Any], now: datetime) -> Row:
    spec = _map(obj, "spec")
    claim = _map(spec, "claimRef")
    claim_text = f"{_str(claim.get('namespace'))}/{_str(claim.get('name'))}" if claim else ""
    phase = _str(_get(obj, "status", "phase"))
    if _get(obj, "metadata", "deletionTimestamp") is not None:
        phase = "Terminating"
    storage_class = _storage_class_of(obj)
    return [
        _name(obj),
        _quantity(_get(spec, "capacity", "storage")),
        _access_modes(_list(spec, "accessModes")),
        _str(spec.get("persistentVolumeReclaimPolicy")),
        phase,
        claim_text,
        storage_class,
        _str(spec.get("volumeAttributesClassName")) or "<unset>",
        _str(_get(obj, "status", "reason")),
        _age(obj, now),
        _str(spec.get("volumeMode")) or "<unset>",
    ]


@_printer(
    "",
    "PersistentVolumeClaim",
    _NAME,
    ("Status", "string", "@core.v1.PersistentVolumeClaimStatus.phase", 0),
    ("Volume", "string", "@core.v1.PersistentVolumeClaimSpec.volumeName", 0),
    ("Capacity", "string", "@core.v1.PersistentVolumeClaimStatus.capacity", 0),
    ("Access Modes", "string", "@core.v1.PersistentVolumeClaimStatus.accessModes", 0),
    ("StorageClass", "string", "StorageClass of the pvc", 0),
    ("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc", 0),
    _AGE,
    ("VolumeMode", "string", "@core.v1.PersistentVolumeClaimSpec.volumeMode", 1),
)
def _persistent_volume_claim(obj: Mapping[str, Any], now: datetime) -> Row:
    spec = _map(obj, "spec")
    phase = _str(_get(obj, "status", "phase"))
    if _get(obj, "metadata", "deletionTimestamp") is not None:
        phase = "Terminating"
    capacity = access = ""
    if spec.get("volumeName"):
        access = _access_modes(_list(obj, "status", "accessModes"))
        capacity = _quantity(_get(obj, "status", "capacity", "storage"))
    storage_class = _storage_class_of(obj)
    return [
        _name(obj),
        phase,
        _str(spec.get("volumeName")),
        capacity,
        access,
        storage_class,
        _str(spec.get("volumeAttributesClassName")) or "<unset>",
        _age(obj, now),
        _str(spec.get("volumeMode")) or "<unset>",
    ]


@_printer(
    "storage.k8s.io",
    "StorageClass",
    _NAME,
    ("Provisioner", "string", "@storage.v1.StorageClass.provisioner", 0),
    ("ReclaimPolicy", "string", "@storage.v1.StorageClass.reclaimPolicy", 0),
    ("VolumeBindingMode", "string", "@storage.v1.StorageClass.volumeBindingMode", 0),
    ("AllowVolumeExpansion", "string", "@storage.v1.StorageClass.allowVolumeExpansion", 0),
    _AGE,
)
def _storage_class(obj: Mapping[str, Any], now: datetime) -> Row:
    annotations = _map(obj, "metadata", "annotations")
    default = any(
        annotations.get(key) == "true"
        for key in (
            "storageclass.kubernetes.io/is-default-class",
            "storageclass.beta.kubernetes.io/is-default-class",
        )
    )
    return [
        _name(obj) + (" (default)" if default else ""),
        _str(obj.get("provisioner")),
        _str(obj.get("reclaimPolicy")) or "Delete",
        _str(obj.get("volumeBindingMode")) or "Immediate",
        obj.get("allowVolumeExpansion") is True,
        _age(obj, now),
    ]


@_printer(
    "networking.k8s.io",
    "Ingress",
    _NAME,
    (
        "Class",
        "string",
        "The name of the IngressClass resource that should be used for additional configuration",
        0,
    ),
    (
        "Hosts",
        "string",
        "Hosts that incoming requests are matched against before the ingress rule",
        0,
    ),
    ("Address", "string", "Address is a list containing ingress points for the load-balancer", 0),
    ("Ports", "string", "Ports of TLS configurations that open", 0),
    _AGE,
)
def _ingress(obj: Mapping[str, Any], now: datetime) -> Row:
    rules = _items(obj, "spec", "rules")
    hosts = [_str(r.get("host")) for r in rules[:3] if r.get("host")]
    hosts_text = ",".join(hosts) or "*"
    if len(rules) > 3 and hosts:
        hosts_text = f"{hosts_text} + {len(rules) - 3} more..."
    return [
        _name(obj),
        _str(_get(obj, "spec", "ingressClassName")) or "<none>",
        hosts_text,
        _load_balancer(_map(obj, "status", "loadBalancer")),
        "80, 443" if _list(obj, "spec", "tls") else "80",
        _age(obj, now),
    ]


@_printer(
    "networking.k8s.io",
    "IngressClass",
    _NAME,
    ("Controller", "string", "Controller that is responsible for handling this class", 0),
    ("Parameters", "string", "A reference to a resource with additional parameters", 0),
    _AGE,
)
def _ingress_class(obj: Mapping[str, Any], now: datetime) -> Row:
    params = _map(obj, "spec", "parameters")
    text = "<none>"
    if params:
        group = _str(params.get("apiGroup"))
        kind = _str(params.get("kind")) + (f".{group}" if group else "")
        text = f"{kind}/{_str(params.get('name'))}"
    return [_name(obj), _str(_get(obj, "spec", "controller")), text, _age(obj, now)]


@_printer(
    "networking.k8s.io",
    "NetworkPolicy",
    _NAME,
    ("Pod-Selector", "string", "@networking.v1.NetworkPolicySpec.podSelector", 0),
    _AGE,
)
def _network_policy(obj: Mapping[str, Any], now: datetime) -> Row:
    return [_name(obj), format_label_selector(_map(obj, "spec", "podSelector")), _age(obj, now)]


def _binding_columns(what: str) -> tuple[Column, ...]:
    return (
        _NAME,
        ("Role", "string", f"@rbac.v1.{what}.roleRef", 0),
        _AGE,
        ("Users", "string", f"Users in the {what[0].lower() + what[1:]}", 1),
        ("Groups", "string", f"Groups in the {what[0].lower() + what[1:]}", 1),
        ("ServiceAccounts", "string", f"ServiceAccounts in the {what[0].lower() + what[1:]}", 1),
    )


def _binding(obj: Mapping[str, Any], now: datetime) -> Row:
    ref = _map(obj, "roleRef")
    users, groups, accounts = [], [], []
    for subject in _items(obj, "subjects"):
        kind, name = subject.get("kind"), _str(subject.get("name"))
        if kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
        elif kind == "ServiceAccount":
            accounts.append(f"{_str(subject.get('namespace'))}:{name}")
    return [
        _name(obj),
        f"{_str(ref.get('kind'))}/{_str(ref.get('name'))}",
        _age(obj, now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(accounts),
    ]


PRINTERS[("rbac.authorization.k8s.io", "RoleBinding")] = (
    _binding_columns("RoleBinding"),
    _binding,
)
PRINTERS[("rbac.authorization.k8s.io", "ClusterRoleBinding")] = (
    _binding_columns("ClusterRoleBinding"),
    _binding,
)


@_printer(
    "coordination.k8s.io",
    "Lease",
    _NAME,
    ("Holder", "string", "@coordination.v1.LeaseSpec.holderIdentity", 0),
    _AGE,
)
def _lease(obj: Mapping[str, Any], now: datetime) -> Row:
    return [_name(obj), _str(_get(obj, "spec", "holderIdentity")), _age(obj, now)]


@_printer(
    "",
    "ResourceQuota",
    _NAME,
    _AGE,
    (
        "Request",
        "string",
        "Request represents a minimum amount of cpu/memory that a container may consume.",
        0,
    ),
    (
        "Limit",
        "string",
        "Limits control the maximum amount of cpu/memory that a container may use "
        "independent of contention on the node.",
        0,
    ),
)
def _resource_quota(obj: Mapping[str, Any], now: datetime) -> Row:
    hard, used = _map(obj, "status", "hard"), _map(obj, "status", "used")
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        text = f"{resource}: {_quantity(used.get(resource))}/{_quantity(hard[resource])}"
        pieces = resource.split(".")
        (limits if len(pieces) > 1 and pieces[0] == "limits" else requests).append(text)
    return [_name(obj), _age(obj, now), ", ".join(requests), ", ".join(limits)]


@_printer(
    "scheduling.k8s.io",
    "PriorityClass",
    _NAME,
    ("Value", "integer", "@scheduling.v1.PriorityClass.value", 0),
    ("Global-Default", "boolean", "@scheduling.v1.PriorityClass.globalDefault", 0),
    ("PreemptionPolicy", "string", "@scheduling.v1.PriorityClass.preemptionPolicy", 0),
    _AGE,
)
def _priority_class(obj: Mapping[str, Any], now: datetime) -> Row:
    return [
        _name(obj),
        _int(obj.get("value")),
        obj.get("globalDefault") is True,
        _str(obj.get("preemptionPolicy")) or "PreemptLowerPriority",
        _age(obj, now),
    ]


@_printer(
    "node.k8s.io",
    "RuntimeClass",
    _NAME,
    ("Handler", "string", "@node.v1.RuntimeClass.handler", 0),
    _AGE,
)
def _runtime_class(obj: Mapping[str, Any], now: datetime) -> Row:
    return [_name(obj), _str(obj.get("handler")), _age(obj, now)]


def _webhooks(obj: Mapping[str, Any], now: datetime) -> Row:
    return [_name(obj), len(_items(obj, "webhooks")), _age(obj, now)]


_WEBHOOK_COLUMNS: Final[tuple[Column, ...]] = (
    _NAME,
    (
        "Webhooks",
        "integer",
        "Webhooks indicates the number of webhooks registered in this configuration",
        0,
    ),
    _AGE,
)
for _kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
    PRINTERS[("admissionregistration.k8s.io", _kind)] = (_WEBHOOK_COLUMNS, _webhooks)


@_printer(
    "certificates.k8s.io",
    "CertificateSigningRequest",
    _NAME,
    _AGE,
    ("SignerName", "string", "@certificates.v1.CertificateSigningRequestSpec.signerName", 0),
    ("Requestor", "string", "@certificates.v1.CertificateSigningRequestSpec.request", 0),
    (
        "RequestedDuration",
        "string",
        "@certificates.v1.CertificateSigningRequestSpec.expirationSeconds",
        0,
    ),
    ("Condition", "string", "@certificates.v1.CertificateSigningRequestStatus.conditions", 0),
)
def _csr(obj: Mapping[str, Any], now: datetime) -> Row:
    types = {c.get("type") for c in _items(obj, "status", "conditions")}
    state = "Denied" if "Denied" in types else "Failed" if "Failed" in types else None
    if state is None:
        state = "Approved" if "Approved" in types else "Pending"
    if _get(obj, "status", "certificate"):
        state += ",Issued"
    seconds = _get(obj, "spec", "expirationSeconds")
    requested = "<none>" if seconds is None else human_duration(timedelta(seconds=_int(seconds)))
    return [
        _name(obj),
        _age(obj, now),
        _str(_get(obj, "spec", "signerName")),
        _str(_get(obj, "spec", "username")),
        requested,
        state,
    ]
