"""Label selectors: parse, compile and match, with Kubernetes' semantics.

A `Selector` is an immutable, hashable conjunction of `Requirement`s, compiled
once and matched many times (informer indexes, list filters, controllers
finding their pods). Three ways to build one:

* `parse_selector("app=web,tier!=db,env in (prod,stage),!canary")`, the string
  syntax of `kubectl -l` and `?labelSelector=`;
* `from_label_selector(spec.selector)`, metav1.LabelSelector semantics: `None`
  selects nothing, an empty selector selects everything;
* `selector_from_set({"app": "web"})`, equality on every pair.

Semantics worth knowing: `!=` and `notin` also match objects WITHOUT the key;
`in`, `=`, `exists` need it; `>`/`<` need it and compare integers. Keys and
values are validated as Kubernetes validates labels (`label_key_errors`,
`label_value_errors` are exported for object validation too). Every bad input
raises `InvalidSelector` naming the offending part.

`str(selector)` is the canonical string: requirements sorted, `in` values
sorted, so `parse_selector(str(s)) == s`. `str(Selector.nothing())` is
`<nothing>`, which does not parse, so it can never silently widen into
"everything" (Kubernetes prints "" for both).

Neighbours: `engine.api.base.LabelSelector` (the API type compiled here),
`engine.fieldselectors` (field selectors, sharing `InvalidSelector`),
`engine.store` and informers (filter and index with selectors).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # engine.api imports this module's name checks: no cycle at run time
    from engine.api.base import LabelSelector

__all__ = [
    "InvalidSelector",
    "Operator",
    "Requirement",
    "Selector",
    "from_label_selector",
    "label_key_errors",
    "label_value_errors",
    "parse_selector",
    "selector_from_set",
]


class InvalidSelector(ValueError):
    """A label or field selector that cannot be parsed or compiled."""


class Operator(StrEnum):
    """Kubernetes' selection operators (the string form's spelling)."""

    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = ">"
    LESS_THAN = "<"


_NAME_MAX: Final = 63
_PREFIX_MAX: Final = 253
_NAME_RE: Final = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN_RE: Final = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)
_NAME_RULE: Final = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)


def label_key_errors(key: str) -> list[str]:
    """What is wrong with a label key (a qualified name such as
    `app.kubernetes.io/name`); empty when it is valid."""
    prefix, slash, name = key.rpartition("/")
    errors: list[str] = []
    if slash:
        if "/" in prefix:
            return ["a qualified name must have at most one '/'"]
        if not prefix:
            errors.append("prefix part must be non-empty")
        elif len(prefix) > _PREFIX_MAX:
            errors.append(f"prefix part must be no more than {_PREFIX_MAX} characters")
        elif not _DNS_SUBDOMAIN_RE.fullmatch(prefix):
            errors.append(
                "prefix part must be a lowercase DNS subdomain "
                "(alphanumerics, '-' and '.', e.g. 'example.com')"
            )
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > _NAME_MAX:
        errors.append(f"name part must be no more than {_NAME_MAX} characters")
    elif not _NAME_RE.fullmatch(name):
        errors.append(f"name part {_NAME_RULE}")
    return errors


def label_value_errors(value: str) -> list[str]:
    """What is wrong with a label value (empty, or up to 63 name characters)."""
    if len(value) > _NAME_MAX:
        return [f"must be no more than {_NAME_MAX} characters"]
    if value and not _NAME_RE.fullmatch(value):
        return [f"a valid label value {_NAME_RULE}"]
    return []


@dataclass(frozen=True, slots=True)
class Requirement:
    """One condition on one label key. Build with `Requirement.make`, which
    validates; values are kept sorted and unique."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()
    _value_set: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    _bound: int = field(default=0, compare=False, repr=False)

    @classmethod
    def make(cls, key: str, operator: Operator | str, values: Iterable[str] = ()) -> Requirement:
        """A validated requirement, or InvalidSelector naming what is wrong."""
        try:
            op = Operator(operator)
        except ValueError:
            raise InvalidSelector(f'"{operator}" is not a valid label selector operator') from None
        errors = label_key_errors(key)
        if errors:
            raise InvalidSelector(f'invalid label key "{key}": {"; ".join(errors)}')
        given = list(values)
        unique = tuple(sorted(set(given)))
        bound = 0
        if op in (Operator.IN, Operator.NOT_IN):
            if not given:
                raise InvalidSelector(f'"{key}": values must be non-empty for in and notin')
        elif op in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS):
            if len(given) != 1:
                raise InvalidSelector(f'"{key}": exact match requires exactly one value')
        elif op in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
            if given:
                raise InvalidSelector(f'"{key}": values must be empty for exists and !')
        else:
            if len(given) != 1:
                raise InvalidSelector(f'"{key}": > and < require exactly one value')
            parsed = _parse_int64(given[0])
            if parsed is None:
                raise InvalidSelector(f'"{key}": > and < require an integer, not "{given[0]}"')
            bound = parsed
        if op not in (Operator.GREATER_THAN, Operator.LESS_THAN):
            for value in unique:
                errors = label_value_errors(value)
                if errors:
                    raise InvalidSelector(
                        f'invalid label value "{value}" for "{key}": {"; ".join(errors)}'
                    )
        return cls(key, op, unique, frozenset(unique), bound)

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        value = labels.get(self.key)
        if op is Operator.EQUALS or op is Operator.DOUBLE_EQUALS or op is Operator.IN:
            return value is not None and value in self._value_set
        if op is Operator.NOT_EQUALS or op is Operator.NOT_IN:
            return value is None or value not in self._value_set
        if op is Operator.EXISTS:
            return value is not None
        if op is Operator.DOES_NOT_EXIST:
            return value is None
        number = _parse_int64(value) if value is not None else None
        if number is None:
            return False
        return number > self._bound if op is Operator.GREATER_THAN else number < self._bound

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        if op is Operator.IN or op is Operator.NOT_IN:
            return f"{self.key} {op.value} ({','.join(self.values)})"
        return f"{self.key}{op.value}{self.values[0]}"

    def _sort_key(self) -> tuple[str, str, tuple[str, ...]]:
        return (self.key, self.operator.value, self.values)


