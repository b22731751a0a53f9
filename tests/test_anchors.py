"""Fact-keeping edits: anchors for rewritten titles, no sampled digits, no other brands' names."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrec.config import TextGenConfig
from genrec.eval.generation_metrics import fact_keeping
from genrec.fidelity._catalog import build_brand_lexicon
from genrec.fidelity.authenticity import extract_numbers
from genrec.generation.anchors import anchor_title, missing_facts, strip_unsupported_numbers
from genrec.generation.intent import Constraints, Guidance
from genrec.generation.textgen import TextGenerator
from genrec.generation.writers import TextGenWriter, _drop_brands

BRANDS = ("Velda", "Kimbo", "Orto Labs")


def test_missing_facts_lists_what_the_draft_does_not_state() -> None:
    source = "Velda HD Blush, Superstar, 0.34 Ounce\nSPF 30 in a $12.99 compact, pack of 2."
    assert missing_facts(source, "Velda Rosy Blush", ["Makeup", "Blush"]) == [
        "$12.99",
        "0.34 Ounce",
        "SPF 30",
        "pack of 2",
    ]
    # stated facts are not repeated, in another unit of the same dimension either
    assert missing_facts(source, "Velda Blush 0.34 oz, SPF 30, pack of 2, $12.99", ["Blush"]) == []
    assert missing_facts(source, "Velda Blush, 9.6 g", ["Blush"]) == ["$12.99", "SPF 30", "pack of 2"]
    # within one unit only the exact amount counts: 0.33 Ounce is no statement of 0.34 Ounce
    assert "0.34 Ounce" in missing_facts(source, "Velda Blush, 0.33 Ounce", ["Blush"])
    assert strip_unsupported_numbers("Velda Blush, 0.33 Ounce", source) == "Velda Blush"
    # a category the source's text never names is no fact of it
    assert missing_facts("Velda Rosy Cheek Colour", "Velda Glow", ["Blush"]) == []


def test_anchor_title_appends_the_facts() -> None:
    assert anchor_title("Velda Rosy Glow -", ["Blush", "0.34 Ounce"]) == "Velda Rosy Glow, Blush, 0.34 Ounce"
    assert anchor_title("Velda Rosy Glow", []) == "Velda Rosy Glow"


def test_unsupported_numbers_are_cut_with_their_units() -> None:
    source = "Velda Walking Shoes, EU 46\nLight, with a 2-year warranty."
    notes: list[str] = []
    out = strip_unsupported_numbers("Velda Trail Shoes, EU 44, 3-year warranty, 2 year guarantee", source, notes)
    assert out == "Velda Trail Shoes, warranty, 2 year guarantee" and len(notes) == 2
    assert strip_unsupported_numbers("Velda Shoes for $20.00, EU 46", source) == "Velda Shoes for, EU 46"


def test_drop_brands_removes_only_other_brands() -> None:
    lexicon = build_brand_lexicon([(f"{b} thing", b) for b in BRANDS])
    notes: list[str] = []
    text = _drop_brands("As soft as Kimbo , from Velda and Orto Labs.", lexicon, {"velda"}, notes)
    assert text == "As soft as, from Velda and." and len(notes) == 2


def _numbered_corpus(n: int = 160, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    words = ["Rosy", "Matte", "Glow", "Silk", "Velvet", "Bright", "Soft", "Pure"]
    kinds = ["Blush", "Lipstick", "Cream", "Serum"]
    texts = []
    for i in range(n):
        brand, kind = BRANDS[i % 3], kinds[i % 4]
        a, b = rng.choice(words, size=2, replace=False)
        texts.append(
            f"{brand} {a} {b} {kind}, {rng.integers(1, 9)}.{rng.integers(0, 9)} Ounce\n"
            f"A {a.lower()} {kind.lower()} by {BRANDS[(i + 1) % 3]}, {rng.integers(10, 99)} ml."
        )
    cond = rng.normal(size=(n, 384)).astype(np.float32)
    return texts, cond / np.linalg.norm(cond, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def writer() -> TextGenWriter:
    torch.set_num_threads(1)
    texts, cond = _numbered_corpus()
    gen = TextGenerator(
        TextGenConfig(
            vocab_size=360,
            max_length=48,
            dim=48,
            layers=2,
            heads=2,
            dropout=0.0,
            epochs=12,
            lr=5e-3,
            threads=1,
            progress=False,
            max_new_tokens=40,
        )
    )
    gen.fit(texts, cond)
    lexicon = build_brand_lexicon([(t.split("\n")[0], BRANDS[i % 3]) for i, t in enumerate(texts)])
    return TextGenWriter(gen, cond, rewrite="anchored", brand_lexicon=lexicon, brands=BRANDS)


def test_anchored_rewrites_keep_brand_facts_and_invent_no_number(writer: TextGenWriter) -> None:
    source = {
        "_row": 0,
        "title": "Velda Rosy Silk Blush, 2.5 Ounce",
        "description": "",
        "brand": "Velda",
        "categories": ["Beauty", "Blush"],
        "price": 9.5,
    }
    drafts = writer.rewrite(source, [], "", Guidance(), Constraints(), n=6, seed=0)
    assert len(drafts) == 6
    for d in drafts:
        text = f"{d.title}\n{d.description}"
        assert d.title.startswith("Velda") and d.brand == "Velda" and d.price == 9.5
        assert "blush" in text.lower() and "2.5 Ounce" in d.title
        assert fact_keeping(source["title"], text, "Velda", ["blush"]) == 1.0
        # the title's only number is the source's (descriptions are cut by the authenticity repair)
        assert [f.text for f in extract_numbers(d.title)] == ["2.5 Ounce"], d.title
        assert "Kimbo" not in text and "Orto Labs" not in text, text
    # the free words differ between drafts: the anchors do not freeze the rewrite
    assert len({d.title for d in drafts}) > 1


def test_an_excluded_brand_never_stays(writer: TextGenWriter) -> None:
    source = {
        "_row": 0,
        "title": "Velda Rosy Silk Blush, 2.5 Ounce",
        "description": "",
        "brand": "Velda",
        "categories": ["Beauty", "Blush"],
        "price": 9.5,
    }
    drafts = writer.rewrite(source, [], "", Guidance(), Constraints(exclude_brands=["Velda"]), n=4, seed=0)
    assert all("velda" not in f"{d.title} {d.description}".lower() and d.brand is None for d in drafts)


def test_a_blocked_edit_comes_back_without_its_unsupported_sentence() -> None:
    import pandas as pd

    from genrec.data.generated import GeneratedItem, Provenance
    from genrec.fidelity.base import CheckContext
    from genrec.fidelity.checker import FidelityChecker
    from genrec.generation.repair import check_and_repair, cut_flagged_sentences, sentence_spans

    catalog = pd.DataFrame(
        [
            {
                "item_id": "a",
                "title": "Velda Walking Shoes, EU 46",
                "brand": "Velda",
                "description": "Light walking shoes made of canvas.",
                "categories": ["Shoes"],
                "price": 50.0,
                "attributes": {},
            }
        ]
    )
    text = "Light and quick on the road. Made of merino wool! Ready for every walk"
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "Light and quick on the road.",
        "Made of merino wool!",
        "Ready for every walk",
    ]
    prov = Provenance("edit", "textgen", "1", user_id="u", source_item_id="a")
    draft = GeneratedItem(
        title="Velda Walking Shoes, EU 46",
        description=text,
        brand="Velda",
        categories=["Shoes"],
        price=50.0,
        provenance=prov,
    )
    clean = GeneratedItem(
        title="Velda Walking Shoes, EU 46",
        description="Light and quick on the road.",
        brand="Velda",
        categories=["Shoes"],
        price=50.0,
        provenance=prov,
    )
    checker = FidelityChecker()
    out = check_and_repair(checker, [draft, clean], CheckContext(catalog=catalog))
    assert draft.blocked and "unsupported_material" in str(draft.fidelity) and not clean.blocked
    assert len(out) == 3  # both drafts (checked) and the repaired copy of the blocked one
    fixed = out[2]
    assert fixed.description == "Light and quick on the road. Ready for every walk"
    assert not fixed.blocked and fixed.item_id != draft.item_id and fixed.provenance == draft.provenance
    # a draft blocked by another check is not "repaired"
    other = GeneratedItem(
        title="Velda Walking Shoes, EU 46",
        description="Write to jane.doe@example.com today.",
        brand="Velda",
        categories=["Shoes"],
        price=50.0,
        provenance=prov,
    )
    checker.check_many([other], CheckContext(catalog=catalog))
    assert other.blocked and cut_flagged_sentences(other) is None


def test_append_keeps_title_and_description_and_adds_to_them(writer: TextGenWriter) -> None:
    source = {
        "_row": 0,
        "title": "Velda Rosy Silk Blush, 2.5 Ounce",
        "description": "A rosy blush by Velda.",
        "brand": "Velda",
        "categories": ["Beauty", "Blush"],
        "price": 9.5,
    }
    appender = TextGenWriter(
        writer.generator, writer.emb, rewrite="append", min_description_tokens=4, brand_lexicon=writer.brand_lexicon
    )
    drafts = appender.rewrite(source, [], "", Guidance(), Constraints(), n=4, seed=0)
    for d in drafts:
        assert d.title == source["title"] and d.description.startswith(source["description"])
        assert len(d.description) > len(source["description"])
    with pytest.raises(ValueError, match="rewrite"):
        TextGenWriter(writer.generator, writer.emb, rewrite="auto")


def test_auto_rewrite_follows_the_catalog() -> None:
    import pandas as pd

    from genrec.generation.writers import resolve_rewrite

    described = pd.DataFrame({"description": ["a", "b", "", "c"]})
    bare = pd.DataFrame({"description": ["", None, "", "c"]})
    assert resolve_rewrite("auto", described) == "description+facts"
    assert resolve_rewrite("auto", bare) == "facts"
    assert resolve_rewrite("full", bare) == "full"
    with pytest.raises(ValueError, match="rewrite"):
        resolve_rewrite("whatever", bare)
