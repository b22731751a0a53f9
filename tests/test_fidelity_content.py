"""Content checks: bias (patterns and the counterfactual test), safety (rules and classifier), legal."""

from pathlib import Path

import pandas as pd
import pytest

from genrec.config import EncoderConfig
from genrec.data.generated import GeneratedItem, Provenance
from genrec.encoders.text import TextEncoder
from genrec.fidelity._rules import RulesError
from genrec.fidelity.base import CheckContext
from genrec.fidelity.bias import BiasCheck, counterfactual_test, counterfactual_variants, mask_identity_terms
from genrec.fidelity.legal import LegalCheck
from genrec.fidelity.policy import BiasSettings, LegalSettings, SafetySettings
from genrec.fidelity.safety import SafetyCheck

CATALOG = pd.DataFrame(
    [
        {
            "item_id": "h1",
            "brand": "Brightwood",
            "title": "Brightwood Trail Running Shoes, EU 42",
            "description": "Brightwood built these trail shoes with a grippy outsole, a rock plate and a recycled mesh "
            "upper that drains fast after river crossings on long mountain routes.",
        },
        {
            "item_id": "h2",
            "brand": "Kettleby",
            "title": "Kettleby Gooseneck Kettle, 1 l",
            "description": "A slim gooseneck kettle with a built-in thermometer and a counterweighted handle for slow, "
            "steady pour-over brewing at the kitchen counter.",
        },
        {
            "item_id": "h3",
            "brand": "Kettleby",
            "title": "Kettleby Electric Gooseneck Kettle, 0.8 l",
            "description": "An electric gooseneck kettle with a built-in thermometer and a counterweighted handle for slow, "
            "steady pour-over brewing, plus a keep-warm base.",
        },
    ]
)


def make(
    title: str, description: str = "", kind: str = "create", source: str | None = None, brand: str | None = None
) -> GeneratedItem:
    return GeneratedItem(
        title,
        description,
        brand=brand,
        provenance=Provenance(kind, "textgen", "1", user_id="u1", source_item_id=source),
    )


@pytest.fixture(scope="module")
def ctx() -> CheckContext:
    return CheckContext(catalog=CATALOG)


# ---- bias ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, code",
    [
        ("Women are terrible with technology, so we kept it simple.", "stereotype"),
        ("So simple even your grandma can use it.", "stereotype"),
        ("Real men don't moisturize, except with this.", "stereotype"),
        ("Old people can't use smartphones, hence the big buttons.", "stereotype"),
        ("Perfect for immigrants, who are naturally lazy.", "stereotype"),
        ("Finally something teenagers won't mess up.", "stereotype"),
        ("A design no retard could break.", "demeaning"),
        ("Typical woman behaviour: buying three of these.", "generalisation"),
    ],
)
def test_bias_flags_statements_about_groups(ctx: CheckContext, text: str, code: str) -> None:
    result = BiasCheck(BiasSettings()).run(make("Lotion concept", text), ctx)
    assert code in {f.code for f in result.findings}
    f = next(f for f in result.findings if f.code == code)
    assert text[f.start : f.end] == f.text and f.field == "description"
    assert result.verdict == ("warn" if code == "generalisation" else "block")


ORDINARY = [
    "A gift for girls who love pink glitter.",
    "Black women's hair care, sulfate-free.",
    "Girls are crazy about this shade.",
    "For men and women with dry skin.",
    "Old spice scent, black coffee notes.",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_bias_rules_pass_ordinary_product_text(ctx: CheckContext, text: str) -> None:
    assert BiasCheck(BiasSettings(learned=False)).run(make("Lotion concept", text), ctx).verdict == "pass"


@pytest.mark.parametrize(
    "text",
    [
        t
        if not t.startswith("Girls are crazy")
        else pytest.param(
            t,
            marks=pytest.mark.xfail(
                strict=True,
                reason="known false positive of the learned detector: 'Girls are <predicate>' reads as a "
                "statement about girls (docs/fidelity.md)",
            ),
        )
        for t in ORDINARY
    ],
)
def test_bias_passes_ordinary_product_text(ctx: CheckContext, text: str) -> None:
    assert BiasCheck(BiasSettings()).run(make("Lotion concept", text), ctx).verdict == "pass"


def test_bias_extra_lexicon_from_policy(ctx: CheckContext, tmp_path: Path) -> None:
    extra = tmp_path / "extra.toml"
    extra.write_text('negative_attributes = ["antisocial"]\n[groups.fans]\nplural = ["gamers"]\nsingular = ["gamer"]\n')
    text = "Gamers are antisocial, so it ships in a plain box."
    assert BiasCheck(BiasSettings(learned=False)).run(make("Headset concept", text), ctx).verdict == "pass"
    assert BiasCheck(BiasSettings(lexicons=[extra])).run(make("Headset concept", text), ctx).verdict == "block"


def test_bias_bad_lexicon_names_the_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[patterns]]\ncode = "rude"\nregex = "x"\n')
    with pytest.raises(RulesError, match=r"bad.toml: patterns\[0\].code"):
        BiasCheck(BiasSettings(lexicons=[bad])).validate()


