"""Bias: stereotyped or demeaning statements about groups, and the counterfactual instruction test.

Every rule reads the normalised text (``genrec.textnorm``: lookalike letters, l33t, masks and
spaced letters undone); findings point at the original span. Statements are found with patterns
over a maintained lexicon (``rules/identity_terms.toml`` and
``rules/stereotypes.toml``, extendable through the policy's ``checks.bias.lexicons``): a group
term next to a negative attribute, an incapability, "so easy even a ... can", "real men don't",
and so on; and by the learned detector (``genrec.fidelity.learned``) for paraphrases the
patterns miss. The counterfactual test swaps identity terms in an instruction and measures how far
the generated text moves (identity terms in the outputs are masked first, so only changes
beyond the swap itself count).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from genrec.data.generated import GeneratedItem
from genrec.fidelity import _rules, learned
from genrec.fidelity._norm import finding, normalized_fields, to_original
from genrec.fidelity.base import Check, CheckContext, Finding
from genrec.fidelity.policy import BiasSettings

_PATTERN_CODES = ("stereotype", "demeaning", "generalisation")
_ADV = (
    r"(?:(?:all|always|just|so|too|really|naturally|simply|usually|typically|inherently|basically|mostly|"
    r"generally|very|pretty|often|incredibly|totally|completely|notoriously|such)\s+){0,2}"
)


@dataclass
class Lexicon:
    """Identity terms by group, swap pairs, negative attributes, demeaning terms and raw patterns."""

    plural: set[str] = field(default_factory=set)
    singular: set[str] = field(default_factory=set)
    adjectives: set[str] = field(default_factory=set)
    people_plural: set[str] = field(default_factory=set)
    people_singular: set[str] = field(default_factory=set)
    swaps: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # group -> pairs
    negative: set[str] = field(default_factory=set)
    demeaning: set[str] = field(default_factory=set)
    patterns: list[tuple[str, str, str]] = field(default_factory=list)  # (code, name, raw regex)

    def add_file(self, source: str | Any) -> None:
        """Merge one lexicon TOML file (identity terms and/or stereotype patterns)."""
        data, name = _rules.read_toml(source)
        self.people_plural |= set(_rules.string_list(data, "people_plural", name))
        self.people_singular |= set(_rules.string_list(data, "people_singular", name))
        self.negative |= set(_rules.string_list(data, "negative_attributes", name))
        self.demeaning |= set(_rules.string_list(data, "demeaning_terms", name))
        groups = data.get("groups", {})
        if not isinstance(groups, dict):
            raise _rules.RulesError(f"{name}: 'groups' must be a table of groups")
        for group, spec in groups.items():
            where = f"{name}: groups.{group}"
            if not isinstance(spec, dict):
                raise _rules.RulesError(f"{where}: expected a table")
            self.plural |= set(_rules.string_list(spec, "plural", where))
            self.singular |= set(_rules.string_list(spec, "singular", where))
            self.adjectives |= set(_rules.string_list(spec, "adjectives", where))
            pairs = spec.get("swaps", [])
            if not isinstance(pairs, list) or not all(
                isinstance(p, list) and len(p) == 2 and all(isinstance(t, str) for t in p) for p in pairs
            ):
                raise _rules.RulesError(f"{where}.swaps: expected a list of [term, term] pairs")
            self.swaps.setdefault(group, []).extend((a, b) for a, b in pairs)
        entries = data.get("patterns", [])
        if not isinstance(entries, list):
            raise _rules.RulesError(f"{name}: 'patterns' must be an array of tables ([[patterns]])")
        for i, entry in enumerate(entries):
            where = f"{name}: patterns[{i}]"
            code, regex = entry.get("code"), entry.get("regex")
            if code not in _PATTERN_CODES:
                raise _rules.RulesError(f"{where}.code: expected one of {_PATTERN_CODES}, got {code!r}")
            if not isinstance(regex, str):
                raise _rules.RulesError(f"{where}.regex: expected a string")
            self.patterns.append((code, str(entry.get("name", code)), regex))

    def vocabulary(self) -> frozenset[str]:
        """Every word of every identity term (a text without any of them cannot match a group pattern)."""
        words = set()
        for term in self.plural | self.singular | self.adjectives | self.people_plural | self.people_singular:
            words.update(term.lower().replace("-", " ").split())
        return frozenset(words)

    def compile(self) -> CompiledLexicon:
        """The patterns with their placeholders filled, compiled; plus one pattern for demeaning terms."""
        adjs = _rules.alternation(self.adjectives)
        group = f"(?:(?:the\\s+)?{_rules.alternation(self.plural)}|{adjs}\\s+{_rules.alternation(self.people_plural)})"
        member = f"(?:{_rules.alternation(self.singular)}|{adjs}\\s+{_rules.alternation(self.people_singular)})"
        fill = {"{GROUP}": group, "{MEMBER}": member, "{NEG}": _rules.alternation(self.negative), "{ADV}": _ADV}
        out = []
        for code, name, raw in self.patterns:
            regex = raw
            for key, value in fill.items():
                regex = regex.replace(key, value)
            needs_group = "{GROUP}" in raw or "{MEMBER}" in raw
            out.append((code, name, _rules.compile_pattern(regex, f"bias pattern {name!r}"), needs_group))
        if self.demeaning:
            rx = _rules.compile_pattern(r"\b" + _rules.alternation(self.demeaning) + r"\b", "demeaning_terms")
            out.append(("demeaning", "demeaning term", rx, False))
        return CompiledLexicon(out, self.vocabulary())

    def ambiguous_adjectives(self) -> set[str]:
        """Identity adjectives that are also everyday words ("black", "old"): swapped only before a people word."""
        return {a.lower() for a in self.adjectives} - {t.lower() for t in self.plural | self.singular}

    def swap_map(self) -> dict[str, dict[str, str]]:
        """Per group, each term mapped to its counterpart (both directions)."""
        out: dict[str, dict[str, str]] = {}
        for group, pairs in self.swaps.items():
            m: dict[str, str] = {}
            for a, b in pairs:
                m.setdefault(a.lower(), b.lower())
                m.setdefault(b.lower(), a.lower())
            out[group] = m
        return out


@dataclass
class CompiledLexicon:
    """Compiled patterns: (code, name, regex, needs an identity word) and the identity vocabulary."""

    patterns: list[tuple[str, str, re.Pattern[str], bool]]
    vocabulary: frozenset[str]


def load_lexicon(extra: Sequence[Any] = ()) -> Lexicon:
    """The packaged identity lexicon and stereotype patterns plus operator files."""
    lex = Lexicon()
    for source in _rules.sources(["identity_terms.toml", "stereotypes.toml"], extra):
        lex.add_file(source)
    return lex


def find_bias(text: str, compiled: CompiledLexicon) -> list[tuple[str, str, int, int]]:
    """(code, pattern name, start, end) of every stereotype / demeaning match, overlaps of one code merged."""
    words = set(re.findall(r"[a-z]+", text.lower()))
    has_group = not words.isdisjoint(compiled.vocabulary)
    hits = sorted(
        (
            (code, name, m.start(), m.end())
            for code, name, rx, needs_group in compiled.patterns
            if has_group or not needs_group
            for m in rx.finditer(text)
        ),
        key=lambda h: (h[2], -h[3]),
    )
    out: list[tuple[str, str, int, int]] = []
    for h in hits:
        if any(o[0] == h[0] and o[2] <= h[2] and h[3] <= o[3] for o in out):
            continue
        out.append(h)
    return out


class BiasCheck(Check):
    """Flags stereotyped, demeaning or sweeping statements about groups of people."""

    name = "bias"
    settings: BiasSettings

    def validate(self) -> None:
        """Load and compile the lexicons; read the example bank."""
        load_lexicon(self.settings.lexicons).compile()
        if self.settings.learned:
            learned.load_bank(self.settings.learned_examples)

    def _compiled(self, ctx: CheckContext) -> CompiledLexicon:
        key = f"bias.patterns.{tuple(self.settings.lexicons)}"
        return ctx.cached(key, lambda: load_lexicon(self.settings.lexicons).compile())

    def find(self, item: GeneratedItem, ctx: CheckContext) -> tuple[list[Finding], dict[str, Any]]:
        """Pattern matches and learned hits in the title and description."""
        return self.find_many([item], ctx)[0]

    def find_many(
        self, items: Sequence[GeneratedItem], ctx: CheckContext
    ) -> list[tuple[list[Finding], dict[str, Any]]]:
        """Patterns on each item; the learned detector on every sentence of every item in one batch."""
        compiled = self._compiled(ctx)
        normed = [normalized_fields(item, ctx) for item in items]
        texts = [{fld: n.text for fld, n in nf.items()} for nf in normed]
        extra, details = learned.learned_findings(
            self.name, texts, self.settings, {"stereotype": "stereotyped statement about a group"}, ctx.encoder
        )
        out = []
        for nf, more in zip(normed, extra):
            findings = [
                finding(code, f"{name}", fld, n, start, end)
                for fld, n in nf.items()
                for code, name, start, end in find_bias(n.text, compiled)
            ]
            more = [to_original(f, nf) for f in more]
            out.append((learned.merge(findings, more), dict(details)))
        return out


# ---- counterfactual test ----------------------------------------------------------------------
class Encoder(Protocol):
    """Anything with ``encode(texts) -> [n, d]`` unit-norm vectors (genrec.encoders.text.TextEncoder)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass
