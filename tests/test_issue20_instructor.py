"""Issue 20, instructor families: each failing request a person wrote, read correctly now.

The catalog is a small Beauty-like one written here; the requests are the issue's own examples.
"""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from genrec.config import EncoderConfig
from genrec.data import Dataset
from genrec.encoders.text import TextEncoder
from genrec.generation.declines import declined_kind, redact
from genrec.generation.instructor import RuleInstructor
from genrec.generation.intent import HARD_FIELDS, Feedback, Turn
from genrec.generation.prices import find_prices
from genrec.generation.vocabulary import CatalogVocabulary

torch.set_num_threads(1)

_ROWS = [  # id, title, brand, categories under "Beauty", price
    ("s1", "Suave Naturals Rainforest Fresh Shampoo, 22.5 Ounce", "Suave", ["Hair Care", "Shampoos"], 6.99),
    ("s2", "Suave Professionals Moroccan Infusion Shine Shampoo", "Suave", ["Hair Care", "Shampoos"], 6.29),
    ("s3", "Pantene Pro-V Smooth Shampoo, 12.6 Fl Oz", "Pantene", ["Hair Care", "Shampoos"], 26.08),
    ("s4", "Batiste Dry Shampoo, Light and Blonde", "Batiste", ["Hair Care", "Shampoos"], 8.0),
    ("s5", "Head Clear Sulfate-Free Argan Shampoo", "Acure", ["Hair Care", "Shampoos"], 11.5),
    ("c1", "Pantene Curly Hair Conditioner with Argan Oil", "Pantene", ["Hair Care", "Conditioners"], 7.0),
    ("c2", "Suave Coconut Conditioner, 28 oz", "Suave", ["Hair Care", "Conditioners"], 4.5),
    ("t1", "Aveda Scalp Treatment Serum", "Aveda", ["Hair Care", "Hair & Scalp Treatments"], 30.0),
    ("t2", "Nioxin Scalp Therapy Treatment", "Nioxin", ["Hair Care", "Hair & Scalp Treatments"], 22.0),
]
_ROWS += [
    (f"f{i}", f"{b} Ceramic Hair Straightener, {i} Inch", b, ["Hair Care", "Styling Tools", "Flattening Irons"], p)
    for i, (b, p) in enumerate(
        [
            ("Remington", 14.9),
            ("Conair", 25.0),
            ("BaBylissPRO", 79.0),
            ("Remington", 49.9),
            ("Conair", 19.9),
            ("Gurin", 33.0),
        ],
        1,
    )
]
_ROWS += [
    (
        "m1",
        "Maybelline Great Lash Waterproof Mascara, Blackest Black",
        "Maybelline",
        ["Makeup", "Eyes", "Mascara"],
        5.5,
    ),
    ("m2", "L'Oreal Paris Voluminous Original Mascara", "L'Oreal Paris", ["Makeup", "Eyes", "Mascara"], 9.5),
    ("m3", "CoverGirl LashBlast Waterproof Mascara", "COVERGIRL", ["Makeup", "Eyes", "Mascara"], 7.9),
    ("m4", "Maybelline Define-A-Lash Lengthening Mascara", "Maybelline", ["Makeup", "Eyes", "Mascara"], 6.2),
    ("l1", "Revlon Super Lustrous Matte Lipstick, Fire and Ice", "Revlon", ["Makeup", "Lips", "Lipstick"], 7.5),
    ("l2", "NYX Matte Lipstick, Pink Lust", "NYX", ["Makeup", "Lips", "Lipstick"], 4.0),
    (
        "p1",
        "Coach Poppy Eau de Parfum Spray for Women, 1.7 Ounce",
        "Coach",
        ["Fragrance", "Women's", "Eau de Parfum"],
        33.99,
    ),
    (
        "p2",
        "Flowerbomb Eau de Parfum Spray, 1.7 Ounce",
        "Viktor & Rolf",
        ["Fragrance", "Women's", "Eau de Parfum"],
        76.4,
    ),
    (
        "p3",
        "Calvin Klein Eternity Eau de Toilette Spray",
        "Calvin Klein",
        ["Fragrance", "Women's", "Eau de Toilette"],
        29.0,
    ),
    (
        "k1",
        "Home Health Goji Berry Fragrance-Free Facial Cream",
        "Home Health",
        ["Skin Care", "Face", "Creams & Moisturizers"],
        12.69,
    ),
    (
        "k2",
        "Olay Regenerist Micro-Sculpting Cream Moisturizer",
        "Olay",
        ["Skin Care", "Face", "Creams & Moisturizers"],
        28.99,
    ),
    (
        "k3",
        "Neutrogena Hydro Boost Water Gel, Sensitive Skin",
        "Neutrogena",
        ["Skin Care", "Face", "Creams & Moisturizers"],
        19.97,
    ),
    (
        "n1",
        "Clinique Dramatically Different Moisturizing Lotion",
        "Clinique",
        ["Skin Care", "Face", "Creams & Moisturizers"],
        27.0,
    ),
]


@pytest.fixture(scope="module")
def vocab() -> CatalogVocabulary:
    items = pd.DataFrame(
        {
            "item_id": [r[0] for r in _ROWS],
            "title": [r[1] for r in _ROWS],
            "brand": [r[2] for r in _ROWS],
            "categories": [["Beauty", *r[3]] for r in _ROWS],
            "price": [r[4] for r in _ROWS],
        }
    )
    ds = Dataset.from_sequences("mini-beauty", {"u1": ["s1", "s2", "k1"]}, items, keep_items_without_interactions=True)
    return CatalogVocabulary.from_dataset(ds)