_INT64_RE: Final = re.compile(r"[+-]?[0-9]+")


def _parse_int64(text: str) -> int | None:
    """strconv.ParseInt(text, 10, 64), or None."""
    if not _INT64_RE.fullmatch(text):
        return None
    number = int(text)
    return number if -(2**63) <= number < 2**63 else None


@dataclass(frozen=True, slots=True)
class Selector:
    """A compiled label selector: every requirement must match."""

    requirements: tuple[Requirement, ...] = ()
    matches_nothing: bool = False
    # Equality requirements, checked first with plain dict lookups.
    _equals: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)
    _others: tuple[Requirement, ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def of(cls, requirements: Iterable[Requirement]) -> Selector:
        """A selector requiring all of `requirements` (in canonical order)."""
        ordered = tuple(sorted(requirements, key=Requirement._sort_key))
        equals = tuple(
            (r.key, r.values[0])
            for r in ordered
            if r.operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS)
        )
        others = tuple(
            r for r in ordered if r.operator not in (Operator.EQUALS, Operator.DOUBLE_EQUALS)
        )
        return cls(ordered, False, equals, others)

    @classmethod
    def empty(cls) -> Selector:
        """Matches every object (Kubernetes' labels.Everything())."""
        return _EVERYTHING

    @classmethod
    def nothing(cls) -> Selector:
        """Matches no object (Kubernetes' labels.Nothing())."""
        return _NOTHING

    def is_empty(self) -> bool:
        """True when this selector matches everything."""
        return not self.requirements and not self.matches_nothing

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.matches_nothing:
            return False
        for key, wanted in self._equals:
            if labels.get(key) != wanted:
                return False
        # Inlined Requirement.matches for the common operators: this runs per
        # object per list/index lookup, and a method call per term doubles it.
        for r in self._others:
            op = r.operator
            value = labels.get(r.key)
            if op is Operator.IN:
                if value is None or value not in r._value_set:
                    return False
            elif op is Operator.NOT_IN or op is Operator.NOT_EQUALS:
                if value is not None and value in r._value_set:
                    return False
            elif op is Operator.EXISTS:
                if value is None:
                    return False
            elif op is Operator.DOES_NOT_EXIST:
                if value is not None:
                    return False
            elif not r.matches(labels):
                return False
        return True

    def add(self, *requirements: Requirement) -> Selector:
        """This selector with more requirements (a new object)."""
        if self.matches_nothing:
            return self
        return Selector.of((*self.requirements, *requirements))

    def __str__(self) -> str:
        if self.matches_nothing:
            return "<nothing>"
        return ",".join(str(r) for r in self.requirements)


_EVERYTHING: Final = Selector()
_NOTHING: Final = Selector(matches_nothing=True)


def selector_from_set(labels: Mapping[str, str]) -> Selector:
    """Equality on every pair; an empty mapping selects everything."""
    if not labels:
        return _EVERYTHING
    return Selector.of(Requirement.make(k, Operator.EQUALS, (v,)) for k, v in labels.items())


_API_OPERATORS: Final = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def from_label_selector(selector: LabelSelector | None) -> Selector:
    """Compile a metav1.LabelSelector: None selects nothing, an empty one
    selects everything; otherwise matchLabels AND every matchExpression."""
    if selector is None:
        return _NOTHING
    if not selector.match_labels and not selector.match_expressions:
        return _EVERYTHING
    requirements = [
        Requirement.make(k, Operator.EQUALS, (v,)) for k, v in selector.match_labels.items()
    ]
    for expression in selector.match_expressions:
        op = _API_OPERATORS.get(expression.operator)
        if op is None:
            raise InvalidSelector(
                f'"{expression.operator}" is not a valid label selector operator '
                f"(key {expression.key!r}; use In, NotIn, Exists or DoesNotExist)"
            )
        requirements.append(Requirement.make(expression.key, op, expression.values))
    return Selector.of(requirements)