class CounterfactualResult:
    """How far generated text moves when identity terms in the instruction are swapped."""

    instruction: str
    output: str
    max_distance: float  # 1 - cosine similarity, after masking identity terms
    tolerance: float
    variants: list[dict[str, Any]] = field(default_factory=list)  # instruction, output, distance, group

    @property
    def passed(self) -> bool:
        """True when no swap moved the output beyond the tolerance."""
        return self.max_distance <= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {
            "instruction": self.instruction,
            "output": self.output,
            "max_distance": self.max_distance,
            "tolerance": self.tolerance,
            "passed": self.passed,
            "variants": self.variants,
        }


def _replace_terms(
    text: str,
    mapping: dict[str, str],
    adjectives: frozenset[str] | set[str] = frozenset(),
    people: frozenset[str] | set[str] = frozenset(),
) -> str:
    """Replace the terms of ``mapping`` (case kept); terms in ``adjectives`` only before a word of ``people``."""
    if not mapping:
        return text
    nouns = [t for t in mapping if t not in adjectives]
    adjs = [t for t in mapping if t in adjectives]
    parts = [r"\b" + _rules.alternation(nouns) + r"\b"] if nouns else []
    if adjs:
        parts.append(r"\b" + _rules.alternation(adjs) + r"(?=\s+" + _rules.alternation(people) + r"\b)")
    rx = re.compile("|".join(parts), re.IGNORECASE)

    def sub(m: re.Match[str]) -> str:
        word = m.group()
        new = mapping.get(re.sub(r"\s+", " ", word.lower()), word)
        if word.isupper() and len(word) > 1:
            return new.upper()
        return new[:1].upper() + new[1:] if word[:1].isupper() else new

    return rx.sub(sub, text)


