"""Copy detection against the human catalog: shingles per field, and rare words for light paraphrases.

Two measures, both on normalised text (``genrec.textnorm``):

* **Shingles.** Word 3-grams of every item's title and description, indexed per field; shingles
  in more than ``max_df`` fields are boilerplate and dropped. An item is copied when a text holds
  most of the remaining shingles of its title or of its description (containment), or most of
  both together (Jaccard). Per field, because on a templated catalog a copied description under
  a new title would otherwise be diluted by the title's shingles.
* **Content words.** A light paraphrase changes the shingles but keeps the item's words: the share
  of an item's words, each weighted by its rarity in the catalog (inverse document frequency),
  that a text repeats. Common words (in over a tenth of the items) weigh nothing.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from genrec.fidelity._text import ShingleIndex, merge_spans
from genrec.textnorm import tokens

_FIELD_SEP = "\x00"
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "with",
        "your",
        "you",
        "our",
        "these",
        "those",
        "they",
        "them",
        "their",
        "it's",
    ]
)


@dataclass
class CopyHit:
    """How much of one human item a text repeats."""

    item_id: str
    score: float
    how: str  # "shingles" or "words"
    spans: list[tuple[int, int]]  # spans of the query text that repeat the item


class CopyIndex:
    """Shingle and content-word indexes over a catalog's (normalised) titles and descriptions."""

    def __init__(self, docs: Iterable[tuple[str, str, str]], shingle_size: int, max_df: int) -> None:
        """``docs``: (item id, normalised title, normalised description)."""
        self.shingles = ShingleIndex(shingle_size)
        word_df: Counter[str] = Counter()
        self.words: dict[str, set[str]] = {}
        for item_id, title, description in docs:
            for fld, text in (("t", title), ("d", description)):
                if text.strip():
                    self.shingles.add(f"{item_id}{_FIELD_SEP}{fld}", text)
            ws = {t.text for t in tokens(f"{title} {description}")} - _STOPWORDS
            self.words[item_id] = ws
            word_df.update(ws)
        self.shingles.drop_common(max_df)
        n = max(1, len(self.words))
        self.idf = {w: math.log(n / df) for w, df in word_df.items() if df <= max(2, n // 10)}
        self.postings: dict[str, set[str]] = defaultdict(set)
        for item_id, ws in self.words.items():
            for w in ws:
                if w in self.idf:
                    self.postings[w].add(item_id)
        self.weight = {item_id: sum(self.idf.get(w, 0.0) for w in ws) for item_id, ws in self.words.items()}

    def by_shingles(self, text: str, exclude: set[str]) -> dict[str, tuple[float, list[tuple[int, int]]]]:
        """Per human item: max(containment of its title, of its description, Jaccard of both) and the spans."""
        hits = self.shingles.query(text)
        per_item: dict[str, list] = defaultdict(list)
        for o in hits:
            item_id, _, _fld = o.key.partition(_FIELD_SEP)
            if item_id not in exclude:
                per_item[item_id].append(o)
        out = {}
        for item_id, overlaps in per_item.items():
            shared = sum(o.shared for o in overlaps)
            size = sum(o.doc_size for o in overlaps)
            query = overlaps[0].query_size
            union = query + size - shared
            jaccard = shared / union if union else 0.0
            field_best = max((o.doc_containment for o in overlaps if o.doc_size >= 3), default=0.0)
            spans = merge_spans(s for o in overlaps for s in o.spans)
            out[item_id] = (max(jaccard, field_best), spans)
        return out

    def by_words(self, text: str, exclude: set[str], min_words: int) -> dict[str, tuple[float, list[tuple[int, int]]]]:
        """Per human item sharing a rare word: the rarity-weighted share of its words ``text`` repeats."""
        toks = tokens(text)
        words = {t.text for t in toks}
        candidates: set[str] = set()
        for w in words:
            if w in self.idf and len(self.postings[w]) <= 200:
                candidates |= self.postings[w]
        out = {}
        for item_id in candidates - exclude:
            own = self.words[item_id]
            if sum(w in self.idf for w in own) < min_words or self.weight[item_id] <= 0:
                continue
            shared = own & words
            score = sum(self.idf.get(w, 0.0) for w in shared) / self.weight[item_id]
            spans = merge_spans((t.start, t.end) for t in toks if t.text in shared and t.text in self.idf)
            out[item_id] = (score, spans)
        return out

    def best(
        self, text: str, exclude: set[str], shingle_threshold: float, word_threshold: float, min_words: int
    ) -> tuple[CopyHit | None, float, float]:
        """The human item ``text`` copies most (None below both thresholds), and the top shingle and word scores."""
        found: list[CopyHit] = []
        top_shingles = top_words = 0.0
        for item_id, (score, spans) in self.by_shingles(text, exclude).items():
            top_shingles = max(top_shingles, score)
            if score >= shingle_threshold:
                found.append(CopyHit(item_id, score, "shingles", spans))
        for item_id, (score, spans) in self.by_words(text, exclude, min_words).items():
            top_words = max(top_words, score)
            if score >= word_threshold:
                found.append(CopyHit(item_id, score, "words", spans))
        hit = max(found, key=lambda h: (h.how == "shingles", h.score, h.item_id)) if found else None
        return hit, top_shingles, top_words

    def similar(
        self, text: str, exclude: set[str], shingle_threshold: float, word_threshold: float, min_words: int
    ) -> set[str]:
        """Every human item ``text`` copies by either measure."""
        out = {i for i, (score, _) in self.by_shingles(text, exclude).items() if score >= shingle_threshold}
        out |= {i for i, (score, _) in self.by_words(text, exclude, min_words).items() if score >= word_threshold}
        return out
