"""The protobuf form of `/openapi/v2`, which kubectl asks for (Accept
`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`, answered with
Content-Type `application/com.github.proto-openapi.spec.v2.v1.0+protobuf`, as
kube-apiserver does): gnostic's `openapi.v2.Document` message.

Contract: `openapi_v2_protobuf(doc)` encodes a Swagger 2.0 document (as
`engine.openapi.openapi_v2` builds it) into that message's bytes;
`document_message_class()` is the generated message class, for reading such
bytes back (tests do).

The message classes come from a descriptor built at first use with
`google.protobuf.descriptor_pb2` (the `protobuf` package's own reflection),
so the wire format is the protobuf library's, not hand-written. The
descriptor declares the subset of gnostic's OpenAPIv2.proto that a Kubernetes
document uses (document, info, paths, operations, parameters, responses,
schemas, vendor extensions), with gnostic's message names and field numbers;
the fields it leaves out are never set by the apiserver either. As gnostic
and kube-apiserver do, vendor extensions, defaults and enum values travel as
YAML text in `Any.yaml`.

Neighbours: `engine.openapi`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Final

import yaml
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

__all__ = [
    "PROTOBUF_ACCEPT",
    "PROTOBUF_CONTENT_TYPE",
    "document_message_class",
    "openapi_v2_protobuf",
]

PROTOBUF_ACCEPT: Final = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
"""The media type kubectl asks `/openapi/v2` for."""
PROTOBUF_CONTENT_TYPE: Final = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
"""The Content-Type kube-apiserver answers it with (Go's mime parser refuses the `@`)."""

_F = descriptor_pb2.FieldDescriptorProto
_STRING, _BOOL, _DOUBLE, _INT64, _MESSAGE = (
    _F.TYPE_STRING,
    _F.TYPE_BOOL,
    _F.TYPE_DOUBLE,
    _F.TYPE_INT64,
    _F.TYPE_MESSAGE,
)
_REPEATED = "repeated"

# message -> [(field, number, type or message name, repeated?, oneof?)]
_FieldSpec = tuple[str, int, int | str, bool, str | None]


def _f(name: str, number: int, kind: int | str, *flags: str) -> _FieldSpec:
    oneof = next((flag[6:] for flag in flags if flag.startswith("oneof:")), None)
    return (name, number, kind, _REPEATED in flags, oneof)


_PARAMETER_SUB_SCHEMA: Final = [
    _f("required", 1, _BOOL),
    _f("in", 2, _STRING),
    _f("description", 3, _STRING),
    _f("name", 4, _STRING),
]
_MESSAGES: Final[dict[str, list[_FieldSpec]]] = {
    "Any": [_f("yaml", 2, _STRING)],
    "NamedAny": [_f("name", 1, _STRING), _f("value", 2, "Any")],
    "Info": [
        _f("title", 1, _STRING),
        _f("version", 2, _STRING),
        _f("description", 3, _STRING),
        _f("vendor_extension", 7, "NamedAny", _REPEATED),
    ],
    "Document": [
        _f("swagger", 1, _STRING),
        _f("info", 2, "Info"),
        _f("host", 3, _STRING),
        _f("base_path", 4, _STRING),
        _f("schemes", 5, _STRING, _REPEATED),
        _f("consumes", 6, _STRING, _REPEATED),
        _f("produces", 7, _STRING, _REPEATED),
        _f("paths", 8, "Paths"),
        _f("definitions", 9, "Definitions"),
        _f("security", 12, "SecurityRequirement", _REPEATED),
        _f("security_definitions", 13, "SecurityDefinitions"),
        _f("vendor_extension", 16, "NamedAny", _REPEATED),
    ],
    "Paths": [
        _f("vendor_extension", 1, "NamedAny", _REPEATED),
        _f("path", 2, "NamedPathItem", _REPEATED),
    ],
    "NamedPathItem": [_f("name", 1, _STRING), _f("value", 2, "PathItem")],
    "PathItem": [
        _f("_ref", 1, _STRING),
        _f("get", 2, "Operation"),
        _f("put", 3, "Operation"),
        _f("post", 4, "Operation"),
        _f("delete", 5, "Operation"),
        _f("options", 6, "Operation"),
        _f("head", 7, "Operation"),
        _f("patch", 8, "Operation"),
        _f("parameters", 9, "ParametersItem", _REPEATED),
        _f("vendor_extension", 10, "NamedAny", _REPEATED),
    ],
    "Operation": [
        _f("tags", 1, _STRING, _REPEATED),
        _f("summary", 2, _STRING),
        _f("description", 3, _STRING),
        _f("operation_id", 5, _STRING),
        _f("produces", 6, _STRING, _REPEATED),
        _f("consumes", 7, _STRING, _REPEATED),
        _f("parameters", 8, "ParametersItem", _REPEATED),
        _f("responses", 9, "Responses"),
        _f("schemes", 10, _STRING, _REPEATED),
        _f("deprecated", 11, _BOOL),
        _f("vendor_extension", 13, "NamedAny", _REPEATED),
    ],
    "ParametersItem": [
        _f("parameter", 1, "Parameter", "oneof:oneof"),
        _f("json_reference", 2, "JsonReference", "oneof:oneof"),
    ],
    "JsonReference": [_f("_ref", 1, _STRING), _f("description", 2, _STRING)],
    "Parameter": [
        _f("body_parameter", 1, "BodyParameter", "oneof:oneof"),
        _f("non_body_parameter", 2, "NonBodyParameter", "oneof:oneof"),
    ],
    "BodyParameter": [
        _f("description", 1, _STRING),
        _f("name", 2, _STRING),
        _f("in", 3, _STRING),
        _f("required", 4, _BOOL),
        _f("schema", 5, "Schema"),
        _f("vendor_extension", 6, "NamedAny", _REPEATED),
    ],
    "NonBodyParameter": [
        _f("query_parameter_sub_schema", 3, "QueryParameterSubSchema", "oneof:oneof"),
        _f("path_parameter_sub_schema", 4, "PathParameterSubSchema", "oneof:oneof"),
    ],
    "QueryParameterSubSchema": [
        *_PARAMETER_SUB_SCHEMA,
        _f("type", 6, _STRING),
        _f("format", 7, _STRING),
        _f("unique_items", 20, _BOOL),
        _f("vendor_extension", 23, "NamedAny", _REPEATED),
    ],
    "PathParameterSubSchema": [
        *_PARAMETER_SUB_SCHEMA,
        _f("type", 5, _STRING),
        _f("format", 6, _STRING),
        _f("unique_items", 19, _BOOL),
        _f("vendor_extension", 22, "NamedAny", _REPEATED),
    ],
    "Responses": [
        _f("response_code", 1, "NamedResponseValue", _REPEATED),
        _f("vendor_extension", 2, "NamedAny", _REPEATED),
    ],
    "NamedResponseValue": [_f("name", 1, _STRING), _f("value", 2, "ResponseValue")],
    "ResponseValue": [
        _f("response", 1, "Response", "oneof:oneof"),
        _f("json_reference", 2, "JsonReference", "oneof:oneof"),
    ],
    "Response": [
        _f("description", 1, _STRING),
        _f("schema", 2, "SchemaItem"),
        _f("vendor_extension", 5, "NamedAny", _REPEATED),
    ],
    "SchemaItem": [_f("schema", 1, "Schema", "oneof:oneof")],
    "Definitions": [_f("additional_properties", 1, "NamedSchema", _REPEATED)],
    "NamedSchema": [_f("name", 1, _STRING), _f("value", 2, "Schema")],
    "Properties": [_f("additional_properties", 1, "NamedSchema", _REPEATED)],
    "AdditionalPropertiesItem": [
        _f("schema", 1, "Schema", "oneof:oneof"),
        _f("boolean", 2, _BOOL, "oneof:oneof"),
    ],
    "TypeItem": [_f("value", 1, _STRING, _REPEATED)],
    "ItemsItem": [_f("schema", 1, "Schema", _REPEATED)],
    "Schema": [
        _f("_ref", 1, _STRING),
        _f("format", 2, _STRING),
        _f("title", 3, _STRING),
        _f("description", 4, _STRING),
        _f("default", 5, "Any"),
        _f("multiple_of", 6, _DOUBLE),
        _f("maximum", 7, _DOUBLE),
        _f("exclusive_maximum", 8, _BOOL),
        _f("minimum", 9, _DOUBLE),
        _f("exclusive_minimum", 10, _BOOL),
        _f("max_length", 11, _INT64),
        _f("min_length", 12, _INT64),
        _f("pattern", 13, _STRING),
        _f("max_items", 14, _INT64),
        _f("min_items", 15, _INT64),
        _f("unique_items", 16, _BOOL),
        _f("max_properties", 17, _INT64),
        _f("min_properties", 18, _INT64),
        _f("required", 19, _STRING, _REPEATED),
        _f("enum", 20, "Any", _REPEATED),
        _f("additional_properties", 21, "AdditionalPropertiesItem"),
        _f("type", 22, "TypeItem"),
        _f("items", 23, "ItemsItem"),
        _f("all_of", 24, "Schema", _REPEATED),
        _f("properties", 25, "Properties"),
        _f("discriminator", 26, _STRING),
        _f("read_only", 27, _BOOL),
        _f("example", 30, "Any"),
        _f("vendor_extension", 31, "NamedAny", _REPEATED),
    ],
    "SecurityDefinitions": [
        _f("additional_properties", 1, "NamedSecurityDefinitionsItem", _REPEATED)
    ],
    "NamedSecurityDefinitionsItem": [
        _f("name", 1, _STRING),
        _f("value", 2, "SecurityDefinitionsItem"),
    ],
    "SecurityDefinitionsItem": [_f("api_key_security", 2, "ApiKeySecurity", "oneof:oneof")],
    "ApiKeySecurity": [
        _f("type", 1, _STRING),
        _f("name", 2, _STRING),
        _f("in", 3, _STRING),
        _f("description", 4, _STRING),
        _f("vendor_extension", 5, "NamedAny", _REPEATED),
    ],
    "SecurityRequirement": [_f("additional_properties", 1, "NamedStringArray", _REPEATED)],
    "NamedStringArray": [_f("name", 1, _STRING), _f("value", 2, "StringArray")],
    "StringArray": [_f("value", 1, _STRING, _REPEATED)],
}


@functools.cache
def _classes() -> dict[str, type[Message]]:
    file = descriptor_pb2.FileDescriptorProto(
        name="kubeloop/openapiv2.proto", package="openapi.v2", syntax="proto3"
    )
    for message_name, fields in _MESSAGES.items():
        message = file.message_type.add(name=message_name)
        oneofs: list[str] = []
        for name, number, kind, repeated, oneof in fields:
            field = message.field.add(name=name, number=number)
            field.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
            if isinstance(kind, str):
                field.type = _MESSAGE
                field.type_name = f".openapi.v2.{kind}"
            else:
                field.type = kind  # type: ignore[assignment]
            if oneof is not None:
                if oneof not in oneofs:
                    oneofs.append(oneof)
                    message.oneof_decl.add(name=oneof)
                field.oneof_index = oneofs.index(oneof)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"openapi.v2.{name}"))
        for name in _MESSAGES
    }


