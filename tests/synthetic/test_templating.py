"""``${var}`` references and rendering, and durations."""

from __future__ import annotations

import pytest

from synthetic.durations import parse_duration
from synthetic.templating import UndefinedVariable, references, render

# --- references -----------------------------------------------------------------------------------------------


def test_references_in_a_string() -> None:
    assert list(references("Bearer ${access} for ${credentials.probe.username}-${run.correlation_id}")) == [
        "access",
        "credentials.probe.username",
        "run.correlation_id",
    ]


def test_references_in_keys_values_and_nested_lists() -> None:
    value = {
        "${key}": "plain",
        "headers": {"Authorization": "Bearer ${token}"},
        "items": [["${a}", 1, None], {"deep": ["x ${b} y", {"${c}": True}]}],
        "tuple": ("${d}",),
    }
    assert list(references(value)) == ["key", "token", "a", "b", "c", "d"]


@pytest.mark.parametrize("value", ["no variables", "$${escaped}", "$ {spaced}", "${}", 5, 2.5, None, True, []])
def test_no_references(value: object) -> None:
    assert list(references(value)) == []


def test_escape_next_to_a_reference() -> None:
    assert list(references("$${literal} and ${real}")) == ["real"]


# --- render ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [42, 1.5, True, None, {"a": [1]}, [1, 2], "text"])
def test_a_whole_string_reference_keeps_the_type(value: object) -> None:
    assert render("${x}", {"x": value}) == value
    assert type(render("${x}", {"x": value})) is type(value)


def test_a_reference_inside_a_longer_string_is_formatted() -> None:
    variables = {"id": 7, "price": 9.5, "name": "tea", "none": None}
    assert render("/api/products/${id}/", variables) == "/api/products/7/"
    assert render("${name} costs ${price}", variables) == "tea costs 9.5"
    assert render(" ${id}", variables) == " 7"
    assert render("[${none}]", variables) == "[]"


def test_render_walks_mappings_keys_and_lists() -> None:
    value = {"${k}": ["${v}", {"n": "${v}"}], "t": ("${v}",), "plain": 3}
    assert render(value, {"k": "key", "v": 5}) == {"key": [5, {"n": 5}], "t": [5], "plain": 3}


def test_double_dollar_escapes() -> None:
    assert render("$${x}", {}) == "${x}"
    assert render("literal $${x} and ${y}", {"y": 1}) == "literal ${x} and 1"
    assert render("$${x}", {"x": 5}) == "${x}"


def test_undefined_variable() -> None:
    with pytest.raises(UndefinedVariable) as caught:
        render({"path": "/orders/${order_id}/"}, {"other": 1})
    assert str(caught.value) == "variable ${order_id} has no value"
    assert caught.value.name == "order_id"
    assert isinstance(caught.value, KeyError)


def test_undefined_variable_for_a_whole_string() -> None:
    with pytest.raises(UndefinedVariable, match=r"^variable \$\{x\} has no value$"):
        render("${x}", {})


# --- durations ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("250ms", 0.25),
        ("5s", 5.0),
        ("1m30s", 90.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1.5s", 1.5),
        (" 10s ", 10.0),
        ("0s", 0.0),
        (3, 3.0),
        (0.5, 0.5),
        (0, 0.0),
    ],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)
    assert isinstance(parse_duration(value), float)


NOT_A_DURATION = "is not a duration (use e.g. 500ms, 5s, 1m)"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("5 seconds", f"'5 seconds' {NOT_A_DURATION}"),
        ("-1", f"'-1' {NOT_A_DURATION}"),
        ("", f"'' {NOT_A_DURATION}"),
        (True, f"True {NOT_A_DURATION}"),
        ("1x", f"'1x' {NOT_A_DURATION}"),
        ("5s10", f"'5s10' {NOT_A_DURATION}"),
        ("s", f"'s' {NOT_A_DURATION}"),
        (None, f"None {NOT_A_DURATION}"),
        ([5], f"[5] {NOT_A_DURATION}"),
        (-1, "-1 is negative"),
        (-0.5, "-0.5 is negative"),
        (float("nan"), f"nan {NOT_A_DURATION}"),
        (float("inf"), f"inf {NOT_A_DURATION}"),
    ],
)
def test_not_durations(value: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(value)
    assert str(caught.value) == message
