"""Kubernetes resource quantities (`500m`, `1.5Gi`, `1e3`): exact parsing,
canonical formatting, arithmetic and a pydantic field type.

Contract (Kubernetes' `resource.Quantity`):

* Parsing accepts `<sign><number><suffix>`: a number such as `1`, `1.5`, `.5`
  or `1.`; a suffix that is decimal SI (`n u m k M G T P E`), binary SI
  (`Ki Mi Gi Ti Pi Ei`) or a decimal exponent (`e3`, `E-3`, `e+6`). Anything
  else raises ValueError naming the string.
* Values are exact and rounded up (away from zero) to a whole nano, as
  Kubernetes does ("if you ask for some resources, you get some"). Binary
  values are capped at 2^63-1, as Kubernetes caps them. Every value is
  therefore a whole number of nanos, which is how it is stored: a Python int
  is exact and far cheaper to compare, add and hash than a Fraction.
* A quantity remembers the family of suffix it was written in (its `format`)
  and prints in canonical form in that family: `1.5Gi` -> `1536Mi`, `0.5` ->
  `500m`, `1000m` -> `1`, `1e3` -> `1e3`. Binary values below 1024 or not whole
  print as decimal SI; values beyond the largest suffix print with an exponent.
* Equality, ordering and hashing use the value only: `1Gi == 1024Mi`.

Neighbours: `engine.api` uses `Quantity` and `ResourceList` as field types of
the models; the scheduler and kubelet read `milli_value()` / `value()`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from fractions import Fraction
from functools import lru_cache
from typing import Any, Final, final

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

__all__ = ["Quantity", "QuantityFormat", "ResourceList", "parse_quantity"]


class QuantityFormat(StrEnum):
    """The family of suffix a quantity prints in (Kubernetes' `Format`)."""

    DECIMAL_SI = "DecimalSI"
    BINARY_SI = "BinarySI"
    DECIMAL_EXPONENT = "DecimalExponent"


# Kubernetes reports every malformed quantity against this expression, so the
# message matches what kubectl users already know.
SPLIT_RE_TEXT: Final = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
_FORMAT_ERROR: Final = f"quantities must match the regular expression '{SPLIT_RE_TEXT}'"
_SUFFIX_ERROR: Final = "unable to parse quantity's suffix"

# The scanner Kubernetes runs after that expression: sign, digits, an optional
# fraction, then suffix letters, an optional sign and digits.
_SCAN_RE: Final = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*[-+]?[0-9]*)")
_EXPONENT_RE: Final = re.compile(r"[eE][+-]?[0-9]+")

_NANO: Final = 10**9
_BINARY_CAP_NANOS: Final = (2**63 - 1) * _NANO
# Kubernetes accepts exponents up to the int32 range and keeps them symbolic;
# an exact integer cannot, so larger positive exponents are refused (1e1000 is
# already far beyond any resource) and very negative ones round up to 1n.
MAX_EXPONENT: Final = 1000
_INT32_MAX: Final = 2**31 - 1

_DECIMAL_SUFFIXES: Final = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12}
_DECIMAL_SUFFIXES_BIG: Final = {"P": 15, "E": 18}
_BINARY_SUFFIXES: Final = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT: Final = {e: s for s, e in (_DECIMAL_SUFFIXES | _DECIMAL_SUFFIXES_BIG).items()}
_BINARY_BY_EXPONENT: Final = {e: s for s, e in _BINARY_SUFFIXES.items()} | {0: ""}


