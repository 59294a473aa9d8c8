"""Invalid requests: what stays invalid after a lenient server's coercions is sent, nothing else; and every body
generated for the demo shop's writes is refused by the shop's own serializers, so a sweep cannot write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openapi_schema_validator import OAS30WriteValidator

from synthetic.contracts.document import ApiDocument, parse_api
from synthetic.contracts.negative import NegativeData, remaining_error

OBJECT: dict[str, Any] = {"type": "object", "required": ["q"], "properties": {"q": {"type": "integer", "minimum": 1},
                                                              "note": {"type": "string"}}}  # fmt: skip

# (case, schema, value, whether an error remains once coerced)
COERCIONS: list[tuple[str, dict[str, Any], Any, bool]] = [
    ("integer-as-text", {"type": "integer"}, "5", False),
    ("integer-as-text-with-zero-fraction", {"type": "integer"}, "5.0", False),
    ("integer-as-float", {"type": "integer"}, 5.0, False),
    ("integer-as-boolean", {"type": "integer"}, True, False),
    ("integer-as-word", {"type": "integer"}, "abc", True),
    ("integer-as-fraction", {"type": "integer"}, "1.5", True),
    ("integer-as-empty-text", {"type": "integer"}, "", True),
    ("number-as-text", {"type": "number"}, "2.5", False),
    ("number-as-nan-text", {"type": "number"}, "nan", True),
    ("string-as-number", {"type": "string"}, 42, False),
    ("string-as-list", {"type": "string"}, ["a"], True),
    ("boolean-as-text", {"type": "boolean"}, "true", False),
    ("boolean-as-one", {"type": "boolean"}, 1, False),
    ("boolean-as-word", {"type": "boolean"}, "maybe", True),
    ("array-as-one-value", {"type": "array", "items": {"type": "integer"}}, "3", False),
    ("object-as-json-text", OBJECT, '{"q": 2}', False),
    ("enum-as-text", {"enum": [1, 2]}, "1", False),
    ("enum-outside", {"enum": [1, 2]}, 3, True),
    ("required-missing", OBJECT, {"note": "x"}, True),
    ("below-minimum", OBJECT, {"q": 0}, True),
    ("nested-integer-as-text", OBJECT, {"q": "7"}, False),
    ("optional-null", OBJECT, {"q": 1, "note": None}, False),
    ("required-null", OBJECT, {"q": None}, True),
    ("unknown-property", {**OBJECT, "additionalProperties": False}, {"q": 1, "extra": 2}, False),
    ("read-only-property", {**OBJECT, "properties": {**OBJECT["properties"], "id": {"type": "integer",
                                                                               "readOnly": True}}},
     {"q": 1, "id": 9}, False),
    ("wrong-top-level-type", OBJECT, [1, 2], True),
    ("coerced-but-out-of-range", OBJECT, {"q": "0"}, True),
    ("one-of-two-types", {"oneOf": [{"type": "integer"}, {"type": "boolean"}]}, "12", False),
]  # fmt: skip


@pytest.mark.parametrize(("schema", "value", "invalid"), [row[1:] for row in COERCIONS],
                         ids=[row[0] for row in COERCIONS])  # fmt: skip
def test_what_a_lenient_server_could_take_is_not_invalid(schema: dict[str, Any], value: Any, invalid: bool) -> None:
    error = remaining_error(OAS30WriteValidator(schema), value)
    assert (error is not None) == invalid, error


@pytest.fixture(scope="module")
def shop_document(django_db_blocker: Any) -> ApiDocument:
    """The demo shop's document as drf-spectacular generates it (the shop serves the same at /api/schema/)."""
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return parse_api(SchemaGenerator().get_schema(request=None, public=True), "demo shop")


@pytest.fixture(scope="module")
def generated(shop_document: ApiDocument) -> dict[str, Any]:
    negative = NegativeData()
    return {op.label: negative.cases(shop_document, op, 6) for op in shop_document.operations}


def test_unsafe_requests_always_carry_what_makes_them_invalid(shop_document: ApiDocument,
                                                               generated: dict[str, Any]) -> None:  # fmt: skip
    for operation in shop_document.operations:
        cases = generated[operation.label]
        if isinstance(cases, str):
            assert operation.label in {"GET /api/auth/csrf/", "POST /api/auth/logout/", "GET /api/auth/me/",
                                       "GET /api/cart/", "POST /api/checkout/"}, (operation.label, cases)  # fmt: skip
            continue
        assert cases, operation.label
        for case in cases:
            if operation.safe:
                assert case.invalid
            elif operation.request_body:
                assert "body" in case.invalid, (operation.label, case)  # never a valid body to a write
            else:
                assert any(part.startswith("path ") for part in case.invalid), (operation.label, case)


SERIALIZERS = {
    "POST /api/auth/login/": "LoginSerializer",
    "POST /api/cart/items/": "CartItemCreateSerializer",
    "PATCH /api/cart/items/{item_id}/": "CartItemUpdateSerializer",
    "POST /api/products/": "ProductSerializer",
}


@pytest.mark.django_db
@pytest.mark.parametrize("label", sorted(SERIALIZERS))
def test_the_shop_refuses_every_generated_body(generated: dict[str, Any], label: str) -> None:
    """What the sweep would send a write, given to the view's own serializer against a catalogue whose ids do
    exist (so a coerced id would be found): never valid, so never written."""
    import json

    from rest_framework.parsers import JSONParser

    from demo_shop.shop import serializers
    from demo_shop.shop.models import Category, Product

    category = Category.objects.create(name="Tea", slug="tea")
    for index in range(1, 40):
        Product.objects.create(sku=f"T-{index}", name=f"Tea {index}", price="1.00", stock=5, category=category)
    serializer_class = getattr(serializers, SERIALIZERS[label])
    cases = generated[label]
    assert isinstance(cases, list) and len(cases) >= 3, cases
    for case in cases:
        assert case.body is not None
        try:
            data = JSONParser().parse(_stream(case.body))
        except Exception:
            continue  # not JSON: the view answers 400 before any serializer runs
        accepted = serializer_class(data=data).is_valid()
        assert not accepted, (label, json.loads(case.body), case.why)


def _stream(body: bytes) -> Any:
    import io

    return io.BytesIO(body)


def test_generation_is_kept_per_document_and_writes_nothing_here(
    shop_document: ApiDocument, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    negative = NegativeData()
    operation = next(op for op in shop_document.operations if op.label == "POST /api/cart/items/")
    first = negative.cases(shop_document, operation, 3)
    assert negative.cases(shop_document, operation, 3) is first  # generated once per document and operation
    assert list(tmp_path.iterdir()) == []  # no .hypothesis directory in the working directory
