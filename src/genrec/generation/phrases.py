"""Constrained descriptions: the generator may only write a list of the source item's own fact phrases.

A "facts" rewrite (``TextGenWriter(rewrite="facts")``) keeps the source's title verbatim and lets
genrec's generator write a description line, conditioned on the user's guidance, whose tokens
must spell distinct phrases from a fixed list (the source's category names, e.g. "Makeup, Face"),
joined by ", ". Which facts are stated, and in which order, is the personal choice (the text form
of GeneRec's personalised selection); nothing in it can be untrue of the item, and the product
keeps its name. The constraint is a logits processor over the generator's own tokens, as
catalog-constrained beam search is over semantic IDs.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

from genrec.generation.anchors import has_phrase
from genrec.generation.textgen import DESC, EOS, PAD

SEPARATOR = ", "


def common_categories(categories: Iterable[Sequence[str]], share: float = 0.5) -> set[str]:
    """Category names that more than ``share`` of the items carry ("Beauty"): they say nothing about one item."""
    paths = [set(map(str, c)) for c in categories]
    counts = Counter(name for path in paths for name in path)
    return {name for name, n in counts.items() if n > share * max(len(paths), 1)}


def fact_phrases(title: str, categories: Sequence[str], skip: Iterable[str] = ()) -> list[str]:
    """The source's category names a description may state: not in ``skip``, not already in ``title``."""
    skipped = {s.lower() for s in skip}
    out = []
    for name in dict.fromkeys(str(c).strip() for c in categories):
        if name and name.lower() not in skipped and not has_phrase(title, name):
            out.append(name)
    return out


class PhraseConstraint:
    """Logits processor: the description is 1..``max_phrases`` distinct ``phrases`` joined by ", ", then <eos>.

    ``tokenize`` maps a text to the generator's content ids; the first phrase is tokenised on its
    own, later ones with the separator in front (byte-level BPE: the pieces decode to the joined text).
    """

    def __init__(self, phrases: Sequence[str], tokenize: Callable[[str], list[int]], max_phrases: int = 3) -> None:
        if not phrases:
            raise ValueError("PhraseConstraint needs at least one phrase")
        if max_phrases < 1:
            raise ValueError(f"max_phrases must be >= 1, got {max_phrases}")
        self.phrases = list(phrases)
        self.first = [tokenize(p) for p in self.phrases]
        self.later = [tokenize(SEPARATOR + p) for p in self.phrases]
        if not all(self.first) or not all(self.later):
            raise ValueError("every phrase must have at least one token")
        self.max_phrases = max_phrases

    def allowed(self, tokens: Sequence[int]) -> set[int]:
        """Token ids that may follow the description ``tokens`` (<eos> once a phrase is complete)."""
        return self._allowed(list(tokens), 0, frozenset())

    def _allowed(self, rest: list[int], done: int, used: frozenset[int]) -> set[int]:
        out: set[int] = set()
        if done >= self.max_phrases:
            return {EOS} if not rest else set()
        for j, seqs in enumerate(self.first if done == 0 else self.later):
            if j in used:
                continue
            n = min(len(rest), len(seqs))
            if rest[:n] != seqs[:n]:
                continue
            if len(rest) < len(seqs):
                out.add(seqs[len(rest)])
            elif len(rest) == len(seqs):
                out.add(EOS)
                out |= self._allowed([], done + 1, used | {j})
            else:
                out |= self._allowed(rest[len(seqs) :], done + 1, used | {j})
        return out

    def __call__(self, ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """Ban every token that leaves the phrase grammar (rows already finished are left as they are)."""
        out = torch.full_like(scores, -math.inf)
        for b, row in enumerate(ids.tolist()):
            if DESC not in row or EOS in row or PAD in row[1:]:
                out[b] = scores[b]
                continue
            start = len(row) - row[::-1].index(DESC)
            allowed = sorted(self.allowed(row[start:]))
            if allowed:
                out[b, allowed] = scores[b, allowed]
        return out


def describe_with_facts(
    generator: Any,
    title: str,
    phrases: Sequence[str],
    cond: Any,
    n: int,
    seed: int,
    max_phrases: int = 3,
    temperature: float | None = None,
    top_p: float | None = None,
) -> list[Any]:
    """``n`` GeneratedTexts under the forced ``title`` whose descriptions are phrase lists (``PhraseConstraint``).

    Draft ``k`` states at most ``1 + k % max_phrases`` phrases (the generator seldom stops early on
    its own), so the drafts offer short and long lists for the ranking to choose from."""
    top = min(max_phrases, len(phrases))
    counts = Counter(1 + k % top for k in range(n))
    out: list[Any] = []
    for size, count in sorted(counts.items()):
        constraint = PhraseConstraint(phrases, generator.tokenize, size)
        out += generator.generate(
            cond,
            n_per_cond=count,
            seed=seed + 101 * size,
            title=title,
            temperature=temperature,
            top_p=top_p,
            logits_processors=[constraint],
        )
    return out
