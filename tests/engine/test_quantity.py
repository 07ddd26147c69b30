"""Quantity: Kubernetes' parse and canonical-format tables, invalid strings,
round trips, arithmetic against Fraction, and the pydantic field type."""

from __future__ import annotations

import copy
import pickle
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from engine.quantity import Quantity, QuantityFormat, ResourceList, parse_quantity

DSI = QuantityFormat.DECIMAL_SI
BSI = QuantityFormat.BINARY_SI
DEX = QuantityFormat.DECIMAL_EXPONENT


def dec(mantissa: int, exponent: int) -> Fraction:
    return Fraction(mantissa) * Fraction(10) ** exponent


# (input, exact value, format) from Kubernetes' quantity_test.go TestQuantityParse.
PARSE_TABLE = [
    ("0", dec(0, 0), DSI),
    ("0n", dec(0, 0), DSI),
    ("0u", dec(0, 0), DSI),
    ("0m", dec(0, 0), DSI),
    ("0Ki", dec(0, 0), BSI),
    ("0k", dec(0, 0), DSI),
    ("0Mi", dec(0, 0), BSI),
    ("0M", dec(0, 0), DSI),
    ("0Gi", dec(0, 0), BSI),
    ("0G", dec(0, 0), DSI),
    ("0Ti", dec(0, 0), BSI),
    ("0T", dec(0, 0), DSI),
    ("1", dec(1, 0), DSI),
    ("1Ki", dec(1024, 0), BSI),
    ("8Ki", dec(8 * 1024, 0), BSI),
    ("7Mi", dec(7 * 1024**2, 0), BSI),
    ("6Gi", dec(6 * 1024**3, 0), BSI),
    ("5Ti", dec(5 * 1024**4, 0), BSI),
    ("4Pi", dec(4 * 1024**5, 0), BSI),
    ("3Ei", dec(3 * 1024**6, 0), BSI),
    ("10Ti", dec(10 * 1024**4, 0), BSI),
    ("100Ti", dec(100 * 1024**4, 0), BSI),
    ("5n", dec(5, -9), DSI),
    ("4u", dec(4, -6), DSI),
    ("3m", dec(3, -3), DSI),
    ("9", dec(9, 0), DSI),
    ("8k", dec(8, 3), DSI),
    ("50k", dec(5, 4), DSI),
    ("7M", dec(7, 6), DSI),
    ("6G", dec(6, 9), DSI),
    ("5T", dec(5, 12), DSI),
    ("40T", dec(4, 13), DSI),
    ("300T", dec(3, 14), DSI),
    ("2P", dec(2, 15), DSI),
    ("1E", dec(1, 18), DSI),
    ("1E-3", dec(1, -3), DEX),
    ("1e3", dec(1, 3), DEX),
    ("1E6", dec(1, 6), DEX),
    ("1e9", dec(1, 9), DEX),
    ("1E12", dec(1, 12), DEX),
    ("1e15", dec(1, 15), DEX),
    ("1E18", dec(1, 18), DEX),
    ("1e14", dec(1, 14), DEX),
    ("1e13", dec(1, 13), DEX),
    ("100.035k", dec(100035, 0), DSI),
    ("0.001", dec(1, -3), DSI),
    ("0.0005k", dec(5, -1), DSI),
    ("0.005", dec(5, -3), DSI),
    ("0.05", dec(5, -2), DSI),
    ("0.5", dec(5, -1), DSI),
    ("0.00050k", dec(5, -1), DSI),
    ("0.00500", dec(5, -3), DSI),
    ("0.05000", dec(5, -2), DSI),
    ("0.50000", dec(5, -1), DSI),
    ("0.5e0", dec(5, -1), DEX),
    ("0.5e-1", dec(5, -2), DEX),
    ("0.5e-2", dec(5, -3), DEX),
    ("10.035M", dec(10035, 3), DSI),
    ("1.2e3", dec(12, 2), DEX),
    ("1.3E+6", dec(13, 5), DEX),
    ("1.40e9", dec(14, 8), DEX),
    ("1.53E12", dec(153, 10), DEX),
    ("1.6e15", dec(16, 14), DEX),
    ("1.7E18", dec(17, 17), DEX),
    ("9.01", dec(901, -2), DSI),
    ("8.1k", dec(81, 2), DSI),
    ("7.123456M", dec(7123456, 0), DSI),
    ("6.987654321G", dec(6987654321, 0), DSI),
    ("5.444T", dec(5444, 9), DSI),
    ("40.1T", dec(401, 11), DSI),
    ("300.2T", dec(3002, 11), DSI),
    ("2.5P", dec(25, 14), DSI),
    ("1.01E", dec(101, 16), DSI),
    # Things that saturate or round up to a whole nano.
    ("3.001n", dec(4, -9), DSI),
    ("1.1E-9", dec(2, -9), DEX),
    ("0.0000000001", dec(1, -9), DSI),
    ("0.0000000005", dec(1, -9), DSI),
    ("0.00000000050", dec(1, -9), DSI),
    ("0.5e-9", dec(1, -9), DEX),
    ("0.9n", dec(1, -9), DSI),
    ("0.00000012345", dec(124, -9), DSI),
    ("0.00000012354", dec(124, -9), DSI),
    ("9Ei", dec(2**63 - 1, 0), BSI),
    ("9223372036854775807Ki", dec(2**63 - 1, 0), BSI),
    ("12E", dec(12, 18), DSI),
    # Fractional binary values.
    ("100.035Ki", dec(10243584, -2), BSI),
    ("0.5Mi", dec(512 * 1024, 0), BSI),
    ("0.05Gi", dec(536870912, -1), BSI),
    ("0.025Ti", dec(274877906944, -1), BSI),
    # Things written by trolls.
    ("0.000000000001Ki", dec(2, -9), DSI),
    (".001", dec(1, -3), DSI),
    (".0001k", dec(100, -3), DSI),
    ("1.", dec(1, 0), DSI),
    ("1.G", dec(1, 9), DSI),
    (".", dec(0, 0), DSI),
    ("-.", dec(0, 0), DSI),
]


