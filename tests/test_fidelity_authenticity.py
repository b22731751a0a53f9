"""Authenticity check: edits keep their source's facts; creations do not pose as existing products."""

import pandas as pd
import pytest

from genrec.data.generated import GeneratedItem, Provenance
from genrec.fidelity.authenticity import AuthenticityCheck, extract_numbers, supported
from genrec.fidelity.base import CheckContext
from genrec.fidelity.policy import AuthenticitySettings

SERUM = {
    "item_id": "s1",
    "brand": "Lumen",
    "price": 24.0,
    "title": "Lumen Hydrating Face Serum, 0.5 fl oz (Pack of 2)",
    "description": "A lightweight serum with hyaluronic acid and vitamin E for dry skin. SPF 15, lasts 12 hours.",
    "categories": ["skincare", "serum"],
    "attributes": {"scent": "cucumber", "sales_rank": 4242.0},
}
CATALOG = pd.DataFrame(
    [
        SERUM,
        {
            "item_id": "j1",
            "brand": "Fenby",
            "price": 80.0,
            "title": "Fenby Breathable Running Jacket, M",
            "description": "A running jacket made of recycled polyester with reflective trims.",
            "categories": [],
            "attributes": {"size": "M"},
        },
        {
            "item_id": "n1",
            "brand": "",
            "price": 9.5,
            "title": "Pantene Pro-V Repair Conditioner 12 oz",
            "description": "",
            "categories": [],
            "attributes": {},
        },
        {
            "item_id": "o1",
            "brand": "OPI",
            "price": 10.5,
            "title": "OPI Nail Lacquer, Big Apple Red, 0.5 fl oz",
            "description": "",
            "categories": [],
            "attributes": {},
        },
    ]
)


@pytest.fixture(scope="module")
def ctx() -> CheckContext:
    return CheckContext(catalog=CATALOG)


def edit(
    title: str = SERUM["title"],
    description: str = SERUM["description"],
    brand: str | None = "Lumen",
    price: float | None = 24.0,
    source: str = "s1",
) -> GeneratedItem:
    return GeneratedItem(
        title,
        description,
        brand=brand,
        price=price,
        provenance=Provenance("edit", "textgen", "1", user_id="u1", source_item_id=source),
    )


def create(title: str, description: str = "", brand: str | None = None) -> GeneratedItem:
    return GeneratedItem(title, description, brand=brand, provenance=Provenance("create", "textgen", "1"))


def codes(item: GeneratedItem, ctx: CheckContext) -> list[str]:
    return sorted(f.code for f in AuthenticityCheck(AuthenticitySettings()).run(item, ctx).findings)


def test_numbers_with_units_and_conversions() -> None:
    facts = extract_numbers("0.5 fl oz, Pack of 2, SPF 15, 30-hour, a two-year warranty, one of the best")
    assert [(f.value, f.unit) for f in facts] == [(0.5, "floz"), (2, "pack"), (15, "spf"), (30, "hour"), (2, "year")]
    assert supported(extract_numbers("15 ml")[0], extract_numbers("0.5 fl oz"))
    assert not supported(extract_numbers("15 g")[0], extract_numbers("0.5 fl oz"))
    assert not supported(extract_numbers("20 ml")[0], extract_numbers("20 Volume"))


def test_faithful_paraphrase_passes(ctx: CheckContext) -> None:
    item = edit(
        description="Light serum for dry skin, made with vitamin E and hyaluronic acid. Lasts 12 hours, SPF 15. "
        "Comes as a two-pack of 15 ml bottles."
    )
    assert codes(item, ctx) == []


@pytest.mark.parametrize(
    "item, code, span",
    [
        (edit(title="Lumen Hydrating Face Serum, 1 fl oz (Pack of 2)"), "unsupported_number", "1 fl oz"),
        (edit(description=SERUM["description"] + " Now 50% larger."), "unsupported_number", "50%"),
        (edit(description=SERUM["description"].replace("12 hours", "48 hours")), "unsupported_number", "48 hours"),
        (edit(brand="Halby"), "changed_brand", "Halby"),
        (edit(description=SERUM["description"] + " Made by Fenby."), "foreign_brand", "Fenby"),
        (edit(price=31.0), "changed_price", "31.0"),
        (edit(description=SERUM["description"] + " Only $19.99!"), "changed_price", "$19.99"),
        (edit(description=SERUM["description"] + " Enriched with argan oil."), "unsupported_material", "argan oil"),
        (
            edit(
                "Fenby Breathable Running Jacket, XL",
                "A running jacket made of recycled polyester.",
                "Fenby",
                80.0,
                "j1",
            ),
            "unsupported_size",
            "XL",
        ),
    ],
)
def test_changed_or_made_up_facts_are_flagged_with_their_span(
    ctx: CheckContext, item: GeneratedItem, code: str, span: str
) -> None:
    result = AuthenticityCheck(AuthenticitySettings()).run(item, ctx)
    assert result.verdict == "block"
    assert any(f.code == code and f.text == span for f in result.findings), result.reasons


def test_scent_attribute_supports_the_claim_and_ids_do_not(ctx: CheckContext) -> None:
    assert codes(edit(description=SERUM["description"] + " Scented with cucumber."), ctx) == []
    assert codes(edit(description=SERUM["description"] + " Ranked 4242."), ctx) == ["unsupported_number"]


def test_brand_added_to_a_brandless_source(ctx: CheckContext) -> None:
    base = "Pantene Pro-V Repair Conditioner 12 oz"
    assert codes(edit(base, "", brand="Pantene Pro-V", price=9.5, source="n1"), ctx) == []  # named in the source
    assert codes(edit(base, "", brand="Halby", price=9.5, source="n1"), ctx) == ["changed_brand"]


def test_price_tolerance_comes_from_the_policy(ctx: CheckContext) -> None:
    item = edit(price=25.0)
    assert AuthenticityCheck(AuthenticitySettings()).run(item, ctx).verdict == "block"
    assert AuthenticityCheck(AuthenticitySettings(price_tolerance=0.05)).run(item, ctx).verdict == "pass"


def test_unknown_source_warns(ctx: CheckContext) -> None:
    result = AuthenticityCheck(AuthenticitySettings()).run(edit(source="nope"), ctx)
    assert [f.code for f in result.findings] == ["missing_source"] and result.verdict == "warn"


def test_creations_may_not_pose_as_catalog_products(ctx: CheckContext) -> None:
    assert "claims_real_product" in codes(create("opi nail lacquer big apple red 0.5 fl oz"), ctx)
    assert {"claims_brand", "claims_product_line"} <= set(
        codes(create("OPI Nail Lacquer, Big Apple Red, Limited Edition"), ctx)
    )
    assert "claims_real_product" in codes(create("Nail Lacquer Big Apple Red 0.5 fl oz by OPI"), ctx)
    posing = AuthenticityCheck(AuthenticitySettings()).run(
        create("Fenby Breathable Running Jacket Pro", brand="Fenby"), ctx
    )
    assert {f.code for f in posing.findings} >= {"claims_brand", "claims_product_line"} and posing.verdict == "block"
    brand_only = AuthenticityCheck(AuthenticitySettings()).run(create("Fenby ceramic teapot concept"), ctx)
    assert [f.code for f in brand_only.findings] == ["claims_brand"] and brand_only.verdict == "warn"
    assert codes(create("Calming cucumber serum concept", "An AI-designed serum idea."), ctx) == []
