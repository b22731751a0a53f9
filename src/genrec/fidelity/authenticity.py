"""Authenticity: an edited item keeps its source's facts; a created item does not pose as a real product.

For an edit, every factual claim must be supported by the source item (its title, description,
brand, price and attributes): the brand field and any catalog brand named in the text,
numbers with units (sizes, weights, volumes, counts, percentages, SPF, ...; unit conversions
within one dimension are accepted), prices, letter sizes, and materials / ingredients (a
maintained list plus the catalog's own material-like attribute values). A created item may not
reuse an existing product's exact title, nor present itself as a catalog brand's product line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from genrec.data.generated import GeneratedItem
from genrec.fidelity import _rules
from genrec.fidelity._catalog import (
    GENERIC_BRANDS,
    BrandLexicon,
    BrandMention,
    brand_lexicon,
    items_by_brand,
    record_text,
    squash,
)
from genrec.fidelity._norm import catalog_words, finding, normalized_fields, normalizer
from genrec.fidelity._text import ShingleIndex, clean, norm, number_word
from genrec.fidelity.base import Check, CheckContext, Finding
from genrec.fidelity.policy import AuthenticitySettings
from genrec.fidelity.privacy import find_structured
from genrec.textnorm import Normalized, english_words, tokens

# unit spelling -> (canonical unit, dimension, factor to the dimension's base unit)
_UNITS: dict[str, tuple[str, str, float]] = {}
for _names, _canon, _dim, _factor in (
    (
        ("fl oz", "fl. oz", "fl.oz", "floz", "fluid ounce", "fluid ounces", "fl ounce", "fl ounces", "fl. ounce"),
        "floz",
        "volume",
        29.5735,
    ),
    (("oz", "ounce", "ounces", "oz."), "oz", "mass", 28.3495),
    (("ml", "mls", "milliliter", "milliliters", "millilitre", "millilitres"), "ml", "volume", 1.0),
    (("cl", "centiliter", "centilitre"), "cl", "volume", 10.0),
    (("l", "liter", "liters", "litre", "litres", "ltr"), "l", "volume", 1000.0),
    (("g", "gr", "gm", "gms", "gram", "grams"), "g", "mass", 1.0),
    (("kg", "kgs", "kilo", "kilos", "kilogram", "kilograms"), "kg", "mass", 1000.0),
    (("mg", "milligram", "milligrams"), "mg", "mass", 0.001),
    (("lb", "lbs", "pound", "pounds"), "lb", "mass", 453.592),
    (("mm", "millimeter", "millimeters", "millimetre", "millimetres"), "mm", "length", 0.1),
    (("cm", "centimeter", "centimeters", "centimetre", "centimetres"), "cm", "length", 1.0),
    (("meter", "meters", "metre", "metres"), "m", "length", 100.0),
    # "in" is inches only before a bracket, a comma or the end ("11 in)"), not in "3 in 1" (see _FACT)
    (("inch", "inches", '"', "''", "in.", "in"), "inch", "length", 2.54),
    (("ft", "feet", "foot"), "ft", "length", 30.48),
    (("%", "percent", "per cent"), "%", "", 1.0),
    (("count", "ct", "pcs", "pc", "piece", "pieces", "units"), "count", "", 1.0),
    (("pack", "packs", "pk"), "pack", "", 1.0),
    (("pair", "pairs"), "pair", "", 1.0),
    (("capsule", "capsules", "caps"), "capsule", "", 1.0),
    (("tablet", "tablets", "tabs"), "tablet", "", 1.0),
    (("softgel", "softgels"), "softgel", "", 1.0),
    (("serving", "servings"), "serving", "", 1.0),
    (("sheet", "sheets"), "sheet", "", 1.0),
    (("pad", "pads"), "pad", "", 1.0),
    (("wipe", "wipes"), "wipe", "", 1.0),
    (("refill", "refills"), "refill", "", 1.0),
    (("bottle", "bottles"), "bottle", "", 1.0),
    (("tube", "tubes"), "tube", "", 1.0),
    (("jar", "jars"), "jar", "", 1.0),
    (("brush", "brushes"), "brush", "", 1.0),
    (("sachet", "sachets", "pod", "pods", "cartridge", "cartridges"), "unit", "", 1.0),
    (("hour", "hours", "hr", "hrs", "h"), "hour", "time", 60.0),
    (("minute", "minutes", "min", "mins"), "minute", "time", 1.0),
    (("day", "days"), "day", "time", 1440.0),
    (("week", "weeks"), "week", "time", 10080.0),
    (("month", "months"), "month", "", 1.0),
    (("year", "years", "yr", "yrs"), "year", "", 1.0),
    (("w", "watt", "watts"), "w", "", 1.0),
    (("mah",), "mah", "", 1.0),
    (("v", "volt", "volts"), "v", "", 1.0),
    (("gb",), "gb", "", 1.0),
    (("x",), "x", "", 1.0),
    (("colors", "colours", "color", "colour", "shades", "shade"), "colour", "", 1.0),
):
    for _n in _names:
        _UNITS[_n] = (_canon, _dim, _factor)

_PREFIXES = {
    "spf": "spf",
    "eu": "eu",
    "uk": "uk",
    "us": "us",
    "size": "size",
    "pack of": "pack",
    "set of": "set",
    "box of": "count",
    "case of": "pack",
    "no.": "no",
    "no": "no",
    "number": "no",
    "#": "no",
    "bluetooth": "bluetooth",
    "usb": "usb",
    "version": "version",
    "ip": "ip",
}
_WORD_NUMBERS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
_NUM = (
    r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?(?:/\d{1,2}(?!\d))?|(?<![\w.])\.\d+|\b(?:"
    + _WORD_NUMBERS
    + r")\b)"
)
_FACT = re.compile(
    r"(?:(?P<pre>\b(?:spf|eu|uk|us|size|pack\s+of|set\s+of|box\s+of|case\s+of|no\.|number|bluetooth|usb|version|ip)"
    r"\s*|#\s*))?"
    r"(?<![\d.])(?<!\d,)(?P<num>" + _NUM + r")(?![\d])"
    r"(?:\s*-?\s*(?P<unit>" + _rules.alternation(u for u in _UNITS if u != "in") + r"|in(?=\s*(?:[),;]|$)))(?![\w]))?",
    re.IGNORECASE,
)
_PRICE = re.compile(
    r"(?P<cur>[$£€])\s?(?P<amt>\d{1,3}(?:,\d{3})*(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)"
    r"|(?P<amt3>\d{1,2})\s?(?:cents?\b|¢)"
    r"|(?P<amt2>\d+(?:[.,]\d{1,2})?)\s?(?:usd|eur|gbp|dollars?|euros?|bucks?)\b"
    # cents said after the dollars ("eight dollars thirty-four" normalises to "8 dollars 34")
    r"(?:\s+(?:and\s+)?(?P<cents>\d{1,2})(?:\s+cents?\b)?(?=\s*(?:[.,;:!?)]|$)))?",
    re.IGNORECASE,
)
_LETTER_SIZE = re.compile(r"(?:\bsize\s+|\(\s*|,\s*)(XXS|XS|S|M|L|XL|XXL|XXXL|2XL|3XL)(?=\s*(?:\)|$|[,.;]))", re.M)


#: Units that count pieces: "4-pack", "pack of 4", "4 x 3 oz", "4 bottles" and "4 count" state one number.
_PIECES = frozenset(
    {"count", "pack", "set", "x", "bottle", "tube", "jar", "unit", "brush", "refill", "sheet", "pad", "wipe", "pair"}
)
#: Units that count doses a price may be worked out per ("under 60 cents a serving").
_DOSES = frozenset({"serving", "capsule", "tablet", "softgel"})
#: Prefixes that label a size ("EU 42", "size 42", "UK 8"): the same number under another of them is the same size.
_SIZE_LABELS = frozenset({"eu", "uk", "us", "size"})
#: Words that state a count of pieces without a digit ("Twin Pack", "Duo").
_COUNT_WORDS = {"twin": 2.0, "duo": 2.0, "double": 2.0, "trio": 3.0, "triple": 3.0}
_COUNT_WORD = re.compile(r"\b(twin|duo|double|trio|triple)\s*[-\s]?\s*(?:pack|set)\b|\b(duo|trio)\b", re.IGNORECASE)
#: A number that opens a list item ("1. Shampoo", "2) Rinse"): an ordinal, no product fact.
_LIST_MARKER = re.compile(r"(?:^|(?<=[:.;!?\n])\s*|\s(?=\d{1,2}[.)]\s+[A-Z]))\s*(\d{1,2})[.)](?=\s+[A-Za-z])")
#: Prefixes that name what the number is (a version, a rating, a label): a unit word after it is not its unit.
_NAMING = frozenset({"bluetooth", "usb", "version", "ip", "spf", "no"})
#: Prefixes that only label a number ("#240466", "No. 5"): the source's bare number supports them.
_LABELS = frozenset({"no"})


@dataclass(frozen=True)
class Fact:
    """A number with its unit (or prefix), where it was found."""

    value: float
    unit: str  # canonical unit, "" when bare
    start: int
    end: int
    text: str


def _value(raw: str) -> float | None:
    raw = number_word(raw.lower())
    if "/" in raw:
        a, _, b = raw.partition("/")
        return float(a) / float(b) if float(b) else None
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw):
        raw = raw.replace(",", "")
    return float(raw.replace(",", "."))


def extract_numbers(text: str, skip: Sequence[tuple[int, int]] = ()) -> list[Fact]:
    """Numbers with units or prefixes ("250 g", "SPF 50", "pack of 4", "30-hour") in ``text``."""
    out = []
    for m in _FACT.finditer(text):
        if any(s < m.end() and m.start() < e for s, e in skip):
            continue
        if m.group("num")[0].isalpha() and not (m.group("unit") or m.group("pre")):
            continue  # "one of the best" is no numeric claim
        value = _value(m.group("num"))
        if value is None:
            continue
        unit = ""
        prefix = _PREFIXES.get(re.sub(r"\s+", " ", m.group("pre").strip().lower()), "") if m.group("pre") else ""
        if prefix in _NAMING:
            unit = prefix  # "Bluetooth 5.3 pairs fast": the number is Bluetooth's version, not a count of pairs
        elif m.group("unit"):
            unit = _UNITS[re.sub(r"\s+", " ", m.group("unit").lower())][0]
        else:
            unit = prefix
        out.append(Fact(value, unit, m.start(), m.end(), m.group()))
    return out


def extract_prices(text: str) -> list[Fact]:
    """Money amounts ("$12.99", "15 EUR") in ``text``."""
    out = []
    for m in _PRICE.finditer(text):
        if m.group("amt3"):
            out.append(Fact(int(m.group("amt3")) / 100, "price", m.start(), m.end(), m.group()))
            continue
        raw = m.group("amt") or m.group("amt2")
        cents = int(m.group("cents")) / 100 if m.group("cents") else 0.0
        out.append(
            Fact(
                float(raw.replace(",", "")) if m.group("amt") else float(raw.replace(",", ".")) + cents,
                "price",
                m.start(),
                m.end(),
                m.group(),
            )
        )
    return out


#: Words before a price that make it a bound or an estimate ("under $6", "about 13 dollars"), not a price.
_PRICE_QUALIFIER = re.compile(
    r"(?P<upper>under|below|less\s+than|no\s+more\s+than|not\s+more\s+than|up\s+to|at\s+most|within|cheaper\s+than)"
    r"|(?P<lower>over|above|more\s+than|at\s+least|from|starting\s+at)"
    r"|(?P<about>about|around|roughly|approximately|approx\.?|nearly|almost|close\s+to|some|circa|~)",
    re.IGNORECASE,
)
#: How far an estimated price ("about $13") may be from the source's.
ESTIMATE_TOLERANCE = 0.10


#: Words after a price that make it a price per piece ("$3.58 a bar", "$2 each", "$5 per bottle").
_PER_PIECE = re.compile(r"^\s*(?:each\b|apiece\b|(?:a|an|per|/)\s*[a-z]+)", re.IGNORECASE)


def price_supported(
    price: Fact, text: str, source_prices: Sequence[float], tolerance: float, counts: Sequence[float] = ()
) -> bool:
    """True when a price the item states agrees with one of the source's: the same amount (within
    ``tolerance``), a bound or estimate the source's price satisfies ("under six dollars" for 5.45), or,
    said per piece ("$3.58 a bar"), the source's price over a count of pieces the source states."""
    before = text[max(0, price.start - 24) : price.start].rstrip().lower()
    qualifier = None
    for m in _PRICE_QUALIFIER.finditer(before):
        if m.end() == len(before):
            qualifier = m.lastgroup
    if _PER_PIECE.match(text[price.end : price.end + 16]):
        pieces = [c for c in counts if c > 1 and c == int(c)]
        source_prices = [*source_prices, *(q / c for q in source_prices for c in pieces)]
    for q in source_prices:
        if abs(price.value - q) <= tolerance * max(q, 1e-9):
            return True
        if qualifier == "upper" and q <= price.value:
            return True
        if qualifier == "lower" and q >= price.value:
            return True
        if qualifier == "about" and abs(price.value - q) <= ESTIMATE_TOLERANCE * max(q, 1e-9):
            return True
    return False


