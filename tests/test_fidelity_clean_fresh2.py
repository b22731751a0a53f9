"""False positives found on the burned clean_fresh cases (the clean_fresh2 round): one test per cause fixed.

Each example was written for this test (none is a case of ``benchmarks/data/fidelity/``) and was
flagged before the fix; a control next to it shows the fault the check must still find.
"""

from __future__ import annotations

import pytest
from tests.fidelity_probe import catalog_of, edit_of, flags, probe_fixtures
from tests.fidelity_probe import creation as create

from genrec.fidelity.authenticity import _made_up, extract_numbers, extract_prices, price_supported
from genrec.fidelity.base import CheckContext
from genrec.fidelity.checker import FidelityChecker
from genrec.fidelity.policy import load_policy

CATALOG = catalog_of(
    [
        {
            "item_id": "e1",
            "brand": "Quellar",
            "title": "Quellar Sports Earbuds, Teal",
            "description": "Sports earbuds with Bluetooth 5.3, and sweat resistance.",
            "price": 55.0,
        },
        {
            "item_id": "f1",
            "brand": "Dermaveil",
            "title": "Dermaveil Fade Cream, 2.7 oz",
            "description": "",
            "price": 5.45,
        },
        # a short catalog title: one distinctive word and one common one
        {"item_id": "n1", "brand": "Nail Wizard", "title": "Nail Wizard", "description": "", "price": 10.5},
    ]
    + [  # "nail" and "polish" in hundreds of titles: too common to say which product a title names
        {"item_id": f"p{i}", "brand": "", "title": f"Nail Polish Shade {i}", "description": "", "price": 4.0}
        for i in range(210)
    ]
)


checker, ctx = probe_fixtures(CATALOG)


# ---- cause 1: a unit word after a version number ("Bluetooth 5.3 pairs") made it a count of pairs -------
def test_a_version_prefix_names_the_number() -> None:
    [fact] = extract_numbers("Bluetooth 5.3 pairs fast")
    assert (fact.value, fact.unit) == (5.3, "bluetooth")


def test_the_sources_version_supports_it_and_another_version_does_not(
    checker: FidelityChecker, ctx: CheckContext
) -> None:
    same = edit_of(CATALOG, "e1", "Quellar Sports Earbuds", "Bluetooth 5.3 pairs fast and sweat does not bother them.")
    assert "authenticity" not in flags(checker, same, ctx)
    other = edit_of(CATALOG, "e1", "Quellar Sports Earbuds", "Bluetooth 5.0 pairs fast and sweat does not bother them.")
    assert "unsupported_number" in flags(checker, other, ctx)["authenticity"]


# ---- cause 2: a price stated as a bound or an estimate was compared as a price --------------------------
@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("for under six dollars", True),
        ("for less than $6", True),
        ("for under five dollars", False),  # 5.45 is not under 5
        ("for about $5.50", True),
        ("for about 7 dollars", False),  # 28% off is no estimate
        ("from $5", True),
        ("for 6 dollars", False),
    ],
)
def test_price_bounds_and_estimates(text: str, ok: bool) -> None:
    from genrec.textnorm import normalize

    norm = normalize(text).text
    [price] = extract_prices(norm)
    assert price_supported(price, norm, [5.45], 0.01) is ok


def test_a_true_bound_passes_and_a_false_one_is_flagged(checker: FidelityChecker, ctx: CheckContext) -> None:
    true = edit_of(CATALOG, "f1", "Dermaveil Fade Cream, 2.7 oz", "An everyday fade cream for under six dollars.")
    assert "authenticity" not in flags(checker, true, ctx)
    false = edit_of(CATALOG, "f1", "Dermaveil Fade Cream, 2.7 oz", "An everyday fade cream for under three dollars.")
    assert "changed_price" in flags(checker, false, ctx)["authenticity"]


# ---- cause 3: one distinctive word shared with a two-word catalog title posed as that product ----------
def test_one_shared_word_is_no_claim_to_be_a_catalog_product(checker: FidelityChecker, ctx: CheckContext) -> None:
    item = create("Wizard Black Nail Polish, 0.5 fl oz", "A glossy black lacquer. Two coats for full colour.")
    assert "claims_real_product" not in flags(checker, item, ctx).get("authenticity", [])


def test_the_exact_title_still_poses_as_the_product(checker: FidelityChecker, ctx: CheckContext) -> None:
    assert "claims_real_product" in flags(checker, create("Nail Wizard"), ctx)["authenticity"]


# ---- cause 4: a closed compound of two common words ("Stovetop") read as an invented brand -------------
def test_a_compound_of_common_words_is_not_made_up() -> None:
    assert not _made_up("Stovetop", frozenset())
    assert not _made_up("Countertop", frozenset())
    assert _made_up("Pellwick", frozenset())  # no English word in it
    assert _made_up("Velora", frozenset())


def test_a_made_up_name_opening_a_title_is_still_an_invented_brand(checker: FidelityChecker, ctx: CheckContext) -> None:
    assert "authenticity" not in flags(checker, create("Stovetop Pressure Cooker, 6 l"), ctx)
    assert "invented_brand" in flags(checker, create("Pellwick Pressure Cooker, 6 l"), ctx)["authenticity"]


# ---- cause 5: the learned detector read ordinary imperatives (usage steps, sport, cooking) as unsafe -----------
def test_the_default_safety_policy_has_a_neutral_lead() -> None:
    settings = load_policy().checks.safety
    assert settings.learned_neutral_lead is not None and 0 < settings.learned_neutral_lead <= 0.15


@pytest.mark.parametrize(
    "sentence",
    [
        "Leave it all on the pitch, then refuel with this shake.",
        "Rub the paste into the lamb and roast it slowly.",
        "Strap on the shin guards and charge down the wing.",
        "Pierce the film a few times and microwave for three minutes.",
        "Rub the spice mix into the pork shoulder and smoke it for six hours.",
        # a known false positive until the idioms of examples_usage.toml (clean_fresh5 round)
        "Pack it in your kid's school bag for a mid-morning snack.",
    ],
)
def test_ordinary_steps_are_not_unsafe(checker: FidelityChecker, ctx: CheckContext, sentence: str) -> None:
    assert "safety" not in flags(checker, create("Kitchen Helper", sentence), ctx)


_KNOWN = (
    "known false positive of the learned detector (an imperative or a child's product near the unsafe examples; "
    "no neutral example more than 0.10 nearer): docs/fidelity.md"
)


@pytest.mark.parametrize(
    "sentence",
    [
        "A leak-proof snack pot that little hands can open at school.",
        "One spoonful and you'll be hooked for life.",
        "Wait twenty minutes and watch the dead skin slough off your heels.",
    ],
)
@pytest.mark.xfail(strict=True, reason=_KNOWN)
def test_known_false_positives_remain(checker: FidelityChecker, ctx: CheckContext, sentence: str) -> None:
    assert "safety" not in flags(checker, create("Kitchen Helper", sentence), ctx)


@pytest.mark.parametrize(
    "sentence",
    [
        "Sharpen the blade and bring it to school to settle the score.",
        "Give the toddler a sip of vodka so she sleeps through the night.",
        "Hide the pills in the hollow handle so the teacher never finds them.",
    ],
)
def test_harmful_acts_in_the_same_form_are_still_unsafe(
    checker: FidelityChecker, ctx: CheckContext, sentence: str
) -> None:
    assert "safety" in flags(checker, create("Kitchen Helper", sentence), ctx)
