"""Indexes over the human catalog that several checks share: brands and their mentions in text.

Every catalog brand is known (not only the "distinctive" ones: "L'Oreal Paris", "Olay" and
"Revlon" are named in other brands' listings too, which says nothing about whether a text that
names them claims them). A brand is matched by its letters and digits alone, so "L'Oreal",
"L’Oréal", "Loreal" and "L Oreal" are one brand, and by its core without words such as
"Cosmetics", "Paris" or "New York". A brand that is also an everyday word ("Dove", "Harmony",
"Tone", "Apple") is matched only where it is written as a name: capitalised, and in a title only
as its first words. Two brands run together ("PellwickTorvik") are found as both. Texts are read
in their normalised form (``genrec.textnorm``), so lookalike letters and l33t ("Rev1on",
"Маybelline") do not hide a brand; the offsets reported are those of the text passed in.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from genrec.fidelity._text import clean, norm
from genrec.fidelity.base import CheckContext
from genrec.textnorm import Normalized, Normalizer, Token, english_words, tokens

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
#: Words a brand may carry that are not part of its name ("L'Oreal Paris" is "L'Oreal").
BRAND_SUFFIXES = frozenset(
    [
        "cosmetics",
        "cosmetic",
        "paris",
        "new",
        "york",
        "ny",
        "london",
        "beauty",
        "professional",
        "professionals",
        "pro",
        "inc",
        "co",
        "company",
        "corp",
        "llc",
        "ltd",
        "labs",
        "lab",
        "laboratories",
        "skin",
        "care",
        "skincare",
        "hair",
        "haircare",
        "nail",
        "nails",
        "art",
        "naturals",
        "natural",
        "products",
        "usa",
        "international",
        "collection",
        "group",
        "brands",
        "the",
        "and",
    ]
)
_MAX_NGRAM = 4
_COMMON = 100  # an English word this frequent (pyspellchecker's counts) is an everyday word, not (only) a brand
_CATALOG_COMMON = 20  # ... and so is a word in this many catalog titles
_PHRASE_USES = 5  # a two-word phrase in this many titles of other brands is an everyday phrase
_CUE_BEFORE = re.compile(
    r"(?i)\b(?:by|from|inspired\s+by|like|style\s+of|dupe\s+(?:of|for)|vs\.?|versus|than|same\s+as|as\s+used\s+by|made\s+by)\s*$"
)
_CUE_AFTER = re.compile(r"(?i)^\s*(?:-|\s)?(?:style|inspired|type|dupe|alternative|approved|grade|quality)\b")
_CAMEL = re.compile(r"[A-Z][a-z]{2,}")
_LINE_WORD = re.compile(r"[a-z]{3,}")
#: Words every kind of product title carries (packaging, units): sharing one says nothing about a product line.
_LINE_STOP = frozenset(
    [
        "and",
        "with",
        "for",
        "the",
        "set",
        "kit",
        "pack",
        "oz",
        "ounce",
        "ounces",
        "fluid",
        "count",
        "piece",
        "pieces",
        "size",
        "inch",
        "inches",
        "new",
        "each",
    ]
)


_NOT_ALNUM = re.compile(r"[^a-z0-9]")


def squash(text: str) -> str:
    """Letters and digits only, lower case: the key brands are matched by."""
    return _NOT_ALNUM.sub("", text.lower())


@dataclass(frozen=True)
class BrandMention:
    """A brand named in a text."""

    brand: str  # normalised brand (as in ``BrandLexicon.brands``)
    start: int
    end: int


_POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)


class BrandLexicon:
    """Catalog brands (normalised), the keys that find them in text, and a finder.

    ``distinctive`` is kept for callers of the first version: every brand is found now, so it
    equals ``brands``; ``ambiguous`` brands are everyday words, matched only when written as names.
    """

    def __init__(
        self,
        brands: Iterable[str],
        distinctive: Iterable[str] = (),
        common_words: Iterable[str] = (),
        lines: Mapping[str, Iterable[str]] | None = None,
        phrases: Iterable[str] = (),
    ) -> None:
        self.brands = frozenset(b for b in (norm(x) for x in brands) if b not in GENERIC_BRANDS)
        #: two-word phrases other brands' items use ("shea butter", "salon quality"): a brand word inside one is that word
        self.phrases = frozenset(phrases)
        #: per brand, the words its catalog titles use besides its name (its product line); empty: unknown
        self.lines: dict[str, frozenset[str]] = {b: frozenset(w) for b, w in (lines or {}).items()}
        self.distinctive = self.brands
        self.keys: dict[str, str] = {}  # squashed form -> brand
        self.ambiguous: set[str] = set()  # keys that are everyday words
        words = english_words()
        common = frozenset(common_words)
        for brand in sorted(self.brands, key=lambda b: (len(b), b)):
            toks = brand.split()
            core = [t for t in toks if t not in BRAND_SUFFIXES]
            forms = [toks] + ([core] if core and len(core) < len(toks) else [])
            for form in forms:
                key = squash("".join(form))
                if len(key) < 3 or key.isdigit() or key in self.keys:
                    continue
                self.keys[key] = brand
                named = [w.replace("'", "") for w in form if len(w) > 1]
                everyday = all(words.get(w, 0) >= _COMMON or w in BRAND_SUFFIXES or w in common for w in named)
                if everyday or words.get(key, 0) >= _COMMON or key in common:
                    self.ambiguous.add(key)
        self.normalizer = Normalizer({w for key in self.keys for w in (key,)})

    def family(self, brand: str) -> str:
        """A brand's name without suffix words, squashed: "L'Oreal Paris" and "L'Oreal" are one family."""
        toks = norm(brand).split()
        core = [t for t in toks if t not in BRAND_SUFFIXES] or toks
        return squash("".join(core))

    def find(self, text: str, title: bool = False, loose: bool = False) -> list[BrandMention]:
        """Brands named in ``text`` (longest match at each position, no overlaps), offsets into ``text``.

        ``title``: the text is a title, where every word is capitalised, so an everyday-word brand
        counts only as the title's first words. ``loose``: everyday-word brands count wherever they
        stand (for what a source item may be taken to name).
        """
        n = self.normalizer.normalize(text)
        toks = tokens(n.text)
        squashed = [squash(t.text) for t in toks]
        # the possessive of a brand names it ("Sony's lab"); a brand that ends in 's ("Kiehl's") matches as written
        bare = [squash(_POSSESSIVE.sub("", t.text)) for t in toks]
        out: list[BrandMention] = []
        i = 0
        while i < len(toks):
            hit = None
            for size in range(min(_MAX_NGRAM, len(toks) - i), 0, -1):
                key = "".join(squashed[i : i + size])
                brand = self.keys.get(key)
                if brand is None:
                    key = "".join(squashed[i : i + size - 1]) + bare[i + size - 1]
                    brand = self.keys.get(key)
                if brand is None:
                    continue
                a, b = toks[i].start, toks[i + size - 1].end
                if size > 1 and size > len(brand.split()):
                    continue  # "and is" is not "Andis": a one-word brand is not read across words
                if key in self.ambiguous and not loose:
                    if self._in_phrase(squashed, i, size):
                        continue
                    how = self._as_name(n.text, a, b, i, title)
                    if how is None or (how == "title-start" and not self._in_line(brand, n.text[b:])):
                        continue
                hit = (brand, a, b, size)
                break
            if hit:
                brand, a, b, size = hit
                oa, ob = n.span(a, b)
                out.append(BrandMention(brand, oa, ob))
                i += size
                continue
            out += self._merged(n.text, toks[i], n)
            i += 1
        return out

    def _in_phrase(self, words: list[str], i: int, size: int) -> bool:
        """Whether a one-word brand at ``i`` is part of a phrase the catalog uses ("Shea Butter", "Salon quality")."""
        if size != 1:
            return False
        before = f"{words[i - 1]} {words[i]}" if i else ""
        after = f"{words[i]} {words[i + 1]}" if i + 1 < len(words) else ""
        return before in self.phrases or after in self.phrases

    def _as_name(self, text: str, start: int, end: int, index: int, title: bool) -> str | None:
        """Why an everyday-word brand at ``start`` reads as a name (None: it does not): capitalised, and
        after "by", "inspired by", "like", ... or before "-style", "dupe" ("cue"), first in a title
        ("title-start"), or capitalised mid-sentence elsewhere ("mid-sentence")."""
        if not text[start : start + 1].isupper():
            return None
        if _CUE_BEFORE.search(text[max(0, start - 24) : start]) or _CUE_AFTER.match(text[end : end + 16]):
            return "cue"
        if title:
            return "title-start" if index == 0 else None
        sentence_start = max(text.rfind(c, 0, start) for c in ".!?:\n") + 1
        sentence_end = min((i for i in (text.find(c, end) for c in ".!?\n") if i >= 0), default=len(text))
        if _title_case(text[sentence_start:sentence_end]):
            # Title Case Prose Capitalises Every Word: only a sentence's first words can read as a name
            return "title-start" if not text[sentence_start:start].strip() else None
        before = text[:start].rstrip()
        # capitalised mid-sentence, not a sentence or list-item start ("• For kids")
        return "mid-sentence" if before and before[-1] not in ".!?:;\n•·*-–—|>" else None

    def _in_line(self, brand: str, rest: str) -> bool:
        """Whether the words after an everyday-word brand that starts a title belong to the brand's product line.

        Every title word is capitalised, so "Crackle Effect Top Coat" or "Red Carpet Glam Eyeliner" looks
        like a brand name by its case alone; it counts as one when the title also shares a word with the
        brand's own catalog titles, or says nothing else (a bare name), or the brand's line is unknown.
        """
        line = self.lines.get(brand)
        words = {_stem(w) for w in _LINE_WORD.findall(rest.lower()) if w not in _LINE_STOP}
        return not line or not words or bool(words & line)

    def _merged(self, text: str, tok: Token, n: Normalized) -> list[BrandMention]:
        """Two catalog brands run together in one word ("PellwickTorvik", "Pellwicktorvik")."""
        start, end = tok.start, tok.end
        word = text[start:end]
        if len(word) < 8:
            return []
        parts = [(m.start(), m.end()) for m in _CAMEL.finditer(word)]
        found = []
        if len(parts) >= 2:
            for a, b in parts:
                key = word[a:b].lower()
                if key in self.keys and key not in self.ambiguous:
                    found.append((self.keys[key], start + a, start + b))
        if not found:
            low = word.lower()
            for cut in range(4, len(low) - 3):
                left, right = low[:cut], low[cut:]
                if left in self.keys and right in self.keys and not ({left, right} & self.ambiguous):
                    found = [(self.keys[left], start, start + cut), (self.keys[right], start + cut, end)]
                    break
        if len(found) < 2:
            return []
        out = []
        for brand, a, b in found:
            oa, ob = n.span(a, b)
            out.append(BrandMention(brand, oa, ob))
        return out