def _dimension(unit: str) -> tuple[str, float]:
    for canon, dim, factor in _UNITS.values():
        if canon == unit:
            return dim, factor
    return "", 1.0


def supported(fact: Fact, source: Iterable[Fact]) -> bool:
    """True when ``source`` states the same number: same unit, an equal amount in another unit of the
    same dimension, the same count of pieces in other words ("4-pack" for "4 bottles"), a labelled
    number the source states bare ("#240466"), or (for a bare number in the item) the same value with any unit."""
    dim, factor = _dimension(fact.unit)
    if fact.unit in _PIECES and fact.value == 1:
        return True  # "one pack", "1 bottle": a single piece needs no support
    for s in source:
        same_value = abs(s.value - fact.value) <= 1e-9 * max(1.0, abs(fact.value))
        if same_value and (s.unit == fact.unit or not fact.unit):
            return True
        if same_value and ({s.unit, fact.unit} <= _SIZE_LABELS or {s.unit, fact.unit} == {"oz", "floz"}):
            return True  # "EU size 42" for "EU 42"; catalogs write fluid ounces as "Ounce"
        if same_value and ({s.unit, fact.unit} <= _PIECES or (fact.unit in _LABELS | _PIECES and not s.unit)):
            return True  # "Pack of 100" for "100 Packed"
        sdim, sfactor = _dimension(s.unit)
        if {s.unit, fact.unit} & {"oz"} and {sdim, dim} == {"mass", "volume"}:
            # catalogs write fluid ounces as "oz": "1.7 oz" of perfume is 50 ml
            sdim, sfactor = ("volume", 29.5735) if s.unit == "oz" else (sdim, sfactor)
            dim, factor = ("volume", 29.5735) if fact.unit == "oz" else (dim, factor)
        if dim and dim == sdim and _close(fact.value * factor, s.value * sfactor):
            return True
    return False


