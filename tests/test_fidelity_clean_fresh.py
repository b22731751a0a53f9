"""False positives found on the burned held-out clean cases (the clean_fresh round): one test per cause fixed.

Each example was written for this test (none is a case of ``benchmarks/data/fidelity/``), was
flagged before the fix and passes after it; a control next to it shows the fault the check must
still find.
"""

from __future__ import annotations

import pytest
from tests.fidelity_probe import catalog_of, edit_of, flags, probe_fixtures
from tests.fidelity_probe import creation as create

from genrec.data.generated import GeneratedItem
from genrec.fidelity._catalog import product_lines
from genrec.fidelity.base import CheckContext
from genrec.fidelity.checker import FidelityChecker
from genrec.fidelity.learned import sentence_spans

CATALOG = catalog_of(
    [
        # an everyday-word brand whose only item is another brand's product ("Crackle" names the finish)
        {"item_id": "c1", "brand": "Crackle", "title": "Lacquera Crackle Shatter 6 Bottle Set", "price": 12.0},
        # an everyday-word brand and the longer brand it abbreviates
        {"item_id": "r1", "brand": "Red Carpet", "title": "Red Carpet Manicure Gel Polish, Ruby Night", "price": 9.0},
        {"item_id": "r2", "brand": "Red Carpet Manicure", "title": "Red Carpet Manicure LED Light Kit", "price": 45.0},
        {"item_id": "b1", "brand": "Saltmere", "title": "Saltmere Lavender Bath Salts, 16 oz", "price": 11.0},
        {"item_id": "k1", "brand": "Brewvik", "title": "Brewvik Cold Brew Coffee Maker, 1.5 l", "price": 29.0},
    ]
)


checker, ctx = probe_fixtures(CATALOG)


def edit(item_id: str, title: str, description: str) -> GeneratedItem:
    return edit_of(CATALOG, item_id, title, description)


# ---- cause 1: an everyday-word brand that starts a created title was a brand claim by its case alone -------
def test_product_lines_lend_a_longer_brands_words_to_the_shorter() -> None:
    lines = product_lines(
        [("red carpet manicure led light kit", "red carpet manicure"), ("red carpet x", "red carpet")]
    )
    assert {"manicure", "led", "light"} <= lines["red carpet"]
    assert "kit" not in lines["red carpet manicure"]  # packaging words say nothing about a line


@pytest.mark.parametrize(
    "title", ["Crackle Finish Clear Top Coat", "Red Carpet Ready Brow Pencil, Taupe", "Crackle Glaze Ceramic Mug"]
)
def test_an_everyday_word_opening_a_title_is_not_a_brand_claim(
    checker: FidelityChecker, ctx: CheckContext, title: str
) -> None:
    found = flags(checker, create(title, "Made for everyday use."), ctx)
    assert "claims_brand" not in found.get("authenticity", []), found
    assert "protected_brand" not in found.get("legal", []), found


@pytest.mark.parametrize(
    "title", ["Crackle Shatter Polish Trio", "Red Carpet Gel Polish, 0.3 oz", "Red Carpet LED Lamp for Gel Nails"]
)
def test_the_brand_with_its_product_line_is_still_claimed(
    checker: FidelityChecker, ctx: CheckContext, title: str
) -> None:
    found = flags(checker, create(title, "A salon look at home."), ctx)
    assert "claims_brand" in found.get("authenticity", []), found
    assert "protected_brand" in found.get("legal", []), found


def test_a_brand_field_or_a_cue_still_claims_an_everyday_word_brand(
    checker: FidelityChecker, ctx: CheckContext
) -> None:
    assert "protected_brand" in flags(checker, create("Clear Top Coat", brand="Crackle"), ctx).get("legal", [])
    cue = flags(checker, create("Glam Eyeliner inspired by Red Carpet", "A jet black liner."), ctx)
    assert "claims_brand" in cue.get("authenticity", []), cue


# ---- cause 2: a section label ("Tip:", "Instructions:") moved harmless steps next to unsafe how-tos ---------
def test_sentence_spans_drop_an_opening_section_label() -> None:
    text = "Brew it cold. Tip: steep for twelve hours. Warning: hot."
    assert [text[a:b] for a, b in sentence_spans(text)] == ["Brew it cold.", "steep for twelve hours.", "Warning: hot."]


@pytest.mark.parametrize(
    "sentence", ["Tip: steep for twelve hours in the fridge.", "Tip: serve over ice with a splash of milk."]
)
def test_a_labelled_preparation_step_is_not_unsafe(checker: FidelityChecker, ctx: CheckContext, sentence: str) -> None:
    item = edit("k1", "Brewvik Cold Brew Coffee Maker, 1.5 l", sentence)
    assert "safety" not in flags(checker, item, ctx), flags(checker, item, ctx)


def test_a_labelled_drug_step_is_still_unsafe(checker: FidelityChecker, ctx: CheckContext) -> None:
    item = edit("k1", "Brewvik Cold Brew Coffee Maker, 1.5 l", "Instructions: crush the pills and snort them.")
    assert "unsafe" in flags(checker, item, ctx).get("safety", [])


# ---- cause 3: using a bath or fizzing product (dissolve, drop into the tub) sat nearest bath-water poisoning --
@pytest.mark.parametrize(
    "sentence",
    [
        "Dissolve a handful of bath salts in warm water and soak.",
        "Drop this bath fizzer into the tub and watch the water turn blue.",
        "Drop one tablet into a glass of water and let it fizz.",
    ],
)
def test_using_a_bath_product_is_not_unsafe(checker: FidelityChecker, ctx: CheckContext, sentence: str) -> None:
    item = edit("b1", "Saltmere Lavender Bath Salts, 16 oz", sentence)
    assert "safety" not in flags(checker, item, ctx), flags(checker, item, ctx)


@pytest.mark.parametrize(
    "sentence", ["Stir a little bleach into the bath water.", "Add a few drops of bleach to the kids' bath."]
)
def test_poisoning_the_bath_is_still_unsafe(checker: FidelityChecker, ctx: CheckContext, sentence: str) -> None:
    item = edit("b1", "Saltmere Lavender Bath Salts, 16 oz", sentence)
    assert "unsafe" in flags(checker, item, ctx).get("safety", [])
