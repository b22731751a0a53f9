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
from genrec.fidelity._catalog import GENERIC_BRANDS, brand_lexicon, items_by_brand, record_text
from genrec.fidelity._text import ShingleIndex, clean, norm, number_word
from genrec.fidelity.base import Check, CheckContext, Finding, item_fields, span_finding
from genrec.fidelity.policy import AuthenticitySettings
from genrec.fidelity.privacy import find_structured

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
    (("inch", "inches", '"', "in."), "inch", "length", 2.54),
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
_NUM = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?(?:/\d+)?|\b(?:" + _WORD_NUMBERS + r")\b)"
_FACT = re.compile(
    r"(?:(?P<pre>\b(?:spf|eu|uk|us|size|pack\s+of|set\s+of|box\s+of|case\s+of|no\.|number|bluetooth|usb|version|ip)"
    r"\s*|#\s*))?"
    r"(?<![\d.,])(?P<num>" + _NUM + r")(?![\d])"
    r"(?:\s*-?\s*(?P<unit>" + _rules.alternation(_UNITS) + r")(?![\w]))?",
    re.IGNORECASE,
)
_PRICE = re.compile(
    r"(?P<cur>[$£€])\s?(?P<amt>\d{1,3}(?:,\d{3})*(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)"
    r"|(?P<amt2>\d+(?:[.,]\d{1,2})?)\s?(?:usd|eur|gbp|dollars|euros)\b",
    re.IGNORECASE,
)
_LETTER_SIZE = re.compile(r"(?:\bsize\s+|\(\s*|,\s*)(XXS|XS|S|M|L|XL|XXL|XXXL|2XL|3XL)(?=\s*(?:\)|$|[,.;]))", re.M)


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
        if m.group("unit"):
            unit = _UNITS[re.sub(r"\s+", " ", m.group("unit").lower())][0]
        elif m.group("pre"):
            unit = _PREFIXES.get(re.sub(r"\s+", " ", m.group("pre").strip().lower()), "")
        out.append(Fact(value, unit, m.start(), m.end(), m.group()))
    return out


def extract_prices(text: str) -> list[Fact]:
    """Money amounts ("$12.99", "15 EUR") in ``text``."""
    out = []
    for m in _PRICE.finditer(text):
        raw = m.group("amt") or m.group("amt2")
        out.append(
            Fact(
                float(raw.replace(",", "")) if m.group("amt") else float(raw.replace(",", ".")),
                "price",
                m.start(),
                m.end(),
                m.group(),
            )
        )
    return out


def _dimension(unit: str) -> tuple[str, float]:
    for canon, dim, factor in _UNITS.values():
        if canon == unit:
            return dim, factor
    return "", 1.0


def supported(fact: Fact, source: Iterable[Fact]) -> bool:
    """True when ``source`` states the same number: same unit, an equal amount in another unit of the
    same dimension, or (for a bare number in the item) the same value with any unit."""
    dim, factor = _dimension(fact.unit)
    for s in source:
        same_value = abs(s.value - fact.value) <= 1e-9 * max(1.0, abs(fact.value))
        if same_value and (s.unit == fact.unit or not fact.unit):
            return True
        sdim, sfactor = _dimension(s.unit)
        if dim and dim == sdim:
            a, b = fact.value * factor, s.value * sfactor
            if abs(a - b) <= 0.03 * max(abs(a), abs(b)):
                return True
    return False


def _materials_regex(words: Iterable[str]) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])" + _rules.alternation(w.lower() for w in words if w.strip()) + r"(?![\w])", re.I)