def _close(a: float, b: float) -> bool:
    """Two amounts in one base unit that agree up to rounding in a unit conversion (3%)."""
    return abs(a - b) <= 0.03 * max(abs(a), abs(b))


_SENTENCE_END = re.compile(r"[.;!?](?!\d)|\n")


def _sentence(text: str, fact: Fact) -> tuple[int, int]:
    """The span of the sentence (or clause after a semicolon) a fact stands in."""
    start = max((m.end() for m in _SENTENCE_END.finditer(text, 0, fact.start)), default=0)
    end = _SENTENCE_END.search(text, fact.end)
    return start, end.start() if end else len(text)


_TOTAL_CUE = re.compile(r"\b(?:in\s+total|total|altogether|in\s+all|combined|overall|all\s+told)\b", re.IGNORECASE)


def derived_total(fact: Fact, source: Sequence[Fact], text: str = "") -> bool:
    """True when ``fact`` is a count of pieces times an amount the source states, said as a total: a count
    of pieces ("6 x 40" -> "240 sponges") or an amount with "in total" near it ("Twin Pack, 6 fl oz" ->
    "12 fl oz in total"); "1 fl oz (Pack of 2)" for a pack of two 0.5 fl oz is a changed size."""
    start, end = _sentence(text, fact)
    near = text[start:end]
    if fact.unit not in _PIECES and not _TOTAL_CUE.search(near):
        return False
    counts = [s for s in source if s.unit in _PIECES or not s.unit]
    dim, factor = _dimension(fact.unit)
    for c in counts:
        for s in source:
            if s is c or c.value <= 1:
                continue
            same_unit = s.unit == fact.unit or not fact.unit or fact.unit in _PIECES
            if same_unit and abs(c.value * s.value - fact.value) <= 1e-6 * max(1.0, fact.value):
                return True
            sdim, sfactor = _dimension(s.unit)
            if dim and dim == sdim and _close(fact.value * factor, c.value * s.value * sfactor):
                return True  # "8 x 4 oz" -> "2 lb in all"
    return False


