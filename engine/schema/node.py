"""Compiled schemas: an OpenAPI v3 schema (a CRD's `openAPIV3Schema`, or one of
Kubernetes' published JSON schemas) turned once into a tree of `Node`s that
validate, default and prune JSON values.

Contract:
* `compile_schema(schema, definitions)` resolves `$ref`s (recursive ones too)
  into shared nodes; compile once per kind and keep the result (see
  `engine.schema.builtin` and `engine.crd`).
* `Node.validate(value, path)` returns every problem as a `FieldError` with a
  Kubernetes path (`spec.ports[0].port`); the messages follow the apiserver's.
  Unknown fields are errors where the schema closes an object
  (`additionalProperties: false`, or a structural schema's properties without
  `x-kubernetes-preserve-unknown-fields`) when `strict` is set, as kubectl's
  strict field validation reports them.
* `Node.prune(value)` drops unknown fields instead (the apiserver's pruning);
  `Node.apply_defaults(value)` fills `default`s in (structural defaulting). Both return
  new values and never change what they are given.

Both dialects are read: JSON schema's `type: [X, "null"]` and a `oneOf` of
plain types (IntOrString, Quantity), and OpenAPI's `nullable`,
`x-kubernetes-int-or-string`, `x-kubernetes-preserve-unknown-fields`,
`x-kubernetes-embedded-resource`, `x-kubernetes-list-type`/`-list-map-keys`
and `x-kubernetes-validations` (CEL rules, `engine.schema.cel`; transition
rules through `Node.transition_errors`).

Neighbours: `engine.schema.formats` (string formats), `engine.errors.FieldError`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any, Final

from engine.errors import FieldError
from engine.schema.cel import Rule, compile_rules
from engine.schema.formats import check_format

__all__ = ["Node", "compile_schema", "json_type"]

_NO_DEFAULT: Final = object()
_EMBEDDED_FIELDS: Final = ("apiVersion", "kind", "metadata")


def json_type(value: Any) -> str:
    """The JSON type of a decoded value: object, array, string, integer, number,
    boolean or null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _quote(value: Any) -> str:
    return json.dumps(value, default=str)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class Node:
    """One compiled schema. Fields are set by `compile_schema` and never change."""

    __slots__ = (
        "additional",
        "all_of",
        "any_of",
        "default",
        "embedded",
        "enum",
        "exclusive_maximum",
        "exclusive_minimum",
        "format",
        "int_or_string",
        "items",
        "list_map_keys",
        "list_type",
        "max_items",
        "max_length",
        "max_properties",
        "maximum",
        "min_items",
        "min_length",
        "min_properties",
        "minimum",
        "not_",
        "nullable",
        "one_of",
        "pattern",
        "preserve_unknown",
        "properties",
        "required",
        "rules",
        "types",
        "unique_items",
    )

    def __init__(self) -> None:
        self.types: frozenset[str] = frozenset()  # empty: any type
        self.nullable = False
        self.properties: dict[str, Node] = {}
        self.additional: Node | bool | None = None  # None: not said
        self.items: Node | None = None
        self.required: tuple[str, ...] = ()
        self.enum: tuple[Any, ...] | None = None
        self.format: str | None = None
        self.minimum: float | None = None
        self.maximum: float | None = None
        self.exclusive_minimum = False
        self.exclusive_maximum = False
        self.min_length: int | None = None
        self.max_length: int | None = None
        self.pattern: re.Pattern[str] | None = None
        self.min_items: int | None = None
        self.max_items: int | None = None
        self.unique_items = False
        self.min_properties: int | None = None
        self.max_properties: int | None = None
        self.preserve_unknown = False
        self.int_or_string = False
        self.embedded = False
        self.list_type: str | None = None
        self.list_map_keys: tuple[str, ...] = ()
        self.default: Any = _NO_DEFAULT
        self.all_of: tuple[Node, ...] = ()
        self.any_of: tuple[Node, ...] = ()
        self.one_of: tuple[Node, ...] = ()
        self.not_: Node | None = None
        self.rules: tuple[Rule, ...] = ()  # x-kubernetes-validations (CEL)

    # -- validation ---------------------------------------------------------------

    def validate(self, value: Any, path: str = "", *, strict: bool = True) -> list[FieldError]:
        """Every problem with `value` (empty when valid)."""
        errors: list[FieldError] = []
        self._check(value, path, errors, strict)
        return errors

    def _closed(self) -> bool:
        """Whether fields beyond `properties` are unknown here."""
        if self.preserve_unknown or self.additional is True or isinstance(self.additional, Node):
            return False
        return self.additional is False or bool(self.properties) or self.embedded

    def _check(self, value: Any, path: str, errors: list[FieldError], strict: bool) -> None:
        if value is None:
            if not self.nullable and self.types:
                errors.append(FieldError(path or "<root>", "must not be null"))
            return
        kind = json_type(value)
        if self.int_or_string:
            if kind not in ("integer", "string"):
                errors.append(
                    FieldError(path, f"expected integer or string, got {_describe(value)}")
                )
                return
        elif (
            self.types
            and kind not in self.types
            and not (kind == "integer" and "number" in self.types)
        ):
            expected = " or ".join(sorted(self.types))
            errors.append(FieldError(path, f"expected {expected}, got {_describe(value)}"))
            return
        if self.enum is not None and value not in self.enum:
            supported = ", ".join(_quote(v) for v in self.enum)
            errors.append(
                FieldError(
                    path, f"Unsupported value: {_quote(value)}: supported values: {supported}"
                )
            )
        if kind == "object":
            self._check_object(value, path, errors, strict)
        elif kind == "array":
            self._check_array(value, path, errors, strict)
        elif kind == "string":
            self._check_string(value, path, errors)
        elif kind in ("integer", "number"):
            self._check_number(value, path, errors)
        for sub in self.all_of:
            sub._check(value, path, errors, False)
        if self.any_of and not any(not s.validate(value, path, strict=False) for s in self.any_of):
            errors.append(FieldError(path, "must match at least one schema of anyOf"))
        if self.one_of and self.one_of_counts(value, path) != 1:
            errors.append(FieldError(path, "must match exactly one schema of oneOf"))
        if self.not_ is not None and not self.not_.validate(value, path, strict=False):
            errors.append(FieldError(path, "must not match the schema of not"))
        for rule in self.rules:
            error = rule.check(value, None, path, has_old=False)
            if error is not None:
                errors.append(error)

    def transition_errors(self, new: Any, old: Any, path: str = "") -> list[FieldError]:
        """What the transition rules (those reading `oldSelf`) find in an update
        from `old` to `new`; they run where both values exist, object fields and
        map entries correlated by name, list-map items by their keys."""
        errors: list[FieldError] = []
        self._transitions(new, old, path, errors)
        return errors

    def _transitions(self, new: Any, old: Any, path: str, errors: list[FieldError]) -> None:
        if new is None or old is None:
            return
        for rule in self.rules:
            if rule.transition:
                error = rule.check(new, old, path, has_old=True)
                if error is not None:
                    errors.append(error)
        if isinstance(new, dict) and isinstance(old, dict):
            for name, child in self.properties.items():
                if name in new and name in old:
                    child._transitions(new[name], old[name], _join(path, name), errors)
            if isinstance(self.additional, Node):
                for name, item in new.items():
                    if name in old and name not in self.properties:
                        self.additional._transitions(item, old[name], f"{path}[{name}]", errors)
        elif (
            isinstance(new, list)
            and isinstance(old, list)
            and self.items is not None
            and self.list_type == "map"
        ):
            keys = self.list_map_keys
            previous = {_quote([o.get(k) for k in keys]): o for o in old if isinstance(o, dict)}
            for index, item in enumerate(new):
                if isinstance(item, dict):
                    match = previous.get(_quote([item.get(k) for k in keys]))
                    if match is not None:
                        self.items._transitions(item, match, f"{path}[{index}]", errors)

    def one_of_counts(self, value: Any, path: str) -> int:
        return sum(1 for s in self.one_of if not s.validate(value, path, strict=False))

    def _check_object(
        self, value: dict[str, Any], path: str, errors: list[FieldError], strict: bool
    ) -> None:
        errors.extend(
            FieldError(_join(path, name), "field required")
            for name in self.required
            if value.get(name) is None
        )
        if self.embedded:
            errors.extend(
                FieldError(_join(path, name), "must not be empty")
                for name in ("apiVersion", "kind")
                if not value.get(name)
            )
        count = len(value)
        if self.min_properties is not None and count < self.min_properties:
            errors.append(
                FieldError(path, f"should have at least {self.min_properties} properties")
            )
        if self.max_properties is not None and count > self.max_properties:
            errors.append(FieldError(path, f"should have at most {self.max_properties} properties"))
        properties = self.properties
        additional = self.additional
        closed = strict and self._closed()
        for name, item in value.items():
            child = properties.get(name)
            if child is not None:
                child._check(item, _join(path, name), errors, strict)
            elif isinstance(additional, Node):
                additional._check(item, f"{path}[{name}]", errors, strict)
            elif closed and not (self.embedded and name in _EMBEDDED_FIELDS):
                errors.append(FieldError(_join(path, name), "unknown field"))

    def _check_array(
        self, value: list[Any], path: str, errors: list[FieldError], strict: bool
    ) -> None:
        count = len(value)
        if self.min_items is not None and count < self.min_items:
            errors.append(FieldError(path, f"should have at least {self.min_items} items"))
        if self.max_items is not None and count > self.max_items:
            errors.append(FieldError(path, f"may have at most {self.max_items} items"))
        if self.items is not None:
            for index, item in enumerate(value):
                self.items._check(item, f"{path}[{index}]", errors, strict)
        if self.unique_items or self.list_type == "set":
            seen: list[Any] = []
            for index, item in enumerate(value):
                if item in seen:
                    errors.append(
                        FieldError(f"{path}[{index}]", f"Duplicate value: {_quote(item)}")
                    )
                else:
                    seen.append(item)
        if self.list_type == "map" and self.list_map_keys:
            keys: set[str] = set()
            for index, item in enumerate(value):
                if not isinstance(item, dict):
                    continue
                key = _quote([item.get(k) for k in self.list_map_keys])
                if key in keys:
                    shown = ", ".join(f"{k}={_quote(item.get(k))}" for k in self.list_map_keys)
                    errors.append(FieldError(f"{path}[{index}]", f"Duplicate value: {{{shown}}}"))
                keys.add(key)

    def _check_string(self, value: str, path: str, errors: list[FieldError]) -> None:
        length = len(value)
        if self.min_length is not None and length < self.min_length:
            errors.append(FieldError(path, f"should be at least {self.min_length} chars long"))
        if self.max_length is not None and length > self.max_length:
            errors.append(FieldError(path, f"may not be more than {self.max_length} chars long"))
        if self.pattern is not None and self.pattern.search(value) is None:
            errors.append(FieldError(path, f"should match '{self.pattern.pattern}'"))
        if self.format is not None and not self.int_or_string:
            problem = check_format(self.format, value)
            if problem:
                errors.append(FieldError(path, problem))

    def _check_number(self, value: float, path: str, errors: list[FieldError]) -> None:
        if self.minimum is not None:
            if self.exclusive_minimum and value <= self.minimum:
                errors.append(FieldError(path, f"should be greater than {_num(self.minimum)}"))
            elif value < self.minimum:
                errors.append(
                    FieldError(path, f"should be greater than or equal to {_num(self.minimum)}")
                )
        if self.maximum is not None:
            if self.exclusive_maximum and value >= self.maximum:
                errors.append(FieldError(path, f"should be less than {_num(self.maximum)}"))
            elif value > self.maximum:
                errors.append(
                    FieldError(path, f"should be less than or equal to {_num(self.maximum)}")
                )
        if self.format in ("int32", "int64") and isinstance(value, int):
            bits = 31 if self.format == "int32" else 63
            if not -(2**bits) <= value < 2**bits:
                errors.append(FieldError(path, f"out of range for {self.format}"))

    # -- pruning and defaulting -----------------------------------------------------

    def prune(self, value: Any, path: str = "", unknown: list[str] | None = None) -> Any:
        """`value` without the fields this schema does not know (the apiserver's
        pruning); their paths are appended to `unknown` when given."""
        if isinstance(value, dict):
            if self._closed():
                out: dict[str, Any] = {}
                for name, item in value.items():
                    child = self.properties.get(name)
                    if child is not None:
                        out[name] = child.prune(item, _join(path, name), unknown)
                    elif self.embedded and name in _EMBEDDED_FIELDS:
                        out[name] = item
                    elif unknown is not None:
                        unknown.append(_join(path, name))
                return out
            if isinstance(self.additional, Node):
                add = self.additional
                return {k: add.prune(v, f"{path}[{k}]", unknown) for k, v in value.items()}
            if self.properties:
                props = self.properties
                return {
                    k: props[k].prune(v, _join(path, k), unknown) if k in props else v
                    for k, v in value.items()
                }
            return value
        if isinstance(value, list) and self.items is not None:
            items = self.items
            return [items.prune(v, f"{path}[{i}]", unknown) for i, v in enumerate(value)]
        return value

    def apply_defaults(self, value: Any) -> Any:
        """`value` with the schema's defaults filled in where fields are absent
        (or null and not nullable), as the apiserver defaults custom objects."""
        if isinstance(value, dict):
            out = dict(value)
            for name, child in self.properties.items():
                absent = name not in out or (out[name] is None and not child.nullable)
                if absent and child.default is not _NO_DEFAULT:
                    out[name] = copy.deepcopy(child.default)
                if name in out and out[name] is not None:
                    out[name] = child.apply_defaults(out[name])
            if isinstance(self.additional, Node):
                add = self.additional
                out = {
                    k: (add.apply_defaults(v) if k not in self.properties else v)
                    for k, v in out.items()
                }
            return out
        if isinstance(value, list) and self.items is not None:
            return [self.items.apply_defaults(v) for v in value]
        return value


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _describe(value: Any) -> str:
    kind = json_type(value)
    if kind in ("object", "array", "null"):
        return kind
    return f"{kind} {_quote(value)}"


