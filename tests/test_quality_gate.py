"""The quality gate asks for a description only where the catalog's own items have one."""

from __future__ import annotations

import pandas as pd

from genrec.data.generated import GeneratedItem, Provenance
from genrec.generation.pipeline import quality_problem
from genrec.generation.writers import has_descriptions, resolve_rewrite


def _item(title: str, description: str = "") -> GeneratedItem:
    return GeneratedItem(title, description, "Acme", ["Blush"], 9.0, provenance=Provenance("create", "test", "0"))


def test_descriptions_are_asked_for_only_when_the_catalog_has_them() -> None:
    bare = pd.DataFrame({"description": ["", None, "", "Soft matte finish."]})
    described = pd.DataFrame({"description": ["Soft.", "Matte finish.", "", "Long wear."]})
    assert not has_descriptions(bare) and has_descriptions(described)
    assert not has_descriptions(pd.DataFrame({"title": ["x"]}))
    assert resolve_rewrite("auto", bare) == "facts"
    assert resolve_rewrite("auto", described) == "description+facts"
    title_only = _item("Acme HD Blush, Superstar, 0.34 Ounce")
    assert quality_problem(title_only) == "description too short"
    assert quality_problem(title_only, need_description=False) == ""
    assert quality_problem(_item("Blush", "A soft matte finish."), need_description=False) == "title too short"


def test_the_gate_names_repeated_words_and_foreign_vocabulary() -> None:
    assert (
        quality_problem(_item("Acme Blush Blush Blush Pink", "A soft matte finish.")) == "repeated words in the title"
    )
    vocabulary = {"acme", "blush", "pink", "a", "soft", "matte", "finish"}
    assert quality_problem(_item("Acme Blush Pink", "A soft matte finish."), vocabulary) == ""
    odd = quality_problem(_item("Zorp Qlix Vrem", "Blorf snarg wibble."), vocabulary)
    assert odd.startswith("only 0% of its words"), odd


def test_a_creation_blocked_for_made_up_words_comes_back_respelled() -> None:
    """A small generator drops a letter ('mudy', 'recled'): the draft stays blocked, and a copy with the
    catalog's words ('muddy', 'recycled') is checked instead; a word with no near catalog word is not guessed."""
    from genrec.data.generated import GeneratedItem, Provenance
    from genrec.generation.pipeline import non_words, quality_problem
    from genrec.generation.repair import respell

    vocabulary = {"breathable", "walking", "shoes", "for", "muddy", "trails", "made", "from", "recycled", "mesh"}
    prov = Provenance("create", "textgen", "1", user_id="u")
    draft = GeneratedItem(
        title="Breathable Walking Shoes for Mudy trails",
        description="Made from recled mesh for muddy trails.",
        brand=None,
        categories=["shoes"],
        price=50.0,
        provenance=prov,
    )
    assert "neither the catalog's nor English" in quality_problem(draft, vocabulary)
    fixed = respell(draft, non_words(draft.text, vocabulary), sorted(vocabulary))
    assert fixed is not None and fixed.item_id != draft.item_id and fixed.fidelity is None
    assert fixed.title == "Breathable Walking Shoes for Muddy trails"
    assert fixed.description == "Made from recycled mesh for muddy trails."
    assert quality_problem(fixed, vocabulary) == ""
    assert respell(draft, ["zqxw"], sorted(vocabulary)) is None