#: A wait a direction asks for ("patch test 48 hours before use", "leave on for 10 minutes", "every 2 hours").
_WAIT_BEFORE = re.compile(
    r"(?:\bevery|\bwait(?:\s+for)?|\b(?:leave|let|sit|soak|rest|steep|process|dry|cool)\b[^.;:!?]{0,24}\bfor)\s*$",
    re.IGNORECASE,
)
_WAIT_AFTER = re.compile(r"^\s*(?:before|after|prior\s+to|apart|between)\b", re.IGNORECASE)
#: Words that make a duration a product claim ("lasts 48 hours", "hydration for 72 hours after application").
_DURATION_CLAIM = re.compile(
    r"\b(?:lasts?|lasting|long|holds?|wear|hydrat\w*|moistur\w*|battery|play\w*|protect\w*|up\s+to|stays?)\b",
    re.IGNORECASE,
)


def direction_wait(fact: Fact, text: str) -> bool:
    """True when a duration is a wait a usage or safety direction asks for, not a claim about the product."""
    if _dimension(fact.unit)[0] != "time":
        return False
    before = text[_sentence(text, fact)[0] : fact.start]
    if _DURATION_CLAIM.search(before):
        return False
    return bool(_WAIT_BEFORE.search(before) or _WAIT_AFTER.match(text[fact.end : fact.end + 16]))


#: An age a warning sets ("for babies under six months, ask a doctor", "not for children under 3 years").
_AGE_BOUND = re.compile(r"(?:under|over|below|above|younger\s+than|older\s+than|aged?|ages)\s*$", re.IGNORECASE)
_AGE_WARNING = re.compile(
    r"\b(?:bab(?:y|ies)|infants?|toddlers?|child(?:ren)?|kids?|doctor|physician|paediatrician|pediatrician|"
    r"not\s+(?:suitable|intended|for)|keep\s+out\s+of\s+reach|adult\s+supervision)\b",
    re.IGNORECASE,
)


def warning_age(fact: Fact, text: str) -> bool:
    """True when a number of months or years is an age a warning sets, not a claim about the product."""
    if fact.unit not in ("month", "year"):
        return False
    start, end = _sentence(text, fact)
    return bool(_AGE_BOUND.search(text[start : fact.start]) and _AGE_WARNING.search(text[start:end]))


def count_words(text: str) -> list[Fact]:
    """Counts stated as words ("Twin Pack" = 2, "Trio" = 3) as bare facts."""
    return [
        Fact(_COUNT_WORDS[(m.group(1) or m.group(2)).lower()], "", m.start(), m.end(), m.group())
        for m in _COUNT_WORD.finditer(text)
    ]


def list_markers(text: str) -> list[tuple[int, int]]:
    """Spans of the numbers that open list items ("1. Shampoo ... 2. Rinse")."""
    return [(m.start(1), m.end(1)) for m in _LIST_MARKER.finditer(text)]


#: Things used with a product, not the product: "use wooden or silicone utensils", "with a cotton pad".
_OTHER_OBJECT = re.compile(
    r"(?:\s+or\s+[a-z-]+)?\s+(?:utensils?|spatulas?|spoons?|cloths?|towels?|pads?|sponges?|combs?|gloves?|"
    r"bowls?|dish(?:es)?|swabs?|balls?|buds?|hangers?)\b",
    re.IGNORECASE,
)


#: Words a source may use for the same ingredient ("scented with green tea" supports "green tea fragrance").
_SAME_MATERIAL = {
    "fragrance": ("scent", "scented", "perfume", "perfumed", "fragranced", "fragrant", "parfum"),
    "aluminum": ("aluminium",),
    "aluminium": ("aluminum",),
    "fiber": ("fibre",),
    "fibre": ("fiber",),
}


def _materials_regex(words: Iterable[str]) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])" + _rules.alternation(w.lower() for w in words if w.strip()) + r"(?![\w])", re.I)


@dataclass(frozen=True)
class ClaimRule:
    """One claim or certification pattern; rules with the same key support each other."""

    key: str
    name: str
    pattern: re.Pattern[str]


