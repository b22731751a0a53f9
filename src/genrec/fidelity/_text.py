"""Text helpers shared by the checks: shingles and an exact shingle index (word tokens come from genrec.textnorm)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from genrec.textnorm import Token, norm, tokens

__all__ = [
    "Overlap",
    "Shingle",
    "ShingleIndex",
    "Token",
    "clean",
    "merge_spans",
    "norm",
    "number_word",
    "shingles",
    "tokens",
]

_NUMBER_WORDS = {
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
}


def clean(value: object) -> str:
    """A catalog cell as text: None and NaN become ""."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def number_word(word: str) -> str:
    """The digit form of a small number word ("two" -> "2"); other words unchanged."""
    return _NUMBER_WORDS.get(word, word)


@dataclass(frozen=True)
class Shingle:
    """A word n-gram: its key and the character span it covers."""

    key: str
    start: int
    end: int


def shingles(text: str, n: int) -> list[Shingle]:
    """Word n-grams of ``text`` with spans; a text shorter than ``n`` words gives one shingle of all its words."""
    toks = tokens(text)
    if not toks:
        return []
    if len(toks) < n:
        return [Shingle(" ".join(t.text for t in toks), toks[0].start, toks[-1].end)]
    return [
        Shingle(" ".join(t.text for t in toks[i : i + n]), toks[i].start, toks[i + n - 1].end)
        for i in range(len(toks) - n + 1)
    ]


def merge_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of overlapping or touching character spans, sorted."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


@dataclass
class Overlap:
    """How much of a query text one indexed document shares."""

    key: str
    shared: int  # distinct shingles in common
    query_size: int  # distinct shingles of the query
    doc_size: int  # distinct shingles of the document
    spans: list[tuple[int, int]] = field(default_factory=list)  # query spans of the shared shingles

    @property
    def jaccard(self) -> float:
        """Jaccard similarity of the two shingle sets."""
        union = self.query_size + self.doc_size - self.shared
        return self.shared / union if union else 0.0

    @property
    def doc_containment(self) -> float:
        """Share of the document's shingles that the query contains."""
        return self.shared / self.doc_size if self.doc_size else 0.0

    @property
    def query_containment(self) -> float:
        """Share of the query's shingles found in the document."""
        return self.shared / self.query_size if self.query_size else 0.0


class ShingleIndex:
    """An exact inverted index from word n-grams to the documents holding them.

    Exact rather than MinHash: catalogs here are tens of thousands of short texts, so posting
    lists stay short and every overlap is counted exactly (no false negatives from hashing).
    """

    def __init__(self, n: int) -> None:
        if n < 1:
            raise ValueError(f"shingle size must be >= 1, got {n}")
        self.n = n
        self.postings: dict[str, set[str]] = defaultdict(set)
        self.sizes: dict[str, int] = Counter()
        self.stop: set[str] = set()  # dropped shingles: ignored on both sides of a comparison

    def __len__(self) -> int:
        return len(self.sizes)

    def add(self, key: str, text: str) -> None:
        """Index ``text`` under ``key`` (adding to what the key already holds)."""
        fresh = {s.key for s in shingles(text, self.n)}
        for s in fresh:
            if key not in self.postings[s]:
                self.postings[s].add(key)
                self.sizes[key] += 1

    def drop(self, keys: Iterable[str]) -> None:
        """Forget the given shingles (e.g. phrases too common to mean anything) in documents and queries."""
        for k in list(keys):
            self.stop.add(k)
            for doc in self.postings.pop(k, ()):
                self.sizes[doc] -= 1

    def drop_common(self, max_df: int) -> int:
        """Drop shingles held by more than ``max_df`` documents (boilerplate); returns how many were dropped."""
        common = [k for k, df in self.document_frequency() if df > max_df]
        self.drop(common)
        return len(common)

    def document_frequency(self) -> Iterator[tuple[str, int]]:
        """(shingle, number of documents holding it) for every indexed shingle."""
        return ((k, len(v)) for k, v in self.postings.items())

    def query(self, text: str, exclude: Iterable[str] = (), min_shared: int = 1) -> list[Overlap]:
        """Documents sharing at least ``min_shared`` shingles with ``text``, most shared first."""
        found = [s for s in shingles(text, self.n) if s.key not in self.stop]
        skip = set(exclude)
        query_size = len({s.key for s in found})
        hits: dict[str, set[str]] = defaultdict(set)
        spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for s in found:
            for doc in self.postings.get(s.key, ()):
                if doc in skip:
                    continue
                hits[doc].add(s.key)
                spans[doc].append((s.start, s.end))
        out = [
            Overlap(doc, len(keys), query_size, self.sizes[doc], merge_spans(spans[doc]))
            for doc, keys in hits.items()
            if len(keys) >= min_shared
        ]
        out.sort(key=lambda o: (-o.shared, o.key))
        return out
