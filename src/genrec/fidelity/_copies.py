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

from genrec.fidelity._text import ShingleIndex, merge_spans, shingles
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

    def __init__(self, docs: Iterable[tuple[str, str, str, str]], shingle_size: int, max_df: int) -> None:
        """``docs``: (item id, normalised title, normalised description, normalised brand or "")."""
        self.shingles = ShingleIndex(shingle_size)
        word_df: Counter[str] = Counter()
        self.words: dict[str, set[str]] = {}
        self.brand_words: dict[str, frozenset[str]] = {}
        for item_id, title, description, brand in docs:
            if brand:
                self.brand_words[item_id] = frozenset(t.text for t in tokens(brand))
            for fld, text in (("t", title), ("d", description)):
                if text.strip():
                    self.shingles.add(f"{item_id}{_FIELD_SEP}{fld}", text)
            ws = {t.text for t in tokens(f"{title} {description}")} - _STOPWORDS
            self.words[item_id] = ws
            word_df.update(ws)
        self.shingles.drop_common(max_df)
        self.doc_shingles: dict[str, frozenset[str]] = defaultdict(frozenset)
        per_doc: dict[str, set[str]] = defaultdict(set)
        for key, docs_of in self.shingles.postings.items():
            for doc in docs_of:
                per_doc[doc].add(key)
        self.doc_shingles.update({doc: frozenset(keys) for doc, keys in per_doc.items()})
        n = max(1, len(self.words))
        self.idf = {w: math.log(n / df) for w, df in word_df.items() if df <= max(2, n // 10)}
        self.postings: dict[str, set[str]] = defaultdict(set)
        for item_id, ws in self.words.items():
            for w in ws:
                if w in self.idf:
                    self.postings[w].add(item_id)
        self.weight = {item_id: sum(self.idf.get(w, 0.0) for w in ws) for item_id, ws in self.words.items()}
        self.content = {item_id: sum(w in self.idf for w in ws) for item_id, ws in self.words.items()}

    def _shingle_scores(self, text: str, exclude: set[str]) -> tuple[dict[str, float], list]:
        """Per human item: max(containment of its title, of its description, Jaccard of both); and the query shingles."""
        found = [sh for sh in shingles(text, self.shingles.n) if sh.key not in self.shingles.stop]
        keys = {sh.key for sh in found}
        shared: Counter[str] = Counter()
        for key in keys:
            for doc in self.shingles.postings.get(key, ()):
                shared[doc] += 1
        per_item: dict[str, list[tuple[int, int]]] = defaultdict(list)  # item -> [(shared, doc size)]
        for doc, n in shared.items():
            item_id = doc.split(_FIELD_SEP, 1)[0]
            if item_id not in exclude:
                per_item[item_id].append((n, self.shingles.sizes[doc]))
        out = {}
        for item_id, parts in per_item.items():
            common = sum(n for n, _ in parts)
            size = sum(d for _, d in parts)
            union = len(keys) + size - common
            jaccard = common / union if union else 0.0
            field_best = max((n / d for n, d in parts if d >= 3), default=0.0)
            out[item_id] = max(jaccard, field_best)
        return out, found

    def _shingle_spans(self, item_id: str, found: list) -> list[tuple[int, int]]:
        docs = {f"{item_id}{_FIELD_SEP}t", f"{item_id}{_FIELD_SEP}d"}
        return merge_spans(
            (sh.start, sh.end) for sh in found if not docs.isdisjoint(self.shingles.postings.get(sh.key, ()))
        )

    def _word_scores(self, text: str, exclude: set[str], min_words: int) -> dict[str, float]:
        """Per human item sharing a rare word (and its brand): the rarity-weighted share of its words ``text`` repeats."""
        words = {t.text for t in tokens(text)}
        acc: dict[str, float] = defaultdict(float)
        for w in words:
            if w in self.idf:
                weight = self.idf[w]
                for item_id in self.postings[w]:
                    acc[item_id] += weight
        out = {}
        for item_id, got in acc.items():
            if item_id in exclude or self.content[item_id] < min_words or self.weight[item_id] <= 0:
                continue
            brand = self.brand_words.get(item_id)
            if brand and not brand <= words:
                continue  # a text that leaves out the item's brand describes a kind of product, not that item
            out[item_id] = got / self.weight[item_id]
        return out

    def best(
        self, text: str, exclude: set[str], shingle_threshold: float, word_threshold: float, min_words: int
    ) -> tuple[list[CopyHit], float, float]:
        """The human items ``text`` copies (best first; empty below both thresholds), and the top shingle and word scores."""
        by_sh, _ = self._shingle_scores(text, exclude)
        by_w = self._word_scores(text, exclude, min_words)
        hits = [CopyHit(i, sc, "shingles", []) for i, sc in by_sh.items() if sc >= shingle_threshold]
        shingle_hits = {h.item_id for h in hits}
        hits += [
            CopyHit(i, sc, "words", []) for i, sc in by_w.items() if sc >= word_threshold and i not in shingle_hits
        ]
        hits.sort(key=lambda h: (h.how != "shingles", -h.score, h.item_id))
        return hits, max(by_sh.values(), default=0.0), max(by_w.values(), default=0.0)

    def spans(self, hit: CopyHit, text: str) -> list[tuple[int, int]]:
        """Spans of ``text`` that repeat the hit's item."""
        if hit.how == "shingles":
            return self._shingle_spans(
                hit.item_id, [sh for sh in shingles(text, self.shingles.n) if sh.key not in self.shingles.stop]
            )
        own = self.words[hit.item_id]
        return merge_spans((t.start, t.end) for t in tokens(text) if t.text in own and t.text in self.idf)

    def explained(self, text: str, item_id: str, source_text: str, word_threshold: float) -> bool:
        """True when the rare words ``text`` repeats of ``item_id`` are, but for too few to pass ``word_threshold``,
        words its source says too (plural and "pcs"/"piece" folded): an edit restating its source, not copying a sibling."""
        said = {_fold(t.text) for t in tokens(source_text)}
        repeated = self.words[item_id] & {t.text for t in tokens(text)}
        new = sum(self.idf.get(w, 0.0) for w in repeated if _fold(w) not in said)
        return self.weight.get(item_id, 0.0) <= 0 or new / self.weight[item_id] < word_threshold

    def pair(self, text: str, item_id: str, shingle_threshold: float, word_threshold: float, min_words: int) -> bool:
        """True when ``text`` copies human item ``item_id`` by either measure."""
        keys = {sh.key for sh in shingles(text, self.shingles.n) if sh.key not in self.shingles.stop}
        parts = []
        for fld in ("t", "d"):
            own = self.doc_shingles.get(f"{item_id}{_FIELD_SEP}{fld}", frozenset())
            if own:
                parts.append((len(own & keys), len(own)))
        common, size = sum(n for n, _ in parts), sum(d for _, d in parts)
        union = len(keys) + size - common
        score = max([common / union if union else 0.0] + [n / d for n, d in parts if d >= 3])
        if score >= shingle_threshold:
            return True
        words = {t.text for t in tokens(text)}
        brand = self.brand_words.get(item_id)
        if (
            self.content.get(item_id, 0) < min_words
            or self.weight.get(item_id, 0.0) <= 0
            or (brand and not brand <= words)
        ):
            return False
        got = sum(self.idf.get(w, 0.0) for w in self.words[item_id] & words)
        return got / self.weight[item_id] >= word_threshold


_ABBREVIATIONS = {"pcs": "piece", "pc": "piece", "pce": "piece", "pcs.": "piece"}


def _fold(word: str) -> str:
    """A word with its plural and common abbreviations folded ("brushes" ~ "brush", "pcs" ~ "piece")."""
    w = _ABBREVIATIONS.get(word, word)
    if w.endswith(("shes", "ches", "xes", "zes", "sses")):
        return w[:-2]
    return w[:-1] if w.endswith("s") and len(w) > 3 and not w.endswith("ss") else w