def load_claims(extra: Sequence[Any] = ()) -> list[ClaimRule]:
    """The packaged claims and certifications (``rules/claims.toml``) plus operator files, validated."""
    out: list[ClaimRule] = []
    for source in _rules.sources(["claims.toml"], extra):
        data, name = _rules.read_toml(source)
        entries = data.get("claims", [])
        if not isinstance(entries, list):
            raise _rules.RulesError(f"{name}: 'claims' must be an array of tables ([[claims]])")
        for i, entry in enumerate(entries):
            where = f"{name}: claims[{i}]"
            key = entry.get("key")
            if not isinstance(key, str) or not key:
                raise _rules.RulesError(f"{where}.key: expected a non-empty string")
            label = str(entry.get("name", key))
            for pat in _rules.string_list(entry, "patterns", where):
                out.append(ClaimRule(key, label, _rules.compile_pattern(pat, f"{where}.patterns")))
    return out


def find_claims(text: str, rules: Sequence[ClaimRule]) -> list[tuple[ClaimRule, int, int]]:
    """(rule, start, end) of every claim in ``text``, one per span (the longest)."""
    hits = sorted(
        ((r, m.start(), m.end()) for r in rules for m in r.pattern.finditer(text)), key=lambda h: (h[1], -h[2])
    )
    out: list[tuple[ClaimRule, int, int]] = []
    for h in hits:
        if not any(o[1] <= h[1] and h[2] <= o[2] for o in out):
            out.append(h)
    return out