class AuthenticityCheck(Check):
    """Flags facts an edit changed or made up, and creations that pose as existing products."""

    name = "authenticity"
    settings: AuthenticitySettings

    def validate(self) -> None:
        """Read the extra material lists."""
        for source in self.settings.materials:
            _rules.read_list(source)

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

    # ---- the check
    def find(self, item: GeneratedItem, ctx: CheckContext) -> tuple[list[Finding], dict[str, Any]]:
        """Edits: facts versus the source item. Creations: posing as an existing product."""
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

    def _edit(self, item: GeneratedItem, source: dict[str, Any], ctx: CheckContext) -> list[Finding]:
        s = self.settings
        src_text = record_text(source)
        raw_attrs = source.get("attributes")
        attrs: dict[str, Any] = raw_attrs if isinstance(raw_attrs, dict) else {}
        attr_text = " ; ".join(
            f"{k} {v}" for k, vals in attrs.items() if _descriptive(k) for v in _as_list(vals) if isinstance(v, str)
        )
        cats = " ; ".join(str(c) for c in _as_list(source.get("categories")))
        support_text = f"{src_text}\n{attr_text}\n{cats}"
        findings: list[Finding] = []
        src_brand = norm(clean(source.get("brand")))
        # brand field: a different brand, or a brand the brand-less source never names
        new_brand = norm(item.brand or "")
        if (
            new_brand
            and new_brand != src_brand
            and new_brand not in GENERIC_BRANDS
            and (src_brand not in GENERIC_BRANDS or f" {new_brand} " not in f" {norm(src_text)} ")
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
        # brands named in the text
        lex = brand_lexicon(ctx)
        src_brands = {m.brand for m in lex.find(support_text)} | {src_brand}
        src_prices = extract_prices(support_text)
        price_spans = {}
        src_facts = extract_numbers(support_text, [(p.start, p.end) for p in src_prices])
        src_price = source.get("price")
        if isinstance(src_price, (int, float)) and src_price == src_price:
            src_prices.append(Fact(float(src_price), "price", 0, 0, ""))
            src_facts.append(Fact(float(src_price), "", 0, 0, ""))
        src_sizes = {m.group(1) for m in _LETTER_SIZE.finditer(support_text)} | {
            str(v) for v in _as_list(attrs.get("size"))
        }
        materials = self._materials(ctx)
        support_norm = f" {norm(support_text)} "
        for fld, text in item_fields(item).items():
            for m in lex.find(text):
                if m.brand not in src_brands:
                    findings.append(
                        span_finding(
                            "foreign_brand",
                            f"names brand {m.brand!r}, which the source does not",
                            fld,
                            text,
                            m.start,
                            m.end,
                        )
                    )
            prices = extract_prices(text)
            price_spans[fld] = [(p.start, p.end) for p in prices]
            for p in prices:
                if not any(abs(p.value - q.value) <= s.price_tolerance * max(q.value, 1e-9) for q in src_prices):
                    findings.append(
                        span_finding(
                            "changed_price", f"price {p.text!r} is not the source's", fld, text, p.start, p.end
                        )
                    )
            personal = [(m.start, m.end) for m in find_structured(text)]  # a phone number is no product fact
            for f in extract_numbers(text, price_spans[fld] + personal):
                if not supported(f, src_facts):
                    findings.append(
                        span_finding(
                            "unsupported_number", f"{f.text!r} is not stated by the source", fld, text, f.start, f.end
                        )
                    )
            for size in _LETTER_SIZE.finditer(text):
                if size.group(1) not in src_sizes:
                    findings.append(
                        span_finding(
                            "unsupported_size",
                            f"size {size.group(1)!r} is not the source's",
                            fld,
                            text,
                            size.start(1),
                            size.end(1),
                        )
                    )
            for mat in materials.finditer(text):
                if f" {norm(mat.group())} " not in support_norm:
                    findings.append(
                        span_finding(
                            "unsupported_material",
                            f"{mat.group()!r} is not in the source item",
                            fld,
                            text,
                            mat.start(),
                            mat.end(),
                            0.8,
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

    def _creation(self, item: GeneratedItem, ctx: CheckContext) -> tuple[list[Finding], dict[str, Any]]:
        findings: list[Finding] = []
        title_norm = norm(item.title)
        lex = brand_lexicon(ctx)
        claimed, where = None, None
        if item.brand and norm(item.brand) in lex.brands:
            claimed, where = norm(item.brand), ("brand", 0, len(item.brand), item.brand)
        else:
            first = lex.find(item.title)
            if first and first[0].start <= 2:
                m = first[0]
                claimed, where = m.brand, ("title", m.start, m.end, item.title[m.start : m.end])
        same = self._titles(ctx).get(title_norm) if title_norm else None
        if same is not None:
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
            near = self._title_index(ctx).query(item.title)
            best = max(near, key=lambda o: (o.jaccard, o.key), default=None)
            if best is not None and best.jaccard >= bar:
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
        details: dict[str, Any] = {"claimed_brand": claimed}
        if claimed and where:
            fld, start, end, text = where
            findings.append(
                Finding(
                    "claims_brand",
                    f"presents itself as a product of catalog brand {claimed!r}",
                    fld,
                    start,
                    end,
                    text,
                    0.6,
                )
            )
            rest = _words(title_norm) - set(claimed.split())
            records = ctx.catalog_records()
            line_best: float = 0.0
            line_id = None
            for item_id in items_by_brand(ctx).get(claimed, []):
                other = _words(norm(clean(records[item_id].get("title")))) - set(claimed.split())
                shared = len(rest & other)
                sim = shared / len(rest) if rest and shared >= 2 else 0.0  # share of its words the brand's title has
                if sim > line_best:
                    line_best, line_id = sim, item_id
            details["product_line_similarity"] = line_best
            if line_best >= self.settings.product_line_similarity:
                findings.append(
                    Finding(
                        "claims_product_line",
                        f"title matches {claimed!r} product {line_id} ({line_best:.0%} of its words)",
                        "title",
                        0,
                        len(item.title),
                        item.title,
                        line_best,
                    )
                )
        return findings, details


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
