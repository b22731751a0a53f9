"""The catalog's own words (brands, categories, attribute values, prices, titles) and lookups into them.

Every phrase is compared in a normalised form: accents, case, punctuation inside words
("L'Oréal", "e.l.f."), "&" versus "and", and plural endings do not matter. Multi-word
values are matched as token n-grams, longest first; typos are caught by a fuzzy ratio.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from wordfreq import zipf_frequency

from genrec.data.dataset import Dataset
from genrec.generation.words import word_list

KINDS = ("brand", "category", "attribute")
_WORD = re.compile(r"[^\W_]+(?:['’.][^\W_]+)*|&", re.UNICODE)
_INNER = re.compile(r"['’.]")
#: Brand values that mean "no brand".
NO_BRAND = frozenset({"", "unknown", "n a", "na", "none", "nan", "generic", "unbranded", "no brand", "other"})
#: Attribute fields that are identifiers, ranks or source bookkeeping, never something a user asks for.
SKIP_ATTRIBUTES = ("asin", "sku", "sales_type", "sales_rank", "attribute_ids", "s3rec_attributes", "product_type")
#: Words dropped from the end of a brand to form a shorter alias ("e.l.f. Cosmetics" -> "elf").
_BRAND_TAILS = frozenset(word_list("vocabulary", "brand_tails"))
_ARTICLES = ("a", "an", "the")


@dataclass(frozen=True)
class Token:
    """One word of a text: its raw spelling, its normalised form and its character span."""

    text: str
    norm: str
    start: int
    end: int


@dataclass(frozen=True)
class Entry:
    """A catalog value a normalised key stands for."""

    kind: str  # "brand", "category" or "attribute"
    value: str  # the catalog's own spelling
    name: str | None = None  # attribute name (attributes only)
    count: int = 0  # items carrying the value
    weak: bool = False  # a brand spelled like a common catalog word ("Fresh", "Clear"): needs context


@dataclass(frozen=True)
class Match:
    """A catalog value found in a token sequence at tokens [start, end)."""

    entry: Entry
    start: int
    end: int
    score: float = 1.0  # 1 for an exact (normalised) match, the fuzzy ratio / 100 otherwise

    @property
    def kind(self) -> str:
        """The entry's kind."""
        return self.entry.kind

    @property
    def value(self) -> str:
        """The entry's catalog value."""
        return self.entry.value


