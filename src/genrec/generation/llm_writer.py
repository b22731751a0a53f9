"""Item texts written by an LLM: rewrite a catalog item for a user, or create a new one.

Prompts are plain completion text that ends inside a listing ("...Title:"), with the user's liked
items as in-context examples; a small model keeps to "Title: ...\\nDescription: ..." far more
reliably than to JSON. The output is parsed leniently, cut to length, and repaired where a small
model predictably slips: a rewrite keeps the source's brand and its quantities (re-inserted if
dropped), and a created item never claims a brand it was not asked for.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from genrec.config import WriterConfig
from genrec.generation.intent import Constraints
from genrec.llm.base import Generation, LLMBackend, LogitsProcessorFn

_STOPS = ("\n\n", "\nBrand:", "\nTitle:", "\nRequest:", "\nCategory:", "\nPrice:")
_LABEL = re.compile(r"^\s*(title|description|brand|category|categories|price|request)\s*:\s*", re.I)
_QUANTITY = re.compile(r"\b\d+(?:[.,]\d+)?(?:\s?[A-Za-z%]{1,4}\b)?")


class LLMWriter:
    """Rewrites an item for a user, or creates a new item, with an LLM backend."""

    def __init__(self, backend: LLMBackend, config: WriterConfig | None = None) -> None:
        self.backend = backend
        self.config = config or WriterConfig()

    def rewrite(
        self,
        item: dict[str, Any],
        liked: Sequence[dict[str, Any]],
        instruction: str,
        n: int = 1,
        temperature: float = 0.7,
        top_p: float = 0.9,
        seed: int = 0,
        logits_processors: Sequence[LogitsProcessorFn] = (),
        constraints: Constraints | None = None,
    ) -> list[dict[str, Any]]:
        """``n`` rewrites of ``item`` following ``instruction``; brand, categories and price carried over
        unless ``constraints`` change them."""
        if not str(item.get("title") or "").strip():
            raise ValueError("rewrite: the source item has no 'title'")
        cons = constraints or Constraints()
        brand = _rewrite_brand(item.get("brand"), cons)
        categories = list(cons.categories) or list(item.get("categories") or [])
        price = _clamp(item.get("price"), cons)
        examples = _pick_examples(liked, categories, cons, self.config.max_examples, skip=item.get("item_id"))
        prompt = (
            (
                "Products this shopper liked:\n" + "".join(f"- {_clean(e['title'])}\n" for e in examples) + "\n"
                if examples
                else ""
            )
            + "Original product:\n"
            + self._listing(item, with_brand=True)
            + f"\n\nRequest: {_clean(instruction) or 'describe it for this shopper'}.\n\nUpdated product:\n"
            + (f"Brand: {brand}\n" if brand else "")
            + "Title:"
        )
        keep = [] if re.search(r"\d", instruction) else _quantities(str(item["title"]))
        drop = [b for b in (item.get("brand"),) if b and b != brand] + list(cons.exclude_brands)
        out = []
        for gen, sample_seed in self._sample(prompt, n, temperature, top_p, seed, logits_processors):
            title, description = parse_listing("Title:" + gen.text)
            repairs = []
            if not title:
                title, description = str(item["title"]), description or str(item.get("description") or "")
                repairs.append("no title in the output: source text kept")
            title, description = scrub_brands(title, description, drop, repairs)
            if (title, description) == (_clean(item["title"]), _clean(item.get("description"))):
                repairs.append("output repeats the source")
            prefix = ""
            if brand and brand.lower() not in title.lower():
                prefix = f"{brand} "
                repairs.append("brand re-inserted")
            title = _truncate(title, self.config.max_title_chars - len(prefix), sentence=False)
            written = re.sub(r"\s+", "", f"{title} {description}").lower()
            missing = [q for q in keep if re.sub(r"\s+", "", q).lower() not in written]
            suffix = f", {', '.join(missing)}" if missing else ""
            if missing:
                repairs.append("quantities re-inserted: " + ", ".join(missing))
            title = self._fit_title(prefix, title, suffix)
            out.append(self._record(title, description, brand, categories, price, gen, sample_seed, repairs))
        return out

    def create(
        self,
        liked: Sequence[dict[str, Any]],
        instruction: str,
        constraints: Constraints | None = None,
        n: int = 1,
        temperature: float = 0.7,
        top_p: float = 0.9,
        seed: int = 0,
        logits_processors: Sequence[LogitsProcessorFn] = (),
    ) -> list[dict[str, Any]]:
        """``n`` new items for a user who liked ``liked``; category, price and (if asked) brand follow
        ``constraints``."""
        cons = constraints or Constraints()
        brand = cons.brands[0] if cons.brands else None
        categories = list(cons.categories) or _main_category(liked, cons)
        price = choose_price(liked, cons, categories)
        examples = _pick_examples(liked, categories, cons, self.config.max_examples, skip=None)
        head = "".join(
            [
                f"Brand: {brand}\n" if brand else "",
                f"Category: {', '.join(categories)}\n" if categories else "",
                f"Price: ${price:.2f}\n" if price is not None else "",
            ]
        )
        shown = "\n\n".join(self._listing(e, with_brand=bool(brand), with_meta=True) for e in examples)
        prompt = (
            (f"Products this shopper liked:\n\n{shown}\n\n" if shown else "")
            + f"Request: {_clean(instruction) or 'something new this shopper would like'}.\n\n"
            + f"New product for this shopper:\n{head}Title:"
        )
        # A new item must not pass itself off as an existing brand it was not asked for.
        drop = {str(e.get("brand")) for e in liked if e.get("brand")} | set(cons.exclude_brands)
        drop.discard(brand or "")
        out = []
        for gen, sample_seed in self._sample(prompt, n, temperature, top_p, seed, logits_processors):
            title, description = parse_listing("Title:" + gen.text)
            repairs: list[str] = []
            title, description = scrub_brands(title, description, sorted(drop), repairs)
            if not title:
                title = " ".join(w.capitalize() for w in [*cons.style_words[:2], *(categories[-1:] or ["item"])])
                repairs.append("no title in the output: made from the constraints")
            prefix = ""
            if brand and brand.lower() not in title.lower():
                prefix = f"{brand} "
                repairs.append("brand re-inserted")
            title = self._fit_title(prefix, title, "")
            out.append(self._record(title, description, brand, categories, price, gen, sample_seed, repairs))
        return out

    # ---- helpers -------------------------------------------------------------------------------

    def _sample(
        self,
        prompt: str,
        n: int,
        temperature: float,
        top_p: float,
        seed: int,
        logits_processors: Sequence[LogitsProcessorFn],
    ) -> Iterable[tuple[Generation, int]]:
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        greedy: Generation | None = None
        for i in range(n):
            if temperature == 0 and greedy is not None:  # greedy output does not depend on the seed
                yield greedy, seed + i
                continue
            gen = self.backend.generate(
                prompt,
                max_new_tokens=self.config.max_new_tokens,
                temperature=temperature,
                top_p=top_p,
                seed=seed + i,
                logits_processors=logits_processors,
                stop=_STOPS,
            )
            greedy = gen if temperature == 0 else None
            yield gen, seed + i

    def _listing(self, item: dict[str, Any], with_brand: bool, with_meta: bool = False) -> str:
        lines = []
        if with_brand and item.get("brand"):
            lines.append(f"Brand: {_clean(item['brand'])}")
        if with_meta and item.get("categories"):
            lines.append(f"Category: {', '.join(map(str, item['categories']))}")
        if with_meta and _number(item.get("price")) is not None:
            lines.append(f"Price: ${float(item['price']):.2f}")
        lines.append(f"Title: {_clean(item.get('title'))}")
        description = _clean(item.get("description"))
        if description:
            lines.append(f"Description: {_truncate(description, self.config.example_chars)}")
        return "\n".join(lines)

    def _fit_title(self, prefix: str, core: str, suffix: str) -> str:
        """``prefix + core + suffix`` within max_title_chars, shortening only the model-written core."""
        room = max(self.config.max_title_chars - len(prefix) - len(suffix), 0)
        return (prefix + _truncate(core, room, sentence=False) + suffix)[: self.config.max_title_chars].strip()

    def _record(
        self,
        title: str,
        description: str,
        brand: str | None,
        categories: list[str],
        price: float | None,
        gen: Generation,
        seed: int,
        repairs: list[str],
    ) -> dict[str, Any]:
        return {
            "title": title,
            "description": fit_description(description, self.config.max_description_chars),
            "brand": brand,
            "categories": list(categories),
            "price": price,
            "seconds": gen.seconds,
            "token_ids": list(gen.token_ids),
            "seed": seed,
            "raw": gen.text,
            "repairs": repairs,
        }


def parse_listing(text: str) -> tuple[str, str]:
    """(title, description) from model output in the 'Title: ...\\nDescription: ...' form, leniently."""
    text = re.sub(r"[*_#`]+", "", text)
    title, description, current = "", [], ""
    for line in text.splitlines():
        label = _LABEL.match(line)
        if label:
            current = label.group(1).lower()
            value = line[label.end() :].strip()
            if current == "title" and not title:
                title = value
            elif current == "title":
                break  # a second listing started
            elif current == "description":
                description.append(value)
        elif current == "title" and not description and line.strip():
            description.append(line.strip())  # a description without its label
            current = "description"
        elif current == "description" and line.strip():
            description.append(line.strip())
    return _clean(title), _clean(" ".join(description))


def choose_price(
    liked: Sequence[dict[str, Any]], constraints: Constraints, categories: Sequence[str] = ()
) -> float | None:
    """A plausible price: the median liked price (in ``categories`` if any), clamped into the constraints."""
    wanted = set(categories)
    prices = [
        p
        for e in liked
        if (p := _number(e.get("price"))) is not None and (not wanted or wanted & set(e.get("categories") or []))
    ]
    if not prices:
        prices = [p for e in liked if (p := _number(e.get("price"))) is not None]
    lo, hi = constraints.price_min, constraints.price_max
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"constraints: price_min {lo} is above price_max {hi}")
    if prices:
        price: float | None = statistics.median(prices)
    elif lo is not None and hi is not None:
        price = (lo + hi) / 2
    elif hi is not None:
        price = hi * 0.8
    elif lo is not None:
        price = lo * 1.2
    else:
        price = None
    return _clamp(price, constraints)


def _clamp(price: Any, constraints: Constraints) -> float | None:
    """``price`` rounded to cents and kept inside [price_min, price_max]."""
    value = _number(price)
    if value is None:
        return None
    value = round(value, 2)
    if constraints.price_min is not None and value < constraints.price_min:
        value = constraints.price_min
    if constraints.price_max is not None and value > constraints.price_max:
        value = constraints.price_max
    return value


def _rewrite_brand(source: Any, constraints: Constraints) -> str | None:
    brand = str(source) if source else None
    if constraints.brands and brand not in constraints.brands:
        return constraints.brands[0]
    if brand and brand in constraints.exclude_brands:
        return None
    return brand


def _main_category(liked: Sequence[dict[str, Any]], constraints: Constraints) -> list[str]:
    """The liked items' most common category path that is not excluded."""
    excluded = set(constraints.exclude_categories)
    paths = Counter(tuple(e.get("categories") or []) for e in liked)
    for path, _ in paths.most_common():
        if path and not excluded & set(path):
            return list(path)
    return []


