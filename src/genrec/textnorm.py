"""One text normaliser and tokeniser for genrec: undo spelling tricks, keep the way back to the original.

``normalize(text)`` returns a ``Normalized``: the normalised text and, for every character of it,
the span of the original text it came from, so a finding on the normalised text points at the
original span (``Normalized.span``). What is undone, in order:

1. HTML character references (``&amp;``, ``&#64;``, ``&lt;``) are decoded.
2. Per character: invisible characters (format and control characters: zero-width spaces and
   joiners, bidirectional overrides, soft hyphens, Unicode tag characters, variation selectors)
   are removed and remembered; Unicode NFKC (full-width and mathematical letters, ligatures),
   combining accents dropped ("é" -> "e"), lookalike letters of other scripts mapped to Latin
   (Cyrillic "а", "с", "і", Greek "ο", ... from the Unicode confusables table), digits of any
   script to ASCII, typographic quotes, dashes and spaces to ASCII.
3. Letters spelled out with separators are joined ("k i l l", "c.u.t", "U.S.D.A.").
4. Masked words are restored when exactly one sensitive word fits ("f*cking", "sh!t").
5. L33t spellings are read back when that gives a known word ("c0ke", "cl1nically pr0ven").
6. Number words become digits ("fifty hours" -> "50 hours", "twenty-four" -> "24").

Case is kept. Known words are an English word list (the ``pyspellchecker`` package's), the
sensitive words in ``textnorm_data/sensitive_words.txt``, and any extra words a ``Normalizer`` is
built with (a catalog's brand names, say). Without the optional word-list packages the
normaliser still runs; it then recognises fewer l33t spellings.

The module also holds the word tokeniser (``tokens``, ``norm``) and a sentence splitter that does
not break numbers ("Bluetooth 5.3", "$6.45") or common abbreviations (``sentence_spans``). It
imports nothing from genrec: every layer may use it.
"""

from __future__ import annotations

import functools
import gzip
import html
import json
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

__all__ = [
    "Change",
    "Normalized",
    "Normalizer",
    "Token",
    "cell",
    "display_text",
    "english_words",
    "norm",
    "normalize",
    "number_value",
    "prompt_text",
    "sentence_spans",
    "tokens",
    "visible_text",
]


# ---- tokens ------------------------------------------------------------------------------------
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")


@dataclass(frozen=True)
class Token:
    """A lower-cased word and where it sits in the text."""

    text: str
    start: int
    end: int


def cell(value: object) -> str:
    """A table cell as text: None and NaN become ""."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def tokens(text: str) -> list[Token]:
    """Word tokens (letters and digits, inner apostrophes kept), lower-cased, with character offsets."""
    return [Token(m.group().lower().replace("’", "'"), m.start(), m.end()) for m in _TOKEN.finditer(text or "")]


def norm(text: str) -> str:
    """Lower-cased words joined by single spaces (punctuation dropped): the form used for exact matches."""
    return " ".join(t.text for t in tokens(text))


# ---- sentences ---------------------------------------------------------------------------------
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "no",
        "nos",
        "vs",
        "etc",
        "approx",
        "incl",
        "e.g",
        "i.e",
        "fl",
        "oz",
        "co",
        "inc",
        "ltd",
        "jr",
        "sr",
        "mt",
        "ft",
        "vol",
        "pg",
        "dept",
        "est",
    ]
)
_END = re.compile(r"[.!?]+[\"')\]]*(?=\s|$)|\n+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text`` (spaces trimmed); a point between digits or after an abbreviation ends none."""
    out: list[tuple[int, int]] = []
    start = 0
    for m in _END.finditer(text):
        if m.group().startswith("."):
            before = text[start : m.start()].split()
            word = before[-1].lower().rstrip(".") if before else ""
            dotted = re.fullmatch(r"(?:[a-z]\.)+[a-z]", word) is not None
            if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()) or dotted:
                continue  # "Dr. Scholl's", "e.g. this", "made in the U.S. by hand"
        _add_span(text, start, m.end(), out)
        start = m.end()
    _add_span(text, start, len(text), out)
    return out