def singular(word: str) -> str:
    """A crude singular of an English word; only needs to be consistent on both sides of a lookup."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "ches", "shes", "xes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is", "ous")):
        return word[:-1]
    return word


def normalise_word(word: str) -> str:
    """Lower case, no accents, no inner apostrophes or dots, singular."""
    if word == "&":
        return "and"
    folded = unicodedata.normalize("NFKD", word)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    return singular(_INNER.sub("", folded))


def tokenize(text: str) -> list[Token]:
    """Words of ``text`` with their normalised forms and character offsets."""
    return [Token(m.group(), normalise_word(m.group()), m.start(), m.end()) for m in _WORD.finditer(text)]


#: English stop words, normalised.
STOP_WORDS = frozenset(normalise_word(w) for w in ENGLISH_STOP_WORDS)
#: Everyday words of requests; a brand spelled only with them needs context to count as the brand.
COMMON_WORDS = frozenset(normalise_word(w) for w in word_list("vocabulary", "common_words"))
#: A word this frequent in English (Zipf scale: log10 of uses per billion words) is an everyday word.
EVERYDAY_ZIPF = 3.5


@functools.cache
def english_zipf(word: str) -> float:
    """How common a word is in English on the Zipf scale (0: unknown; 3: a word per million; 6: "the")."""
    return float(zipf_frequency(word, "en"))


def normalise(text: str) -> str:
    """The normalised form of a phrase: normalised words joined by single spaces."""
    return " ".join(t.norm for t in tokenize(text) if t.norm)


@dataclass
class CatalogVocabulary:
    """Brands, categories, attribute values, prices and titles of a catalog, with normalised lookup."""

    item_ids: list[str]
    titles: list[str]
    brands_of: list[str | None]
    categories_of: list[list[str]]
    prices: np.ndarray
    brand_counts: Counter[str]
    category_counts: Counter[str]
    attribute_counts: dict[str, Counter[str]]
    generic_categories: frozenset[str]
    attributes_of: list[dict[str, str]] = field(default_factory=list)  # per item, the kept attribute values
    category_parents: dict[str, set[str]] = field(default_factory=dict)
    keys: dict[str, list[Entry]] = field(default_factory=dict)  # normalised phrase -> entries
    max_key_tokens: int = 1
    _index: dict[str, int] = field(default_factory=dict, repr=False)
    _norm_titles: list[str] = field(default_factory=list, repr=False)
    _words: frozenset[str] = field(default_factory=frozenset, repr=False)
    _postings: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _idf: dict[str, float] = field(default_factory=dict, repr=False)
    _by_kind: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _title_words: int = field(default=0, repr=False)
    _products: dict[str, str] | None = field(default=None, repr=False)

    # ---- construction --------------------------------------------------------------------
    @classmethod
    def from_dataset(
        cls,
        dataset: Dataset,
        skip_attributes: Sequence[str] = SKIP_ATTRIBUTES,
        max_attribute_values: int = 200,
        generic_share: float = 0.8,
    ) -> CatalogVocabulary:
        """Collect the vocabulary of ``dataset``'s item table.

        Categories carried by at least ``generic_share`` of the items (a root such as "Beauty")
        are generic and never matched; attribute fields with string values and at most
        ``max_attribute_values`` distinct values are kept, except ``skip_attributes``.
        """
        items = dataset.items
        if len(items) == 0:
            raise ValueError(f"dataset {dataset.name!r} has no items to build a vocabulary from")
        brands = [_clean_brand(b) for b in items["brand"]]
        categories = [[c.strip() for c in cs if c and c.strip()] for cs in items["categories"]]
        prices = items["price"].to_numpy(dtype=np.float64)
        brand_counts = Counter(b for b in brands if b)
        category_counts = Counter(c for cs in categories for c in dict.fromkeys(cs))
        parents: dict[str, set[str]] = defaultdict(set)
        for cs in categories:
            for parent, child in itertools.pairwise(cs):
                parents[child].add(parent)
        generic = frozenset(c for c, n in category_counts.items() if n >= generic_share * len(items))
        attribute_counts = _attribute_counts(items["attributes"], skip_attributes, max_attribute_values)
        vocab = cls(
            item_ids=[str(i) for i in items["item_id"]],
            titles=[str(t) for t in items["title"]],
            brands_of=brands,
            categories_of=categories,
            prices=prices,
            brand_counts=brand_counts,
            category_counts=category_counts,
            attribute_counts=attribute_counts,
            generic_categories=generic,
            attributes_of=[
                {k: v.strip() for k, v in a.items() if k in attribute_counts and isinstance(v, str)}
                for a in items["attributes"]
            ],
            category_parents=dict(parents),
        )
        vocab._build(items["description"])
        return vocab

    def _build(self, descriptions: Iterable[str] = ()) -> None:
        parents = self.category_parents
        self._index = {item: i for i, item in enumerate(self.item_ids)}
        self._index_titles(descriptions)
        keys: dict[str, list[Entry]] = defaultdict(list)
        category_keys: set[str] = set()
        for value, n in self.category_counts.items():
            if value in self.generic_categories:
                continue
            key = normalise(value)
            if key:
                keys[key].append(Entry("category", value, None, n))
                category_keys.add(key)
        # product-type words: the parts of compound categories ("Creams & Moisturizers" -> "cream")
        parts: dict[str, list[Entry]] = defaultdict(list)
        for value, n in self.category_counts.items():
            if value in self.generic_categories:
                continue
            for part in re.split(r"\s*(?:&|,|/|\band\b)\s*", value):
                key = normalise(part)
                if key and key != normalise(value) and len(key) >= 3:
                    parts[key].append(Entry("category", value, None, n))
        for key, entries in parts.items():
            # a part names the most frequent category whose name holds it as whole words
            # ("hair" -> "Hair Care", not the "Hair & Scalp Treatments" it was split from)
            holders = [
                Entry("category", v, None, n)
                for v, n in self.category_counts.items()
                if v not in self.generic_categories and f" {key} " in f" {normalise(v)} "
            ]
            part = max(holders or entries, key=lambda e: e.count)
            exact = [e for e in keys.get(key, []) if e.kind == "category"]
            if not exact:
                keys[key].append(part)
            elif all(
                part.count >= 5 * e.count and part.value not in self._ancestors_of(e.value, parents) for e in exact
            ):
                # "serum": "Oils & Serums" (154 items) over the small "Serums" of the eye care (11)
                keys[key] = [e for e in keys[key] if e.kind != "category"] + [part]
        for name, counter in self.attribute_counts.items():
            for value, n in counter.items():
                key = normalise(value)
                if not key or key in category_keys or key in NO_BRAND:
                    continue
                keys[key].append(Entry("attribute", value, name, n))
                stripped = _strip_article(key)
                if stripped != key:
                    keys[stripped].append(Entry("attribute", value, name, n))
        brand_keys: dict[str, str] = {}
        for value in self.brand_counts:
            key = normalise(value)
            if key:
                brand_keys.setdefault(key, value)
        aliases: dict[str, set[str]] = defaultdict(set)
        for key, value in brand_keys.items():
            for alias in _brand_aliases(key):
                if alias in category_keys:
                    continue
                small = brand_keys.get(alias)  # "L'Oreal" (1 item) is mostly "L'Oreal Paris" (291)
                if small is None or self.brand_counts[value] >= 5 * self.brand_counts[small]:
                    aliases[alias].add(value)
        for key, value in brand_keys.items():
            keys[key].append(Entry("brand", value, None, self.brand_counts[value], self._common(key, value)))
        for alias, values in aliases.items():
            if len(values) == 1:  # an alias two brands share is no alias
                value = next(iter(values))
                keys[alias].append(Entry("brand", value, None, self.brand_counts[value], self._common(alias, value)))
        self.keys = {k: _dedupe(v) for k, v in keys.items()}
        self.max_key_tokens = min(8, max((len(k.split()) for k in self.keys), default=1))
        self._by_kind = {
            kind: sorted({k for k, es in self.keys.items() if any(e.kind == kind for e in es)}) for kind in KINDS
        }

    @staticmethod
    def _ancestors_of(category: str, parents: dict[str, set[str]]) -> set[str]:
        out: set[str] = set()
        todo = list(parents.get(category, ()))
        while todo:
            p = todo.pop()
            if p not in out:
                out.add(p)
                todo.extend(parents.get(p, ()))
        return out

    def _common(self, key: str, brand: str) -> bool:
        """True when a brand is spelled with everyday words ("Just For Me", "Dove", "Trim") or its words
        occur in many more titles than the brand has items ("Fresh")."""
        if all(w in STOP_WORDS or w in COMMON_WORDS or english_zipf(w) >= EVERYDAY_ZIPF for w in key.split()):
            return True
        sets = [set(self._postings.get(w, ())) for w in key.split()]
        df = len(set.intersection(*sets)) if sets else 0
        return df > 3 * self.brand_counts[brand] + 3

    def _index_titles(self, descriptions: Iterable[str] = ()) -> None:
        postings: dict[str, list[int]] = defaultdict(list)
        self._norm_titles = []
        for i, title in enumerate(self.titles):
            norm = normalise(title)
            self._norm_titles.append(f" {norm} ")
            for tok in set(norm.split()):
                postings[tok].append(i)
        words = set(postings)
        for text in descriptions:
            words.update(normalise(text).split())
        self._words = frozenset(words)
        n = max(len(self.titles), 1)
        self._postings = dict(postings)
        self._idf = {tok: math.log((n + 1) / (len(p) + 0.5)) for tok, p in postings.items()}

    # ---- catalog facts -------------------------------------------------------------------
    def __contains__(self, item_id: object) -> bool:
        return item_id in self._index

    def row(self, item_id: str) -> int | None:
        """Row of an item id in the item table, or None when it is not a catalog item."""
        return self._index.get(str(item_id))

    def brand(self, item_id: str) -> str | None:
        """An item's brand (None when unknown or not a catalog item)."""
        i = self.row(item_id)
        return None if i is None else self.brands_of[i]

    def price(self, item_id: str) -> float | None:
        """An item's price (None when missing or not a catalog item)."""
        i = self.row(item_id)
        if i is None or not np.isfinite(self.prices[i]):
            return None
        return float(self.prices[i])

    def title(self, item_id: str) -> str | None:
        """An item's title."""
        i = self.row(item_id)
        return None if i is None else self.titles[i]

    def categories(self, item_id: str) -> list[str]:
        """An item's categories without the generic ones."""
        i = self.row(item_id)
        return [] if i is None else [c for c in self.categories_of[i] if c not in self.generic_categories]

    @property
    def price_range(self) -> tuple[float, float] | None:
        """Lowest and highest catalog price, or None when no item has one."""
        finite = self.prices[np.isfinite(self.prices)]
        return (float(finite.min()), float(finite.max())) if len(finite) else None

    def top(self, kind: str, k: int) -> list[str]:
        """The ``k`` most frequent brands, categories (non-generic) or attribute values."""
        if kind == "brand":
            return [b for b, _ in self.brand_counts.most_common(k)]
        if kind == "category":
            common = self.category_counts.most_common(k + len(self.generic_categories))
            return [c for c, _ in common if c not in self.generic_categories][:k]
        if kind == "attribute":
            merged = Counter({f"{n}={v}": c for n, cnt in self.attribute_counts.items() for v, c in cnt.items()})
            return [nv for nv, _ in merged.most_common(k)]
        raise ValueError(f"unknown vocabulary kind {kind!r}; known: {', '.join(KINDS)}")

    @property
    def category_values(self) -> list[str]:
        """Every non-generic category, most frequent first."""
        return [c for c, _ in self.category_counts.most_common() if c not in self.generic_categories]

    # ---- lookups -------------------------------------------------------------------------
    def lookup(self, phrase: str, kind: str, fuzzy_cutoff: float = 90.0) -> Entry | None:
        """The catalog value of ``kind`` a phrase names: exact normalised match, then a fuzzy one."""
        if kind not in KINDS:
            raise ValueError(f"unknown vocabulary kind {kind!r}; known: {', '.join(KINDS)}")
        key = normalise(phrase)
        if not key:
            return None
        for variant in (key, _strip_article(key)):
            entries = [e for e in self.keys.get(variant, ()) if e.kind == kind]
            if entries:
                return entries[0]
        hit = self.fuzzy(key, kind, fuzzy_cutoff)
        return hit[0] if hit else None

    def fuzzy(self, key: str, kind: str, cutoff: float = 90.0) -> tuple[Entry, float] | None:
        """Closest key of ``kind`` to a normalised phrase by edit ratio, when at least ``cutoff`` (0-100)."""
        choices = self._by_kind.get(kind, [])
        if len(key) < 4 or not choices:
            return None
        best = process.extractOne(key, choices, scorer=fuzz.ratio, score_cutoff=cutoff)
        if best is None:
            return None
        entries = [e for e in self.keys[best[0]] if e.kind == kind]
        return entries[0], float(best[1]) / 100.0

    def match(self, tokens: Sequence[Token], skip: Iterable[int] = ()) -> list[Match]:
        """Catalog values named in a token sequence, longest spans first, not overlapping ``skip``.

        A span that is several things at once keeps one entry: a category over a brand over an
        attribute, the most frequent value within a kind.
        """
        taken = set(skip)
        found: list[Match] = []
        norms = [t.norm for t in tokens]
        for n in range(min(self.max_key_tokens, len(tokens)), 0, -1):
            for start in range(len(tokens) - n + 1):
                span = range(start, start + n)
                if any(i in taken for i in span):
                    continue
                entries = self.keys.get(" ".join(norms[start : start + n]))
                if not entries:
                    continue
                found.append(Match(_prefer(entries), start, start + n))
                taken.update(span)
        return sorted(found, key=lambda m: m.start)

    def entries(self, key: str) -> list[Entry]:
        """Every entry a normalised key stands for."""
        return list(self.keys.get(key, ()))

    def find_item(self, phrase: str, min_tokens: int = 2, min_cover: float = 0.75) -> tuple[str, float] | None:
        """The catalog item whose title contains ``phrase`` word for word (normalised), with its idf cover.

        The phrase must appear contiguously in the title and cover at least ``min_cover`` of the
        phrase's idf weight (words unknown to every title count against it) with at least
        ``min_tokens`` content words; among several titles the tighter (shorter) one wins.
        """
        norm = normalise(phrase)
        words = [w for w in dict.fromkeys(norm.split()) if w not in STOP_WORDS]
        known = [w for w in words if w in self._postings]
        if len(known) < min_tokens:
            return None
        unknown_weight = max(self._idf.values(), default=1.0)
        total = sum(self._idf[w] for w in known) + unknown_weight * (len(words) - len(known))
        cover = sum(self._idf[w] for w in known) / total
        if cover < min_cover:
            return None
        rarest = min(known, key=lambda w: len(self._postings[w]))
        needle = f" {norm} "
        fits = [i for i in self._postings[rarest] if needle in self._norm_titles[i]]
        if not fits:
            return None
        best = min(fits, key=lambda i: len(self._norm_titles[i]))
        return self.item_ids[best], cover

    def titles_in(self, text: str, max_postings: int = 500) -> list[tuple[int, str]]:
        """Catalog items whose whole (normalised) title appears in ``text``: (position, item id), in order.

        Where titles overlap, the longest wins.
        """
        norm = f" {normalise(text)} "
        found: dict[str, int] = {}
        for w in set(norm.split()) - STOP_WORDS:
            posting = self._postings.get(w, ())
            if len(posting) > max_postings:
                continue
            for i in posting:
                title = self._norm_titles[i]
                if len(title.split()) >= 3 and title in norm:
                    found[self.item_ids[i]] = norm.index(title)
        spans = sorted(((pos, -len(self._norm_titles[self._index[item]]), item) for item, pos in found.items()))
        out: list[tuple[int, str]] = []
        end = -1
        for pos, neg_len, item in spans:
            if pos >= end:
                out.append((pos, item))
                end = pos - neg_len
        return out

    def known_word(self, norm: str) -> bool:
        """True when a normalised word occurs in some catalog title or description."""
        return norm in self._words

    def keyness(self, norm: str) -> float:
        """How much more the catalog's titles use a normalised word than English does (log10 of the
        ratio of its share of title words to its English frequency); -inf when no title uses it."""
        df = len(self._postings.get(norm, ()))
        if not df:
            return -math.inf
        if not self._title_words:
            self._title_words = sum(len(t.split()) for t in self._norm_titles)
        zipf = english_zipf(norm)
        return math.log10(df / self._title_words) - (zipf - 9.0 if zipf > 0 else 0.0)

    def style_word(self, norm: str, min_keyness: float = 0.5, min_items: int = 2) -> bool:
        """True when the catalog's titles use a word much more than English does ("matte", "argan",
        "waterproof"), so it can describe items; everyday words ("wife", "matter", "work") cannot."""
        return len(self._postings.get(norm, ())) >= min_items and self.keyness(norm) >= min_keyness

    def free_form(self, norm: str) -> bool:
        """True when some title says "<word>-free" ("sulfate-free"): excluding the word would hide those."""
        return any(f" {norm} free " in self._norm_titles[i] for i in self._postings.get(norm, ()))

    def product_category(self, norm: str, share: float = 0.7, min_items: int = 5, head: float = 0.5) -> str | None:
        """The most specific category a title word names as a product ("straightener" -> "Flattening
        Irons"): at least ``share`` of the ``min_items``+ titles with it are in that category, and in at
        least ``head`` of them it ends a name (a comma, "with", a number or the end follows), so
        modifiers ("vintage", "scented") do not count."""
        if self._products is None:
            self._products = self._product_words(share, min_items, head)
        return self._products.get(norm)

    def _product_words(self, share: float, min_items: int, head: float) -> dict[str, str]:
        out: dict[str, str] = {}
        leaves = [
            next((c for c in reversed(cs) if c not in self.generic_categories), None) for cs in self.categories_of
        ]
        for word, rows in self._postings.items():
            if len(rows) < min_items or not word.isalpha() or word in STOP_WORDS or word in self.keys:
                continue
            counts: Counter[str] = Counter(leaf for r in rows if (leaf := leaves[r]))
            if not counts:
                continue
            top, n = counts.most_common(1)[0]
            if n < share * len(rows):
                continue
            heads = sum(_ends_name(self.titles[r], word) for r in rows)
            if heads >= head * len(rows):
                out[word] = top
        return out

    def ancestors(self, category: str) -> set[str]:
        """Every category above ``category`` in the catalog's paths."""
        return self._ancestors_of(category, self.category_parents)

    def owns_word(self, brand: str) -> bool:
        """True when the titles that use a brand's words are mostly that brand's ("Dove"), so the word
        names the brand even without a capital letter; False for "Organic" or "Clear"."""
        words = normalise(brand).split()
        sets = [set(self._postings.get(w, ())) for w in words]
        df = len(set.intersection(*sets)) if sets else 0
        return df <= 2 * self.brand_counts.get(brand, 0) + 2

    def full_name(self, match: Match, tokens: Sequence[Token]) -> bool:
        """True when a category match spells the category's whole name (not a part of a compound one)."""
        said = " ".join(t.norm for t in tokens[match.start : match.end])
        return said == normalise(match.value)

    def descendant_named(self, category: str, part: str) -> str | None:
        """The most frequent category below ``category`` whose name holds the normalised word(s) ``part``
        ("Face" + "cream" -> "Creams & Moisturizers")."""
        below = [c for c in self.category_counts if category in self.ancestors(c)]
        named = [c for c in below if f" {part} " in f" {normalise(c)} "]
        return max(named, key=lambda c: self.category_counts[c]) if named else None