def test_counterfactual_variants_swap_identity_terms_only() -> None:
    variants = dict(counterfactual_variants("a gift for my wife who loves black coffee"))
    assert variants == {"gender": "a gift for my husband who loves black coffee"}
    assert dict(counterfactual_variants("a cream for Black women"))["race_ethnicity"] == "a cream for White women"
    assert mask_identity_terms("A gift for her") == mask_identity_terms("A gift for him".replace("him", "his"))


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> TextEncoder:
    return TextEncoder(EncoderConfig(cache=False, progress=False, threads=1))


def test_counterfactual_test_separates_fair_and_biased_generators(encoder: TextEncoder) -> None:
    def fair(instruction: str) -> str:
        who = "her" if "wife" in instruction else "him"
        return f"A cast-iron skillet with a helper handle, a thoughtful gift for {who}."

    def biased(instruction: str) -> str:
        if "wife" in instruction:
            return "A pink sparkly mini mirror with cute stickers."
        return "A cast-iron skillet with a helper handle, a thoughtful gift."

    ok = counterfactual_test(fair, "a kitchen gift for my wife", encoder, tolerance=0.1)
    bad = counterfactual_test(biased, "a kitchen gift for my wife", encoder, tolerance=0.1)
    assert ok.passed and ok.max_distance < 0.02
    assert not bad.passed and bad.max_distance > 0.3
    assert bad.variants[0]["instruction"] == "a kitchen gift for my husband"


# ---- safety -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, code",
    [
        ("If this does not fix your skin, just kill yourself.", "unsafe"),
        ("For extra shine, mix bleach and ammonia in the bottle.", "unsafe"),
        ("Goes great with a line of cocaine.", "unsafe"),
        ("Perfect for porn shoots.", "adult"),
        ("Great deal: vapes for kids at half price.", "adult"),
        ("A gentle cleanser. This is fucking brilliant, buy it. Made in small batches.", "profanity"),
    ],
)
def test_safety_flags_unsafe_content(ctx: CheckContext, text: str, code: str) -> None:
    result = SafetyCheck(SafetySettings()).run(make("Cleanser concept", text), ctx)
    assert code in {f.code for f in result.findings} and result.verdict == "block"
    f = next(f for f in result.findings if f.code == code)
    assert text[f.start : f.end] == f.text


def test_safety_passes_beauty_product_text(ctx: CheckContext) -> None:
    items = [
        make("Caravan Triple XXX Large Hair Claw"),
        make("Sexy Hair Big Volume Spray", "Nude lipstick shades."),
        make("Shimmer body oil", "Kills odour-causing bacteria. Safe for sensitive skin."),
    ]
    results = SafetyCheck(SafetySettings()).run_many(items, ctx)
    assert [r.verdict for r in results] == ["pass", "pass", "pass"]
    assert all(0.0 <= r.details["profanity_prob"] < 0.9 for r in results)


def test_safety_threshold_and_classifier_switch(ctx: CheckContext) -> None:
    text = make("Lotion concept", "This is fucking brilliant.")
    assert SafetyCheck(SafetySettings(classifier=False, learned=False)).run(text, ctx).verdict == "pass"
    assert SafetyCheck(SafetySettings(profanity_threshold=1.0, learned=False)).run(text, ctx).verdict == "pass"


def test_safety_extra_rules_and_bad_rules(ctx: CheckContext, tmp_path: Path) -> None:
    extra = tmp_path / "house.toml"
    extra.write_text('[[rules]]\ncode = "unsafe"\ncategory = "house rule"\npatterns = ["\\\\bfireworks\\\\b"]\n')
    result = SafetyCheck(SafetySettings(rules=[extra], classifier=False)).run(make("Party fireworks kit"), ctx)
    assert result.verdict == "block" and result.findings[0].message == "house rule content"
    broken = tmp_path / "broken.toml"
    broken.write_text('[[rules]]\ncode = "unsafe"\npatterns = ["(unclosed"]\n')
    with pytest.raises(RulesError, match="broken.toml: rules\\[0\\].patterns: bad regular expression"):
        SafetyCheck(SafetySettings(rules=[broken])).validate()