@pytest.mark.parametrize(("text", "value", "fmt"), PARSE_TABLE)
def test_parse_table(text: str, value: Fraction, fmt: QuantityFormat) -> None:
    q = Quantity(text)
    assert q.as_fraction() == value
    assert q.format is fmt


@pytest.mark.parametrize(("text", "value", "fmt"), PARSE_TABLE)
def test_parse_table_with_signs(text: str, value: Fraction, fmt: QuantityFormat) -> None:
    if text.startswith("-"):
        return
    assert Quantity("+" + text).as_fraction() == value
    negative = Quantity("-" + text)
    assert negative.as_fraction() == -value
    assert negative.format is fmt


# (quantity, canonical string) from TestQuantityString and TestQuantityParseEmit,
# built from an exact value and a format as Kubernetes' table does.
STRING_TABLE = [
    (dec(1024**3, 0), BSI, "1Gi"),
    (dec(300 * 1024**2, 0), BSI, "300Mi"),
    (dec(6 * 1024, 0), BSI, "6Ki"),
    (dec(1001 * 1024**3, 0), BSI, "1001Gi"),
    (dec(1024**4, 0), BSI, "1Ti"),
    (dec(5, 0), BSI, "5"),
    (dec(500, -3), BSI, "500m"),
    (dec(1, 9), DSI, "1G"),
    (dec(1000, 6), DSI, "1G"),
    (dec(1000000, 3), DSI, "1G"),
    (dec(1000000000, 0), DSI, "1G"),
    (dec(1, -3), DSI, "1m"),
    (dec(80, -3), DSI, "80m"),
    (dec(1080, -3), DSI, "1080m"),
    (dec(108, -2), DSI, "1080m"),
    (dec(10800, -4), DSI, "1080m"),
    (dec(300, 6), DSI, "300M"),
    (dec(1, 12), DSI, "1T"),
    (dec(1, 18), DSI, "1E"),
    (dec(1, 21), DSI, "1e21"),
    (dec(5, 21), DSI, "5e21"),
    (dec(1, 24), DSI, "1e24"),
    (dec(1, 70), BSI, "10e69"),
    (dec(2, 70), BSI, "20e69"),
    (dec(1, 72), BSI, "1e72"),
    (dec(1234567, 6), DSI, "1234567M"),
    (dec(1234567, -3), BSI, "1234567m"),
    (dec(3, 3), DSI, "3k"),
    (dec(1025, 0), BSI, "1025"),
    (dec(2000, 0), BSI, "2000"),
    (dec(0, 0), DSI, "0"),
    (dec(0, 0), BSI, "0"),
    (dec(1, 9), DEX, "1e9"),
    (dec(1, -3), DEX, "1e-3"),
    (dec(1, -9), DEX, "1e-9"),
    (dec(80, -3), DEX, "80e-3"),
    (dec(300, 6), DEX, "300e6"),
    (dec(1, 12), DEX, "1e12"),
    (dec(1, 3), DEX, "1e3"),
    (dec(3, 3), DEX, "3e3"),
    (dec(0, 0), DEX, "0"),
    (dec(1, -9), DSI, "1n"),
    (dec(80, -9), DSI, "80n"),
    (dec(1080, -9), DSI, "1080n"),
    (dec(108, -8), DSI, "1080n"),
    (dec(10800, -10), DSI, "1080n"),
    (dec(1, -6), DSI, "1u"),
    (dec(80, -6), DSI, "80u"),
    (dec(1080, -6), DSI, "1080u"),
]