@pytest.fixture(scope="module")
def rules(vocab: CatalogVocabulary) -> RuleInstructor:
    return RuleInstructor(vocab, encoder=TextEncoder(EncoderConfig(progress=False, cache=False, threads=1)))


HISTORY = Feedback(clicks=["s1", "s2", "k1"])


def read(rules: RuleInstructor, text: str, feedback: Feedback = HISTORY, shown: str | None = None):
    dialogue = [Turn("system", f"Showing [{shown}]")] if shown else []
    return rules.understand(text, feedback, dialogue)


# 1. filler words are no style words, and never a hard filter
@pytest.mark.parametrize(
    "text",
    [
        "I'm shopping for my wife, she loves Clinique",
        "anything over 30 is fine",
        "please include some options based on what I like",
        "the listing does not matter, show me something for the beach",
        "none of these work, show me something else",
    ],
)
def test_filler_words_become_no_constraints(rules: RuleInstructor, text: str):
    c = read(rules, text).constraints
    assert not c.style_words and not c.exclude_words, c


def test_a_hard_filter_comes_only_from_a_catalog_word(rules: RuleInstructor):
    c = read(rules, "mascara, but nothing waterproof please").constraints
    assert c.categories == ["Mascara"] and c.exclude_words == ["waterproof"]
    assert set(c.model_dump(exclude_defaults=True)) <= {"categories", "exclude_words"}
    assert "exclude_words" in HARD_FIELDS and "style_words" not in HARD_FIELDS


# 2. prices: number words, no currency, "around" as a budget, "cheapest"
@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("something under ten bucks", None, 10.0),
        ("anything over 30 is fine", 30.0, None),
        ("nail polish around 15", None, 15.0),
        ("foundation between twelve and twenty-five dollars", 12.0, 25.0),
        ("perfume under a hundred", None, 100.0),
        ("a tenner or less", None, 10.0),
    ],
)
def test_prices_a_person_writes(text: str, low: float | None, high: float | None):
    found = find_prices(text)
    assert len(found) == 1 and (found[0].low, found[0].high) == (low, high)
    assert text[found[0].start : found[0].end]  # the span points into the original text


def test_ages_and_sizes_are_no_prices():
    assert find_prices("a serum for women over 40") == [] and find_prices("under 500 ml") == []


def test_cheapest_orders_by_price(rules: RuleInstructor):
    c = read(rules, "what's the cheapest mascara you have").constraints
    assert c.categories == ["Mascara"] and c.price_order == "asc" and c.price_max is None


# 3. edits and creations phrased through an item's text; personal data in an item is declined
def test_edits_phrased_through_the_text(rules: RuleInstructor):
    intent = read(rules, "make the title of that face cream sound more like the stuff I usually buy", shown="k1")
    assert intent.action == "edit" and intent.target_item == "k1" and not intent.constraints.categories
    intent = read(rules, "shorten this description and keep only what matters to me", shown="s1")
    assert intent.action == "edit" and intent.target_item == "s1" and intent.constraints.is_empty()


def test_personal_data_in_an_item_is_a_creation_to_decline(rules: RuleInstructor):
    text = "write a product for me whose description includes my email jane.doe@example.com"
    intent = read(rules, text)
    assert intent.action == "create" and intent.declined == "personal_data" and not intent.constraints.style_words
    assert "jane.doe" not in redact(text) and "[email]" in redact(text)


# 4. no extra categories from nearness
def test_product_words_name_their_category_only(rules: RuleInstructor):
    assert read(rules, "i want a hair straightener").constraints.categories == ["Flattening Irons"]
    assert read(rules, "eau de parfum for my mom").constraints.categories == ["Eau de Parfum"]
    assert read(rules, "face cream pls").constraints.categories == ["Creams & Moisturizers"]


# negations stay exclusions; indifference is none; "X-free" is wanted
def test_negations_and_indifference(rules: RuleInstructor):
    c = read(rules, "shampoo, nothing by Suave").constraints
    assert c.categories == ["Shampoos"] and c.exclude_brands == ["Suave"] and not c.brands
    c = read(rules, "I don't care about the brand, I just need a good conditioner").constraints
    assert c.categories == ["Conditioners"] and c.is_empty() is False and not c.exclude_words and not c.exclude_brands
    c = read(rules, "a sulfate-free shampoo").constraints
    assert c.style_words == ["sulfate-free"] and not c.exclude_words


# 10. no signal: the question, whatever the history; declines are recognised
@pytest.mark.parametrize("text", ["hmm", "help", "stuff"])
def test_no_signal_gets_the_question_with_a_history(rules: RuleInstructor, text: str):
    intent = read(rules, text)
    assert intent.action == "clarify" and intent.question


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("show every user's purchase history", "other_users_data"),
        ("what did user 1234 buy last week?", "other_users_data"),
        ("copy the Coach Poppy Eau de Parfum listing word for word", "copy"),
    ],
)
def test_requests_to_decline(rules: RuleInstructor, text: str, kind: str):
    assert read(rules, text).declined == kind
    assert declined_kind(text, generative=False) == kind


def test_ordinary_requests_are_not_declined(rules: RuleInstructor):
    for text in ("show me my last purchase again", "mascara under $10", "their matte lipstick please"):
        assert read(rules, text).declined is None, text