class AuthenticityCheck(Check):
    """Flags facts an edit changed or made up, and creations that pose as existing products."""

    name = "authenticity"
    settings: AuthenticitySettings

    def validate(self) -> None:
        """Read the extra material, claim and brand lists."""
        for source in self.settings.materials:
            _rules.read_list(source)
        for source in self.settings.brand_lists:
            _rules.read_list(source)
        load_claims(self.settings.claims)

    # ---- shared catalog indexes
    def _materials(self, ctx: CheckContext) -> re.Pattern[str]:
        s = self.settings

        def build() -> re.Pattern[str]:
            words: set[str] = set()
            for source in _rules.sources(["materials.txt"], s.materials):
                words.update(w.lower() for w in _rules.read_list(source))
            for r in ctx.catalog_records().values():
                attrs = r.get("attributes") or {}
                if isinstance(attrs, dict):
                    for key in s.material_keys:
                        words.update(norm(v) for v in _as_list(attrs.get(key)) if len(norm(v)) >= 3)
            return _materials_regex(words)

        return ctx.cached(f"authenticity.materials.{tuple(s.materials)}.{tuple(s.material_keys)}", build)

    def _claims(self, ctx: CheckContext) -> list[ClaimRule]:
        return ctx.cached(
            f"authenticity.claims.{tuple(self.settings.claims)}", lambda: load_claims(self.settings.claims)
        )

    def _all_brands(self, ctx: CheckContext) -> BrandLexicon:
        """Every catalog brand plus the brands outside the catalog an edit may not name either (the protected list)."""

        def build() -> BrandLexicon:
            names: set[str] = set(brand_lexicon(ctx).brands)
            for source in _rules.sources(["protected_brands.txt"], self.settings.brand_lists):
                names.update(_rules.read_list(source))
            return BrandLexicon(names)

        return ctx.cached(f"authenticity.all_brands.{tuple(self.settings.brand_lists)}", build)

    def _catalog_claims(self, ctx: CheckContext) -> dict[str, frozenset[str]]:
        """The claim keys each catalog item makes (title, description and attributes)."""
        rules = self._claims(ctx)

        def build() -> dict[str, frozenset[str]]:
            nz = normalizer(ctx)
            return {
                item_id: frozenset(r.key for r, _, _ in find_claims(nz.normalize(_support_text(rec)).text, rules))
                for item_id, rec in ctx.catalog_records().items()
            }

        return ctx.cached(f"authenticity.catalog_claims.{tuple(self.settings.claims)}", build)

    def _titles(self, ctx: CheckContext) -> dict[str, str]:
        return ctx.cached(
            "catalog.titles", lambda: {norm(clean(r.get("title"))): i for i, r in ctx.catalog_records().items()}
        )

    def _title_index(self, ctx: CheckContext) -> ShingleIndex:
        def build() -> ShingleIndex:
            index = ShingleIndex(1)
            for item_id, r in ctx.catalog_records().items():
                index.add(item_id, clean(r.get("title")))
            index.drop_common(200)  # words in hundreds of titles say nothing about which product it is
            return index

        return ctx.cached("authenticity.title_words", build)

    def _specific_title(self, item_id: str, ctx: CheckContext) -> bool:
        """A catalog title that names one product: it has a brand, or a word few other titles use.

        "Sensitive Skin Face Wash" names a kind of product, so a creation may share it.
        """
        record = ctx.catalog_records().get(item_id) or {}
        title = clean(record.get("title"))
        lex = brand_lexicon(ctx)
        own = lex.family(clean(record.get("brand")))
        if own and own not in GENERIC_BRANDS and any(lex.family(m.brand) == own for m in lex.find(title, loose=True)):
            return True  # the title names its own brand
        index = self._title_index(ctx)
        words = {t.text for t in tokens(title)}
        return any(len(index.postings.get(w, ())) <= 5 for w in words if w not in index.stop)

    def _by_category(self, ctx: CheckContext) -> dict[str, list[str]]:
        def build() -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            for item_id, r in ctx.catalog_records().items():
                for c in _as_list(r.get("categories")):
                    if str(c).strip():
                        out.setdefault(str(c).lower(), []).append(item_id)
            return out

        return ctx.cached("authenticity.by_category", build)

    # ---- the check
    def find(self, item: GeneratedItem, ctx: CheckContext) -> tuple[list[Finding], dict[str, Any]]:
        """Edits: facts versus the source item. Creations: posing as an existing product or brand, claims."""
        prov = item.provenance
        if prov.kind == "create" or not prov.source_item_id:
            return self._creation(item, ctx)
        source = ctx.catalog_records().get(str(prov.source_item_id))
        if source is None:
            f = Finding(
                "missing_source",
                f"source item {prov.source_item_id!r} is not in the catalog; facts unchecked",
                "provenance",
                score=0.5,
            )
            return [f], {"source_found": False}
        return self._edit(item, source, ctx), {"source_found": True}

    def _brand_mentions(self, n: Normalized, fld: str, ctx: CheckContext) -> list[BrandMention]:
        return self._all_brands(ctx).find(n.original, title=fld == "title")

    def _edit(self, item: GeneratedItem, source: dict[str, Any], ctx: CheckContext) -> list[Finding]:
        s = self.settings
        nz = normalizer(ctx)
        support_raw = _support_text(source)
        support = nz.normalize(support_raw)
        findings: list[Finding] = []
        lex = brand_lexicon(ctx)
        src_brand = norm(nz.normalize(clean(source.get("brand"))).text)
        # brand field: a different brand, or a brand the brand-less source never names
        new_brand = norm(nz.normalize(item.brand or "").text)
        if (
            new_brand
            and squash(new_brand) != squash(src_brand)
            and lex.family(new_brand) != lex.family(src_brand)
            and new_brand not in GENERIC_BRANDS
            and (src_brand not in GENERIC_BRANDS or f" {new_brand} " not in f" {norm(support.text)} ")
        ):
            was = clean(source.get("brand")) or "no brand"
            findings.append(
                Finding(
                    "changed_brand",
                    f"brand {item.brand!r} differs from the source's {was!r}",
                    "brand",
                    0,
                    len(item.brand or ""),
                    item.brand or "",
                )
            )
        # brands named in the text: any catalog or listed brand the source does not name
        src_families = {lex.family(src_brand)} | {
            lex.family(m.brand) for m in self._all_brands(ctx).find(support_raw, loose=True)
        }
        src_prices = extract_prices(support.text)
        src_facts = extract_numbers(support.text, [(p.start, p.end) for p in src_prices]) + count_words(support.text)
        src_price = source.get("price")
        if isinstance(src_price, (int, float)) and src_price == src_price:
            src_prices.append(Fact(float(src_price), "price", 0, 0, ""))
            src_facts.append(Fact(float(src_price), "", 0, 0, ""))
        counts = [f.value for f in src_facts if f.unit in _PIECES | _DOSES or not f.unit]  # for prices per piece
        src_waits = any(_dimension(x.unit)[0] == "time" for x in src_facts)
        src_ages = any(x.unit in ("month", "year") for x in src_facts)
        raw_attrs = source.get("attributes")
        attrs: dict[str, Any] = raw_attrs if isinstance(raw_attrs, dict) else {}
        src_sizes = {m.group(1) for m in _LETTER_SIZE.finditer(support.text)} | {
            str(v) for v in _as_list(attrs.get("size"))
        }
        materials = self._materials(ctx)
        support_norm = f" {norm(support.text)} "
        claims = self._claims(ctx)
        src_claims = {r.key for r, _, _ in find_claims(support.text, claims)}
        for fld, n in normalized_fields(item, ctx).items():
            text = n.text
            for m in self._brand_mentions(n, fld, ctx):
                if lex.family(m.brand) not in src_families:
                    findings.append(
                        Finding(
                            "foreign_brand",
                            f"names brand {m.brand!r}, which the source does not",
                            fld,
                            m.start,
                            m.end,
                            n.original[m.start : m.end],
                        )
                    )
            prices = extract_prices(text)
            price_spans = [(p.start, p.end) for p in prices]
            for p in prices:
                if not price_supported(p, text, [q.value for q in src_prices], s.price_tolerance, counts):
                    findings.append(
                        finding("changed_price", f"price {p.text!r} is not the source's", fld, n, p.start, p.end)
                    )
            personal = [(m.start, m.end) for m in find_structured(text)]  # a phone number is no product fact
            for f in extract_numbers(text, price_spans + personal + list_markers(text)):
                if not f.unit and f.value <= 12 and n.changed("number_word", f.start, f.end):
                    continue  # "two of the best": a small number word without a unit is no numeric claim
                if direction_wait(f, text) and not src_waits:
                    continue  # a wait the source does not set; one it does set must be kept
                if warning_age(f, text) and not src_ages:
                    continue
                if not supported(f, src_facts) and not derived_total(f, src_facts, text):
                    findings.append(
                        finding("unsupported_number", f"{f.text!r} is not stated by the source", fld, n, f.start, f.end)
                    )
            for size in _LETTER_SIZE.finditer(text):
                if size.group(1) not in src_sizes:
                    findings.append(
                        finding(
                            "unsupported_size",
                            f"size {size.group(1)!r} is not the source's",
                            fld,
                            n,
                            size.start(1),
                            size.end(1),
                        )
                    )
            for mat in materials.finditer(text):
                said = [norm(mat.group()), *_SAME_MATERIAL.get(norm(mat.group()), ())]
                if not any(f" {w} " in support_norm for w in said) and not _OTHER_OBJECT.match(text[mat.end() :]):
                    findings.append(
                        finding(
                            "unsupported_material",
                            f"{mat.group()!r} is not in the source item",
                            fld,
                            n,
                            mat.start(),
                            mat.end(),
                            0.8,
                        )
                    )
            for rule, start, end in find_claims(text, claims):
                if rule.key not in src_claims:
                    findings.append(
                        finding(
                            "unsupported_claim", f"claims {rule.name}, which the source does not", fld, n, start, end
                        )
                    )
        if item.price is not None and isinstance(src_price, (int, float)) and src_price == src_price and src_price > 0:
            change = abs(float(item.price) - float(src_price)) / float(src_price)
            if change > s.price_tolerance:
                findings.append(
                    Finding(
                        "changed_price",
                        f"price {item.price:g} differs from the source's {src_price:g} ({change:.0%})",
                        "price",
                        None,
                        None,
                        str(item.price),
                        min(1.0, change),
                    )
                )
        return findings

    def _kind_claims(self, item: GeneratedItem, ctx: CheckContext) -> tuple[set[str], int]:
        """Claim keys that catalog items of the creation's kind make, and how many such items there are."""
        s = self.settings
        cats = [str(c).lower() for c in item.categories if str(c).strip()]
        groups = self._by_category(ctx)
        peers: list[str] = []
        for cat in reversed(cats):  # the most specific category with enough items to say what its kind claims
            peers = groups.get(cat, [])
            if len(peers) >= _MIN_KIND:
                break
        if not peers:
            near = self._title_index(ctx).query(item.title or "")
            near.sort(key=lambda o: (-o.jaccard, o.key))
            peers = [o.key for o in near[: s.claim_peers]]
        made: dict[str, int] = {}
        per_item = self._catalog_claims(ctx)
        for item_id in peers:
            for key in per_item.get(item_id, ()):
                made[key] = made.get(key, 0) + 1
        need = max(2.0, s.claim_min_share * len(peers))
        return {k for k, c in made.items() if c >= need}, len(peers)

    def _creation(self, item: GeneratedItem, ctx: CheckContext) -> tuple[list[Finding], dict[str, Any]]:
        findings: list[Finding] = []
        normed = normalized_fields(item, ctx)
        title_n = normed["title"]
        title_norm = norm(title_n.text)
        lex = brand_lexicon(ctx)
        claimed: list[tuple[str, str, int, int, str]] = []  # (brand, field, start, end, text)
        if item.brand and lex.find(item.brand, title=True):
            claimed.append((lex.find(item.brand, title=True)[0].brand, "brand", 0, len(item.brand), item.brand))
        for fld, n in normed.items():
            for m in lex.find(n.original, title=fld == "title"):
                claimed.append((m.brand, fld, m.start, m.end, n.original[m.start : m.end]))
        same = self._titles(ctx).get(title_norm) if title_norm else None
        if same is not None and self._specific_title(same, ctx):
            findings.append(
                Finding(
                    "claims_real_product",
                    f"reuses the exact title of catalog item {same}",
                    "title",
                    0,
                    len(item.title),
                    item.title,
                )
            )
        else:
            # Without a catalog brand a title only poses as a real product when it is nearly the same words:
            # catalogs with templated titles share most words between distinct products.
            bar = self.settings.title_similarity if claimed else max(self.settings.title_similarity, 0.8)
            near = self._title_index(ctx).query(title_n.text, min_shared=2)  # one shared word is no claim
            best = max(near, key=lambda o: (o.jaccard, o.key), default=None)
            if best is not None and best.jaccard >= bar and self._specific_title(best.key, ctx):
                findings.append(
                    Finding(
                        "claims_real_product",
                        f"title nearly equals catalog item {best.key}'s ({best.jaccard:.2f} word overlap)",
                        "title",
                        0,
                        len(item.title),
                        item.title,
                        best.jaccard,
                    )
                )
        catalog_brands = set(lex.brands)
        for fld, n in normed.items():  # a real-world brand outside the catalog ("co-engineered with Sony")
            for m in self._all_brands(ctx).find(n.original):
                if m.brand not in catalog_brands:
                    findings.append(
                        Finding(
                            "claims_brand",
                            f"credits itself to brand {m.brand!r}, which no catalog item has (protected list)",
                            fld,
                            m.start,
                            m.end,
                            n.original[m.start : m.end],
                            0.6,
                        )
                    )
        details: dict[str, Any] = {"claimed_brand": claimed[0][0] if claimed else None}
        for brand, fld, start, end, text in claimed:
            findings.append(
                Finding(
                    "claims_brand",
                    f"presents itself as a product of catalog brand {brand!r}",
                    fld,
                    start,
                    end,
                    text,
                    0.6,
                )
            )
        if claimed:
            brand = claimed[0][0]
            rest = _words(title_norm) - set(brand.split())
            records = ctx.catalog_records()
            line_best: float = 0.0
            line_id = None
            for item_id in items_by_brand(ctx).get(brand, []):
                other = _words(norm(clean(records[item_id].get("title")))) - set(brand.split())
                shared = len(rest & other)
                sim = shared / len(rest) if rest and shared >= 2 else 0.0  # share of its words the brand's title has
                if sim > line_best:
                    line_best, line_id = sim, item_id
            details["product_line_similarity"] = line_best
            if line_best >= self.settings.product_line_similarity:
                findings.append(
                    Finding(
                        "claims_product_line",
                        f"title matches {brand!r} product {line_id} ({line_best:.0%} of its words)",
                        "title",
                        0,
                        len(item.title),
                        item.title,
                        line_best,
                    )
                )
        if not self.settings.allow_invented_brands:
            findings += self._invented(item, normed, ctx, {c[0] for c in claimed})
        allowed, peers = self._kind_claims(item, ctx)
        details["kind_items"] = peers
        for fld, n in normed.items():
            for rule, start, end in find_claims(n.text, self._claims(ctx)):
                if rule.key not in allowed:
                    findings.append(
                        finding(
                            "unsupported_claim",
                            f"claims {rule.name}, which no catalog item of its kind makes",
                            fld,
                            n,
                            start,
                            end,
                        )
                    )
        return findings, details

    def _invented(
        self, item: GeneratedItem, normed: dict[str, Normalized], ctx: CheckContext, catalog_brands: set[str]
    ) -> list[Finding]:
        """Brand names in no catalog: an unknown brand field, or a made-up name leading the title or after "by"."""
        out: list[Finding] = []
        known = catalog_words(ctx)
        brand = item.brand or ""
        if brand and not catalog_brands and norm(brand) not in GENERIC_BRANDS and not brand_lexicon(ctx).find(brand):
            msg = f"carries brand {brand!r}, which no catalog item has"
            return [Finding("invented_brand", msg, "brand", 0, len(brand), brand)]
        for fld, n in normed.items():
            rx = _LEADING_NAME if fld == "title" else _BY_NAME
            for m in rx.finditer(n.text):
                # the made-up words that open the name ("Velora" of "Velora Hydrating")
                words = list(re.finditer(r"[A-Za-z]+", m.group("name")))
                made = 0
                while made < len(words) and _made_up(words[made].group(), known):
                    made += 1
                if made:
                    start, end = m.start("name"), m.start("name") + words[made - 1].end()
                    name = n.text[start:end]
                    out.append(
                        finding(
                            "invented_brand",
                            f"{name!r} reads as a brand name no catalog item has",
                            fld,
                            n,
                            start,
                            end,
                            0.8,
                        )
                    )
                    break
        return out