def document_message_class() -> type[Message]:
    """gnostic's `openapi.v2.Document` message class."""
    return _classes()["Document"]


# -- JSON -> messages --------------------------------------------------------------


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=False, sort_keys=True)


def _extensions(target: Any, source: Mapping[str, Any]) -> None:
    for key in sorted(k for k in source if k.startswith("x-")):
        named = target.vendor_extension.add(name=key)
        named.value.yaml = _yaml(source[key])


_SCHEMA_SCALARS: Final = {
    "$ref": "_ref",
    "format": "format",
    "title": "title",
    "description": "description",
    "multipleOf": "multiple_of",
    "maximum": "maximum",
    "exclusiveMaximum": "exclusive_maximum",
    "minimum": "minimum",
    "exclusiveMinimum": "exclusive_minimum",
    "maxLength": "max_length",
    "minLength": "min_length",
    "pattern": "pattern",
    "maxItems": "max_items",
    "minItems": "min_items",
    "uniqueItems": "unique_items",
    "maxProperties": "max_properties",
    "minProperties": "min_properties",
    "discriminator": "discriminator",
    "readOnly": "read_only",
}


def _schema(target: Any, schema: Mapping[str, Any]) -> None:
    for key, field in _SCHEMA_SCALARS.items():
        if key in schema and isinstance(schema[key], str | int | float | bool):
            setattr(target, field, schema[key])
    if "default" in schema:
        target.default.yaml = _yaml(schema["default"])
    if "example" in schema:
        target.example.yaml = _yaml(schema["example"])
    for value in schema.get("enum") or ():
        target.enum.add().yaml = _yaml(value)
    target.required.extend(schema.get("required") or ())
    kind = schema.get("type")
    if kind:
        target.type.value.extend(kind if isinstance(kind, list) else [kind])
    items = schema.get("items")
    if isinstance(items, dict):
        _schema(target.items.schema.add(), items)
    elif isinstance(items, list):
        for item in items:
            _schema(target.items.schema.add(), item)
    extra = schema.get("additionalProperties")
    if isinstance(extra, bool):
        target.additional_properties.boolean = extra
    elif isinstance(extra, dict):
        _schema(target.additional_properties.schema, extra)
    for part in schema.get("allOf") or ():
        _schema(target.all_of.add(), part)
    properties = schema.get("properties")
    if isinstance(properties, dict):
        if not properties:
            target.properties.SetInParent()
        for name, prop in properties.items():
            named = target.properties.additional_properties.add(name=name)
            _schema(named.value, prop)
    _extensions(target, schema)


