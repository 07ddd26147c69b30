"""CEL validation rules of CRD schemas (`x-kubernetes-validations`), evaluated
with the `common-expression-language` package (Rust's cel-interpreter).

Contract:
* `compile_rules(rules, path)` turns a schema node's rules into `Rule`s once
  (at CRD creation) and lists problems: syntax errors, and functions outside
  the CEL standard library this package implements. Kubernetes' own CEL
  libraries (quantity, url, ip/cidr, isSorted, lowerAscii, format...) are not
  available: a rule that calls one is refused as "not supported" when the CRD
  is created, never ignored.
* `Rule.check(value, old, path)` evaluates the rule with `self` (and `oldSelf`
  for transition rules, only on updates where the old value exists, as
  Kubernetes does unless `optionalOldSelf`), and returns the FieldError the
  apiserver reports: `message`, the `messageExpression`'s result, or
  "failed rule: <rule>", at the node's path (plus `fieldPath`).

Neighbours: `engine.schema.node` (holds the rules per node and walks values),
`engine.crd` (compiles a CRD's schemas).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Final

from engine.errors import FieldError

__all__ = ["Rule", "compile_rules"]

_SUPPORTED: Final = frozenset(
    {
        "size", "int", "uint", "double", "string", "bytes", "dyn", "type",
        "duration", "timestamp", "matches", "startsWith", "endsWith", "contains",
        "getFullYear", "getMonth", "getDate", "getDayOfMonth", "getDayOfWeek",
        "getDayOfYear", "getHours", "getMinutes", "getSeconds", "getMilliseconds",
    }
)  # fmt: skip


def _is_operator(name: str) -> bool:
    return name.startswith(("_", "!_", "-_", "@"))


@dataclass(frozen=True, slots=True)
class Rule:
    """One compiled `x-kubernetes-validations` entry."""

    rule: str
    program: Any
    message: str | None
    message_program: Any
    field_path: str
    transition: bool  # refers to oldSelf
    optional_old_self: bool

    def check(self, value: Any, old: Any, path: str, *, has_old: bool) -> FieldError | None:
        """The error when the rule does not hold for `value` (None when it holds or
        does not apply: a transition rule without an old value)."""
        if self.transition and not has_old and not self.optional_old_self:
            return None
        where = f"{path}{self.field_path}" if self.field_path else path
        variables: dict[str, Any] = {"self": value}
        if self.transition:
            variables["oldSelf"] = old
        try:
            result = self.program.execute(variables)
        except (KeyError, TypeError, RuntimeError, ValueError) as error:
            return FieldError(where or "<root>", f"rule evaluation error: {self.rule}: {error}")
        if result is True:
            return None
        return FieldError(where or "<root>", self._message(variables))

    def _message(self, variables: dict[str, Any]) -> str:
        if self.message_program is not None:
            try:
                text = self.message_program.execute(variables)
            except (KeyError, TypeError, RuntimeError, ValueError):
                text = None
            if isinstance(text, str) and text:
                return text
        return self.message or f"failed rule: {self.rule}"


def _compile(source: str, what: str, path: str, problems: list[FieldError]) -> Any:
    # Imported on first use: the interpreter costs ~15 MiB, and only CRDs with
    # rules need it.
    cel = importlib.import_module("cel")
    try:
        program = cel.compile(source)
    except ValueError as error:
        problems.append(FieldError(path, f"compilation failed for {what} {source!r}: {error}"))
        return None
    unsupported = sorted(
        f for f in program.functions() if not _is_operator(f) and f not in _SUPPORTED
    )
    if unsupported:
        problems.append(
            FieldError(
                path,
                f"not supported: {what} {source!r} calls {', '.join(unsupported)}, which "
                "kubeloop's CEL library does not provide (Kubernetes' CEL extensions)",
            )
        )
        return None
    return program


def compile_rules(rules: Any, path: str) -> tuple[tuple[Rule, ...], list[FieldError]]:
    """The rules of one schema node (its `x-kubernetes-validations`), and what is
    wrong with them; `path` names the node in the CRD for the errors."""
    problems: list[FieldError] = []
    compiled: list[Rule] = []
    for index, entry in enumerate(rules or ()):
        where = f"{path}.x-kubernetes-validations[{index}]"
        rule = entry.get("rule") if isinstance(entry, dict) else None
        if not isinstance(rule, str) or not rule:
            problems.append(FieldError(f"{where}.rule", "field required"))
            continue
        program = _compile(rule, "rule", f"{where}.rule", problems)
        message_expression = entry.get("messageExpression")
        message_program = (
            _compile(
                message_expression, "messageExpression", f"{where}.messageExpression", problems
            )
            if message_expression
            else None
        )
        if program is None:
            continue
        compiled.append(
            Rule(
                rule=rule,
                program=program,
                message=entry.get("message"),
                message_program=message_program,
                field_path=entry.get("fieldPath") or "",
                transition="oldSelf" in program.variables(),
                optional_old_self=bool(entry.get("optionalOldSelf")),
            )
        )
    return tuple(compiled), problems