# ---- helpers -------------------------------------------------------------------------------
_NAME_END = re.compile(r"\s*(?:$|[,;:(\[/|]|-\s|\d|\b(?:with|for|by|in|and|to)\b)", re.I)


def _ends_name(title: str, word: str) -> bool:
    """True when ``word`` (normalised) ends a name in ``title``: punctuation, a number, "with" or the end follows."""
    for m in _WORD.finditer(title):
        if normalise_word(m.group()) == word:
            return bool(_NAME_END.match(title, m.end()))
    return False


def _clean_brand(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return None if normalise(text) in NO_BRAND else text


def _attribute_counts(
    column: Iterable[dict[str, Any]], skip: Sequence[str], max_values: int
) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    bad: set[str] = set()
    skipped = {s.lower() for s in skip}
    for attrs in column:
        for name, value in attrs.items():
            if name in bad:
                continue
            low = name.lower()
            if low in skipped or low.endswith(("_id", "_ids", "rank")) or low == "id":
                bad.add(name)
                continue
            if isinstance(value, str) and value.strip() and not _numeric(value):
                counts[name][value.strip()] += 1
            elif value is not None and not isinstance(value, str):
                bad.add(name)  # numbers, lists, dicts: not a categorical attribute
    return {n: c for n, c in counts.items() if n not in bad and 1 <= len(c) <= max_values}


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _strip_article(key: str) -> str:
    head, _, rest = key.partition(" ")
    return rest if head in _ARTICLES and rest else key


def _brand_aliases(key: str) -> set[str]:
    toks = key.split()
    out: set[str] = set()
    if toks and toks[0] == "the" and len(toks) > 1:
        toks = toks[1:]
        out.add(" ".join(toks))
    if "by" in toks[1:]:  # "WEN by Chaz Dean" -> "wen"
        out.add(" ".join(toks[: toks.index("by")]))
    while len(toks) > 1 and toks[-1] in _BRAND_TAILS:
        toks = toks[:-1]
        out.add(" ".join(toks))
    return {a for a in out if len(a) >= 3 and a != key}


_KIND_ORDER = {"category": 0, "brand": 1, "attribute": 2}


def _prefer(entries: list[Entry]) -> Entry:
    return min(entries, key=lambda e: (_KIND_ORDER[e.kind], -e.count))


def _dedupe(entries: list[Entry]) -> list[Entry]:
    seen: dict[tuple[str, str, str | None], Entry] = {}
    for e in entries:
        seen.setdefault((e.kind, e.value, e.name), e)
    return sorted(seen.values(), key=lambda e: (_KIND_ORDER[e.kind], -e.count))


__all__ = ["CatalogVocabulary", "Entry", "Match", "Token", "normalise", "normalise_word", "singular", "tokenize"]