def _parameter(target: Any, param: Mapping[str, Any]) -> None:
    if "$ref" in param:
        target.json_reference._ref = param["$ref"]
        return
    where = param.get("in")
    if where == "body":
        body = target.parameter.body_parameter
        body.description = param.get("description", "")
        body.name = param.get("name", "")
        setattr(body, "in", "body")
        body.required = bool(param.get("required"))
        _schema(body.schema, param.get("schema") or {})
        return
    non_body = target.parameter.non_body_parameter
    sub = (
        non_body.path_parameter_sub_schema
        if where == "path"
        else non_body.query_parameter_sub_schema
    )
    sub.name = param.get("name", "")
    setattr(sub, "in", where or "query")
    sub.description = param.get("description", "")
    sub.required = bool(param.get("required"))
    sub.type = param.get("type", "")
    sub.unique_items = bool(param.get("uniqueItems"))
    _extensions(sub, param)


def _operation(target: Any, operation: Mapping[str, Any]) -> None:
    target.tags.extend(operation.get("tags") or ())
    target.description = operation.get("description", "")
    target.operation_id = operation.get("operationId", "")
    target.consumes.extend(operation.get("consumes") or ())
    target.produces.extend(operation.get("produces") or ())
    target.schemes.extend(operation.get("schemes") or ())
    for param in operation.get("parameters") or ():
        _parameter(target.parameters.add(), param)
    for code, response in (operation.get("responses") or {}).items():
        named = target.responses.response_code.add(name=str(code))
        value = named.value.response
        value.description = response.get("description", "")
        if response.get("schema"):
            _schema(value.schema.schema, response["schema"])
    _extensions(target, operation)