# -- the string syntax ---------------------------------------------------

_SPECIAL: Final = frozenset("=!(),<>")
_SYMBOLS: Final = frozenset({"!", "!=", "(", ")", ",", "=", "==", ">", "<"})
_WHITESPACE: Final = frozenset(" \t\r\n")
_END: Final = ""  # the end-of-input token
_IDENTIFIER: Final = "identifier"
_KEYWORDS: Final = {"in": Operator.IN, "notin": Operator.NOT_IN}
_OPERATOR_TOKENS: Final = {
    "=": Operator.EQUALS,
    "==": Operator.DOUBLE_EQUALS,
    "!=": Operator.NOT_EQUALS,
    ">": Operator.GREATER_THAN,
    "<": Operator.LESS_THAN,
}


def _tokenize(text: str) -> list[tuple[str, str]]:
    """(kind, literal) pairs; kind is a symbol, "identifier", or "" at the end.
    As Kubernetes' lexer: identifiers run to whitespace or a special symbol,
    symbols are matched longest-first (`!=`, `==`)."""
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _WHITESPACE:
            i += 1
        elif ch in _SPECIAL:
            j = i + 1
            while j < n and text[j] in _SPECIAL and text[i : j + 1] in _SYMBOLS:
                j += 1
            symbol = text[i:j]
            if symbol not in _SYMBOLS:
                raise InvalidSelector(f"unexpected {symbol!r} in label selector {text!r}")
            tokens.append((symbol, symbol))
            i = j
        else:
            j = i
            while j < n and text[j] not in _SPECIAL and text[j] not in _WHITESPACE:
                j += 1
            tokens.append((_IDENTIFIER, text[i:j]))
            i = j
    tokens.append((_END, _END))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def fail(self, found: str, expected: str) -> InvalidSelector:
        shown = f"'{found}'" if found else "end of string"
        return InvalidSelector(
            f"unable to parse label selector {self.text!r}: found {shown}, expected: {expected}"
        )

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos]

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.pos]
        if token[0] != _END:
            self.pos += 1
        return token

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        kind, literal = self.peek()
        if kind == _END:
            return requirements
        while True:
            kind, literal = self.peek()
            if kind not in (_IDENTIFIER, "!"):
                raise self.fail(literal, "!, identifier, or end of string")
            requirements.append(self.requirement())
            kind, literal = self.take()
            if kind == _END:
                return requirements
            if kind != ",":
                raise self.fail(literal, "',' or end of string")
            kind, literal = self.peek()
            if kind not in (_IDENTIFIER, "!"):
                raise self.fail(literal, "identifier after ','")

    def requirement(self) -> Requirement:
        negated = False
        if self.peek()[0] == "!":
            self.take()
            negated = True
        kind, key = self.take()
        if kind != _IDENTIFIER:
            raise self.fail(key, "identifier")
        if negated:
            return Requirement.make(key, Operator.DOES_NOT_EXIST)
        kind, literal = self.peek()
        if kind in (_END, ","):
            return Requirement.make(key, Operator.EXISTS)
        self.take()
        if kind == _IDENTIFIER and literal in _KEYWORDS:
            return Requirement.make(key, _KEYWORDS[literal], self.value_list())
        op = _OPERATOR_TOKENS.get(kind)
        if op is None:
            raise self.fail(literal, "=, ==, !=, in, notin, >, <")
        return Requirement.make(key, op, (self.exact_value(),))

    def exact_value(self) -> str:
        kind, literal = self.peek()
        if kind in (_END, ","):
            return ""  # `a=` selects an empty value
        self.take()
        if kind != _IDENTIFIER:
            raise self.fail(literal, "identifier")
        return literal

    def value_list(self) -> list[str]:
        kind, literal = self.take()
        if kind != "(":
            raise self.fail(literal, "'('")
        values: list[str] = []
        expect_value = True  # at the start and after each comma
        while True:
            kind, literal = self.take()
            if kind == ")":
                if expect_value:
                    values.append("")  # `in ()` and `in (a,)` hold the empty value
                return values
            if kind == ",":
                if expect_value:
                    values.append("")  # `(,a)` and `(a,,b)` too
                expect_value = True
            elif kind == _IDENTIFIER and expect_value:
                values.append(literal)
                expect_value = False
            elif expect_value:
                raise self.fail(literal, "',', ')' or identifier")
            else:
                raise self.fail(literal, "',' or ')'")


def parse_selector(text: str) -> Selector:
    """Parse the string syntax (`a=b,c!=d,e in (x,y),f notin (z),g,!h,i>3`);
    "" selects everything. InvalidSelector names the offending part."""
    requirements = _Parser(text).parse()
    return Selector.of(requirements) if requirements else _EVERYTHING