def make(value: Fraction, fmt: QuantityFormat) -> Quantity:
    nanos = value * 10**9
    assert nanos.denominator == 1
    return Quantity.from_milli(0, fmt) + Quantity._make(int(nanos), fmt)


@pytest.mark.parametrize(("value", "fmt", "expected"), STRING_TABLE)
def test_canonical_string_table(value: Fraction, fmt: QuantityFormat, expected: str) -> None:
    q = make(value, fmt)
    assert str(q) == expected
    assert Quantity(expected) == q  # the canonical form parses back to the value
    if value:
        assert str(-q) == "-" + expected


# Alternate spellings from TestQuantityString and TestQuantityParseEmit: parse, then print.
@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1024Mi", "1Gi"),
        ("307200Ki", "300Mi"),
        ("1025024Mi", "1001Gi"),
        ("1024Gi", "1Ti"),
        ("5000m", "5"),
        ("1000M", "1G"),
        ("0.001T", "1G"),
        ("1000u", "1m"),
        ("1.08", "1080m"),
        ("1080000000n", "1080m"),
        ("1000E", "1e21"),
        (".001e12", "1e9"),
        ("0.001e0", "1e-3"),
        ("1000e-12", "1e-9"),
        ("00", "0"),
        ("1Ki", "1Ki"),
        ("1Mi", "1Mi"),
        (".001Ki", "1024m"),
        (".000001Ki", "1024u"),
        (".000000001Ki", "1024n"),
        (".000000000001Ki", "2n"),
        ("-.001Ki", "-1024m"),
        ("1.5Gi", "1536Mi"),
        ("0.5", "500m"),
        ("1000m", "1"),
        ("1e3", "1e3"),
        ("1.5", "1500m"),
        ("128974848", "128974848"),
        ("129e6", "129e6"),
        ("129M", "129M"),
        ("123Mi", "123Mi"),
        ("1.3E+6", "1300e3"),
        ("-0", "0"),
        ("+1k", "1k"),
    ],
)
def test_parse_then_format(text: str, canonical: str) -> None:
    assert str(Quantity(text)) == canonical


def test_binary_past_ei_prints_exact_decimal() -> None:
    q = Quantity("1Ei") * 1024
    assert str(q) == "1180591620717411303424"
    assert Quantity(str(q)) == q