# ---- legal --------------------------------------------------------------------------------------
def test_legal_blocks_a_creation_copying_a_human_item(ctx: CheckContext) -> None:
    copy = make("Trail shoes concept", CATALOG.loc[0, "description"])
    result = LegalCheck(LegalSettings()).run(copy, ctx)
    assert result.verdict == "block" and result.details["most_similar"] == "h1"
    assert result.details["max_similarity"] >= 0.8
    assert all(f.field == "description" and f.text in copy.description for f in result.findings)


def test_legal_edit_may_reuse_its_source_and_its_brands_text(ctx: CheckContext) -> None:
    same = make(
        "Kettleby Gooseneck Kettle, 1 l", CATALOG.loc[1, "description"], kind="edit", source="h2", brand="Kettleby"
    )
    assert LegalCheck(LegalSettings()).run(same, ctx).verdict == "pass"
    other = make("Kettleby Gooseneck Kettle, 1 l", CATALOG.loc[0, "description"], kind="edit", source="h2")
    assert LegalCheck(LegalSettings()).run(other, ctx).verdict == "block"
    sibling = make("Kettleby Gooseneck Kettle, 1 l", CATALOG.loc[2, "description"], kind="edit", source="h2")
    assert LegalCheck(LegalSettings()).run(sibling, ctx).verdict == "pass"
    assert LegalCheck(LegalSettings(same_brand_exempt=False)).run(sibling, ctx).verdict == "block"


def test_legal_similar_tier_warns(ctx: CheckContext) -> None:
    half = " ".join(CATALOG.loc[0, "description"].split()[1:15]) + " and a bright new colourway for city runs."
    item = make("Running concept", half)
    score = LegalCheck(LegalSettings()).run(item, ctx).details["max_similarity"]
    assert 0.3 < score < 0.8
    warned = LegalCheck(LegalSettings(similar_threshold=0.3)).run(item, ctx)
    assert warned.verdict == "warn" and {f.code for f in warned.findings} == {"similar"}


@pytest.mark.parametrize(
    "text, code",
    [
        ("Clinically shown to cure eczema in a week.", "regulated_medical"),
        ("Throw away your prescriptions, this works better.", "regulated_medical"),
        ("Lose 10 pounds in two weeks without dieting.", "regulated_health"),
        ("Boosts your immune system instantly.", "regulated_health"),
        ("Guaranteed returns of 20% a month for resellers.", "regulated_financial"),
        ("Double your money in 30 days.", "regulated_financial"),
    ],
)
def test_legal_flags_regulated_claims(ctx: CheckContext, text: str, code: str) -> None:
    result = LegalCheck(LegalSettings()).run(make("Serum concept", text), ctx)
    assert [f.code for f in result.findings] == [code] and result.verdict == "block"


def test_legal_ignores_product_types_that_sound_medical(ctx: CheckContext) -> None:
    text = "Acne Treatment gel, anti-aging night cream, hair loss shampoo for thinning hair, weight loss tea."
    assert LegalCheck(LegalSettings()).run(make("Skincare concept", text), ctx).verdict == "pass"


def test_protected_brands_in_creations_follow_the_policy(ctx: CheckContext) -> None:
    listed = make("Running shoes concept", "A cheaper take on Nike trainers.")
    catalog_brand = make("Kettle concept", "Inspired by Kettleby.")
    field = make("Serum concept", brand="Chanel")
    default = LegalCheck(LegalSettings())
    assert [default.run(i, ctx).verdict for i in (listed, catalog_brand, field)] == ["block"] * 3
    only_list = LegalCheck(LegalSettings(protected_brands="list"))
    assert only_list.run(catalog_brand, ctx).verdict == "pass" and only_list.run(listed, ctx).verdict == "block"
    assert LegalCheck(LegalSettings(allow_brands=["Nike"])).run(listed, ctx).verdict == "pass"
    assert LegalCheck(LegalSettings(protected_brands="off")).run(field, ctx).verdict == "pass"
    edit = make("Kettleby Gooseneck Kettle, 1 l", "Inspired by Kettleby.", kind="edit", source="h2")
    assert LegalCheck(LegalSettings()).run(edit, ctx).verdict == "pass"  # edits keep their source's brand