# -- compiling ------------------------------------------------------------------------

Definitions = Mapping[str, Mapping[str, Any]]


def compile_schema(
    schema: Mapping[str, Any],
    definitions: Definitions | None = None,
    *,
    problems: list[FieldError] | None = None,
    path: str = "",
) -> Node:
    """The schema as a `Node` tree; `$ref`s name entries of `definitions`
    (`#/$defs/NAME`, `#/definitions/NAME` or a path ending in one). Problems
    with its CEL rules go to `problems` (paths under `path`); without that
    list they raise ValueError."""
    found: list[FieldError] = []
    compiler = _Compiler(definitions or {}, {}, found)
    node = compiler.compile(schema, path)
    if problems is not None:
        problems.extend(found)
    elif found:
        raise ValueError("; ".join(map(str, found)))
    return node


class _Compiler:
    def __init__(
        self, definitions: Definitions, memo: dict[str, Node], problems: list[FieldError]
    ) -> None:
        self.definitions = definitions
        self.memo = memo
        self.problems = problems

    def ref(self, ref: str) -> Node:
        name = ref.rpartition("/")[2]
        node = self.memo.get(name)
        if node is None:
            if name not in self.definitions:
                raise ValueError(f"unresolved schema reference {ref!r}")
            node = Node()
            self.memo[name] = node  # before filling: recursive schemas refer back
            self._fill(node, self.definitions[name], f"#/$defs/{name}")
        return node

    def compile(self, schema: Mapping[str, Any], path: str) -> Node:
        if "$ref" in schema and len(schema) <= 2:  # $ref (+ description) stands alone
            return self.ref(schema["$ref"])
        node = Node()
        self._fill(node, schema, path)
        return node

    def _fill(self, node: Node, schema: Mapping[str, Any], path: str) -> None:
        if "$ref" in schema:
            target = self.ref(schema["$ref"])
            for slot in Node.__slots__:
                setattr(node, slot, getattr(target, slot))
        kinds = schema.get("type")
        if isinstance(kinds, str):
            node.types = frozenset([kinds])
        elif isinstance(kinds, list):
            node.types = frozenset(k for k in kinds if k != "null")
            node.nullable = "null" in kinds
        if schema.get("nullable"):
            node.nullable = True
        one_of = schema.get("oneOf")
        if one_of and all(set(branch) <= {"type"} for branch in one_of):
            # JSON schema's spelling of IntOrString and Quantity: a union of types.
            merged: set[str] = set()
            for branch in one_of:
                kind = branch.get("type")
                kinds_of = [kind] if isinstance(kind, str) else list(kind or [])
                node.nullable = node.nullable or "null" in kinds_of
                merged.update(k for k in kinds_of if k != "null")
            node.types = frozenset(merged)
        elif one_of:
            node.one_of = tuple(self.compile(s, f"{path}.oneOf[{i}]") for i, s in enumerate(one_of))
        if "properties" in schema:
            node.properties = {
                k: self.compile(v, f"{path}.properties[{k}]")
                for k, v in schema["properties"].items()
            }
        additional = schema.get("additionalProperties")
        if isinstance(additional, bool):
            node.additional = additional
        elif isinstance(additional, Mapping):
            node.additional = self.compile(additional, f"{path}.additionalProperties")
        if "items" in schema and isinstance(schema["items"], Mapping):
            node.items = self.compile(schema["items"], f"{path}.items")
        node.required = tuple(schema.get("required", ()))
        if "enum" in schema:
            node.enum = tuple(schema["enum"])
        node.format = schema.get("format", node.format)
        node.minimum = schema.get("minimum", node.minimum)
        node.maximum = schema.get("maximum", node.maximum)
        node.exclusive_minimum = bool(schema.get("exclusiveMinimum", node.exclusive_minimum))
        node.exclusive_maximum = bool(schema.get("exclusiveMaximum", node.exclusive_maximum))
        node.min_length = schema.get("minLength", node.min_length)
        node.max_length = schema.get("maxLength", node.max_length)
        if "pattern" in schema:
            node.pattern = _pattern(schema["pattern"])
        node.min_items = schema.get("minItems", node.min_items)
        node.max_items = schema.get("maxItems", node.max_items)
        node.unique_items = bool(schema.get("uniqueItems", node.unique_items))
        node.min_properties = schema.get("minProperties", node.min_properties)
        node.max_properties = schema.get("maxProperties", node.max_properties)
        node.preserve_unknown = bool(
            schema.get("x-kubernetes-preserve-unknown-fields", node.preserve_unknown)
        )
        node.int_or_string = bool(schema.get("x-kubernetes-int-or-string", node.int_or_string))
        node.embedded = bool(schema.get("x-kubernetes-embedded-resource", node.embedded))
        node.list_type = schema.get("x-kubernetes-list-type", node.list_type)
        node.list_map_keys = tuple(schema.get("x-kubernetes-list-map-keys", node.list_map_keys))
        if "default" in schema:
            node.default = schema["default"]
        for key, slot in (("allOf", "all_of"), ("anyOf", "any_of")):
            if key in schema:
                branches = schema[key]
                setattr(
                    node,
                    slot,
                    tuple(self.compile(s, f"{path}.{key}[{i}]") for i, s in enumerate(branches)),
                )
        if "not" in schema:
            node.not_ = self.compile(schema["not"], f"{path}.not")
        if "x-kubernetes-validations" in schema:
            rules, problems = compile_rules(schema["x-kubernetes-validations"], path)
            node.rules = rules
            self.problems.extend(problems)


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _pattern(text: str) -> re.Pattern[str]:
    compiled = _PATTERNS.get(text)
    if compiled is None:
        try:
            compiled = re.compile(text)
        except re.error as error:
            raise ValueError(f"invalid pattern {text!r}: {error}") from None
        _PATTERNS[text] = compiled
    return compiled
