"""Label selectors: the string syntax, metav1.LabelSelector semantics,
validation, canonical strings, and matching against a naive reference model."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.api.base import LabelSelector, LabelSelectorRequirement
from engine.selectors import (
    InvalidSelector,
    Operator,
    Requirement,
    Selector,
    from_label_selector,
    label_key_errors,
    label_value_errors,
    parse_selector,
    selector_from_set,
)

WEB = {"app": "web", "tier": "frontend", "env": "prod"}
DB = {"app": "db", "tier": "backend"}
BARE: dict[str, str] = {}


@pytest.mark.parametrize(
    ("text", "web", "db", "bare"),
    [
        ("", True, True, True),
        ("app=web", True, False, False),
        ("app==web", True, False, False),
        ("app!=web", False, True, True),  # != matches objects without the key
        ("app in (web,db)", True, True, False),
        ("app notin (web)", False, True, True),  # notin too
        ("env", True, False, False),
        ("!env", False, True, True),
        ("app=web,tier=frontend", True, False, False),
        ("app=web,tier=backend", False, False, False),
        ("tier in (backend), !env", False, True, False),
        ("  app  =  db  ,  tier  ", False, True, False),
        ("env=", False, False, False),  # the empty value is not absence
        ("env!=", True, True, True),
        ("app in (web,db),env notin (dev,stage)", True, True, False),
    ],
)
def test_parse_and_match(text: str, web: bool, db: bool, bare: bool) -> None:
    selector = parse_selector(text)
    assert (selector.matches(WEB), selector.matches(DB), selector.matches(BARE)) == (web, db, bare)


def test_empty_value_is_matched_by_equality() -> None:
    assert parse_selector("env=").matches({"env": ""})
    assert parse_selector("env in ()").matches({"env": ""})
    assert not parse_selector("env in ()").matches({})


def test_greater_and_less_than_compare_integers() -> None:
    selector = parse_selector("gen>3,gen<10")
    assert selector.matches({"gen": "4"})
    assert not selector.matches({"gen": "3"})
    assert not selector.matches({"gen": "10"})
    assert not selector.matches({"gen": "four"})  # not an integer: no match
    assert not selector.matches({})  # the key is required
    assert parse_selector("gen<0").matches({"gen": "-1"})
    with pytest.raises(InvalidSelector, match="integer"):
        parse_selector("gen>three")


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("b=2,a=1", "a=1,b=2"),
        ("x in (c,a,b)", "x in (a,b,c)"),
        ("x in (a,a)", "x in (a)"),
        ("x notin ( z , y )", "x notin (y,z)"),
        ("!h,g", "g,!h"),
        ("x==y", "x==y"),
        ("x in ()", "x in ()"),
        ("x in (a,)", "x in (,a)"),
        ("x in (,,a)", "x in (,a)"),
        ("x=", "x="),
        ("example.com/app=web", "example.com/app=web"),
        ("in in (in,notin)", "in in (in,notin)"),
    ],
)
def test_canonical_string(text: str, canonical: str) -> None:
    selector = parse_selector(text)
    assert str(selector) == canonical
    assert parse_selector(canonical) == selector


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a in", "found end of string, expected: '('"),
        ("a in (x", "found end of string, expected: ',' or ')'"),
        ("a notin x", "found 'x', expected: '('"),
        ("a=b=c", "found '=', expected: ',' or end of string"),
        ("!a=b", "found '='"),
        ("a,", "identifier after ','"),
        (",a", "found ','"),
        ("a b", "found 'b'"),
        ("a=(", "found '('"),
        ("a in (x y)", "found 'y'"),
        ("a in ((x))", "found '('"),
        ("A/b=c", 'invalid label key "A/b"'),
        ("a/b/c", 'invalid label key "a/b/c"'),
        ("/b", "prefix part must be non-empty"),
        ("a/", "name part must be non-empty"),
        ("-a", 'invalid label key "-a"'),
        ("a=-b", 'invalid label value "-b"'),
        ("a=" + "x" * 64, "no more than 63"),
        ("x" * 64, "no more than 63"),
        ("a>1,b<", "integer"),
    ],
)
def test_invalid_selectors_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(InvalidSelector) as info:
        parse_selector(text)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_label_key_and_value_validation() -> None:
    assert label_key_errors("app") == []
    assert label_key_errors("app.kubernetes.io/name") == []
    assert label_key_errors("a" * 63) == []
    assert label_key_errors("k8s.io/" + "a" * 63) == []
    assert label_key_errors("My_Key.1") == []
    assert label_key_errors("a" * 64)
    assert label_key_errors("Example.com/a")
    assert label_key_errors("a" * 254 + "/b")
    assert label_key_errors("a_")
    assert label_key_errors("")
    assert label_value_errors("") == []
    assert label_value_errors("v1.2-beta_3") == []
    assert label_value_errors("a" * 64)
    assert label_value_errors("a b")
    assert label_value_errors("_a")


def test_empty_and_nothing() -> None:
    assert Selector.empty().matches({}) and Selector.empty().matches(WEB)
    assert Selector.empty().is_empty()
    assert str(Selector.empty()) == ""
    assert not Selector.nothing().matches({}) and not Selector.nothing().matches(WEB)
    assert not Selector.nothing().is_empty()
    assert Selector.nothing() != Selector.empty()
    with pytest.raises(InvalidSelector):  # printed "nothing" never parses as "everything"
        parse_selector(str(Selector.nothing()))
    assert parse_selector("") == Selector.empty()


def test_from_label_selector_semantics() -> None:
    assert from_label_selector(None) == Selector.nothing()
    assert from_label_selector(LabelSelector()) == Selector.empty()
    selector = from_label_selector(
        LabelSelector(
            match_labels={"app": "web"},
            match_expressions=[
                LabelSelectorRequirement(key="env", operator="In", values=["prod", "stage"]),
                LabelSelectorRequirement(key="canary", operator="DoesNotExist"),
                LabelSelectorRequirement(key="tier", operator="Exists"),
                LabelSelectorRequirement(key="zone", operator="NotIn", values=["a"]),
            ],
        )
    )
    assert str(selector) == "app=web,!canary,env in (prod,stage),tier,zone notin (a)"
    assert selector.matches(WEB)
    assert not selector.matches({**WEB, "canary": "1"})
    assert not selector.matches({**WEB, "zone": "a"})
    assert not selector.matches({"app": "web", "env": "prod"})
    assert parse_selector(str(selector)) == selector


def test_label_selector_from_a_manifest_dict() -> None:
    raw = {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "x", "operator": "Exists"}]}
    selector = from_label_selector(LabelSelector.model_validate(raw))
    assert str(selector) == "app=web,x"


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        (LabelSelectorRequirement(key="a", operator="In"), "non-empty"),
        (LabelSelectorRequirement(key="a", operator="NotIn"), "non-empty"),
        (LabelSelectorRequirement(key="a", operator="Exists", values=["x"]), "must be empty"),
        (LabelSelectorRequirement(key="a", operator="DoesNotExist", values=["x"]), "must be empty"),
        (LabelSelectorRequirement(key="a", operator="Gt", values=["1"]), '"Gt"'),
        (LabelSelectorRequirement(key="a", operator="in", values=["x"]), '"in"'),
        (LabelSelectorRequirement(key="a", operator="Equals", values=["x"]), '"Equals"'),
        (LabelSelectorRequirement(key="bad key", operator="Exists"), '"bad key"'),
        (LabelSelectorRequirement(key="a", operator="In", values=["bad value"]), '"bad value"'),
    ],
)
def test_from_label_selector_errors(expression: LabelSelectorRequirement, fragment: str) -> None:
    with pytest.raises(InvalidSelector) as info:
        from_label_selector(LabelSelector(match_expressions=[expression]))
    assert fragment in str(info.value)


def test_selector_from_set() -> None:
    assert selector_from_set({}) == Selector.empty()
    selector = selector_from_set({"b": "2", "a": "1"})
    assert str(selector) == "a=1,b=2"
    assert selector.matches({"a": "1", "b": "2", "c": "3"})
    assert not selector.matches({"a": "1"})
    with pytest.raises(InvalidSelector):
        selector_from_set({"a": "not valid"})


def test_selectors_are_hashable_values() -> None:
    a = parse_selector("x=1,y in (b,a)")
    b = parse_selector("y in (a,b), x=1")
    assert a == b and hash(a) == hash(b)
    assert len({a, b, parse_selector("x=1")}) == 2
    assert a.requirements[0] == Requirement.make("x", "=", ["1"])
    with pytest.raises(AttributeError):
        a.matches_nothing = True  # type: ignore[misc]
    assert a.add(Requirement.make("z", Operator.EXISTS)) == parse_selector("x=1,y in (a,b),z")
    assert Selector.nothing().add(Requirement.make("z", Operator.EXISTS)) == Selector.nothing()


def test_requirement_make_validates() -> None:
    with pytest.raises(InvalidSelector, match="exactly one value"):
        Requirement.make("a", Operator.EQUALS, [])
    with pytest.raises(InvalidSelector, match="exactly one value"):
        Requirement.make("a", Operator.NOT_EQUALS, ["x", "y"])
    with pytest.raises(InvalidSelector, match='"~"'):
        Requirement.make("a", "~", ["x"])


# -- hypothesis: round trips and a naive reference model -------------------

KEYS = ["a", "b", "example.com/c", "in"]
VALUES = ["", "x", "y", "1", "2", "10"]
OPS = list(Operator)


@st.composite
def requirements(draw: st.DrawFn) -> Requirement:
    key = draw(st.sampled_from(KEYS))
    op = draw(st.sampled_from(OPS))
    if op in (Operator.IN, Operator.NOT_IN):
        values = draw(st.lists(st.sampled_from(VALUES), min_size=1, max_size=3))
    elif op in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
        values = []
    elif op in (Operator.GREATER_THAN, Operator.LESS_THAN):
        values = [str(draw(st.integers(-5, 15)))]
    else:
        values = [draw(st.sampled_from(VALUES))]
    return Requirement.make(key, op, values)


selectors = st.builds(Selector.of, st.lists(requirements(), max_size=4))
label_sets = st.dictionaries(st.sampled_from(KEYS), st.sampled_from([*VALUES, "z", "-2", "abc"]))


def reference_matches(requirement: Requirement, labels: dict[str, str]) -> bool:
    """Kubernetes' Requirement.Matches, written out case by case."""
    present = requirement.key in labels
    value = labels.get(requirement.key, "")
    op, values = requirement.operator, set(requirement.values)
    if op in (Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS):
        return present and value in values
    if op in (Operator.NOT_IN, Operator.NOT_EQUALS):
        return not present or value not in values
    if op is Operator.EXISTS:
        return present
    if op is Operator.DOES_NOT_EXIST:
        return not present
    if not present:
        return False
    try:
        number = int(value)
    except ValueError:
        return False
    bound = int(requirement.values[0])
    return number > bound if op is Operator.GREATER_THAN else number < bound


@given(selectors)
def test_string_form_round_trips(selector: Selector) -> None:
    text = str(selector)
    again = parse_selector(text)
    assert again == selector
    assert str(again) == text


@given(selectors, label_sets)
def test_matches_agrees_with_reference(selector: Selector, labels: dict[str, str]) -> None:
    expected = all(reference_matches(r, labels) for r in selector.requirements)
    assert selector.matches(labels) == expected
    assert all(r.matches(labels) for r in selector.requirements) == expected
    assert parse_selector(str(selector)).matches(labels) == expected


@given(st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES)), label_sets)
def test_set_selector_matches_supersets(wanted: dict[str, str], labels: dict[str, str]) -> None:
    expected = all(labels.get(k) == v for k, v in wanted.items())
    assert selector_from_set(wanted).matches(labels) == expected


@given(st.text(alphabet="ab=!,() \tinotx<>0123-", max_size=25))
def test_parser_never_fails_unexpectedly(text: str) -> None:
    try:
        selector = parse_selector(text)
    except InvalidSelector:
        return
    assert parse_selector(str(selector)) == selector
