"""Indexes over the human catalog that several checks share: brands and their mentions in text."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from genrec.fidelity._text import clean, norm, tokens
from genrec.fidelity.base import CheckContext

#: Brand values that name no brand.
GENERIC_BRANDS = frozenset(
    {
        "",
        "unknown",
        "generic",
        "n a",
        "na",
        "none",
        "other",
        "others",
        "no brand",
        "unbranded",
        "various",
        "does not apply",
        "not applicable",
        "private label",
        "oem",
    }
)
_MAX_NGRAM = 4


@dataclass(frozen=True)
class BrandMention:
    """A brand named in a text."""

    brand: str  # normalised brand
    start: int
    end: int


class BrandLexicon:
    """Catalog brands (normalised), which of them are distinctive enough to spot in free text, and a finder."""

    def __init__(self, brands: Iterable[str], distinctive: Iterable[str]) -> None:
        self.brands = frozenset(b for b in brands if b not in GENERIC_BRANDS)
        self.distinctive = frozenset(distinctive) & self.brands
        self._first: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        for b in self.distinctive:
            toks = tuple(b.split())
            self._first[toks[0]].append(toks)
        for lst in self._first.values():
            lst.sort(key=len, reverse=True)

    def find(self, text: str) -> list[BrandMention]:
        """Distinctive brands named in ``text`` (longest match at each position, no overlaps)."""
        toks = tokens(text)
        out: list[BrandMention] = []
        i = 0
        while i < len(toks):
            hit = None
            for cand in self._first.get(toks[i].text, ()):
                if tuple(t.text for t in toks[i : i + len(cand)]) == cand:
                    hit = cand
                    break
            if hit:
                out.append(BrandMention(" ".join(hit), toks[i].start, toks[i + len(hit) - 1].end))
                i += len(hit)
            else:
                i += 1
        return out


def build_brand_lexicon(titles_brands: Iterable[tuple[str, str]], max_other: int = 2) -> BrandLexicon:
    """Brands from (title, brand) pairs; a brand is distinctive unless 3+ other brands' titles use its words."""
    rows = [(norm(title or ""), norm(brand or "")) for title, brand in titles_brands]
    brands = {b for _, b in rows if b}
    wanted = {b for b in brands if len(b.split()) <= _MAX_NGRAM}
    uses: Counter[str] = Counter()
    for title, brand in rows:
        words = title.split()
        grams = {" ".join(words[i : i + n]) for n in range(1, _MAX_NGRAM + 1) for i in range(len(words) - n + 1)}
        for g in grams & wanted:
            if g != brand:
                uses[g] += 1
    distinctive = {b for b in brands if uses[b] <= max_other and (len(b) >= 3 or " " in b) and not b.isdigit()}
    return BrandLexicon(brands, distinctive)


def brand_lexicon(ctx: CheckContext) -> BrandLexicon:
    """The context catalog's brand lexicon (cached)."""

    def build() -> BrandLexicon:
        records = ctx.catalog_records().values()
        return build_brand_lexicon((clean(r.get("title")), clean(r.get("brand"))) for r in records)

    return ctx.cached("catalog.brands", build)


def items_by_brand(ctx: CheckContext) -> dict[str, list[str]]:
    """Catalog item ids by normalised brand (cached)."""

    def build() -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for item_id, r in ctx.catalog_records().items():
            b = norm(clean(r.get("brand")))
            if b not in GENERIC_BRANDS:
                out[b].append(item_id)
        return dict(out)

    return ctx.cached("catalog.items_by_brand", build)


def record_text(record: dict) -> str:
    """A catalog row's title and description as one text."""
    return f"{clean(record.get('title'))}\n{clean(record.get('description'))}".strip()
