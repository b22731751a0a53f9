"""'facts' rewrites: the generator may only list the source's own category names under its kept title."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrec.config import TextGenConfig
from genrec.data.generated import GENERATED_PREFIX
from genrec.fidelity.base import CheckContext
from genrec.fidelity.identifiability import IdentifiabilityCheck
from genrec.fidelity.policy import load_policy
from genrec.generation.editor import to_item
from genrec.generation.intent import Constraints, Guidance
from genrec.generation.phrases import EOS, PhraseConstraint, common_categories, describe_with_facts, fact_phrases
from genrec.generation.textgen import TextGenerator
from genrec.generation.writers import TextGenWriter

# a toy tokenizer: one id per word, "," its own id (ids above the 5 special ones)
WORDS = {w: 10 + i for i, w in enumerate([",", "Hair", "Care", "Color", "Dyes", "Face"])}


def toy_tokenize(text: str) -> list[int]:
    return [WORDS[w] for w in text.replace(",", " , ").split()]


def test_the_constraint_spells_distinct_phrases_joined_by_commas() -> None:
    c = PhraseConstraint(["Hair", "Hair Care", "Hair Color", "Face"], toy_tokenize, max_phrases=2)
    hair, care, color, comma, face = (WORDS[w] for w in ("Hair", "Care", "Color", ",", "Face"))
    assert c.allowed([]) == {hair, face}  # no <eos> before a phrase
    # "Hair" is a phrase and the start of two others: continue it, end, or start the next phrase
    assert c.allowed([hair]) == {care, color, EOS, comma}
    assert c.allowed([hair, care, comma]) == {hair, face}  # "Hair" again is a new phrase, "Hair Care" is used
    assert c.allowed([hair, care, comma, face]) == {EOS}  # two phrases: only the end is left
    assert c.allowed([face, WORDS["Dyes"]]) == set()  # off the grammar: nothing
    with pytest.raises(ValueError, match="at least one phrase"):
        PhraseConstraint([], toy_tokenize)


def test_the_processor_masks_all_but_the_allowed_tokens() -> None:
    c = PhraseConstraint(["Face"], toy_tokenize)
    desc = 4  # <desc>
    ids = torch.tensor([[1, 3, 20, desc], [1, 3, 20, desc]])
    ids[1, -1] = 20  # a row without <desc> (still in its title) is left alone
    scores = torch.zeros(2, 20)
    out = c(ids, scores)
    assert torch.isfinite(out[0]).nonzero().flatten().tolist() == [WORDS["Face"]]
    assert torch.isfinite(out[1]).all()


def test_fact_phrases_skip_common_and_stated_categories() -> None:
    paths = [["Beauty", "Hair Care", "Hair Color"], ["Beauty", "Makeup", "Face"], ["Beauty", "Makeup", "Nails"]]
    assert common_categories(paths) == {"Beauty", "Makeup"}
    assert fact_phrases("Manic Panic Hair Color, Red", paths[0], {"Beauty"}) == ["Hair Care"]
    assert fact_phrases("Foundation", ["Beauty", "Face", "Face"], ["beauty"]) == ["Face"]


KINDS = {
    "Blush": ["Makeup", "Face", "Blush"],
    "Shampoo": ["Hair Care", "Shampoos"],
    "Polish": ["Makeup", "Nails", "Nail Polish"],
}


@pytest.fixture(scope="module")
def generator() -> tuple[TextGenerator, np.ndarray]:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    words = ["Rosy", "Matte", "Glow", "Silk", "Velvet", "Bright"]
    texts = []
    for i in range(150):
        kind = list(KINDS)[i % 3]
        a, b = rng.choice(words, size=2, replace=False)
        texts.append(f"Velda {a} {b} {kind} {' '.join(KINDS[kind])}")  # bare titles, as on Amazon Beauty
    cond = rng.normal(size=(len(texts), 384)).astype(np.float32)
    cond /= np.linalg.norm(cond, axis=1, keepdims=True)
    gen = TextGenerator(
        TextGenConfig(
            vocab_size=340,
            max_length=40,
            dim=32,
            layers=1,
            heads=2,
            dropout=0.0,
            epochs=4,
            lr=5e-3,
            threads=1,
            progress=False,
            max_new_tokens=30,
        )
    )
    gen.fit(texts, cond)
    return gen, cond


def test_facts_descriptions_list_only_the_sources_own_categories(generator: tuple[TextGenerator, np.ndarray]) -> None:
    gen, cond = generator
    phrases = ["Makeup", "Face", "Blush"]
    texts = describe_with_facts(gen, "Velda Rosy Silk Blush", phrases, cond[:1], n=6, seed=3, max_phrases=3)
    assert len(texts) == 6
    # two drafts each with at most 1, 2 and 3 phrases (short and long lists for the ranking)
    for t, most in zip(texts, [1, 1, 2, 2, 3, 3]):
        assert t.title == "Velda Rosy Silk Blush"
        parts = t.description.split(", ")
        assert 1 <= len(parts) <= most and set(parts) <= set(phrases) and len(set(parts)) == len(parts), t.description


def test_a_facts_edit_keeps_the_title_and_carries_no_watermark_claim(
    generator: tuple[TextGenerator, np.ndarray],
) -> None:
    gen, cond = generator
    writer = TextGenWriter(gen, cond, watermark_key="k", rewrite="facts", common_categories=["Makeup"])
    source = {
        "_row": 0,
        "title": "Velda Rosy Silk Blush",
        "description": "",
        "brand": "Velda",
        "categories": ["Makeup", "Face", "Blush"],
        "price": 9.5,
    }
    drafts = writer.rewrite(source, [], "", Guidance(user=cond[1]), Constraints(), n=4, seed=0)
    assert len(drafts) == 4
    for d in drafts:
        # "Blush" is in the title already and "Makeup" is common: only "Face" is left to state
        assert d.title == source["title"] and d.description == "Face" and not d.watermarked
        item = to_item(writer, d, "edit", "u1", "", "i0", {}, "description")
        assert item.provenance.watermark is None and item.item_id.startswith(GENERATED_PREFIX)
        findings, _ = IdentifiabilityCheck(load_policy().checks.identifiability).find(item, CheckContext())
        assert findings == []
    # nothing left to state, or the source's brand excluded: no facts draft at all
    assert writer.rewrite({**source, "categories": ["Makeup", "Blush"]}, [], "", Guidance(), Constraints(), 4, 0) == []
    assert writer.rewrite(source, [], "", Guidance(), Constraints(exclude_brands=["Velda"]), 4, 0) == []


def test_provenance_names_the_call_that_reproduces_a_draft(generator: tuple[TextGenerator, np.ndarray]) -> None:
    """A draft records its sampling call's seed, the batch size and its position: that call gives it again."""
    gen, cond = generator
    writer = TextGenWriter(gen, cond, watermark_key="k", rewrite="description", temperature=1.0)
    source = {
        "_row": 0,
        "title": "Velda Rosy Silk Blush",
        "description": "",
        "brand": "Velda",
        "categories": ["Makeup", "Face", "Blush"],
        "price": 9.5,
    }
    for make in (
        lambda n, seed: writer.rewrite(source, [], "", Guidance(user=cond[1]), Constraints(), n, seed),
        lambda n, seed: writer.create([], "", Guidance(user=cond[1]), Constraints(), n, seed),
    ):
        drafts = make(4, 11)
        assert [(d.seed, d.sample, d.batch) for d in drafts] == [(11, i, 4) for i in range(4)]
        assert len({d.description for d in drafts}) > 1  # sampled, not one text four times
        for d in drafts:
            again = make(d.batch, d.seed)[d.sample]
            assert (again.title, again.description) == (d.title, d.description)
        item = to_item(writer, drafts[2], "edit", "u1", "", "i0", {})
        assert (item.provenance.seed, item.provenance.sample, item.provenance.batch) == (11, 2, 4)