def counterfactual_variants(instruction: str, lexicon: Lexicon | None = None) -> list[tuple[str, str]]:
    """(group, swapped instruction) for every group with a swappable term in ``instruction``."""
    lexicon = lexicon or load_lexicon()
    out = []
    adjectives, people = lexicon.ambiguous_adjectives(), lexicon.people_plural | lexicon.people_singular
    for group, mapping in lexicon.swap_map().items():
        swapped = _replace_terms(instruction, mapping, adjectives, people)
        if swapped != instruction:
            out.append((group, swapped))
    return out


def mask_identity_terms(text: str, lexicon: Lexicon | None = None) -> str:
    """``text`` with every swappable identity term replaced by one neutral placeholder."""
    lexicon = lexicon or load_lexicon()
    terms = {t for m in lexicon.swap_map().values() for t in m}
    return _replace_terms(text, dict.fromkeys(terms, "person"))


def counterfactual_test(
    generate: Callable[[str], str],
    instruction: str,
    encoder: Encoder,
    tolerance: float = 0.1,
    lexicon: Lexicon | None = None,
) -> CounterfactualResult:
    """Generate for ``instruction`` and for each identity-swapped variant; report the largest embedding move."""
    lexicon = lexicon or load_lexicon()
    base = generate(instruction)
    variants = counterfactual_variants(instruction, lexicon)
    outputs = [generate(v) for _, v in variants]
    result = CounterfactualResult(instruction, base, 0.0, tolerance)
    if not variants:
        return result
    vecs = np.asarray(encoder.encode([mask_identity_terms(t, lexicon) for t in [base, *outputs]]), dtype=np.float64)
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    dists = 1.0 - vecs[1:] @ vecs[0]
    for (group, v), out, d in zip(variants, outputs, dists):
        result.variants.append({"group": group, "instruction": v, "output": out, "distance": float(d)})
    result.max_distance = float(max(0.0, dists.max()))
    return result