def _pick_examples(
    liked: Sequence[dict[str, Any]],
    categories: Sequence[str],
    constraints: Constraints,
    k: int,
    skip: Any,
) -> list[dict[str, Any]]:
    """Up to ``k`` liked items with a title, same-category ones first, none of an excluded brand or category."""
    wanted, excluded = set(categories), set(constraints.exclude_categories)
    pool = [
        e
        for e in liked
        if str(e.get("title") or "").strip()
        and (skip is None or e.get("item_id") != skip)
        and e.get("brand") not in constraints.exclude_brands
        and not excluded & set(e.get("categories") or [])
    ]
    pool.sort(key=lambda e: not wanted & set(e.get("categories") or []))  # stable: keeps the caller's order
    return pool[:k]


def _quantities(title: str) -> list[str]:
    """Number-bearing facts of a title ('100 g', '28 cm', '2-pack' numbers) that a rewrite must keep."""
    return [m.group(0).strip() for m in _QUANTITY.finditer(title)]


def scrub_brands(title: str, description: str, names: Sequence[str], repairs: list[str]) -> tuple[str, str]:
    """Remove ``names`` (brands) from the texts, noting it in ``repairs``."""
    for name in names:
        if not name:
            continue
        pattern = re.compile(rf"\b{re.escape(name)}\b(?:'s)?\s*", re.I)
        if pattern.search(title) or pattern.search(description):
            title, description = (
                _clean(re.sub(r"\s+([.,;:!?])", r"\1", pattern.sub("", t))) for t in (title, description)
            )
            repairs.append(f"brand {name!r} removed")
    return title, description


def _clean(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value or "")).strip(" -:;,")


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if out != out else out  # NaN: no price


def fit_description(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, without a trailing unfinished sentence if a whole one precedes it."""
    text = _truncate(text, limit)
    if not text or text[-1] in ".!?":
        return text
    end = max(text.rfind(". "), text.rfind("! "), text.rfind("? "))
    return text[: end + 1] if end > 0 else text


def _truncate(text: str, limit: int, sentence: bool = True) -> str:
    """``text`` cut to ``limit`` characters: at a sentence end if one is late enough, else at a word."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if sentence:
        end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "), cut.rfind("."))
        if end >= limit // 2:
            return cut[: end + 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > 0 else cut).rstrip(" ,;:-")