def _add_span(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    piece = text[start:end]
    if piece.strip():
        a = start + len(piece) - len(piece.lstrip())
        b = start + len(piece.rstrip())
        out.append((a, b))


# ---- word lists --------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def english_words() -> dict[str, int]:
    """English words with their frequency (pyspellchecker's list; empty when the package is missing)."""
    try:
        data = resources.files("spellchecker").joinpath("resources/en.json.gz").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return {}
    words: dict[str, int] = json.loads(gzip.decompress(data))
    return words


@lru_cache(maxsize=1)
def sensitive_words() -> frozenset[str]:
    """Words that spelling tricks hide (profanity, slurs, drugs, harm), from textnorm_data/."""
    text = resources.files("genrec").joinpath("textnorm_data/sensitive_words.txt").read_text(encoding="utf-8")
    return frozenset(w.strip().lower() for w in text.splitlines() if w.strip() and not w.startswith("#"))


@functools.cache
def _words_of_length(n: int) -> dict[str, int]:
    """English words of ``n`` letters with their frequencies."""
    return {w: f for w, f in english_words().items() if len(w) == n and w.isalpha()}


@functools.cache
def _maskable() -> frozenset[str]:
    """The sensitive words and their plurals ("sp*cs"): what a masked word may be restored to."""
    words = sensitive_words()
    return words | {w + "s" for w in words if not w.endswith("s")}


# ---- per-character mapping ---------------------------------------------------------------------
_PUNCT = {
    "‘": "'",
    "’": "'",
    "‚": "'",
    "‛": "'",
    "′": "'",
    "ʼ": "'",
    "`": "'",
    "´": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "″": '"',
    "«": '"',
    "»": '"',
    "‹": "<",
    "›": ">",
    "‐": "-",
    "‑": "-",
    "‒": "-",
    "–": "-",
    "—": "-",
    "―": "-",
    "−": "-",
    "⁄": "/",
    "∕": "/",
    "•": "*",
    "·": ".",
    "…": "...",
}
_EXTRA_LOOKALIKES = {
    "к": "k",
    "К": "K",
    "м": "m",
    "т": "t",
    "н": "h",
    "в": "b",
    "г": "r",
    "п": "n",
    "ё": "e",
    "ї": "i",
    "ԁ": "d",
    "κ": "k",
    "ι": "i",
    "ν": "v",
    "τ": "t",
    "ρ": "p",
    "χ": "x",
    "ω": "w",
    "μ": "u",
}
_SAFE_SYMBOLS = set("<>/\\:;'\"-=()[]{}@.,!?#$%&*+_|~")
# Blocks of combining diacritics (Zalgo text, accents): dropped; marks of other scripts are kept.
_DIACRITICS = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F))


@lru_cache(maxsize=1)
def _confusables() -> dict[str, str]:
    """Non-ASCII characters that look like one ASCII letter or symbol, mapped to it (Unicode confusables)."""
    try:
        from confusable_homoglyphs.confusables import confusables_data
    except ImportError:
        data: dict[str, list[dict[str, str]]] = {}
    else:
        data = confusables_data
    out: dict[str, str] = {}
    for key, glyphs in data.items():
        if len(key) != 1:
            continue
        if key.isascii():
            if key.isalpha():
                for g in glyphs:
                    c = g.get("c", "")
                    if len(c) == 1 and not c.isascii():
                        out.setdefault(c, key)
            continue
        for g in glyphs:
            c = g.get("c", "")
            if len(c) == 1 and c.isascii() and (c.isalpha() or c in _SAFE_SYMBOLS):
                out[key] = c
                break
    for key in list(out):  # prefer letters that keep the case of the lookalike
        if key.isupper() and out[key].islower() and out[key].upper().isascii():
            out[key] = out[key].upper()
    # letters of other scripts that read as Latin ones in everyday fonts, though the table keeps them apart
    for key, value in _EXTRA_LOOKALIKES.items():
        out.setdefault(key, value)
    return out


def _invisible(ch: str) -> bool:
    cat = unicodedata.category(ch)
    if ch in "\n\t":
        return False
    if cat in ("Cf", "Cc", "Co", "Cs", "Cn") and ch != " ":
        return True
    return 0xFE00 <= ord(ch) <= 0xFE0F or 0xE0100 <= ord(ch) <= 0xE01EF or ch in "\u115f\u1160\u3164\uffa0"


