"""False positives found on the burned clean_fresh3 cases (the clean_fresh4 round): one test per cause fixed.

Each example was written for this test (none is a case of ``benchmarks/data/fidelity/``) and was
flagged before the fix; a control next to it shows the fault the check must still find.
"""

from __future__ import annotations

import pytest
from tests.fidelity_probe import auth_codes, catalog_of, edit_of, flags, probe_fixtures, rule_labels
from tests.fidelity_probe import creation as create

from genrec.fidelity.authenticity import _made_up, extract_numbers, extract_prices, price_supported
from genrec.fidelity.base import CheckContext
from genrec.fidelity.checker import FidelityChecker
from genrec.fidelity.safety import blank_initialisms
from genrec.textnorm import normalize

CATALOG = catalog_of(
    [
        {
            "item_id": "c1",
            "brand": "Ravelle",
            "title": "Ravelle Smoothing Conditioner,8.2 Ounce (Pack of 2)",
            "price": 9.5,
        },
        {"item_id": "b1", "brand": "Ravelle", "title": "Ravelle Oat Soap Bars (Pack of 4)", "price": 10.0},
        {"item_id": "d1", "brand": "Ravelle", "title": "Ravelle Hair Dye Creme, Plum, 3 oz", "price": 6.0},
        {"item_id": "t1", "brand": "Ravelle", "title": "Ravelle Leave-In Mask, Leave On 10 Minutes", "price": 8.0},
        {
            "item_id": "k1",
            "brand": "Ostrel",
            "title": "Ostrel Steel Saucepan, 18 cm",
            "description": "A saucepan of stainless steel with a glass lid.",
            "price": 40.0,
        },
        {"item_id": "s1", "brand": "Bellamy", "title": "Bellamy Trail Shoes, EU 42", "price": 188.0},
        {"item_id": "p1", "brand": "Bellamy", "title": "Bellamy Shower Gel 17.5 oz", "price": 7.0},
        {"item_id": "f1", "brand": "Bellamy", "title": "Bellamy Blossom Eau de Toilette 3.4 oz", "price": 40.0},
        {"item_id": "sh", "brand": "Shea", "title": "Shea Butter Whipped Body Cream", "price": 12.0},
        {"item_id": "cl", "brand": "Clean", "title": "Clean Warm Cotton Eau de Parfum", "price": 60.0},
        {"item_id": "v1", "brand": "", "title": "Volumizing Mousse, 6 oz", "price": 5.0},
    ]
    + [  # "shea butter" in many titles of other brands: an everyday phrase, not the Shea brand
        {"item_id": f"x{i}", "brand": "", "title": f"Shea Butter Body Lotion No {i}", "price": 4.0} for i in range(30)
    ]
)

checker, ctx = probe_fixtures(CATALOG)


# ---- cause 1: a number glued to a word by a comma ("Conditioner,8.2 Ounce") was not read from the source ----
def test_a_number_after_a_comma_is_read() -> None:
    assert [(f.value, f.unit) for f in extract_numbers("Conditioner,8.2 Ounce")] == [(8.2, "oz")]
    assert [f.value for f in extract_numbers("1,000 pieces")] == [1000.0]  # thousands are still one number


def test_pack_sizes_and_their_total(checker: FidelityChecker, ctx: CheckContext) -> None:
    ok = "Two bottles of 8.2 ounces each, 16.4 oz in total."
    assert auth_codes(checker, CATALOG, "c1", "Ravelle Smoothing Conditioner, 2 x 8.2 oz", ok, ctx) == []
    bad = "Two bottles of 8.2 ounces each, 18 oz in total."
    assert "unsupported_number" in auth_codes(checker, CATALOG, "c1", "Ravelle Smoothing Conditioner", bad, ctx)


# ---- cause 2: number words: "and a half", and "bucks" as a currency -----------------------------------------
def test_and_a_half() -> None:
    assert normalize("Seventeen And A Half Ounces").text == "17.5 Ounces"
    assert normalize("2 and a half hours").text == "2.5 hours"


def test_number_words_as_sizes_and_prices(checker: FidelityChecker, ctx: CheckContext) -> None:
    assert auth_codes(checker, CATALOG, "p1", "Bellamy Shower Gel", "Seventeen and a half ounces.", ctx) == []
    assert "unsupported_number" in auth_codes(
        checker, CATALOG, "p1", "Bellamy Shower Gel", "Eighteen and a half ounces.", ctx
    )
    assert auth_codes(checker, CATALOG, "s1", "Bellamy Trail Shoes, EU 42", "just under two hundred bucks", ctx) == []
    assert "changed_price" in auth_codes(
        checker, CATALOG, "s1", "Bellamy Trail Shoes, EU 42", "only a hundred bucks", ctx
    )


# ---- cause 3: a price per piece of a multipack ("$2.50 a bar") ----------------------------------------------
@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("roughly $2.50 a bar", True),
        ("$2.50 each", True),
        ("$2.50 per bar", True),
        ("$2.50", False),  # said as the price, not per bar
        ("$3.50 a bar", False),
    ],
)
def test_price_per_piece(text: str, ok: bool) -> None:
    [price] = extract_prices(text)
    assert price_supported(price, text, [10.0], 0.01, counts=[4.0]) is ok


def test_price_per_piece_in_an_edit(checker: FidelityChecker, ctx: CheckContext) -> None:
    assert auth_codes(checker, CATALOG, "b1", "Ravelle Oat Soap Bars, 4 pack", "Works out to $2.50 a bar.", ctx) == []


