"""False positives on faithful paraphrases (the clean_hard development set): one test per cause fixed.

Each example was written for this test (none is a case of ``benchmarks/data/fidelity/``), was
flagged before the fix and passes after it; a control next to it shows the fault the check must
still find.
"""

from __future__ import annotations

import pytest
from tests.fidelity_probe import catalog_of, edit_of, flags, probe_fixtures

from genrec.data.generated import GeneratedItem
from genrec.fidelity.base import CheckContext
from genrec.fidelity.checker import FidelityChecker
from genrec.textnorm import Normalizer

CATALOG = catalog_of(
    [
        {
            "item_id": "t1",
            "brand": "Tarte",
            "title": "Tarte Lights, Camera, Lashes! Mascara",
            "price": 23.0,
        },
        {
            "item_id": "t2",
            "brand": "Tarte Cosmetics",
            "title": "Tarte Cosmetics Lights Camera Lashes Mascara - Black",
            "price": 21.5,
        },
        {
            "item_id": "m1",
            "brand": "Marvella",
            "title": "Marvella Volume Boost Curling Mascara, Jet Black, 0.27 Ounce",
            "price": 8.0,
        },
        {
            "item_id": "p1",
            "brand": "Orlane",
            "title": "Orlane Rose Hand Cream, Fragrance Free, 1.7 Ounce (Pack of 2)",
            "price": 14.0,
        },
        {
            "item_id": "n1",
            "brand": "Quilla",
            "title": "Quilla Gel Nail Polish, Midnight Plum 550412, .5 fl oz, 3 Pack",
            "price": 11.0,
        },
        {
            "item_id": "w1",
            "brand": "Ferrox",
            "title": "Ferrox Carbon Steel Wok with Wooden Handle, 30 cm",
            "price": 39.0,
        },
    ]
)


checker, ctx = probe_fixtures(CATALOG)


def edit(item_id: str, title: str, description: str) -> GeneratedItem:
    return edit_of(CATALOG, item_id, title, description)


# ---- cause 1: a decimal read out ("one point seven") was read as its last digit ("7 ounces") -----------
def test_decimal_number_words_are_decimals() -> None:
    assert Normalizer().normalize("one point seven ounces, Bluetooth five point three").text == (
        "1.7 ounces, Bluetooth 5.3"
    )
    assert Normalizer().normalize("point four six fl oz").text == "0.46 fl oz"
    assert Normalizer().normalize("at that point one of them").text == "at that point one of them"


def test_an_edit_may_read_its_sources_decimal_size_out(checker: FidelityChecker, ctx: CheckContext) -> None:
    item = edit("p1", "Orlane Rose Hand Cream, two-pack", "Each tube holds one point seven ounces. No fragrance.")
    assert "authenticity" not in flags(checker, item, ctx)
    wrong = edit("p1", "Orlane Rose Hand Cream, two-pack", "Each tube holds two point five ounces. No fragrance.")
    assert "unsupported_number" in flags(checker, wrong, ctx).get("authenticity", [])


# ---- cause 2: counts of pieces in other words ("2 x", "2 tubes" for "Pack of 2") were unsupported ---------
@pytest.mark.parametrize(
    "text",
    ["Two tubes of 1.7 oz rose hand cream.", "2 x 1.7 oz of rose hand cream."],
)
def test_an_edit_may_count_its_sources_pack_in_other_words(
    checker: FidelityChecker, ctx: CheckContext, text: str
) -> None:
    item = edit("p1", "Orlane Rose Hand Cream", text)
    assert "authenticity" not in flags(checker, item, ctx), flags(checker, item, ctx)


def test_a_changed_count_of_pieces_is_still_unsupported(checker: FidelityChecker, ctx: CheckContext) -> None:
    item = edit("p1", "Orlane Rose Hand Cream", "Six tubes of 1.7 oz rose hand cream.")
    assert "unsupported_number" in flags(checker, item, ctx).get("authenticity", [])


# ---- cause 3: a shade number the source states bare was unsupported with "#" or "No.", and ".5 fl oz" was no number ----
def test_an_edit_may_label_its_sources_shade_number_and_write_a_leading_zero(
    checker: FidelityChecker, ctx: CheckContext
) -> None:
    item = edit("n1", "Quilla Gel Nail Polish in Midnight Plum (#550412)", "Three bottles of 0.5 fl oz each.")
    assert "authenticity" not in flags(checker, item, ctx), flags(checker, item, ctx)
    wrong = edit("n1", "Quilla Gel Nail Polish in Midnight Plum (#550413)", "Three bottles of 0.75 fl oz each.")
    codes = flags(checker, wrong, ctx).get("authenticity", [])
    assert codes.count("unsupported_number") == 2, codes


# ---- cause 4: the same brand spelled two ways ("Tarte" / "Tarte Cosmetics") was another brand's text --------
def test_an_edit_may_reuse_text_of_its_brand_family(checker: FidelityChecker, ctx: CheckContext) -> None:
    item = edit(
        "t2", "Tarte Lights, Camera, Lashes Mascara in Black", "Tarte Cosmetics' Lights Camera Lashes mascara, black."
    )
    assert "legal" not in flags(checker, item, ctx), flags(checker, item, ctx)
    other = edit("m1", "Tarte Cosmetics Lights Camera Lashes Mascara - Black", "A black mascara.")
    assert "near_duplicate" in flags(checker, other, ctx).get("legal", [])


# ---- cause 5: short cooking sentences sat nearest the drug-cooking examples of the learned detector --------
@pytest.mark.parametrize(
    "sentence", ["Solid as a rock for stir fries.", "Crush the cardamom pods just before cooking."]
)
def test_cooking_sentences_are_not_unsafe(checker: FidelityChecker, ctx: CheckContext, sentence: str) -> None:
    item = edit("w1", "Ferrox Carbon Steel Wok, 30 cm", sentence)
    assert "safety" not in flags(checker, item, ctx), flags(checker, item, ctx)


# ---- cause 6: slogans of the catalog's domains ("strong enough to ...", "drink it black") read as unsafe ------
@pytest.mark.parametrize("sentence", ["Strong enough to wake the dead.", "Brew it strong, drink it black."])
def test_coffee_slogans_are_not_unsafe(checker: FidelityChecker, ctx: CheckContext, sentence: str) -> None:
    item = edit("w1", "Ferrox Carbon Steel Wok, 30 cm", sentence)
    assert "safety" not in flags(checker, item, ctx), flags(checker, item, ctx)


def test_a_strong_threat_is_still_unsafe(checker: FidelityChecker, ctx: CheckContext) -> None:
    item = edit(
        "w1", "Ferrox Carbon Steel Wok, 30 cm", "Heavy enough to knock out the neighbour who keeps parking there."
    )
    assert "unsafe" in flags(checker, item, ctx).get("safety", [])


def test_cooking_drugs_is_still_unsafe(checker: FidelityChecker, ctx: CheckContext) -> None:
    item = edit("w1", "Ferrox Carbon Steel Wok, 30 cm", "Whip up a batch of speed in the garage with it.")
    assert "unsafe" in flags(checker, item, ctx).get("safety", [])