@lru_cache(maxsize=65536)
def map_char(ch: str) -> str:
    """What one character becomes: "" for invisible ones, else its ASCII-leaning normal form."""
    if ch.isascii():
        return " " if ch == "\t" else ch
    if _invisible(ch):
        return ""
    cat = unicodedata.category(ch)
    if cat == "Nd":
        return str(unicodedata.digit(ch))
    if cat.startswith("Z"):
        return " "
    if ch in _PUNCT:
        return _PUNCT[ch]
    conf = _confusables()
    out = []
    for c in unicodedata.normalize("NFKC", ch):
        if c in _PUNCT:
            out.append(_PUNCT[c])
            continue
        decomposed = unicodedata.normalize("NFD", c)
        base = "".join(d for d in decomposed if not any(a <= ord(d) <= b for a, b in _DIACRITICS))
        base = unicodedata.normalize("NFC", base) if base else ""
        out.append("".join(conf.get(b, b) for b in base))
    return "".join(out)


# ---- the normalised text -----------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    """One thing the normaliser undid: its kind and the original span."""

    kind: str  # "hidden", "entity", "lookalike", "spaced", "masked", "leet", "number_word"
    start: int
    end: int
    original: str
    replacement: str


@dataclass(frozen=True)
class Normalized:
    """A normalised text with, per character, the original span it came from."""

    original: str
    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    changes: tuple[Change, ...] = ()

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span that normalised ``text[start:end]`` came from."""
        if not self.text:
            return 0, 0
        start = max(0, min(start, len(self.text) - 1))
        end = max(start + 1, min(end, len(self.text)))
        return self.starts[start], self.ends[end - 1]

    def original_text(self, start: int, end: int) -> str:
        """The original text behind normalised ``text[start:end]``."""
        a, b = self.span(start, end)
        return self.original[a:b]

    def hidden(self) -> list[Change]:
        """Invisible characters that were removed."""
        return [c for c in self.changes if c.kind == "hidden"]

    def changed(self, kind: str, start: int, end: int) -> bool:
        """True when a change of ``kind`` touches the normalised span ``[start, end)``."""
        a, b = self.span(start, end)
        return any(c.kind == kind and c.start < b and a < c.end for c in self.changes)


class _Builder:
    """Characters with original spans, rewritten stage by stage."""

    def __init__(self, chars: list[str], starts: list[int], ends: list[int], original: str) -> None:
        self.chars, self.starts, self.ends, self.original = chars, starts, ends, original
        self.changes: list[Change] = []

    @property
    def text(self) -> str:
        return "".join(self.chars)

    def rewrite(self, edits: list[tuple[int, int, str, str]]) -> None:
        """Replace text[a:b] by ``new`` for each (a, b, new, kind), non-overlapping, in any order."""
        if not edits:
            return
        chars: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        pos = 0
        for a, b, new, kind in sorted(edits):
            chars += self.chars[pos:a]
            starts += self.starts[pos:a]
            ends += self.ends[pos:a]
            oa, ob = self.starts[a], self.ends[b - 1]
            chars += list(new)
            starts += [oa] * len(new)
            ends += [ob] * len(new)
            self.changes.append(Change(kind, oa, ob, self.original[oa:ob], new))
            pos = b
        self.chars = chars + self.chars[pos:]
        self.starts = starts + self.starts[pos:]
        self.ends = ends + self.ends[pos:]


_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_LEET = {"0": "o", "1": "il", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s", "!": "i", "|": "l"}
_LEET_TOKEN = re.compile(r"(?<![\w@$!|])[A-Za-z0-9@$!|]*[A-Za-z][A-Za-z0-9@$!|]*(?![\w@$|])")
_UNIT_TOKEN = re.compile(
    r"\d+(?:st|nd|rd|th|s|x|k|d|ml|l|g|kg|mg|oz|lb|lbs|mm|cm|m|in|ft|pk|pc|pcs|ct|hr|hrs|h|min|mins|gb|mb|tb|w|v|mah|hz|"
    r"khz|mp|p|yr|yrs|am|pm)",
    re.IGNORECASE,
)
#: A word with one or more letters masked ("f*ck", "*ss", "w*tb*cks").
_MASKED = re.compile(r"(?<![\w*#])(?=[*#]*[A-Za-z])[A-Za-z]*(?:[*#]+[A-Za-z]*)+(?<=[A-Za-z*#])(?![\w*#])")
_SINGLE = r"[A-Za-z0-9@$!|]"
_SPLIT_WORD = re.compile(r"(?<![\w.@])([A-Za-z]{2,})[._·]([A-Za-z]{2,})(?![\w@]|\.\w)")
_SPACED = re.compile(r"(?<![\w@$!|])" + _SINGLE + r"(?:(?: {1,3}|[.\-_*·/] ?)" + _SINGLE + r"){2,}\.?(?![\w@$!|])")
_UNITS_WORDS = {
    "zero": 0,
    "oh": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS_WORDS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_NUMBER_WORD = "|".join(sorted({*_UNITS_WORDS, *_TENS_WORDS, *_SCALES} - {"oh"}, key=len, reverse=True))
_NUMBER_RUN = re.compile(
    r"\b(?:(?:a|an)\s+(?=(?:hundred|thousand|million)\b))?(?:" + _NUMBER_WORD + r")\b"
    r"(?:(?:[\s-]+|\s+and\s+)(?:" + _NUMBER_WORD + r")\b)*",
    re.IGNORECASE,
)
#: "seventeen and a half", "2 and a half": a whole number and a half.
_AND_A_HALF = re.compile(
    r"\b(?P<int>\d+|(?:" + _NUMBER_WORD + r")(?:[\s-]+(?:" + _NUMBER_WORD + r"))*)\s+and\s+a\s+half\b", re.IGNORECASE
)
_DIGIT_WORD = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|\d)"
#: "one point seven", "five point three", "2 point 5": a decimal read out (the fraction digit by digit).
_DECIMAL_WORDS = re.compile(
    r"\b(?P<int>\d+|(?:" + _NUMBER_WORD + r")(?:[\s-]+(?:" + _NUMBER_WORD + r"))*)\s+point\s+"
    r"(?P<frac>" + _DIGIT_WORD + r"(?:\s+" + _DIGIT_WORD + r")*)\b",
    re.IGNORECASE,
)
#: "point four six": a decimal without its zero, only with two or more digits ("at that point one ..." is prose).
_BARE_DECIMAL_WORDS = re.compile(
    r"\bpoint\s+(?P<frac>" + _DIGIT_WORD + r"(?:\s+" + _DIGIT_WORD + r")+)\b", re.IGNORECASE
)
_DIGIT_WORDS = re.compile(
    r"(?<![A-Za-z])(?:\d|zero|one|two|three|four|five|six|seven|eight|nine)+(?![A-Za-z])", re.IGNORECASE
)


def number_value(words: str) -> list[int]:
    """The numbers a run of number words spells ("twenty-four" -> [24], "five five five" -> [5, 5, 5])."""
    out: list[int] = []
    total, current, last = 0, 0, ""
    started = False
    for w in re.split(r"[\s-]+", words.lower().strip()):
        if w in ("and", ""):
            continue
        if w in ("a", "an"):
            current, started = 1, True
            continue
        if w in _SCALES:
            current = max(current, 1) * _SCALES[w]
            if _SCALES[w] >= 1000:
                total, current = total + current, 0
            last, started = "scale", True
            continue
        value = _UNITS_WORDS.get(w, _TENS_WORDS.get(w))
        if value is None:
            continue
        kind = "tens" if w in _TENS_WORDS else "unit"
        # a new number starts when this word cannot extend the current one ("five five", "twenty thirty")
        if started and not (last == "tens" and kind == "unit" and value < 10) and last != "scale":
            out.append(total + current)
            total, current = 0, 0
        current += value
        last, started = kind, True
    if started:
        out.append(total + current)
    return out


class Normalizer:
    """Normalises texts (see the module docstring); ``extra_words`` are known words besides the word lists."""

    def __init__(self, extra_words: Iterable[str] = (), memo_size: int = 100_000) -> None:
        self.extra = frozenset(w.lower() for w in extra_words if w)
        self.memo_size = memo_size
        self._memo: OrderedDict[str, Normalized] = OrderedDict()

    def known(self, word: str) -> bool:
        """True for a word of the English list, the sensitive list or the extra words (lower case)."""
        return word in self.extra or word in sensitive_words() or word in english_words()

    def normalize(self, text: str) -> Normalized:
        """The normalised form of ``text`` (memoised)."""
        text = text or ""
        hit = self._memo.get(text)
        if hit is not None:
            self._memo.move_to_end(text)
            return hit
        out = self._normalize(text)
        self._memo[text] = out
        if len(self._memo) > self.memo_size:
            self._memo.popitem(last=False)
        return out

    # -- the stages
    def _normalize(self, text: str) -> Normalized:
        b = _Builder(list(text), list(range(len(text))), list(range(1, len(text) + 1)), text)
        if "&" in text:
            b.rewrite([(m.start(), m.end(), html.unescape(m.group()), "entity") for m in _ENTITY.finditer(b.text)])
        if not b.text.isascii():
            self._chars(b)
        t = b.text
        if re.search(_SINGLE + r"[ .\-_*·/]" + _SINGLE + r"[ .\-_*·/]" + _SINGLE, t):
            self._spaced(b)
        if re.search(r"[A-Za-z][._][A-Za-z]", b.text):
            self._split_words(b)
        if "*" in t or "#" in t:
            self._masked(b)
        if re.search(r"[A-Za-z][0-9@$!|]|[0-9@$!|][A-Za-z]", b.text):
            self._leet(b)
        if re.search(
            r"(?i)\b(?:"
            + _NUMBER_WORD
            + r")\b|\d(?:zero|one|two|three|four|five|six|seven|eight|nine)|\band\s+a\s+half\b",
            b.text,
        ):
            self._numbers(b)
        return Normalized(text, b.text, tuple(b.starts), tuple(b.ends), tuple(b.changes))

    def _chars(self, b: _Builder) -> None:
        edits = []
        for i, ch in enumerate(b.chars):
            new = map_char(ch)
            if new != ch:
                kind = "hidden" if not new else "lookalike"
                edits.append((i, i + 1, new, kind))
        b.rewrite(edits)

    def _spaced(self, b: _Builder) -> None:
        text = b.text
        edits = []
        for m in _SPACED.finditer(text):
            start, end = m.start(), m.end()
            run = m.group()
            if sum(run.count(c) for c in "*#") == 1 and re.search(r"[A-Za-z][*#][A-Za-z]", run):
                continue  # one masked letter after a short word ("ex's c*r"): not spacing; the mask step reads it
            dotted = bool(re.fullmatch(r"(?:[A-Za-z]\.){2,}[A-Za-z]?\.?", run))
            if run.endswith(".") and not dotted:
                run, end = run[:-1], end - 1  # the sentence's full stop
            words = _spaced_groups(run)
            if words is None:
                continue
            # a fragment glued to the run's start belongs to it when that makes a known word ("sp a z z e s")
            before = re.search(r"(?<![\w@$!|])[A-Za-z]{2,3} $", text[max(0, start - 4) : start])
            if before and len(words) == 1 and self.known((before.group().strip() + words[0]).lower()):
                words[0] = before.group().strip() + words[0]
                start -= len(before.group())
            out: list[str] = []
            for w in words:
                letters = sum(c.isalpha() for c in w)
                plain = self._deleet(w) or w
                if len(w) >= 2 and letters >= 2 and (dotted or letters >= 4 or self.known(plain.lower())):
                    out.append(w)  # joined
                elif len(w) <= 2:
                    out.append(" ".join(w))  # one or two loose characters stay as they are
                else:
                    break  # an unknown spaced-out word: leave the whole run alone
            else:
                if out != [" ".join(w) for w in words]:
                    edits.append((start, end, " ".join(out), "spaced"))
        b.rewrite(edits)

    def _split_words(self, b: _Builder) -> None:
        """Words split by one inner dot or underscore ("pu.rge") joined when that makes a known word."""
        edits = []
        for m in _SPLIT_WORD.finditer(b.text):
            left, right = m.group(1), m.group(2)
            joined = (left + right).lower()
            if self.known(joined) and not (self.known(left.lower()) and self.known(right.lower())):
                edits.append((m.start(), m.end(), left + right, "spaced"))
        b.rewrite(edits)

    def _masked(self, b: _Builder) -> None:
        edits = []
        for m in _MASKED.finditer(b.text):
            word = m.group()
            rx = re.compile("^" + re.sub(r"[*#]+", lambda s: f"[a-z]{{1,{len(s.group()) + 1}}}", word.lower()) + "$")
            fits = sorted(w for w in _maskable() if rx.match(w))
            if not fits and re.fullmatch(r"[A-Za-z]+[*#][A-Za-z]+", word) and len(word) >= 4:
                # one letter masked inside an everyday word ("y*urself", "h*ndle"): the most frequent word that fits
                same_length = _words_of_length(len(word))
                fits = sorted((w for w in same_length if rx.match(w)), key=lambda w: -same_length[w])[:1]
            if not fits:
                continue
            same = [w for w in fits if len(w) == len(word)]
            pick = (same or fits)[0]
            edits.append((m.start(), m.end(), _recase(pick, word), "masked"))
        b.rewrite(edits)

    def _deleet(self, word: str, min_letters: int = 2) -> str | None:
        """The known word a l33t spelling stands for, or None."""
        if not any(c in _LEET for c in word) or sum(c.isalpha() for c in word) < min_letters:
            return None
        options = [_LEET.get(c, c.lower()) if c in _LEET else c.lower() for c in word]
        candidates = [""]
        for opt in options:
            candidates = [c + o for c in candidates for o in opt]
            if len(candidates) > 64:
                return None
        for cand in candidates:
            if self.known(cand):
                return _recase(cand, word)
        return None

    def _leet(self, b: _Builder) -> None:
        edits = []
        for m in _LEET_TOKEN.finditer(b.text):
            word = m.group()
            if not any(c in _LEET for c in word) or _UNIT_TOKEN.fullmatch(word) or self.known(word.lower()):
                continue
            inner = any(
                (c in _LEET and 0 < i < len(word) - 1 and word[i - 1].isalpha()) or (c in "0134578" and i == 0)
                for i, c in enumerate(word)
            )
            if not inner:
                continue
            plain = self._deleet(word)
            if plain:
                edits.append((m.start(), m.end(), plain, "leet"))
        edits += self._leet_sentences(b.text, edits)
        b.rewrite(sorted(edits))

    def _leet_sentences(self, text: str, found: list[tuple[int, int, str, str]]) -> list[tuple[int, int, str, str]]:
        """In a sentence written in l33t throughout (two or more words undone), also the short words and those with
        digits at their ends ("7h3", "0f", "wh0"), which alone are too often model numbers to undo."""
        out = []
        for a, b in sentence_spans(text):
            if sum(a <= e[0] < b for e in found) < 2:
                continue
            done = {e[0] for e in found}
            for m in _LEET_TOKEN.finditer(text, a, b):
                word = m.group()
                if m.start() in done or _UNIT_TOKEN.fullmatch(word) or self.known(word.lower()):
                    continue
                plain = self._deleet(word, min_letters=1)
                if plain:
                    out.append((m.start(), m.end(), plain, "leet"))
        return out

    def _numbers(self, b: _Builder) -> None:
        edits = []
        text = b.text
        for m in _DIGIT_WORDS.finditer(text):  # "5five5" -> "555"
            token = m.group()
            if token.isdigit() or token.isalpha():
                continue
            digits = re.sub(
                r"(?i)zero|one|two|three|four|five|six|seven|eight|nine",
                lambda w: str(_UNITS_WORDS[w.group().lower()]),
                token,
            )
            edits.append((m.start(), m.end(), digits, "number_word"))
        b.rewrite(edits)
        edits = []
        for m in _DECIMAL_WORDS.finditer(b.text):
            whole = [int(m.group("int"))] if m.group("int").isdigit() else number_value(m.group("int"))
            if len(whole) != 1:
                continue  # "five five point one": digits read out, not one decimal
            frac = "".join(w if w.isdigit() else str(_UNITS_WORDS.get(w.lower(), 0)) for w in m.group("frac").split())
            edits.append((m.start(), m.end(), f"{whole[0]}.{frac}", "number_word"))
        b.rewrite(edits)
        edits = [
            (m.start(), m.end(), "0." + _digits(m.group("frac")), "number_word")
            for m in _BARE_DECIMAL_WORDS.finditer(b.text)
        ]
        b.rewrite(edits)
        edits = []
        for m in _AND_A_HALF.finditer(b.text):
            whole = [int(m.group("int"))] if m.group("int").isdigit() else number_value(m.group("int"))
            if len(whole) == 1:
                edits.append((m.start(), m.end(), f"{whole[0]}.5", "number_word"))
        b.rewrite(edits)
        text = b.text
        edits = []
        for m in _NUMBER_RUN.finditer(text):
            if m.group().lower() in ("one", "a", "an"):
                continue  # "one of the best", "this one": a pronoun more often than a number
            values = number_value(m.group())
            if values:
                edits.append((m.start(), m.end(), " ".join(str(v) for v in values), "number_word"))
        b.rewrite(edits)


def _digits(words: str) -> str:
    """Digits read out one by one ("four six" -> "46")."""
    return "".join(w if w.isdigit() else str(_UNITS_WORDS.get(w.lower(), 0)) for w in words.split())


def _spaced_groups(run: str) -> list[str] | None:
    """The words of a run of spaced-out characters: a new word wherever the separator widens or changes.

    "I g n o r e  a l l" -> ["Ignore", "all"]; "a d.y.k.e" -> ["a", "dyke"]; "U.S.D.A. O r g" -> ["USDA", "Org"].
    """
    chars = re.findall(_SINGLE, run)
    gaps = re.split(_SINGLE, run)[1:-1]
    if len(gaps) != len(chars) - 1:
        return None
    kinds = []
    for g in gaps:
        if len(g) > 1 and g.strip() == "":
            kinds.append("wide")
        elif g == ". ":
            kinds.append("end")
        else:
            kinds.append(g.strip() or "space")
    # runs of equal gap kinds; a character between two runs goes to the longer one
    runs: list[list[int]] = []  # [kind index start, end] over gaps
    for i, k in enumerate(kinds):
        if runs and kinds[runs[-1][0]] == k and k not in ("wide", "end"):
            runs[-1][1] = i
        else:
            runs.append([i, i])
    words: list[str] = []
    taken = 0  # first character not yet placed
    for n, (g0, g1) in enumerate(runs):
        if kinds[g0] in ("wide", "end"):
            if taken <= g0:
                words.append("".join(chars[taken : g0 + 1]))
                taken = g0 + 1
            continue
        first, last = max(g0, taken), g1 + 1  # characters g0 .. g1 + 1 are joined by this run
        nxt = runs[n + 1] if n + 1 < len(runs) else None
        if nxt and kinds[nxt[0]] not in ("wide", "end") and (nxt[1] - nxt[0]) > (g1 - g0):
            last = g1  # the shared character goes to the longer next run
        if first <= last:
            words.append("".join(chars[first : last + 1]))
            taken = last + 1
    if taken < len(chars):
        words.append("".join(chars[taken:]))
    return words


def _recase(word: str, like: str) -> str:
    """``word`` in the case pattern of ``like`` (upper, capitalised or lower)."""
    letters = [c for c in like if c.isalpha()]
    if letters and all(c.isupper() for c in letters) and len(letters) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


_DEFAULT: Normalizer | None = None


def normalize(text: str) -> Normalized:
    """``text`` normalised by the shared default ``Normalizer`` (no extra words)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Normalizer()
    return _DEFAULT.normalize(text)