def openapi_v2_protobuf(doc: Mapping[str, Any]) -> bytes:
    """A Swagger 2.0 document as gnostic's `openapi.v2.Document` protobuf bytes."""
    document: Any = document_message_class()()
    document.swagger = doc.get("swagger", "2.0")
    info = doc.get("info") or {}
    document.info.title = info.get("title", "")
    document.info.version = info.get("version", "")
    for path, item in (doc.get("paths") or {}).items():
        named = document.paths.path.add(name=path)
        for param in item.get("parameters") or ():
            _parameter(named.value.parameters.add(), param)
        for method in ("get", "put", "post", "delete", "options", "head", "patch"):
            if method in item:
                _operation(getattr(named.value, method), item[method])
    for name, schema in (doc.get("definitions") or {}).items():
        named = document.definitions.additional_properties.add(name=name)
        _schema(named.value, schema)
    for name, definition in (doc.get("securityDefinitions") or {}).items():
        named = document.security_definitions.additional_properties.add(name=name)
        key = named.value.api_key_security
        key.type = definition.get("type", "")
        key.name = definition.get("name", "")
        setattr(key, "in", definition.get("in", ""))
        key.description = definition.get("description", "")
    for requirement in doc.get("security") or ():
        entry = document.security.add()
        for name, scopes in requirement.items():
            named = entry.additional_properties.add(name=name)
            named.value.value.extend(scopes)
    _extensions(document, doc)
    return bytes(document.SerializeToString(deterministic=True))
