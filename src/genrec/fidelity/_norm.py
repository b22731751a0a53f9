"""The normalised view every check reads: one ``genrec.textnorm.Normalizer`` per context, and spans mapped back.

The normaliser knows the catalog's own words (brands, product words) besides the English word
list, so "Rev1on" reads as "Revlon" when Revlon is a catalog brand. Checks match on
``Normalized.text`` and report original offsets through ``finding``.
"""

from __future__ import annotations

from genrec.data.generated import GeneratedItem
from genrec.fidelity.base import CheckContext, Finding, item_fields
from genrec.textnorm import Normalized, Normalizer, tokens

_MIN_WORD = 3


def catalog_words(ctx: CheckContext) -> frozenset[str]:
    """Alphabetic words of the catalog's titles and brands (lower case), cached."""

    def build() -> frozenset[str]:
        words: set[str] = set()
        for r in ctx.catalog_records().values():
            for key in ("title", "brand"):
                value = r.get(key)
                if isinstance(value, str):
                    words.update(t.text.replace("'", "") for t in tokens(value) if t.text.isalpha())
        return frozenset(w for w in words if len(w) >= _MIN_WORD)

    return ctx.cached("textnorm.catalog_words", build)


def normalizer(ctx: CheckContext) -> Normalizer:
    """The context's normaliser (the catalog's words are known words), cached."""
    return ctx.cached("textnorm.normalizer", lambda: Normalizer(catalog_words(ctx)))


def normalized_fields(item: GeneratedItem, ctx: CheckContext) -> dict[str, Normalized]:
    """The item's title and description, normalised."""
    nz = normalizer(ctx)
    return {name: nz.normalize(text) for name, text in item_fields(item).items()}


def finding(code: str, message: str, fld: str, n: Normalized, start: int, end: int, score: float = 1.0) -> Finding:
    """A finding on normalised ``n.text[start:end]``, pointing at the original span of field ``fld``."""
    a, b = n.span(start, end)
    return Finding(code, message, fld, a, b, n.original[a:b], score)


def to_original(f: Finding, fields: dict[str, Normalized]) -> Finding:
    """``f`` (offsets into a normalised field) with offsets and text of the original field."""
    n = fields.get(f.field)
    if n is None or f.start is None or f.end is None:
        return f
    a, b = n.span(f.start, f.end)
    f.start, f.end, f.text = a, b, n.original[a:b]
    return f
