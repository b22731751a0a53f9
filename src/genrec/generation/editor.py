"""The AI editor: repurpose an existing item for a user, by selection or by rewriting.

Selection is the text form of GeneRec's personalised thumbnail selection (``selection.py``): show
the segment of the item's text closest to the user. Rewriting asks a ``Writer`` (genrec's own
generator or the LLM) for new texts of the same product, steered by the user and instruction.
Every result is a ``GeneratedItem`` whose provenance names the source item, user, instruction,
generator and version, and the watermark used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from genrec.data.generated import GeneratedItem, Provenance
from genrec.generation.intent import Constraints, Guidance
from genrec.generation.selection import Segment, as_generated, select_segment, split_segments
from genrec.generation.writers import Draft, Writer
from genrec.vectors import unit

#: Scores item records (``GeneratedItem.record()``-shaped) for one user: higher = more likely liked.
ItemScorer = Callable[[list[dict[str, Any]]], np.ndarray]


class Catalog:
    """Item records by id (and row), the shape writers and checks read."""

    def __init__(self, items: pd.DataFrame) -> None:
        self.items = items.reset_index(drop=True)
        self.row = {str(x): i for i, x in enumerate(self.items["item_id"])}

    @property
    def ids(self) -> list[str]:
        """Item ids in row order."""
        return list(self.row)

    def rows_in(self, categories: Sequence[str]) -> list[int]:
        """Rows of the items in any of ``categories`` (case-insensitive)."""
        wanted = {c.lower() for c in categories}
        return [
            i
            for i, cats in enumerate(self.items["categories"])
            if wanted & {str(c).lower() for c in (cats if cats is not None else [])}
        ]

    def record(self, item_id: str) -> dict[str, Any]:
        """The item's fields plus its row (``_row``); KeyError names the unknown id."""
        if item_id not in self.row:
            raise KeyError(f"unknown item id {item_id!r}")
        i = self.row[item_id]
        rec = self.items.iloc[i].to_dict()
        rec["_row"] = i
        return rec

    def records(self, item_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Records of the known ids, in order (unknown ids, e.g. generated items, skipped)."""
        return [self.record(x) for x in item_ids if x in self.row]


class Editor:
    """Personalised selection and rewriting of existing items."""

    def __init__(self, writer: Writer, catalog: Catalog, encoder: Any) -> None:
        self.writer = writer
        self.catalog = catalog
        self.encoder = encoder

    def select(
        self,
        item_id: str,
        user_vector: np.ndarray,
        user_id: str | None = None,
        method: str = "personal",
        scorer: ItemScorer | None = None,
        floor: str = "first",
    ) -> GeneratedItem:
        """The item shown through one segment of its text (GeneRec Eq. 1-2): the one closest to the
        user, or with ``method="recommender"`` the one ``scorer`` (the recommender) rates best among
        those at least as close to the user as ``floor`` (``selection.FLOORS``)."""
        rec = {k: v for k, v in self.catalog.record(item_id).items() if k != "_row"}
        text = f"{rec['title']}\n{rec.get('description') or ''}"
        scores = None
        if method == "recommender":
            if scorer is None:
                raise ValueError("method 'recommender' needs a scorer (the recommender's prospective scores)")
            shown = [
                as_generated(rec, Segment(seg, k, 0.0), user_id, method).record()
                for k, seg in enumerate(split_segments(text))
            ]
            scores = np.asarray(scorer(shown), dtype=np.float64)
        segment = select_segment(text, user_vector, self.encoder, method=method, segment_scores=scores, floor=floor)
        return as_generated(rec, segment, user_id=user_id, method=method)

    def rewrite(
        self,
        item_id: str,
        user_id: str | None,
        liked: Sequence[str],
        instruction: str,
        guidance: Guidance,
        constraints: Constraints | None = None,
        n: int = 1,
        seed: int = 0,
    ) -> list[GeneratedItem]:
        """``n`` rewrites of ``item_id`` for the user; facts (brand, category, price) come from the source."""
        source = self.catalog.record(item_id)
        drafts = self.writer.rewrite(
            source, self.catalog.records(liked), instruction, guidance, constraints or Constraints(), n, seed
        )
        attrs = dict(source.get("attributes") or {})
        title = str(source.get("title") or "").strip()
        # a draft that kept the source title was watermarked in its description only
        return [
            to_item(
                self.writer,
                d,
                "edit",
                user_id,
                instruction,
                item_id,
                attrs,
                "description" if d.title == title and d.description else None,
            )
            for d in drafts
        ]


class Creator:
    """New items for a user, conditioned on user and instruction guidance, without a source item."""

    def __init__(self, writer: Writer, catalog: Catalog, item_embeddings: np.ndarray | None = None) -> None:
        self.writer = writer
        self.catalog = catalog
        self.emb = None if item_embeddings is None else np.asarray(item_embeddings, dtype=np.float32)

    def create(
        self,
        user_id: str | None,
        liked: Sequence[str],
        instruction: str,
        guidance: Guidance,
        constraints: Constraints | None = None,
        n: int = 1,
        seed: int = 0,
    ) -> list[GeneratedItem]:
        """``n`` new items; category and price follow the constraints (else the user's liked items).

        When a category is asked for, the mean embedding of the catalog's items in it joins the
        guidance (``extras["category"]``), and if the user liked nothing there, the category's
        items closest to the guidance stand in as examples (price level, in-context examples).
        """
        cons = constraints or Constraints()
        examples = self.catalog.records(liked)
        rows = self.catalog.rows_in(cons.categories) if cons.categories else []
        if rows and self.emb is not None:
            centre = self.emb[rows].mean(axis=0)
            guidance = dataclasses.replace(guidance, extras={**guidance.extras, "category": unit(centre)})
            wanted = set(cons.categories)
            if not any(wanted & set(e.get("categories") or []) for e in examples):
                near = np.asarray(rows)[np.argsort(-(self.emb[rows] @ guidance.extras["category"]))[:3]]
                examples = [self.catalog.record(self.catalog.ids[i]) for i in near]
        drafts = self.writer.create(examples, instruction, guidance, cons, n, seed)
        return [
            to_item(
                self.writer,
                d,
                "create",
                user_id,
                instruction,
                None,
                {"product_type": d.categories[-1]} if d.categories else {},
            )
            for d in drafts
        ]


def to_item(
    writer: Writer,
    d: Draft,
    kind: str,
    user_id: str | None,
    instruction: str,
    source: str | None,
    attributes: dict[str, Any],
    watermarked: str | None = None,
) -> GeneratedItem:
    """A draft as a GeneratedItem with full provenance (``watermarked``: the field sampled with the
    watermark, "title" or "description", when not the whole text)."""
    mark = writer.watermark
    params = (
        None
        if mark is None or not d.watermarked
        else {**mark.params(), **({"field": watermarked} if watermarked else {})}
    )
    prov = Provenance(
        kind,
        writer.name,
        writer.version,
        user_id=user_id,
        instruction=instruction,
        source_item_id=source,
        seed=d.seed,
        sample=d.sample,
        batch=d.batch,
        watermark=params,
    )
    return GeneratedItem(
        title=d.title,
        description=d.description,
        brand=d.brand,
        categories=list(d.categories),
        price=d.price,
        attributes=attributes,
        provenance=prov,
    )
