"""Prices in a request: bounds ("under $30", "between ten and twenty", "around 15"), with number words read.

``find_prices`` returns each bound with its character span in the original text. Number words
are turned into digits first ("under ten bucks" -> "under 10 bucks", "twenty-five" -> "25",
"a hundred" -> "100", "a tenner" -> "10") and the spans mapped back. Readings chosen for
requests, where a bound is a budget:

* "around / about X" is read as "at most X" (what most people mean by a budget of about X);
* a number after "over / more than" needs no currency word, unless it reads as an age or a size
  ("for women over 40", "over 50 ml");
* a bare range "60-90" counts unless a size or age word stands before it or a unit after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from genrec.generation.words import word_list, word_table

_CUR = r"(?:\$|€|£|usd|eur|gbp)"
_CUR_WORD = r"(?:dollars?|bucks?|usd|euros?|eur|pounds?|gbp|quid)"
_NUM = r"(?<![\w.])\d+(?:[.,]\d+)*(?:\s?k\b)?"


def _amount(name: str) -> str:
    return rf"(?:{_CUR}\s?)?(?P<{name}>{_NUM})(?:\s?(?:{_CUR_WORD}\b|\$|€|£))?"


_A, _B = _amount("a"), _amount("b")
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(p, re.I))
    for kind, p in (
        ("range", rf"\b(?:between|from)\s+{_A}\s*(?:and|to|-|–|—)\s*{_B}"),
        ("range", rf"{_A}\s*(?:-|–|—|to)\s*{_B}"),
        (
            "max",
            rf"(?:\b(?:under|below|beneath|less than|lower than|cheaper than|no more than|not more than|"
            rf"not over|not above|no higher than|not exceeding|at most|max(?:imum)?(?: of)?|up to|within|"
            rf"budget(?: of| is)?|tops|no pricier than|spend)|<=?)\s*{_A}",
        ),
        ("max", rf"{_A}\s*(?:or less|or under|or below|or cheaper|or lower|max(?:imum)?|tops|at most|at the most)\b"),
        (
            "min",
            rf"(?:\b(?:over|above|more than|at least|min(?:imum)?(?: of)?|no less than|not less than|"
            rf"starting (?:at|from)|upwards of|pricier than|more expensive than|higher than|beyond)|>=?)"
            rf"\s*{_A}",
        ),
        ("min", rf"{_A}\s*(?:or more|and up|and above|or above|or higher|plus|\+|minimum|min\b)"),
        ("around", rf"(?:\b(?:around|about|roughly|approximately|approx\.?|circa|close to|say)|~)\s*{_A}"),
        ("bare", rf"{_CUR}\s?(?P<x>{_NUM})|(?P<y>{_NUM})\s?(?:{_CUR_WORD}\b|\$|€|£)"),
    )
)
_UNITS = re.compile(
    r"\s*(?:ml|g|gr|gram|grams|oz|ounces?|fl|kg|l|liters?|litres?|cm|mm|inch|inches|in|pack|packs|pcs|"
    r"pieces?|count|ct|servings?|hours?|hrs?|minutes?|mins?|days?|years?|yrs?|%|percent|x|eu|size|"
    r"watts?|w|mah|gb|tb|people|persons?|cups?|items?|stars?|spf|colou?rs?|shades?|step|steps)\b",
    re.I,
)
_SIZE_BEFORE = re.compile(r"\b(?:eu|us|uk|size|sizes|age|ages|aged|pack|step|spf|no|number|model)\s*$", re.I)
_NEGATED_BEFORE = re.compile(r"(?:\bnot|n't|\bnever|\bno)\b[\w\s]{0,15}$", re.I)
_PRICE_WORDS = re.compile(r"\b(?:price|priced|cost|costs|costing|budget|spend|pay|range|dollars?|bucks?)\b", re.I)
_WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class PriceMention:
    """A price bound read from the text: kind ('min', 'max', 'range'), bounds and character span."""

    kind: str
    low: float | None
    high: float | None
    start: int
    end: int


def _to_number(text: str) -> float:
    text = text.strip().lower().replace(" ", "")
    mult = 1000.0 if text.endswith("k") else 1.0
    text = text.rstrip("k")
    if re.fullmatch(r"\d+,\d{2}", text):  # European decimal comma: 29,99
        text = text.replace(",", ".")
    return float(text.replace(",", "")) * mult


def spell_numbers(text: str) -> tuple[str, list[int]]:
    """``text`` with number words as digits, and for each position of the new text (plus its end)
    the position in ``text`` it came from."""
    units, tens = word_table("numbers", "units"), word_table("numbers", "tens")
    scales, amounts = word_table("numbers", "scales"), word_table("numbers", "amounts")
    words = list(_WORD.finditer(text))
    out: list[str] = []
    pos: list[int] = []
    done = 0
    i = 0
    while i < len(words):
        run = _number_run(words, i, text, units, tens, scales, amounts)
        if run is None:
            i += 1
            continue
        end_index, value = run
        start, end = words[i].start(), words[end_index - 1].end()
        out.append(text[done:start])
        pos.extend(range(done, start))
        digits = str(int(value)) if float(value).is_integer() else str(value)
        out.append(digits)
        pos.extend([start] * len(digits))
        done = end
        i = end_index
    out.append(text[done:])
    pos.extend(range(done, len(text) + 1))
    return "".join(out), pos


def _number_run(
    words: list[re.Match[str]],
    i: int,
    text: str,
    units: dict[str, int],
    tens: dict[str, int],
    scales: dict[str, int],
    amounts: dict[str, int],
) -> tuple[int, float] | None:
    """(index after the run, value) of number words starting at word ``i``, or None."""
    low = [w.group().lower() for w in words]
    first = low[i]
    if first == "a" and i + 1 < len(low) and f"a {low[i + 1]}" in amounts and _adjacent(words, i, text):
        return i + 2, float(amounts[f"a {low[i + 1]}"])
    if first in amounts:
        return i + 1, float(amounts[first])
    total, current, j, last = 0.0, 0.0, i, ""  # last: the kind of the previous number word
    while j < len(low):
        w = low[j]
        if w == "a" and not last and j + 1 < len(low) and low[j + 1] in scales:
            current, last = 1.0, "unit"
        elif (
            w in units
            and last in ("", "tens", "scale", "and")
            and not (w == "one" and not last and not _followed_by_scale(low, j, scales))
        ):
            if last == "tens" and units[w] >= 10:
                break
            current, last = current + units[w], "unit"
        elif w in tens and last in ("", "scale", "and"):
            current, last = current + tens[w], "tens"
        elif w in scales and last in ("unit", "tens"):
            if scales[w] >= 1000:
                total, current = total + current * scales[w], 0.0
            else:
                current *= scales[w]
            last = "scale"
        elif w == "and" and last == "scale" and j + 1 < len(low) and (low[j + 1] in units or low[j + 1] in tens):
            last = "and"
        else:
            break
        j += 1
        if j < len(words) and not _adjacent(words, j - 1, text):
            break
    if last in ("", "and") or (j == i + 1 and low[i] == "a"):
        return None
    return j, total + current


def _followed_by_scale(low: list[str], j: int, scales: dict[str, int]) -> bool:
    return j + 1 < len(low) and (low[j + 1] in scales or low[j + 1] in ("dollar", "dollars", "buck", "bucks"))


def _adjacent(words: list[re.Match[str]], j: int, text: str) -> bool:
    """True when word ``j`` and the next are separated only by a space or a hyphen."""
    gap = text[words[j].end() : words[j + 1].start()] if j + 1 < len(words) else "."
    return gap in (" ", "-", " - ")


def find_prices(text: str) -> list[PriceMention]:
    """Price bounds in ``text``: "under $30", "between 10 and 20 dollars", "€15-25", "at least forty USD", ..."""
    spelled, pos = spell_numbers(text)
    age = {w.lower() for w in word_list("prices", "age_context")}
    found: list[PriceMention] = []
    taken: list[tuple[int, int]] = []
    has_price_word = bool(_PRICE_WORDS.search(spelled))
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(spelled):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            span = m.group(0)
            currency = bool(re.search(rf"{_CUR}|\b{_CUR_WORD}\b|[$€£]", span, re.I))
            if not currency and _UNITS.match(spelled, m.end()):
                continue  # "under 500 ml" is a size
            before = spelled[max(0, m.start() - 20) : m.start()]
            if not currency and _SIZE_BEFORE.search(before):
                continue  # "EU 40-42", "ages 3-5"
            if kind in ("min", "range") and not currency and not has_price_word and _ages(spelled, m, age):
                continue  # "for women over 40"
            groups = {k: v for k, v in m.groupdict().items() if v}
            nums = [_to_number(groups[k]) for k in ("a", "b", "x", "y") if k in groups]
            if not nums:
                continue
            if kind == "range" and nums[0] >= nums[1] and not span.lower().startswith(("between", "from")):
                continue  # "3-2" is no price range
            if kind == "min" and _NEGATED_BEFORE.search(spelled[max(0, m.start() - 25) : m.start()]):
                kind = "max"  # "won't cost more than $20", "not more than"
            if kind == "range":
                low, high = sorted(nums[:2])
            elif kind in ("max", "bare", "around"):
                low, high = None, nums[0]
            else:
                low, high = nums[0], None
            found.append(
                PriceMention("max" if kind in ("bare", "around") else kind, low, high, pos[m.start()], pos[m.end()])
            )
            taken.append((m.start(), m.end()))
    return sorted(found, key=lambda p: p.start)


def _ages(text: str, m: re.Match[str], age: set[str]) -> bool:
    """True when the words around a number read as an age ("women over 40", "over 50 years")."""
    before = [w.lower() for w in _WORD.findall(text[max(0, m.start() - 25) : m.start()])][-3:]
    after = [w.lower() for w in _WORD.findall(text[m.end() : m.end() + 12])][:1]
    return bool(age & set(before)) or bool(age & set(after))


__all__ = ["PriceMention", "find_prices", "spell_numbers"]
