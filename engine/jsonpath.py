"""Kubernetes' JSONPath dialect (kubectl's `-o jsonpath`, CRDs'
`additionalPrinterColumns`) evaluated with jsonpath-ng.

Contract: `compile_jsonpath(text)` parses an expression as Kubernetes writes
it (`.spec.replicas`, `{.status.conditions[?(@.type=="Ready")].status}`,
`.metadata.labels.app\\.kubernetes\\.io/name`) into a function from a JSON
document to the list of matched values (empty when a key is missing, as
Kubernetes' `AllowMissingKeys(true)`); `JSONPathError` when it does not parse.
`print_value(value)` prints one matched value as Go's jsonpath printer does
(strings bare, objects and lists as compact JSON, Go's float formatting).

jsonpath-ng (its `ext` parser) is used rather than a hand-written evaluator:
it is the most used JSONPath library for Python, maintained, and its
extended grammar already covers Kubernetes' dialect (filters with `@`,
`==`/`!=`/`<`/`>`, wildcards, slices, negative indexes, recursive descent,
bracketed keys); what differs is only the surface, which `_to_jsonpath_ng`
rewrites: the optional `{...}` wrapper, the implicit `$` root, and field names
with escaped dots, slashes or other characters jsonpath-ng's lexer does not
take (rewritten to bracket notation).

Neighbours: `engine.printers` (CRD columns).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext.parser import parse as _parse

__all__ = ["JSONPathError", "compile_jsonpath", "print_value"]


class JSONPathError(ValueError):
    """A JSONPath expression that does not parse."""


_PLAIN_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _field(name: str) -> str:
    if _PLAIN_NAME.match(name) or name == "*":
        return "." + name
    return "[" + json.dumps(name) + "]"


def _to_jsonpath_ng(text: str) -> str:
    """Rewrite a Kubernetes JSONPath into jsonpath-ng's ext grammar."""
    expression = text.strip()
    if expression.startswith("{") and expression.endswith("}"):
        expression = expression[1:-1].strip()
    if not expression:
        raise JSONPathError("empty JSONPath expression")
    if expression.startswith("$"):
        expression = expression[1:]
    out = ["$"]
    i, n = 0, len(expression)
    while i < n:
        char = expression[i]
        if char == "[":
            # Copy a bracket (index, slice, filter or quoted key) up to its match.
            depth, j, quote = 0, i, ""
            while j < n:
                c = expression[j]
                if quote:
                    if c == "\\":
                        j += 1
                    elif c == quote:
                        quote = ""
                elif c in "'\"":
                    quote = c
                elif c == "[":
                    depth += 1
                elif c == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j >= n:
                raise JSONPathError(f"unterminated [ in {text!r}")
            out.append(expression[i : j + 1])
            i = j + 1
        elif char == ".":
            recursive = expression.startswith("..", i)
            i += 2 if recursive else 1
            if recursive:
                out.append("..")
            name: list[str] = []
            while i < n and expression[i] not in ".[":
                if expression[i] == "\\" and i + 1 < n:
                    name.append(expression[i + 1])
                    i += 2
                    continue
                name.append(expression[i])
                i += 1
            if not name:
                continue
            piece = _field("".join(name))
            if out[-1] == ".." and piece.startswith("."):
                piece = piece[1:]
            out.append(piece)
        else:
            raise JSONPathError(f"unexpected {char!r} at position {i} in {text!r}")
    return "".join(out)


@functools.lru_cache(maxsize=1024)
def compile_jsonpath(text: str) -> Callable[[Any], list[Any]]:
    """A function giving the values `text` selects in a document."""
    source = _to_jsonpath_ng(text)
    try:
        compiled = _parse(source)
    except (JsonPathLexerError, JsonPathParserError, Exception) as error:
        raise JSONPathError(f"invalid JSONPath {text!r}: {error}") from error

    def find(document: Any) -> list[Any]:
        return [match.value for match in compiled.find(document)]

    return find


def _go_float(value: float) -> str:
    """fmt's %v of a float64: shortest digits, exponent below 1e-4 or from 1e21."""
    if value != value or value in (float("inf"), float("-inf")):
        return {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}[repr(value)]
    text = repr(value)
    exponent = Decimal(text).adjusted() if value else 0
    if -4 <= exponent < 21:
        plain = format(Decimal(text), "f")
        if "." in plain:
            plain = plain.rstrip("0").rstrip(".")
        return plain
    mantissa, _, power = f"{Decimal(text):e}".partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    sign = "-" if power.startswith("-") else "+"
    digits = power.lstrip("+-").rjust(2, "0")
    return f"{mantissa}e{sign}{digits}"


def _go_json(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # encoding/json escapes these for safe embedding in HTML.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def print_value(value: Any) -> str:
    """One matched value as Kubernetes' jsonpath printer writes it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if value is None:
        return "<nil>"
    return _go_json(value)