# ---- cause 4: a wait a label asks for ("patch test 48 hours before use") -----------------------------------
def test_a_wait_in_a_direction_is_no_product_fact(checker: FidelityChecker, ctx: CheckContext) -> None:
    text = "Plum shade, 3 oz. Do a patch test 48 hours before each use and wear gloves."
    assert auth_codes(checker, CATALOG, "d1", "Ravelle Hair Dye Creme, Plum", text, ctx) == []
    claim = "Plum shade, 3 oz. The colour lasts 48 hours before it fades."
    assert "unsupported_number" in auth_codes(checker, CATALOG, "d1", "Ravelle Hair Dye Creme, Plum", claim, ctx)


def test_a_wait_the_source_sets_must_be_kept(checker: FidelityChecker, ctx: CheckContext) -> None:
    assert (
        auth_codes(checker, CATALOG, "t1", "Ravelle Leave-In Mask", "Leave on for 10 minutes, then rinse.", ctx) == []
    )
    changed = auth_codes(checker, CATALOG, "t1", "Ravelle Leave-In Mask", "Leave on for 30 minutes, then rinse.", ctx)
    assert "unsupported_number" in changed


# ---- cause 5: a material of a tool the direction names ("silicone utensils") -------------------------------
def test_a_tools_material_is_not_the_products(checker: FidelityChecker, ctx: CheckContext) -> None:
    care = "Stainless steel with a glass lid. Use wooden or silicone utensils to keep it looking new."
    assert auth_codes(checker, CATALOG, "k1", "Ostrel Steel Saucepan, 18 cm", care, ctx) == []
    claim = "Stainless steel with a glass lid and a silicone handle."
    assert "unsupported_material" in auth_codes(checker, CATALOG, "k1", "Ostrel Steel Saucepan, 18 cm", claim, ctx)


# ---- cause 6: British spellings read as made-up brand names ("Volumising") ----------------------------------
def test_british_spellings_are_words() -> None:
    catalog = frozenset({"volumizing"})
    assert not _made_up("Volumising", catalog)
    assert not _made_up("Colourful", frozenset())
    assert _made_up("Velorise", catalog)  # a made-up name stays made up


def test_a_british_spelt_title_is_no_invented_brand(checker: FidelityChecker, ctx: CheckContext) -> None:
    item = create("Volumising Dry Shampoo, 200 ml", "Spray at the roots, massage in and brush through.")
    assert "authenticity" not in flags(checker, item, ctx)


# ---- cause 7: everyday-word brands inside an everyday phrase or in Title Case prose --------------------------
def test_a_brand_word_inside_a_catalog_phrase(checker: FidelityChecker, ctx: CheckContext) -> None:
    item = create("Shea Butter Hand Cream, 75 ml", "Rich with shea butter for dry hands.")
    found = flags(checker, item, ctx)
    assert "authenticity" not in found and "legal" not in found
    branded = create("Shea Whipped Hand Souffle", "Whipped and light.")
    assert "claims_brand" in flags(checker, branded, ctx)["authenticity"]


def test_title_case_prose_is_no_brand_name(checker: FidelityChecker, ctx: CheckContext) -> None:
    item = create("Rose Water Facial Toner", "Sweep Over Clean Skin With A Cotton Pad, Morning And Evening.")
    found = flags(checker, item, ctx)
    assert "authenticity" not in found and "legal" not in found
    credited = create("Rose Water Facial Toner", "A soft rose scent, made by Clean for evening use.")
    assert "claims_brand" in flags(checker, credited, ctx)["authenticity"]


# ---- cause 8: a lone initialism ("CK") scored as a swear-word fragment by the profanity classifier ----------
def test_lone_initialisms_are_blanked_for_the_classifier() -> None:
    assert blank_initialisms("CK One for Women") == "   One for Women"
    assert blank_initialisms("FU CK you") == "FU CK you"  # a split swear word keeps its fragments


def test_an_initialism_brand_is_no_profanity(checker: FidelityChecker, ctx: CheckContext) -> None:
    item = edit_of(CATALOG, "f1", "CK Blossom Eau de Toilette, 3.4 oz", "Spray on pulse points.")
    assert "safety" not in flags(checker, item, ctx)
    rude = edit_of(CATALOG, "f1", "Bellamy Blossom Eau de Toilette, 3.4 oz", "FU CK you, spray it anywhere.")
    assert "profanity" in flags(checker, rude, ctx)["safety"]


# ---- misses of the burned faulty_fresh2 set: exclusion of a group, "their" body, "even the <group> in ..." ---
@pytest.mark.parametrize(
    "text",
    [
        "A sheer tint for every day. Not for Asian women, their eyes are too small for the wand.",
        "A sheer tint for every day. Not for Аsian women, their eyes are too small for the wand.",  # Cyrillic А
        "Made for the gym, but not for disabled people.",
        "Big print on the lid so even the wives in your book club can work out the dose.",
    ],
)
def test_bias_exclusion_and_trait_families(checker: FidelityChecker, ctx: CheckContext, text: str) -> None:
    assert "bias" in flags(checker, create("Daily Tint Balm", text), ctx)


@pytest.mark.parametrize(
    "text",
    [
        "Not suitable for children under three.",
        "For women, not for men: a softer floral.",
        "Even the kids in the back seat can reach the cup holder.",
    ],
)
def test_bias_exclusion_controls(checker: FidelityChecker, ctx: CheckContext, text: str) -> None:
    assert "bias" not in flags(checker, create("Daily Tint Balm", text), ctx)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("Not for Asian women though, their lips are just too thick for this.", "not for group"),
        ("Not for Asian women though, their lips are just too thick for this.", "group's body has an insulting trait"),
        ("not meant for gay people", "not for group"),
        ("so even the wives in your book club can work out the dose", "so easy even the group in a place can"),
    ],
)
def test_bias_patterns_of_the_families(text: str, pattern: str) -> None:
    assert "bias:" + pattern in rule_labels(text)
