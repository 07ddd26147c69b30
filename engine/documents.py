"""Text in, documents out: YAML and JSON decoded as strictly as kubectl and the
apiserver decode them, within the apiserver's limits, with one-line errors.

Contract:
* `decode_documents(text, source)` returns the decoded documents (dicts,
  lists, scalars) of a YAML or JSON text, in order. Text that starts with
  `{` or `[` is read as JSON first; anything else (or JSON that does not
  parse, such as several JSON documents) as multi-document YAML, without
  YAML 1.1 timestamps (Kubernetes reads YAML through JSON, so an unquoted
  date stays a string).
* Rejected, each as one line naming `<source> document N` and, where the
  parser knows it, the line: text that does not parse; a mapping key given
  twice (kubectl's `mapping key "x" already defined at line N`; a YAML merge
  key `<<` may still be overridden); NaN and infinities, which JSON cannot
  carry; nesting deeper than `MAX_DEPTH` levels; integers too long to
  convert.
* A document whose aliases expand it far beyond its text (a YAML "billion
  laughs": a few lines standing for gigabytes) is refused as go-yaml refuses
  it (`document contains excessive aliasing`), in bounded time: sizes are
  counted on a walk that stops at the limit.
* `check_document(data, where)` holds one object to the same depth and number
  rules and to the apiserver's request limit: an object whose JSON exceeds
  `MAX_REQUEST_BYTES` (3 MiB) is `RequestEntityTooLarge`, with the
  apiserver's `Request entity too large: limit is 3145728`.
  `engine.manifests.parse_object` runs it on every dict it is given
  (manifests, patches, apply merges); a `List` is held to it item by item, as
  kubectl sends each item as its own request.
* `read_text(path)` reads a file as UTF-8; BadRequest names the file and the
  offending byte otherwise.

Why 100 levels: Kubernetes' JSON decoder allows 10,000, but Python code that
later walks a document recurses, and no Kubernetes object comes near 100
(a pod's deepest path is about 15 levels).

Neighbours: `engine.manifests` (documents -> objects), `runtime.scenario` and
`runtime.simulation.replay` (scenario files).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, ClassVar, Final

import yaml

from engine.errors import BadRequest, RequestEntityTooLarge

__all__ = [
    "MAX_DEPTH",
    "MAX_REQUEST_BYTES",
    "check_document",
    "decode_documents",
    "read_text",
]

MAX_DEPTH: Final = 100
MAX_REQUEST_BYTES: Final = 3 * 1024 * 1024

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG: Final = "tag:yaml.org,2002:merge"


class _RefuseDuplicateKeys:
    """Mapping construction that refuses a key given twice, as kubectl does."""

    def construct_mapping(self: Any, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            # Keys equal in Python (1, 1.0 and true) would collapse into one
            # dict entry, so they count as the same key.
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    first = seen.get(key)
                except TypeError:
                    continue  # an unhashable key: the base class reports it
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"mapping key {json.dumps(str(key))} already defined at line {first}",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]


class _StrictLoader(_RefuseDuplicateKeys, _BaseLoader):  # type: ignore[misc]
    """Safe YAML without timestamps, refusing duplicate mapping keys."""


class _KubectlEscapesLoader(_RefuseDuplicateKeys, yaml.SafeLoader):
    """The pure-Python loader with go-yaml's extra escape `\\'` (libyaml rejects
    it); used only for texts that need it, as it is slower."""

    ESCAPE_REPLACEMENTS: ClassVar[dict[str, str]] = {  # type: ignore[misc]
        **yaml.SafeLoader.ESCAPE_REPLACEMENTS,
        "'": "'",
    }


_StrictLoader.yaml_implicit_resolvers = _KubectlEscapesLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _DuplicateKey(ValueError):
    pass


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKey
    return result


def _no_constant(name: str) -> Any:
    raise BadRequest(f"unsupported value: {name} (JSON has no NaN or infinities)")


def decode_documents(text: str, source: str) -> list[Any]:
    """Every document of a YAML or JSON text (see the module docstring)."""
    documents: list[Any] | None = None
    if text.lstrip().startswith(("{", "[")):
        try:
            documents = [
                json.loads(text, object_pairs_hook=_unique_pairs, parse_constant=_no_constant)
            ]
        except (json.JSONDecodeError, _DuplicateKey):
            pass  # YAML flow style or several JSON documents; YAML also finds the line
        except BadRequest as error:
            raise BadRequest(f"{source} document 1: {error}") from None
        except RecursionError:
            raise BadRequest(_too_deep(f"{source} document 1")) from None
        except ValueError as error:  # an integer longer than Python converts
            raise BadRequest(f"{source} document 1: {_one_line(str(error))}") from None
    if documents is None:
        documents = _yaml_documents(text, source)
    # Without aliases a document's JSON is at most a few times its text; far
    # more means YAML aliases expanding (go-yaml refuses the same). Each
    # object is held to MAX_REQUEST_BYTES later, by check_document.
    limit = MAX_REQUEST_BYTES + 8 * len(text)
    for index, document in enumerate(documents, start=1):
        where = f"{source} document {index}"
        if _json_size(document, where, limit) is None:
            raise BadRequest(f"{where}: invalid YAML: document contains excessive aliasing")
    return documents


def _yaml_documents(text: str, source: str) -> list[Any]:
    try:
        return _yaml_documents_with(_StrictLoader, text, source)
    except _UnknownEscape:
        # kubectl's parser (go-yaml) also takes \\' in double-quoted strings.
        return _yaml_documents_with(_KubectlEscapesLoader, text, source)


class _UnknownEscape(Exception):
    pass


def _yaml_documents_with(loader_class: Any, text: str, source: str) -> list[Any]:
    documents: list[Any] = []
    loader = loader_class(text)
    try:
        while loader.check_data():
            documents.append(loader.get_data())
    except yaml.MarkedYAMLError as error:
        if error.problem == "found unknown escape character" and loader_class is _StrictLoader:
            raise _UnknownEscape from None
        mark = error.problem_mark
        line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = _one_line(error.problem or str(error))
        raise BadRequest(
            f"{source} document {len(documents) + 1}: invalid YAML{line}: {problem}"
        ) from None
    except yaml.YAMLError as error:
        raise BadRequest(
            f"{source} document {len(documents) + 1}: invalid YAML: {_one_line(str(error))}"
        ) from None
    except RecursionError:
        raise BadRequest(_too_deep(f"{source} document {len(documents) + 1}")) from None
    except ValueError as error:  # an integer longer than Python converts
        raise BadRequest(
            f"{source} document {len(documents) + 1}: invalid YAML: {_one_line(str(error))}"
        ) from None
    finally:
        loader.dispose()
    return documents


def check_document(data: Any, where: str) -> None:
    """BadRequest if `data` nests deeper than MAX_DEPTH or holds NaN or an
    infinity; RequestEntityTooLarge if its JSON exceeds MAX_REQUEST_BYTES."""
    if _json_size(data, where, MAX_REQUEST_BYTES) is None:
        raise RequestEntityTooLarge(
            f"{where}: Request entity too large: limit is {MAX_REQUEST_BYTES}"
        )


def _json_size(data: Any, where: str, limit: int) -> int | None:
    """About the length of `data` as JSON, or None once it passes `limit`;
    BadRequest for nesting deeper than MAX_DEPTH, NaN or an infinity. The
    walk is iterative and stops at the first rule broken, so shared (aliased)
    parts cost no more than `limit` steps however often they repeat."""
    if type(data) is not dict and type(data) is not list:
        data = [data]  # a bare scalar: measured as a one-item list
    size = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        container, depth = pop()
        if depth > MAX_DEPTH:
            raise BadRequest(_too_deep(where))
        if type(container) is dict:
            size += 2 + len(container)
            values: Any = container.values()
            for key in container:
                size += len(key) + 3 if type(key) is str else 8
        else:
            size += 2 + len(container)
            values = container
        for value in values:
            kind = type(value)
            if kind is str:
                size += len(value) + 2  # quotes; escapes not counted
            elif kind is dict or kind is list:
                push((value, depth + 1))
            elif kind is float and not math.isfinite(value):
                raise BadRequest(
                    f"{where}: unsupported value: {value} (JSON has no NaN or infinities)"
                )
            else:
                size += 8
        if size > limit:
            return None
    return size


def read_text(path: Path) -> str:
    """The file's text, decoded as UTF-8; BadRequest naming the file if it
    cannot be read or is not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BadRequest(f"{path}: cannot read: {error.strerror or error}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise BadRequest(
            f"{path}: not UTF-8 text: byte 0x{data[error.start]:02x} at line {line} "
            f"(offset {error.start}) cannot be decoded"
        ) from None


def _too_deep(where: str) -> str:
    return f"{where}: nested more than {MAX_DEPTH} levels deep"


def _one_line(text: str) -> str:
    return " ".join(text.split())