_WORD = re.compile(r"[A-Za-z]{3,}")


def _title_case(sentence: str) -> bool:
    """Whether a sentence capitalises (nearly) every word of three letters or more."""
    words = _WORD.findall(sentence)
    return len(words) >= 4 and sum(w[0].isupper() for w in words) >= 0.8 * len(words)


def _stem(word: str) -> str:
    """A crude plural fold ("polishes" ~ "polish", "coats" ~ "coat") for product-line words."""
    return word[:-2] if word.endswith("es") and len(word) > 5 else word[:-1] if word.endswith("s") else word


def product_lines(rows: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    """Per brand, the words of its items' titles besides its own name; a brand that extends another ("red carpet
    manicure" extends "red carpet") lends its words and its extra name words to the shorter one. ``rows``: normalised (title, brand)."""
    lines: dict[str, set[str]] = defaultdict(set)
    for title, brand in rows:
        if brand and brand not in GENERIC_BRANDS:
            own = set(brand.split())
            lines[brand].update(_stem(w) for w in _LINE_WORD.findall(title) if w not in own and w not in _LINE_STOP)
    names = sorted(lines)
    for i, brand in enumerate(names):  # sorted: the brands extending ``brand`` follow it
        for longer in names[i + 1 :]:
            if not longer.startswith(brand):
                break
            if longer.startswith(brand + " "):
                extra = longer[len(brand) :].split()
                lines[brand] |= lines[longer] | {_stem(w) for w in extra if _LINE_WORD.fullmatch(w)}
    return dict(lines)


def build_brand_lexicon(titles_brands: Iterable[tuple[str, str]], max_other: int = 2) -> BrandLexicon:
    """Brands from (title, brand) pairs; words in many titles mark everyday-word brands, the other words of a
    brand's titles its product line (``max_other`` is unused, kept for callers of the first version)."""
    rows = [(norm(title or ""), norm(brand or "")) for title, brand in titles_brands]
    df: Counter[str] = Counter()  # titles using a word that is not part of their own brand's name
    for title, brand in rows:
        df.update(set(title.split()) - set(brand.split()))
    common = {w for w, n in df.items() if n >= _CATALOG_COMMON}
    lex = BrandLexicon({b for _, b in rows if b}, common_words=common, lines=product_lines(rows))
    single = lex.ambiguous  # everyday-word brand keys; a one-word form's key is the word itself
    uses: Counter[str] = Counter()  # items of other brands using a two-word phrase with such a word
    for title, brand in rows:
        words = [squash(w) for w in title.split()]
        own = {squash(w) for w in brand.split()}
        uses.update({f"{a} {b}" for a, b in itertools.pairwise(words) if ({a, b} & single) - own})
    lex.phrases = frozenset(p for p, n in uses.items() if n >= _PHRASE_USES)
    return lex


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


def items_by_brand_family(ctx: CheckContext) -> dict[str, list[str]]:
    """Catalog item ids by brand family ("Tarte" and "Tarte Cosmetics" are one; cached)."""

    def build() -> dict[str, list[str]]:
        lex = brand_lexicon(ctx)
        out: dict[str, list[str]] = defaultdict(list)
        for brand, ids in items_by_brand(ctx).items():
            out[lex.family(brand)].extend(ids)
        return dict(out)

    return ctx.cached("catalog.items_by_brand_family", build)


def record_text(record: dict) -> str:
    """A catalog row's title and description as one text."""
    return f"{clean(record.get('title'))}\n{clean(record.get('description'))}".strip()