def _ceil_away(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded away from zero (denominator > 0)."""
    magnitude = -(-abs(numerator) // denominator)
    return magnitude if numerator >= 0 else -magnitude


def _parse(text: str) -> tuple[int, QuantityFormat]:
    """(nanos, format) for a quantity string, or ValueError naming it."""
    match = _SCAN_RE.fullmatch(text)
    if match is None or (not match.group(2) and match.group(3) is None):
        raise ValueError(f'{_FORMAT_ERROR}: "{text}"')
    sign, whole, fraction, suffix = match.groups()
    fraction = fraction or ""
    digits = (whole + fraction).lstrip("0")
    try:
        mantissa = int(digits) if digits else 0
    except ValueError:  # more digits than int() converts (sys.int_max_str_digits)
        raise ValueError(f'unable to parse numeric part of quantity: "{text}"') from None

    if suffix in _DECIMAL_SUFFIXES or suffix in _DECIMAL_SUFFIXES_BIG:
        fmt = QuantityFormat.DECIMAL_SI
        exponent = _DECIMAL_SUFFIXES.get(suffix, _DECIMAL_SUFFIXES_BIG.get(suffix, 0))
        value = Fraction(mantissa) * Fraction(10) ** (exponent - len(fraction))
    elif suffix in _BINARY_SUFFIXES:
        fmt = QuantityFormat.BINARY_SI
        value = Fraction(mantissa << _BINARY_SUFFIXES[suffix], 10 ** len(fraction))
    elif _EXPONENT_RE.fullmatch(suffix):
        fmt = QuantityFormat.DECIMAL_EXPONENT
        exponent = int(suffix[1:])
        if abs(exponent) > _INT32_MAX:
            raise ValueError(f'{_SUFFIX_ERROR}: "{text}"')
        if exponent > MAX_EXPONENT:
            raise ValueError(f'quantity exponent is too large (max {MAX_EXPONENT}): "{text}"')
        scale = exponent - len(fraction)
        if len(digits) + scale < -10:  # below a nano: skip the huge power of ten
            value = Fraction(1, 10 * _NANO) if mantissa else Fraction(0)
        else:
            value = Fraction(mantissa) * Fraction(10) ** scale
    else:
        raise ValueError(f'{_SUFFIX_ERROR}: "{text}"')

    # Round the magnitude up to a whole nano, so a tiny request is never zero.
    nanos = -(-(value.numerator * _NANO) // value.denominator)
    if fmt is QuantityFormat.BINARY_SI:
        nanos = min(nanos, _BINARY_CAP_NANOS)
        if 0 < nanos < _NANO:
            fmt = QuantityFormat.DECIMAL_SI
    if sign == "-":
        nanos = -nanos
    return nanos, fmt


def _decimal_parts(nanos: int) -> tuple[int, int]:
    """(mantissa, exponent) with |nanos|/1e9 == mantissa * 10**exponent and the
    exponent a multiple of 3 as large as possible."""
    mantissa, exponent = abs(nanos), -9
    while mantissa % 1000 == 0:
        mantissa //= 1000
        exponent += 3
    return mantissa, exponent


def _format(nanos: int, fmt: QuantityFormat) -> str:
    """Kubernetes' canonical string (CanonicalizeBytes) for a value and format."""
    if nanos == 0:
        return "0"
    sign = "-" if nanos < 0 else ""
    magnitude = abs(nanos)
    if fmt is QuantityFormat.BINARY_SI and magnitude >= 1024 * _NANO and magnitude % _NANO == 0:
        amount, power = magnitude // _NANO, 0
        while amount % 1024 == 0:
            amount //= 1024
            power += 10
        binary_suffix = _BINARY_BY_EXPONENT.get(power)
        if binary_suffix is not None:
            return f"{sign}{amount}{binary_suffix}"
        fmt = QuantityFormat.DECIMAL_EXPONENT  # beyond Ei: exact decimal instead
    elif fmt is QuantityFormat.BINARY_SI:
        fmt = QuantityFormat.DECIMAL_SI  # below 1Ki or fractional: printed exactly
    mantissa, exponent = _decimal_parts(magnitude)
    if fmt is QuantityFormat.DECIMAL_SI:
        decimal_suffix = _DECIMAL_BY_EXPONENT.get(exponent)
        if decimal_suffix is not None:
            return f"{sign}{mantissa}{decimal_suffix}"
    return f"{sign}{mantissa}e{exponent}" if exponent else f"{sign}{mantissa}"


_UNSET: Final[Any] = object()


@final
class Quantity:
    """An exact, immutable Kubernetes quantity. `Quantity("1.5Gi")`,
    `Quantity(2)`, `Quantity(0.25)` (a float is read through its repr)."""

    __slots__ = ("_fmt", "_milli", "_nanos", "_str", "_value")

    _nanos: int
    _fmt: QuantityFormat
    _str: str | None
    _milli: int | None
    _value: int | None

    def __new__(cls, value: str | int | float | Quantity) -> Quantity:
        if isinstance(value, Quantity):
            return value
        if isinstance(value, str):
            return _parse_cached(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"a quantity is a string or a number, not {type(value).__name__}")
        return _parse_cached(repr(value))

    @classmethod
    def _make(cls, nanos: int, fmt: QuantityFormat, text: str | None = None) -> Quantity:
        self = object.__new__(cls)
        setattr_ = object.__setattr__
        setattr_(self, "_nanos", nanos)
        setattr_(self, "_fmt", fmt)
        setattr_(self, "_str", text)
        setattr_(self, "_milli", None)
        setattr_(self, "_value", None)
        return self

    @classmethod
    def from_milli(cls, millis: int, fmt: QuantityFormat = QuantityFormat.DECIMAL_SI) -> Quantity:
        """A quantity of `millis` thousandths (`from_milli(250)` is `250m`)."""
        return cls._make(millis * 1_000_000, fmt)

    @classmethod
    def from_int(cls, value: int, fmt: QuantityFormat = QuantityFormat.DECIMAL_SI) -> Quantity:
        """A whole quantity; pass BINARY_SI for byte counts (2**30 then prints `1Gi`)."""
        return cls._make(value * _NANO, fmt)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Quantity is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Quantity is immutable")

    # -- reading ---------------------------------------------------------

    @property
    def format(self) -> QuantityFormat:
        return self._fmt

    def as_fraction(self) -> Fraction:
        """The exact value."""
        return Fraction(self._nanos, _NANO)

    def nano_value(self) -> int:
        """The value in nanos (exact: every quantity is a whole number of nanos)."""
        return self._nanos

    def milli_value(self) -> int:
        """The value in thousandths, rounded up away from zero (cpu -> millicores)."""
        milli = self._milli
        if milli is None:
            milli = _ceil_away(self._nanos, 1_000_000)
            object.__setattr__(self, "_milli", milli)
        return milli

    def value(self) -> int:
        """The value rounded up away from zero to a whole number (memory -> bytes)."""
        whole = self._value
        if whole is None:
            whole = _ceil_away(self._nanos, _NANO)
            object.__setattr__(self, "_value", whole)
        return whole

    def is_zero(self) -> bool:
        return self._nanos == 0

    def sign(self) -> int:
        return (self._nanos > 0) - (self._nanos < 0)

    def __str__(self) -> str:
        text = self._str
        if text is None:
            text = _format(self._nanos, self._fmt)
            object.__setattr__(self, "_str", text)
        return text

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"

    def __float__(self) -> float:
        return self._nanos / _NANO

    def __bool__(self) -> bool:
        return self._nanos != 0

    # -- comparing -------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self._nanos == other._nanos
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._nanos)

    def __lt__(self, other: Quantity) -> bool:
        if isinstance(other, Quantity):
            return self._nanos < other._nanos
        return NotImplemented

    def __le__(self, other: Quantity) -> bool:
        if isinstance(other, Quantity):
            return self._nanos <= other._nanos
        return NotImplemented

    def __gt__(self, other: Quantity) -> bool:
        if isinstance(other, Quantity):
            return self._nanos > other._nanos
        return NotImplemented

    def __ge__(self, other: Quantity) -> bool:
        if isinstance(other, Quantity):
            return self._nanos >= other._nanos
        return NotImplemented

    # -- arithmetic (the result keeps the left operand's format, or the
    # right one's when the left is zero, as Kubernetes' Add/Sub do) -------

    def __add__(self, other: Quantity) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        fmt = self._fmt if self._nanos else other._fmt
        return Quantity._make(self._nanos + other._nanos, fmt)

    def __sub__(self, other: Quantity) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        fmt = self._fmt if self._nanos else other._fmt
        return Quantity._make(self._nanos - other._nanos, fmt)

    def __neg__(self) -> Quantity:
        return Quantity._make(-self._nanos, self._fmt)

    def __pos__(self) -> Quantity:
        return self

    def __abs__(self) -> Quantity:
        return self if self._nanos >= 0 else -self

    def __mul__(self, factor: int) -> Quantity:
        if isinstance(factor, bool) or not isinstance(factor, int):
            return NotImplemented
        return Quantity._make(self._nanos * factor, self._fmt)

    __rmul__ = __mul__

    # -- copying and pickling: immutable, so copies are the object itself --

    def __copy__(self) -> Quantity:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Quantity:
        return self

    def __reduce__(self) -> tuple[Any, tuple[int, str]]:
        return (_restore, (self._nanos, self._fmt.value))

    # -- pydantic ----------------------------------------------------------

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source_type: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _validate,
            serialization=core_schema.plain_serializer_function_ser_schema(str, when_used="json"),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "anyOf": [{"type": "string"}, {"type": "number"}],
            "description": "A Kubernetes quantity such as 500m, 1.5Gi or 1e3.",
        }


def _restore(nanos: int, fmt: str) -> Quantity:
    return Quantity._make(nanos, QuantityFormat(fmt))


@lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Quantity:
    # Manifests repeat the same few strings ("100m", "128Mi") across thousands
    # of pods, and a Quantity is immutable, so equal strings share one object.
    nanos, fmt = _parse(text)
    return Quantity._make(nanos, fmt)


def parse_quantity(text: str) -> Quantity:
    """Parse a quantity string; ValueError names a malformed one."""
    return _parse_cached(text)


def _validate(value: Any) -> Quantity:
    if isinstance(value, Quantity):
        return value
    if isinstance(value, str):
        # Kubernetes trims surrounding whitespace when decoding JSON.
        return _parse_cached(value.strip())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _parse_cached(repr(value))
    raise ValueError(f"a quantity must be a string or a number, not {type(value).__name__}")


ResourceList = dict[str, Quantity]
"""Resource name (`cpu`, `memory`, `nvidia.com/gpu`) -> quantity, as in
`resources.requests` and `status.allocatable`."""