# ---- safe output -------------------------------------------------------------------------------
_ROLE_MARKERS = re.compile(
    r"<\|[^|>]{0,40}\|>|<<\s*/?\s*SYS\s*>>|\[\s*/?\s*INST\s*\]|\[\[\s*(?:system|assistant|user|ai|model)\s*:|"
    r"(?m:^\s*#{1,4}\s*(?:instruction|instructions|system|response|assistant|user)\b)|"
    r"(?m:^\s*(?:system|assistant|user)\s*:)|```\s*(?:system|assistant|prompt)\b",
    re.IGNORECASE,
)


def visible_text(text: str) -> str:
    """``text`` without invisible characters (zero-width, bidirectional controls, tag characters)."""
    return "".join(ch for ch in text or "" if ch.isascii() or not _invisible(ch))


def display_text(text: str) -> str:
    """``text`` safe to put into an HTML page: invisible characters removed, markup escaped."""
    return html.escape(visible_text(text), quote=True)


def prompt_text(text: str) -> str:
    """``text`` safe to quote inside an LLM prompt: invisible characters removed, chat-role markers defused."""
    clean = visible_text(text)
    return _ROLE_MARKERS.sub(lambda m: "(" + re.sub(r"[^\w\s]", " ", m.group()).strip() + ")", clean)