def test_tiny_and_huge_exponents() -> None:
    assert str(Quantity("1e-2000")) == "1e-9"  # rounded up to one nano
    assert str(Quantity("-1e-2000")) == "-1e-9"
    assert Quantity("0e-5000").is_zero()
    # many digits and a small exponent: exact, then rounded up to a nano
    assert Quantity("1" * 50 + "e-30") == Quantity("1" * 20 + "." + "1" * 8 + "2")
    with pytest.raises(ValueError, match="too large"):
        Quantity("1e5000")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1.1.M", "regular expression"),
        ("1+1.0M", "regular expression"),
        ("0.1mi", "suffix"),
        ("0.1am", "regular expression"),
        ("aoeu", "regular expression"),
        (".5i", "suffix"),
        ("1i", "suffix"),
        ("-3.01i", "suffix"),
        ("-3.01e-", "suffix"),
        ("1e4294967297", "suffix"),
        (" 1", "regular expression"),
        ("1 ", "regular expression"),
        ("", "regular expression"),
        ("1.5.5", "regular expression"),
        ("Ki", "regular expression"),
        ("+", "regular expression"),
        ("1e", "suffix"),
        ("1K", "suffix"),
        ("1KiB", "regular expression"),
        ("1e3e", "regular expression"),
        ("inf", "regular expression"),
    ],
)
def test_invalid_strings_name_the_string(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as info:
        Quantity(text)
    assert f'"{text}"' in str(info.value)


def test_format_error_quotes_the_regular_expression() -> None:
    with pytest.raises(ValueError) as info:
        parse_quantity("1.5.5")
    assert str(info.value) == (
        "quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': \"1.5.5\""
    )


def test_numbers_and_other_types() -> None:
    assert str(Quantity(2)) == "2"
    assert str(Quantity(0.25)) == "250m"
    assert str(Quantity(1e16)) == "10e15"  # repr(1e16) is "1e+16"
    assert Quantity(Quantity("1Gi")) == Quantity("1Gi")
    with pytest.raises(TypeError):
        Quantity(True)
    with pytest.raises(TypeError):
        Quantity(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nan"):
        Quantity(float("nan"))


def test_value_and_milli_value_round_up_away_from_zero() -> None:
    assert Quantity("100m").milli_value() == 100
    assert Quantity("1.5").milli_value() == 1500
    assert Quantity("1n").milli_value() == 1
    assert Quantity("1n").value() == 1
    assert Quantity("1.5").value() == 2
    assert Quantity("-1.5").value() == -2
    assert Quantity("-1n").milli_value() == -1
    assert Quantity("1Gi").value() == 2**30
    assert Quantity("2").milli_value() == 2000
    q = Quantity("250m")
    assert q.milli_value() == q.milli_value() == 250  # cached, same answer
    assert Quantity("1.5Gi").nano_value() == 1536 * 2**20 * 10**9


def test_comparison_and_hash_use_the_value() -> None:
    assert Quantity("1Gi") == Quantity("1024Mi")
    assert Quantity("1k") == Quantity("1000") == Quantity("1e3")
    assert hash(Quantity("1k")) == hash(Quantity("1e3"))
    assert Quantity("100m") > Quantity("50m")
    assert Quantity("10000T") > Quantity("100Gi")
    assert Quantity("50m") <= Quantity("50m") < Quantity("1")
    assert Quantity("1") >= Quantity("1000m")
    assert Quantity("1") != Quantity("2")
    assert Quantity("1") != "1"
    assert len({Quantity("1Ki"), Quantity("1024")}) == 1
    assert sorted([Quantity("1"), Quantity("500m"), Quantity("2Ki")]) == [
        Quantity("500m"),
        Quantity("1"),
        Quantity("2Ki"),
    ]


def test_arithmetic_keeps_format_as_kubernetes() -> None:
    zero = Quantity("0")
    for text in ("100m", "1Gi"):
        value = Quantity(text)
        assert str(value + zero) == text
        assert str(zero + value) == text
        assert str(value - zero) == text
        assert str(zero - value) == str(-value)
    assert str(-Quantity("9.01")) == "-9010m"
    assert str(Quantity("512Mi") + Quantity("512Mi")) == "1Gi"
    assert str(Quantity("1Gi") - Quantity("512Mi")) == "512Mi"
    assert str(Quantity("100m") * 3) == "300m"
    assert str(3 * Quantity("1Mi")) == "3Mi"
    assert abs(Quantity("-2")) == Quantity("2")
    assert bool(Quantity("0")) is False
    assert float(Quantity("1500m")) == 1.5


def test_immutable_and_copies_are_itself() -> None:
    q = Quantity("1Gi")
    with pytest.raises(AttributeError):
        q._nanos = 3
    assert copy.copy(q) is q
    assert copy.deepcopy(q) is q
    restored = pickle.loads(pickle.dumps(q))
    assert restored == q and restored.format is q.format and str(restored) == "1Gi"
    assert repr(q) == "Quantity('1Gi')"


# -- hypothesis ----------------------------------------------------------

formats = st.sampled_from(list(QuantityFormat))
nanos_values = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.builds(lambda m, e: m * 10**e, st.integers(-(10**6), 10**6), st.integers(0, 40)),
    st.builds(lambda m, e: m * 2**e * 10**9, st.integers(-1024, 1024), st.integers(0, 70)),
)


@given(nanos_values, formats)
def test_format_then_parse_gives_the_same_value(nanos: int, fmt: QuantityFormat) -> None:
    q = Quantity._make(nanos, fmt)
    if fmt is BSI and abs(nanos) > (2**63 - 1) * 10**9:
        return  # Kubernetes caps parsed binary values at 2^63-1 (see test_parse_table)
    again = Quantity(str(q))
    assert again == q
    if fmt is not BSI:
        # Canonical strings are fixed points; a binary value printed without a
        # binary suffix ("5000") reads back as decimal and may print as "5k".
        assert str(again) == str(q)


@st.composite
def quantity_strings(draw: st.DrawFn) -> str:
    sign = draw(st.sampled_from(["", "+", "-"]))
    whole = draw(st.text("0123456789", max_size=12))
    fraction = draw(st.none() | st.text("0123456789", max_size=12))
    if not whole and fraction is None:
        whole = "0"
    number = whole + ("" if fraction is None else "." + fraction)
    suffix = draw(
        st.sampled_from(["", "n", "u", "m", "k", "M", "G", "T", "P", "E"])
        | st.sampled_from(["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"])
        | st.builds(lambda e, x: e + str(x), st.sampled_from(["e", "E"]), st.integers(-30, 30))
    )
    return sign + number + suffix


@given(quantity_strings())
def test_any_valid_string_round_trips(text: str) -> None:
    q = Quantity(text)
    assert Quantity(str(q)) == q
    # The parsed value is the written value rounded up (away from zero) to a nano.
    exact = _reference_value(text)
    if q.format is not QuantityFormat.BINARY_SI or abs(exact) <= 2**63 - 1:
        assert q.as_fraction() == _round_to_nano(exact)


def _reference_value(text: str) -> Fraction:
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    for suffix, factor in [
        ("Ki", 2**10),
        ("Mi", 2**20),
        ("Gi", 2**30),
        ("Ti", 2**40),
        ("Pi", 2**50),
        ("Ei", 2**60),
    ]:
        if body.endswith(suffix):
            return sign * Fraction(_number(body[:-2])) * factor
    for marker in ("e", "E"):
        head, found, tail = body.partition(marker)
        if found and tail:
            return sign * Fraction(_number(head)) * Fraction(10) ** int(tail)
    decimal = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
    if body and body[-1] in decimal:
        return sign * Fraction(_number(body[:-1])) * Fraction(10) ** decimal[body[-1]]
    return sign * Fraction(_number(body))


def _number(text: str) -> Fraction:
    if text in ("", "."):
        return Fraction(0)
    return Fraction(text + "0" if text.endswith(".") else text)


def _round_to_nano(value: Fraction) -> Fraction:
    nanos = value * 10**9
    magnitude = -(-abs(nanos.numerator) // nanos.denominator)
    return Fraction(magnitude if value >= 0 else -magnitude, 10**9)


@given(nanos_values, nanos_values, st.integers(-1000, 1000))
def test_arithmetic_agrees_with_fraction(a: int, b: int, k: int) -> None:
    qa, qb = Quantity._make(a, DSI), Quantity._make(b, BSI)
    fa, fb = qa.as_fraction(), qb.as_fraction()
    assert (qa + qb).as_fraction() == fa + fb
    assert (qa - qb).as_fraction() == fa - fb
    assert (-qa).as_fraction() == -fa
    assert (qa * k).as_fraction() == fa * k
    assert (qa < qb) == (fa < fb)
    assert (qa == qb) == (fa == fb)
    millis = fa * 1000
    expected = -((-abs(millis.numerator)) // millis.denominator)
    assert qa.milli_value() == (expected if fa >= 0 else -expected)


# -- pydantic --------------------------------------------------------------


class Requests(BaseModel):
    cpu: Quantity
    limits: ResourceList = {}


def test_pydantic_accepts_strings_numbers_and_quantities() -> None:
    model = Requests.model_validate({"cpu": "500m", "limits": {"memory": "1.5Gi", "cpu": 2}})
    assert model.cpu == Quantity("0.5")
    assert model.limits["cpu"] == Quantity("2")
    assert Requests(cpu=Quantity("1")).cpu == Quantity("1")
    assert Requests.model_validate({"cpu": 0.1}).cpu == Quantity("100m")
    assert Requests.model_validate_json('{"cpu": 0.5}').cpu == Quantity("500m")
    assert Requests.model_validate_json('{"cpu": " 1 "}').cpu == Quantity("1")


def test_pydantic_serializes_canonical_strings_in_json_mode() -> None:
    model = Requests.model_validate({"cpu": "0.5", "limits": {"memory": "1.5Gi"}})
    assert model.model_dump(mode="json") == {"cpu": "500m", "limits": {"memory": "1536Mi"}}
    assert model.model_dump_json() == '{"cpu":"500m","limits":{"memory":"1536Mi"}}'
    assert model.model_dump()["cpu"] == Quantity("500m")  # python mode keeps the object
    assert Requests.model_json_schema()["properties"]["cpu"]["anyOf"][0] == {"type": "string"}


def test_pydantic_error_names_the_bad_string() -> None:
    with pytest.raises(ValidationError) as info:
        Requests.model_validate({"cpu": "1.5.5"})
    assert '"1.5.5"' in str(info.value)
    assert info.value.errors()[0]["loc"] == ("cpu",)
    with pytest.raises(ValidationError, match="not bool"):
        Requests.model_validate({"cpu": True})
    with pytest.raises(ValidationError, match="limits"):
        Requests.model_validate({"cpu": "1", "limits": {"memory": "lots"}})