_MIN_KIND = 20
_LEADING_NAME = re.compile(r"^\s*(?P<name>[A-Z][a-z]{3,}(?:\s+[A-Z][a-z]{3,})?)\b(?!')")
_BY_NAME = re.compile(r"\b(?:from|by)\s+(?P<name>[A-Z][a-z]{3,}(?:\s+[A-Z][a-z]{3,})?)(?:'s)?\b")


#: How common (pyspellchecker frequency) both halves of a closed compound must be ("Stove|top").
COMPOUND_PART_FREQUENCY = 1000


def _made_up(word: str, catalog: frozenset[str]) -> bool:
    """A word in neither the English word list nor the catalog, nor a compound of two common English words."""
    w = word.lower()
    if any(v in catalog or english_words().get(v, 0) > 0 for v in (w, *_us_spellings(w))):
        return False
    return not _compound(w)


#: British endings and their American forms ("volumising" -> "volumizing", "colour" -> "color").
_BRITISH = (
    ("ising", "izing"),
    ("ised", "ized"),
    ("iser", "izer"),
    ("ise", "ize"),
    ("isation", "ization"),
    ("our", "or"),
    ("ours", "ors"),
    ("yse", "yze"),
    ("tre", "ter"),
    ("tres", "ters"),
    ("ogue", "og"),
)


