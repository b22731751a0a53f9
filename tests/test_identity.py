"""An edit must still read as its source item: the identity guard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genrec.config import EncoderConfig
from genrec.data.generated import GeneratedItem, Provenance
from genrec.encoders.text import TextEncoder
from genrec.generation.identity import IdentityGuard, same_text_groups, source_ranks


def test_source_ranks_count_duplicates_as_the_source_and_name_the_nearest_rival() -> None:
    catalog = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
    groups = same_text_groups(["a", "a", "b", "c"])
    assert groups == [[0, 1], [0, 1], [2], [3]]
    edits = np.array([[1.0, 0.1], [0.1, 1.0], [0.0, 1.0]])
    ranks, rivals = source_ranks(edits, [0, 0, 2], catalog, groups)
    # edit 0 is nearest its source; row 1 has the same text, so it is no rival
    assert ranks[0] == 1 and rivals[0] == 3
    # edit 1 reads as item 2, then item 3, before its source 0
    assert ranks[1] == 3 and rivals[1] == 2
    assert ranks[2] == 1


def test_source_ranks_rank_ties_against_the_source() -> None:
    catalog = np.array([[1.0, 0.0], [1.0, 0.0]])
    ranks, _ = source_ranks(np.array([[1.0, 0.0]]), [0], catalog, same_text_groups(["x", "y"]))
    assert ranks[0] == 2


def _edit(source: str, title: str, description: str = "", kind: str = "edit") -> GeneratedItem:
    prov = Provenance(kind, "test", "0", user_id="u1", source_item_id=source if kind == "edit" else None)
    return GeneratedItem(title, description, "Acme", ["Beauty"], 9.0, provenance=prov)


@pytest.fixture(scope="module")
def guard(tmp_path_factory: pytest.TempPathFactory) -> IdentityGuard:
    texts = [
        "Acme HD Blush, Superstar, 0.34 Ounce",
        "Acme Velvet Eyeshadow Palette, 12 colors, 0.5 Ounce",
        "Norvik Stainless Steel French Press, 600 ml\nKeeps coffee hot for hours.",
    ]
    cache = Path(tmp_path_factory.mktemp("emb"))
    encoder = TextEncoder(EncoderConfig(progress=False, cache_dir=str(cache)))
    return IdentityGuard(texts, ["b1", "p2", "f3"], encoder, rank=1)


def test_an_edit_that_renames_the_product_is_named_with_its_rival(guard: IdentityGuard) -> None:
    renamed = _edit("b1", "Acme Velvet Eyeshadow Palette, 0.34 Ounce, Blush")
    kept = _edit("b1", "Acme HD Blush, Superstar, 0.34 Ounce", "A soft everyday glow for your cheeks.")
    problems = guard.problems([renamed, kept])
    assert "p2" in problems[0] and "Velvet" in problems[0], problems
    assert problems[1] == ""


def test_creations_unknown_sources_and_rank_zero_are_not_judged(guard: IdentityGuard) -> None:
    creation = _edit("", "Acme Velvet Eyeshadow Palette, 12 colors, 0.5 Ounce", kind="create")
    unknown = _edit("zz", "Acme Velvet Eyeshadow Palette, 12 colors, 0.5 Ounce")
    assert guard.problems([creation, unknown]) == ["", ""]
    off = IdentityGuard(guard.texts, guard.ids, guard.encoder, rank=0)
    assert off.problems([_edit("b1", "Acme Velvet Eyeshadow Palette, 0.34 Ounce")]) == [""]


def test_the_guard_rejects_mismatched_inputs() -> None:
    with pytest.raises(ValueError, match="2 catalog texts but 1 item ids"):
        IdentityGuard(["a", "b"], ["x"], encoder=None)
    with pytest.raises(ValueError, match="catalog embeddings"):
        IdentityGuard(["a"], ["x"], encoder=None, catalog_emb=np.zeros((2, 3)))


def test_the_name_gate_blocks_an_edit_that_drops_a_name_word(guard: IdentityGuard) -> None:
    strict = IdentityGuard(
        guard.texts, guard.ids, guard.encoder, rank=0, name_share=1.0, brands=["Acme", "Acme", "Norvik"]
    )
    # the embedding test alone lets this one through: brand, size and product type keep it nearest its source
    partly_renamed = _edit("b1", "Acme Light Dark Serum, 0.34 Ounce, Blush")
    reordered = _edit("b1", "Superstar Blush by Acme (HD), 0.34 Ounce", "For a soft glow.")
    reasons = strict.reasons([partly_renamed, reordered])
    assert len(reasons[0]) == 1 and "'superstar'" in reasons[0][0] and "keeps 50%" in reasons[0][0], reasons
    assert reasons[1] == []
    half = IdentityGuard(
        guard.texts, guard.ids, guard.encoder, rank=0, name_share=0.5, brands=["Acme", "Acme", "Norvik"]
    )
    assert half.problems([partly_renamed]) == [""]


def test_both_identity_reasons_are_given(guard: IdentityGuard) -> None:
    both = IdentityGuard(
        guard.texts, guard.ids, guard.encoder, rank=1, name_share=1.0, brands=["Acme", "Acme", "Norvik"]
    )
    (reasons,) = both.reasons([_edit("b1", "Acme Velvet Eyeshadow Palette, 12 colors, 0.34 Ounce")])
    assert reasons[0].startswith("reads as another product: p2") and reasons[1].startswith("renames the product")


def test_the_name_gate_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="name_share must be in"):
        IdentityGuard(["a"], ["x"], encoder=None, name_share=1.5)
    with pytest.raises(ValueError, match="1 catalog texts but 2 brands"):
        IdentityGuard(["a"], ["x"], encoder=None, brands=["A", "B"])
