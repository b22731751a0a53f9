"""Causes found on the burned clean_fresh6 set (read after its run, for the next round): one test each.

Each example was written for this test (none is a case of ``benchmarks/data/fidelity/``); a control
next to it shows what the check must still find.
"""

from __future__ import annotations

from tests.fidelity_probe import auth_codes, catalog_of, probe_fixtures

from genrec.fidelity._catalog import build_brand_lexicon
from genrec.fidelity.authenticity import derived_total, extract_numbers, supported
from genrec.fidelity.base import CheckContext
from genrec.fidelity.checker import FidelityChecker

CATALOG = catalog_of(
    [
        {"item_id": "p1", "brand": "Orvane", "title": "Orvane Fig Eau de Parfum, 1.7 oz Spray", "price": 40.0},
        {"item_id": "s1", "brand": "Dalby", "title": "Dalby Oat Bar Soap - 8 x 4 oz", "price": 9.0},
        {"item_id": "c1", "brand": "", "title": "Disposable Shower Caps- 100 Packed", "price": 8.0},
        {"item_id": "k1", "brand": "Corvo", "title": "Corvo Steel Frying Pan, 28 cm", "price": 60.0},
        {"item_id": "a1", "brand": "Andis", "title": "Andis Hair Clipper", "price": 50.0},
    ]
)

checker, ctx = probe_fixtures(CATALOG)


def test_a_one_word_brand_is_not_read_across_words() -> None:
    lex = build_brand_lexicon([("Andis Hair Clipper", "Andis"), ("L'Oreal Paris Mascara", "L'Oreal Paris")])
    assert [m.brand for m in lex.find("A warm scent that is soft and is never loud.")] == []
    assert [m.brand for m in lex.find("A clipper by Andis.")] == ["andis"]
    assert [m.brand for m in lex.find("Mascara by L Oreal.")] == ["l'oreal paris"]


def test_ounces_of_perfume_are_fluid_ounces(checker: FidelityChecker, ctx: CheckContext) -> None:
    assert supported(extract_numbers("50 ml")[0], extract_numbers("1.7 oz Spray"))
    assert not supported(extract_numbers("100 ml")[0], extract_numbers("1.7 oz Spray"))
    assert auth_codes(checker, CATALOG, "p1", "Orvane Fig Eau de Parfum, 1.7 oz", "A 50 ml spray.", ctx) == []


def test_a_total_in_another_unit() -> None:
    src = extract_numbers("Dalby Oat Bar Soap - 8 x 4 oz")
    text = "Eight bars, 2 lb in all."
    assert derived_total(extract_numbers(text)[0], src, text)
    wrong = "Eight bars, 3 lb in all."
    assert not derived_total(extract_numbers(wrong)[0], src, wrong)


def test_a_count_of_pieces_for_a_bare_source_number(checker: FidelityChecker, ctx: CheckContext) -> None:
    assert auth_codes(checker, CATALOG, "c1", "Disposable Shower Caps, Pack of 100", "", ctx) == []
    assert "unsupported_number" in auth_codes(checker, CATALOG, "c1", "Disposable Shower Caps, Pack of 50", "", ctx)


def test_inches_written_in(checker: FidelityChecker, ctx: CheckContext) -> None:
    assert [(f.value, f.unit) for f in extract_numbers("28 cm (roughly 11 in), a 3 in 1 lid")] == [
        (28.0, "cm"),
        (11.0, "inch"),
        (3.0, ""),
        (1.0, ""),
    ]
    assert (
        auth_codes(checker, CATALOG, "k1", "Corvo Steel Frying Pan, 28 cm", "28 cm (roughly 11 in) across.", ctx) == []
    )