def _us_spellings(word: str) -> list[str]:
    """The American spellings a British-spelt word may have (a word list may know only those)."""
    out = [word[: -len(uk)] + us for uk, us in _BRITISH if word.endswith(uk)]
    out += [word.replace("our", "or")] if "our" in word[1:-2] else []
    return out


def _compound(word: str) -> bool:
    """True for a closed compound of two common English words of three letters or more ("stovetop")."""
    known = english_words()
    return any(
        known.get(word[:i], 0) >= COMPOUND_PART_FREQUENCY and known.get(word[i:], 0) >= COMPOUND_PART_FREQUENCY
        for i in range(3, len(word) - 2)
    )


def _support_text(record: dict[str, Any]) -> str:
    """A catalog row's title, description, descriptive attributes and categories: what an edit may say."""
    raw = record.get("attributes")
    attrs: dict[str, Any] = raw if isinstance(raw, dict) else {}
    attr_text = " ; ".join(
        f"{k} {v}" for k, vals in attrs.items() if _descriptive(k) for v in _as_list(vals) if isinstance(v, str)
    )
    cats = " ; ".join(str(c) for c in _as_list(record.get("categories")))
    return f"{record_text(record)}\n{attr_text}\n{cats}"


def _words(text: str) -> set[str]:
    """The words of a normalised title, without bare numbers (sizes vary within a product line)."""
    return {w for w in text.split() if not w.isdigit()}


def _descriptive(key: str) -> bool:
    """Attribute keys that describe the product (not ids, ranks or codes)."""
    k = key.lower()
    return not (k.endswith(("_id", "_ids", "rank")) or k in {"asin", "sku", "ean", "upc"})


def _as_list(value: Any) -> list[Any]:
    if value is None or (isinstance(value, float) and value != value):
        return []
    if isinstance(value, (list, tuple, set)):
        return list(value)
    if hasattr(value, "tolist"):
        return list(value.tolist())
    return [value]
