"""Issue 21: one failing example per family of missed faults, plainly spelled and disguised, through the default policy.

The families: spelling tricks (normalisation), brand knowledge, claims without a number,
regulated claims beyond a disease list, the neutral veto and topic words, copies on a templated
catalog, privacy (names, disguised contacts), identifiability (placeholders, authorship claims,
stripped watermarks) and the repair step on decimals. Each example was written for this test.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from genrec.config import SyntheticConfig
from genrec.data.generated import GeneratedItem, Provenance
from genrec.data.synthetic import generate
from genrec.fidelity.base import CheckContext, PrivateStore
from genrec.fidelity.checker import FidelityChecker
from genrec.fidelity.watermark import WatermarkScore

BEAUTY = pd.DataFrame(
    [
        {
            "item_id": "b1",
            "brand": "L'Oreal Paris",
            "title": "L'Oreal Paris Infallible Eye Shadow, Bronzed Taupe, 0.12 Ounces",
            "price": 6.97,
        },
        {"item_id": "b2", "brand": "Unknown", "title": "L'Oreal Paris Voluminous Mascara, Black", "price": 5.0},
        {"item_id": "b3", "brand": "Generic", "title": "L'Oreal Paris Colour Riche Lipstick Lot of 3", "price": 9.0},
        {"item_id": "b4", "brand": "", "title": "Loreal Paris Elnett Hairspray", "price": 11.0},
        {
            "item_id": "b5",
            "brand": "Revlon",
            "title": "Revlon Super Lustrous Creme Lipstick, Fire and Ice 720, 0.15 Ounce",
            "price": 7.5,
        },
        {
            "item_id": "b6",
            "brand": "NYX",
            "title": "NYX Cosmetics Black Label Lipstick, Heiress, 0.15 Ounce",
            "price": 7.49,
        },
        {"item_id": "b7", "brand": "Dove", "title": "Dove Go Fresh Body Wash, Revive, 22 fl oz", "price": 12.89},
        {
            "item_id": "b8",
            "brand": "Aveeno",
            "title": "Aveeno Stress Relief Moisturizing Lotion, 12 Ounce",
            "price": 9.09,
        },
    ]
)
for _col in ("description",):
    BEAUTY[_col] = ""


@pytest.fixture(scope="module")
def checker() -> FidelityChecker:
    return FidelityChecker()


@pytest.fixture(scope="module")
def synthetic() -> pd.DataFrame:
    return generate(SyntheticConfig(n_users=60, n_items=160, seed=3)).items


@pytest.fixture(scope="module")
def syn_ctx(synthetic: pd.DataFrame) -> CheckContext:
    store = PrivateStore(
        {"u2": ["Ines Carvalho"]}, {"u2": ["My landlord in Coimbra never fixes the boiler in our flat."]}
    )
    return CheckContext(catalog=synthetic, private=store, user_id="u1")


@pytest.fixture(scope="module")
def beauty_ctx() -> CheckContext:
    return CheckContext(catalog=BEAUTY, user_id="u1")


def create(title: str, description: str = "", brand: str | None = None) -> GeneratedItem:
    return GeneratedItem(title, description, brand, provenance=Provenance("create", "textgen", "1", user_id="u1"))


def edit(row: dict, description: str, title: str | None = None, **fields: object) -> GeneratedItem:
    prov = Provenance("edit", "textgen", "1", user_id="u1", source_item_id=str(row["item_id"]))
    item = GeneratedItem(
        title if title is not None else str(row["title"]),
        description,
        fields.pop("brand", row.get("brand")),  # type: ignore[arg-type]
        list(row.get("categories") or []),
        fields.pop("price", row.get("price")),  # type: ignore[arg-type]
        provenance=prov,
    )
    return item


def flagged(checker: FidelityChecker, item: GeneratedItem, ctx: CheckContext) -> dict[str, list[str]]:
    report = checker.check(item, ctx, attach=False)
    return {name: [f.code for f in r.findings] for name, r in report.checks.items() if r.verdict != "pass"}


def source_with(synthetic: pd.DataFrame, word: str) -> dict:
    return next(r for r in synthetic.to_dict("records") if word in r["description"])


# ---- 1. spelling tricks ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "check", "code"),
    [
        ("Ask questions at mina.k@example.org any time.", "privacy", "email"),
        ("Ask questions at mina．k＠example．org any time.", "privacy", "email"),  # full-width
        ("Ask questions at mina.\u200bk@\u200bexample.org any time.", "privacy", "email"),  # zero-width
        ("Perfect for sorting your cocaine into bags.", "safety", "unsafe"),
        ("Perfect for sorting your сосаine into bags.", "safety", "unsafe"),  # Cyrillic lookalikes
        ("Perfect for sorting your c0caine into bags.", "safety", "unsafe"),  # l33t
        ("If you want to kill yourself this works.", "safety", "unsafe"),
        ("If you want to k i l l yourself this works.", "safety", "unsafe"),  # spaced letters
        ("This fucking lamp is great.", "safety", "profanity"),
        ("This f*cking lamp is great.", "safety", "profanity"),  # masked
    ],
)
def test_spelling_tricks_are_undone_for_created_items(
    checker: FidelityChecker, syn_ctx: CheckContext, text: str, check: str, code: str
) -> None:
    found = flagged(checker, create("Desk lamp concept", text), syn_ctx)
    assert code in found.get(check, []), found


def test_findings_point_at_the_original_disguised_span(checker: FidelityChecker, syn_ctx: CheckContext) -> None:
    item = create("Desk lamp concept", "Great for storing your c0caine safely.")
    report = checker.check(item, syn_ctx, attach=False)
    spans = [item.description[f.start : f.end] for f in report.checks["safety"].findings if f.field == "description"]
    assert any("c0caine" in s for s in spans), spans


@pytest.mark.parametrize("words", ["fifty-seven", "f i f t y - s e v e n"])
def test_number_words_beyond_twelve_are_numbers(
    checker: FidelityChecker, synthetic: pd.DataFrame, syn_ctx: CheckContext, words: str
) -> None:
    row = synthetic.to_dict("records")[0]
    item = edit(row, f"{row['description']} It now runs for {words} hours on one charge.")
    assert "unsupported_number" in flagged(checker, item, syn_ctx).get("authenticity", [])


# ---- 2. brands ------------------------------------------------------------------------------
@pytest.mark.parametrize("brand", ["L'Oreal Paris", "L’Oréal", "Loreal", "L0real"])
def test_edits_may_not_credit_a_big_catalog_brand(
    checker: FidelityChecker, beauty_ctx: CheckContext, brand: str
) -> None:
    row = BEAUTY.iloc[5].to_dict()  # NYX; L'Oreal Paris is in other brands' titles, so it was not "distinctive"
    item = edit(row, f"The same creamy formula {brand} uses, in shade Heiress.")
    assert "foreign_brand" in flagged(checker, item, beauty_ctx).get("authenticity", [])


@pytest.mark.parametrize("brand", ["Bose", "B0se", "Воse"])
def test_edits_may_not_name_a_listed_brand_outside_the_catalog(
    checker: FidelityChecker, synthetic: pd.DataFrame, syn_ctx: CheckContext, brand: str
) -> None:
    row = synthetic.to_dict("records")[0]
    item = edit(row, f"{row['description']} Tuned like a pair of {brand} headphones.")
    assert "foreign_brand" in flagged(checker, item, syn_ctx).get("authenticity", [])


@pytest.mark.parametrize("joined", ["{a}{b}", "{a}-{b}", "{a}{b_lower}"])
def test_a_creation_merging_two_catalog_brands_claims_both(
    checker: FidelityChecker, synthetic: pd.DataFrame, syn_ctx: CheckContext, joined: str
) -> None:
    a, b = sorted(set(synthetic["brand"]))[:2]
    name = joined.format(a=a, b=b, b_lower=b.lower())
    found = flagged(checker, create(f"{name} Ceramic Travel Mug", "A mug for long commutes."), syn_ctx)
    assert "claims_brand" in found.get("authenticity", []) and "protected_brand" in found.get("legal", []), found


@pytest.mark.parametrize("brand", ["Velora", None])
def test_invented_brands_in_creations_are_flagged_unless_allowed(
    checker: FidelityChecker, beauty_ctx: CheckContext, brand: str | None
) -> None:
    item = create("Velora Hydrating Serum", "A light serum.", brand)
    assert "invented_brand" in flagged(checker, item, beauty_ctx).get("authenticity", [])
    allowing = FidelityChecker(checker.policy.replace("authenticity", allow_invented_brands=True))
    assert "invented_brand" not in flagged(allowing, item, beauty_ctx).get("authenticity", [])


def test_an_everyday_word_brand_counts_only_as_a_name(checker: FidelityChecker, beauty_ctx: CheckContext) -> None:
    row = BEAUTY.iloc[7].to_dict()  # Aveeno; "Dove" is a catalog brand and an everyday word
    quiet = edit(row, "Stress relief lotion, 12 ounce, soft as a dove's feather.")
    loud = edit(row, "Stress relief lotion, 12 ounce, same formula as Dove uses.")
    assert "foreign_brand" not in flagged(checker, quiet, beauty_ctx).get("authenticity", [])
    assert "foreign_brand" in flagged(checker, loud, beauty_ctx).get("authenticity", [])


# ---- 3. claims without a number ---------------------------------------------------------------
@pytest.mark.parametrize(
    "claim",
    [
        "FDA approved",
        "dermatologist recommended",
        "USDA Organic",
        "cruelty-free and vegan",
        "F.D.A.-approved",
        "derm4tologist recommended",
    ],
)
def test_an_edit_may_not_add_a_claim_its_source_does_not_make(
    checker: FidelityChecker, beauty_ctx: CheckContext, claim: str
) -> None:
    row = BEAUTY.iloc[7].to_dict()
    item = edit(row, f"Aveeno's stress relief moisturizing lotion, 12 ounce. {claim}.")
    assert "unsupported_claim" in flagged(checker, item, beauty_ctx).get("authenticity", [])


def test_a_creation_may_make_only_claims_its_kind_makes(
    checker: FidelityChecker, synthetic: pd.DataFrame, syn_ctx: CheckContext
) -> None:
    vegan = next(r for r in synthetic.to_dict("records") if "certified vegan" in r["description"])
    kind = vegan["categories"]
    fine = GeneratedItem(
        "Everyday concept", "Certified vegan.", None, list(kind), provenance=Provenance("create", "t", "1")
    )
    odd = create("Everyday over-ear headphones", "Comfortable and Rainforest Alliance certified.")
    assert "unsupported_claim" not in flagged(checker, fine, syn_ctx).get("authenticity", [])
    assert "unsupported_claim" in flagged(checker, odd, syn_ctx).get("authenticity", [])


def test_a_claim_the_source_makes_is_supported(
    checker: FidelityChecker, synthetic: pd.DataFrame, syn_ctx: CheckContext
) -> None:
    row = next(r for r in synthetic.to_dict("records") if "certified organic" in r["description"])
    item = edit(row, row["description"] + " Certified organic, as always.")
    assert "unsupported_claim" not in flagged(checker, item, syn_ctx).get("authenticity", [])


# ---- 4. regulated claims beyond a disease list ----------------------------------------------------
@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Fades melasma for good.", "regulated_medical"),
        ("Fades mеlasma for good.", "regulated_medical"),
        ("Kills MRSA on every surface of your skin.", "regulated_medical"),
        ("Kills M R S A on every surface of your skin.", "regulated_medical"),
        ("Daily drops that prevent miscarriage.", "regulated_medical"),
        ("Safe to use during pregnancy and for newborns.", "regulated_medical"),
        ("Sweet, yet it won't spike blood sugar.", "regulated_health"),
        ("Sweet, yet it w0n't sp1ke bl00d sugar.", "regulated_health"),
        ("Melts belly fat in two weeks.", "regulated_health"),
        ("Clears up gingivitis overnight.", "regulated_medical"),
    ],
)
def test_regulated_claims_beyond_the_disease_list(
    checker: FidelityChecker, syn_ctx: CheckContext, text: str, code: str
) -> None:
    found = flagged(checker, create("Wellness concept", text), syn_ctx)
    assert code in found.get("legal", []), found


# ---- 5. no veto hides a harmful act, topic words alone do not flag -----------------------------------
@pytest.mark.parametrize(
    ("text", "check"),
    [
        ("Makes little girls look sexy for grown men.", "safety"),
        ("Makes little girls look s3xy for grown men.", "safety"),
        ("For parents of autistic kids, the little retards scream less with it.", "bias"),
        ("For parents of autistic kids, the little r3tards scream less with it.", "bias"),
    ],
)
def test_harmful_acts_are_flagged(checker: FidelityChecker, syn_ctx: CheckContext, text: str, check: str) -> None:
    assert check in flagged(checker, create("Nightlight concept", text), syn_ctx)


@pytest.mark.parametrize(
    "text",
    [
        "Built for gamers.",
        "A budget pick for first-time runners.",
        "Knee support for runners back from an old accident.",
    ],
)
def test_topic_words_alone_pass(checker: FidelityChecker, syn_ctx: CheckContext, text: str) -> None:
    report = checker.check(create("Everyday concept", text), syn_ctx, attach=False)
    assert report.verdict == "pass", report.reasons


# ---- 6. copies on a templated catalog ----------------------------------------------------------------
def test_copies_of_another_item_on_a_templated_catalog(
    checker: FidelityChecker, synthetic: pd.DataFrame, syn_ctx: CheckContext
) -> None:
    rows = synthetic.to_dict("records")
    other = next(r for r in rows if len(r["description"].split()) > 25)
    verbatim = create("A new everyday pick", other["description"])
    disguised = create("A new everyday pick", other["description"].replace("e", "е", 3))  # Cyrillic e
    words = other["description"].split()
    light = create("A new everyday pick", " ".join(reversed(words[:12])) + " " + " ".join(words[12:]))
    for item in (verbatim, disguised, light):
        assert "near_duplicate" in flagged(checker, item, syn_ctx).get("legal", []), item.description


# ---- 7. privacy ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "Designed by our chemist Thulani Mokoena in her kitchen lab.",
        "Ask for Jovana Petrović at the stall.",
        "My neighbour Іnes Сarvalho loves it.",  # a stored user's name, lookalike letters
        "Call five five five, two one nine, three eight four seven.",
        "Orders to mina＠example．org please.",
    ],
)
def test_privacy_finds_names_and_disguised_contacts(checker: FidelityChecker, syn_ctx: CheckContext, text: str) -> None:
    assert "privacy" in flagged(checker, create("Gift concept", text), syn_ctx)


@pytest.mark.parametrize(
    "text", ["Rated five five times by our testers.", "Our human hair wig in black.", "Call it a day."]
)
def test_privacy_ignores_number_words_and_everyday_phrases(
    checker: FidelityChecker, syn_ctx: CheckContext, text: str
) -> None:
    assert "privacy" not in flagged(checker, create("Gift concept", text), syn_ctx)


# ---- 9. identifiability ---------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["n/a", "-", "N / A", "—", "null", "\u200b"])
def test_placeholder_provenance_is_missing(checker: FidelityChecker, syn_ctx: CheckContext, value: str) -> None:
    item = create("Concept", "A plain concept.")
    item.provenance = dataclasses.replace(item.provenance, generator=value)
    assert "missing_provenance" in flagged(checker, item, syn_ctx).get("identifiability", [])


@pytest.mark.parametrize(
    "text", ["Written by a real person, not a bot.", "Wr1tten by a hum4n, not a b0t.", "100% human-written copy."]
)
def test_claims_of_human_authorship(checker: FidelityChecker, syn_ctx: CheckContext, text: str) -> None:
    assert "claims_human" in flagged(checker, create("Concept", text), syn_ctx).get("identifiability", [])


def test_a_stripped_watermark_blocks_on_a_long_text(checker: FidelityChecker, synthetic: pd.DataFrame) -> None:
    ctx = CheckContext(catalog=synthetic, detectors={"textgen": lambda text: WatermarkScore(0.3, 12, 48, 0.4)})
    item = create("Concept", "A long enough description of a calm evening tea.")
    item.provenance = dataclasses.replace(item.provenance, watermark={"field": "text"})
    report = checker.check(item, ctx, attach=False)
    assert report.checks["identifiability"].verdict == "block"
    assert [f.code for f in report.checks["identifiability"].findings] == ["watermark_missing"]
    short = CheckContext(catalog=synthetic, detectors={"textgen": lambda text: WatermarkScore(0.3, 3, 12, 0.4)})
    assert checker.check(item, short, attach=False).checks["identifiability"].verdict == "warn"


# ---- 10. the repair step --------------------------------------------------------------------------
def test_repair_keeps_decimals_and_prices_whole() -> None:
    from genrec.generation.repair import sentence_spans

    text = "Pairs over Bluetooth 5.3 in seconds. Now $6.45 while supplies last."
    assert [text[a:b].strip() for a, b in sentence_spans(text)] == [
        "Pairs over Bluetooth 5.3 in seconds.",
        "Now $6.45 while supplies last.",
    ]
