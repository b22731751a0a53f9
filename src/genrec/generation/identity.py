"""Identity: an edit must still read as its source item, not as another product of the catalog.

A rewrite may keep the brand, the numbers and the product type and still rename the product
("e.l.f. HD Blush, Superstar" -> "e.l.f. Velvet Palette, Blush"). The test: rank the catalog's
``"title\\ndescription"`` texts by encoder cosine to the edit; the source must be among the
``rank`` nearest. Catalog items whose text equals the source's count as the source (duplicate
listings); any other text that is as close as the source counts against it.

The embedding test alone lets appended brand, size and category words carry a renamed title
past it ("e.l.f. HD Blush, Superstar" -> "e.l.f. Cosmetics Light Dark Serum, Blush" is still
nearest its source). So an edit must also keep ``name_share`` of the words that name the
source in its title (``name_words``: 3+ letters, not brand, unit or function words).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from genrec.data.generated import GeneratedItem
from genrec.eval.generation_metrics import name_words
from genrec.vectors import unit


def source_ranks(
    edit_emb: np.ndarray, sources: Sequence[int], catalog_emb: np.ndarray, same_text: Sequence[Sequence[int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Per edit: the source's rank among distinct catalog texts by cosine (1 = nearest) and the
    nearest catalog row that is not the source. ``same_text[i]``: rows sharing row ``i``'s text."""
    sims = unit(edit_emb) @ unit(catalog_emb).T
    ranks = np.zeros(len(sources), dtype=np.int64)
    rivals = np.zeros(len(sources), dtype=np.int64)
    for k, src in enumerate(sources):
        own_rows = list(same_text[int(src)])
        own = sims[k, own_rows].max()
        sims[k, own_rows] = -np.inf
        ranks[k] = 1 + int((sims[k] >= own).sum())
        rivals[k] = int(np.argmax(sims[k]))
    return ranks, rivals


def same_text_groups(texts: Sequence[str]) -> list[list[int]]:
    """For every row, the rows whose text is exactly the same (itself included)."""
    groups: dict[str, list[int]] = {}
    for i, t in enumerate(texts):
        groups.setdefault(t, []).append(i)
    return [groups[t] for t in texts]


class IdentityGuard:
    """Says which edits no longer read as their source (the catalog texts are encoded on first use)."""

    def __init__(
        self,
        texts: Sequence[str],
        item_ids: Sequence[str],
        encoder: Any,
        rank: int = 1,
        catalog_emb: np.ndarray | None = None,
        name_share: float = 0.0,
        brands: Sequence[str | None] | None = None,
    ) -> None:
        if len(texts) != len(item_ids):
            raise ValueError(f"{len(texts)} catalog texts but {len(item_ids)} item ids")
        if not 0.0 <= name_share <= 1.0:
            raise ValueError(f"name_share must be in [0, 1], got {name_share}")
        if brands is not None and len(brands) != len(texts):
            raise ValueError(f"{len(texts)} catalog texts but {len(brands)} brands")
        if catalog_emb is not None and len(catalog_emb) != len(texts):
            raise ValueError(f"{len(texts)} catalog texts but {len(catalog_emb)} catalog embeddings")
        self.texts = list(texts)
        self.row = {str(x): i for i, x in enumerate(item_ids)}
        self.ids = [str(x) for x in item_ids]
        self.encoder = encoder
        self.rank = rank
        self.name_share = name_share
        self.brands = (
            [None] * len(self.texts) if brands is None else [b if isinstance(b, str) else None for b in brands]
        )
        self._emb = None if catalog_emb is None else np.asarray(catalog_emb, dtype=np.float32)
        self._groups = same_text_groups(self.texts)

    def problems(self, items: Sequence[GeneratedItem]) -> list[str]:
        """Per item, why it no longer reads as its source ('' if it does, or it is no edit of a catalog item)."""
        return ["; ".join(r) for r in self.reasons(items)]

    def reasons(self, items: Sequence[GeneratedItem]) -> list[list[str]]:
        """Per item, each reason it no longer reads as its source (none if it does, or it is no edit of a catalog item)."""
        out: list[list[str]] = [[] for _ in items]
        todo = [
            k
            for k, it in enumerate(items)
            if it.provenance.kind == "edit" and str(it.provenance.source_item_id) in self.row
        ]
        if self.rank > 0 and todo:
            if self._emb is None:
                self._emb = np.asarray(self.encoder.encode(self.texts), dtype=np.float32)
            emb = self.encoder.encode([items[k].text for k in todo])
            sources = [self.row[str(items[k].provenance.source_item_id)] for k in todo]
            ranks, rivals = source_ranks(emb, sources, self._emb, self._groups)
            for k, rank, rival in zip(todo, ranks, rivals):
                if rank > self.rank:
                    title = self.texts[rival].split("\n")[0][:60]
                    out[k].append(
                        f"reads as another product: {self.ids[rival]} {title!r} is nearer than the "
                        f"source (source ranks {rank}, at most {self.rank} allowed)"
                    )
        if self.name_share > 0:
            for k in todo:
                lost = self.lost_name(items[k])
                if lost:
                    out[k].append(lost)
        return out

    def lost_name(self, item: GeneratedItem) -> str:
        """Why ``item`` (an edit of a catalog item) drops too many of its source's name words, or ''."""
        row = self.row[str(item.provenance.source_item_id)]
        brand = self.brands[row]
        before = name_words(self.texts[row].split("\n")[0], brand)
        if not before:
            return ""
        lost = sorted(before - name_words(item.title, brand))
        kept = 1 - len(lost) / len(before)
        if kept + 1e-9 >= self.name_share:
            return ""
        return (
            f"renames the product: drops {', '.join(repr(w) for w in lost)} from its source's title "
            f"(keeps {kept:.0%} of its name words, at least {self.name_share:.0%} required)"
        )
