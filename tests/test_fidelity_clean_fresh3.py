"""Causes found on the burned blind sets clean_fresh2 and faulty_fresh (the clean_fresh3 round): one test each.

Each example was written for this test (none is a case of ``benchmarks/data/fidelity/``); a
control next to it shows what the check must still find (or must still let pass).
"""

from __future__ import annotations

import pytest
from tests.fidelity_probe import catalog_of, edit_of, flags, probe_fixtures
from tests.fidelity_probe import creation as create

from genrec.data.generated import GeneratedItem
from genrec.fidelity.authenticity import derived_total, extract_numbers, list_markers
from genrec.fidelity.base import CheckContext
from genrec.fidelity.checker import FidelityChecker
from genrec.fidelity.identifiability import human_generator

CATALOG = catalog_of(
    [
        {"item_id": "m1", "brand": "Corvane", "title": "Corvane Repair Hair Mask, 500 ml", "price": 12.0},
        {"item_id": "t1", "brand": "Dellamy", "title": "Dellamy Gel Cleanser, Twin Pack, 6 fl oz", "price": 18.0},
        {"item_id": "s1", "brand": "Ostrel", "title": "Ostrel Trail Shoes, Grey, EU 42", "price": 80.0},
        {"item_id": "o1", "brand": "Ostrel", "title": "Ostrel Body Wash, 3 Ounce", "price": 4.0},
    ]
)


checker, ctx = probe_fixtures(CATALOG)


def auth(checker: FidelityChecker, item: GeneratedItem, ctx: CheckContext) -> list[str]:
    return flags(checker, item, ctx).get("authenticity", [])


# ---- numbers an edit may write that its source does not: list markers, one piece, sizes, ounces, totals -----
def test_numbered_steps_are_no_facts() -> None:
    text = "How to use: 1. Shampoo. 2. Work it through the ends. 3. Rinse. Comes as 2 bottles."
    assert len(list_markers(text)) == 3
    assert [f.text for f in extract_numbers(text, list_markers(text))] == ["2 bottles"]


def test_steps_one_pack_and_restated_sizes_pass(checker: FidelityChecker, ctx: CheckContext) -> None:
    steps = "How to use: 1. Shampoo and towel-dry. 2. Work it through the lengths. 3. Rinse. One pack, 500 ml."
    assert auth(checker, edit_of(CATALOG, "m1", "Corvane Repair Hair Mask", steps), ctx) == []
    assert auth(checker, edit_of(CATALOG, "s1", "Ostrel Trail Shoes, Grey", "EU size 42."), ctx) == []
    assert auth(checker, edit_of(CATALOG, "o1", "Ostrel Body Wash", "Three fluid ounces."), ctx) == []


def test_a_changed_count_or_size_is_still_unsupported(checker: FidelityChecker, ctx: CheckContext) -> None:
    assert "unsupported_number" in auth(checker, edit_of(CATALOG, "m1", "Corvane Hair Mask", "Four packs."), ctx)
    assert "unsupported_number" in auth(checker, edit_of(CATALOG, "s1", "Ostrel Trail Shoes", "EU size 44."), ctx)


def test_a_total_worked_out_from_the_source_is_supported(checker: FidelityChecker, ctx: CheckContext) -> None:
    src = extract_numbers("0.5 fl oz (Pack of 2)")
    assert derived_total(extract_numbers("1 fl oz in total")[0], src, "1 fl oz in total")
    assert not derived_total(extract_numbers("1 fl oz")[0], src, "1 fl oz (Pack of 2)")  # each 1 fl oz: changed
    ok = edit_of(CATALOG, "t1", "Dellamy Gel Cleanser, Twin Pack", "Two 6 fl oz bottles, 12 fl oz in total.")
    assert auth(checker, ok, ctx) == []
    wrong = edit_of(CATALOG, "t1", "Dellamy Gel Cleanser, Twin Pack", "Two 6 fl oz bottles, 18 fl oz in total.")
    assert "unsupported_number" in auth(checker, wrong, ctx)


# ---- a real-world brand credited in a creation is an authenticity finding too (not only legal's) -----------
def test_a_protected_brand_credit_in_a_creation(checker: FidelityChecker, ctx: CheckContext) -> None:
    item = create("Studio Headphones", "Tuned with Sony's audio lab for flat, honest sound.")
    assert "claims_brand" in auth(checker, item, ctx)
    assert "claims_brand" not in auth(checker, create("Studio Headphones", "Flat, honest sound for mixing."), ctx)


# ---- identifiability: authorship claims in new words and spellings, and a person named as the generator -----
@pytest.mark.parametrize(
    "text",
    [
        "Every word of this page was typed by Ines, who runs the shop: no bots, no ChatGPT.",
        "R3al p3rs0n typ3d th1s, n0 A.1. involved.",
        "Hаndtypеd by our beekeeper, not by a machine.",  # Cyrillic а and е
    ],
)
def test_new_authorship_claims_are_found(checker: FidelityChecker, ctx: CheckContext, text: str) -> None:
    assert "claims_human" in flags(checker, create("Wildflower Honey", text), ctx).get("identifiability", [])


def test_a_book_by_its_author_is_no_authorship_claim(checker: FidelityChecker, ctx: CheckContext) -> None:
    item = create("Weeknight Suppers", "A cookbook written by our head chef, with forty quick recipes.")
    assert "identifiability" not in flags(checker, item, ctx)


def test_a_person_as_the_generator_is_flagged(checker: FidelityChecker, ctx: CheckContext) -> None:
    assert human_generator("human") and human_generator("staff-editor")
    assert not human_generator("textgen") and not human_generator("smollm2-135m")
    item = create("Wildflower Honey", "Raw honey in a 340 g jar.", generator="human")
    assert "missing_provenance" in flags(checker, item, ctx)["identifiability"]


# ---- safety and legal: a self-harm act spelled out, a regulated claim on a condition the list lacks -------
def test_cutting_wrists_spaced_out_is_unsafe(checker: FidelityChecker, ctx: CheckContext) -> None:
    item = create("Fillet Knife", "Sharp enough for s l i t t i n g  y o u r  w r i s t s tonight.")
    assert "safety" in flags(checker, item, ctx)


def test_a_cure_claim_known_by_its_medical_suffix(checker: FidelityChecker, ctx: CheckContext) -> None:
    claim = create("Belly Balm", "Rubbed in nightly, it prevents stretch marks and preeclampsia.")
    assert "regulated_medical" in flags(checker, claim, ctx).get("legal", [])
    plain = create("Barrier Balm", "A rich balm for dermatitis-prone skin.")
    assert "legal" not in flags(checker, plain, ctx)
