"""Safety: unsafe or age-inappropriate content, by a rules engine and the alt-profanity-check classifier.

Everything reads the normalised text (``genrec.textnorm``: "c0ke", "k i l l", "f*cking" and
lookalike letters undone); findings point at the original span. The rules (``rules/unsafe.toml``
plus the policy's extra files) are case-insensitive regular
expressions grouped by category (self-harm, violence, weapons, drugs, dangerous use, sexual
content, age-restricted goods). The classifier (a linear model over character n-grams, offline,
scikit-learn) scores each field; when a field passes the threshold, the word or sentence with
the highest score is reported as the span. The learned detector (``genrec.fidelity.learned``)
adds unsafe and adult sentences the rules miss.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from genrec.data.generated import GeneratedItem
from genrec.fidelity import _rules, learned
from genrec.fidelity._norm import finding, normalized_fields, to_original
from genrec.fidelity.base import Check, CheckContext, Finding
from genrec.fidelity.policy import SafetySettings
from genrec.textnorm import sentence_spans

_RULE_CODES = ("unsafe", "adult")
_WORD = re.compile(r"[^\W_]+(?:['’*][^\W_]+)*")


def load_rules(extra: Sequence[Any] = ()) -> list[_rules.PatternRule]:
    """The packaged unsafe-content rules plus operator files, validated."""
    return _rules.load_pattern_rules("unsafe.toml", extra, _RULE_CODES, label="category")


def profanity_model() -> Callable[[list[str]], Any]:
    """alt-profanity-check's ``predict_prob`` (texts -> probabilities), imported on first use."""
    try:
        from profanity_check import predict_prob
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ModuleNotFoundError(
            "the safety check's classifier needs alt-profanity-check: pip install alt-profanity-check==1.9.1 "
            "(or set checks.safety.classifier = false)"
        ) from exc
    return predict_prob


_TOKEN = re.compile(r"\S+")


def blank_initialisms(text: str) -> str:
    """``text`` with lone two-capital initialisms ("CK", "SH") blanked: the classifier learnt such letter pairs
    as fragments of masked swear words, but a pair beside another fragment ("FU CK") is kept (same length)."""
    toks = list(_TOKEN.finditer(text))
    out = list(text)
    for i, t in enumerate(toks):
        if not re.fullmatch(r"[A-Z]{2}[.,:;!?]?", t.group()):
            continue
        neighbours = [toks[j].group() for j in (i - 1, i + 1) if 0 <= j < len(toks)]
        if all(len(re.sub(r"\W", "", w)) > 2 for w in neighbours):
            out[t.start() : t.start() + 2] = "  "
    return "".join(out)


def _worst_span(text: str, predict: Callable[[list[str]], Any]) -> tuple[int, int, float]:
    """The word (or, failing that, the sentence) of ``text`` the classifier scores highest."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    if words:
        probs = predict([text[s:e] for s, e in words])
        best = int(probs.argmax())
        if probs[best] >= 0.5:
            return words[best][0], words[best][1], float(probs[best])
    sentences = sentence_spans(text)
    if not sentences:
        return 0, len(text), 0.0
    probs = predict([text[s:e] for s, e in sentences])
    best = int(probs.argmax())
    return sentences[best][0], sentences[best][1], float(probs[best])


class SafetyCheck(Check):
    """Flags unsafe or age-inappropriate content (rules) and profanity or abuse (classifier)."""

    name = "safety"
    settings: SafetySettings

    def validate(self) -> None:
        """Load the rule files and the example bank."""
        load_rules(self.settings.rules)
        if self.settings.learned:
            learned.load_bank(self.settings.learned_examples)

    def _rule_list(self, ctx: CheckContext) -> list[_rules.PatternRule]:
        return ctx.cached(f"safety.rules.{tuple(self.settings.rules)}", lambda: load_rules(self.settings.rules))

    def find(self, item: GeneratedItem, ctx: CheckContext) -> tuple[list[Finding], dict[str, Any]]:
        """Rule matches and classifier hits on one item."""
        return self.find_many([item], ctx)[0]

    def find_many(
        self, items: Sequence[GeneratedItem], ctx: CheckContext
    ) -> list[tuple[list[Finding], dict[str, Any]]]:
        """Rules on each item; the classifier on every sentence of every item in one batch."""
        rules = self._rule_list(ctx)
        out: list[tuple[list[Finding], dict[str, Any]]] = []
        normed = [normalized_fields(item, ctx) for item in items]
        fields = [{fld: n.text for fld, n in nf.items()} for nf in normed]
        extra, details = learned.learned_findings(
            self.name, fields, self.settings, {"unsafe": "unsafe content", "adult": "adult content"}, ctx.encoder
        )
        for nf, more in zip(normed, extra):
            findings = []
            for fld, n in nf.items():
                for rule, start, end in _rules.find_patterns(n.text, rules):
                    findings.append(finding(rule.code, f"{rule.label} content", fld, n, start, end))
            out.append((learned.merge(findings, [to_original(f, nf) for f in more]), dict(details)))
        if not self.settings.classifier or not items:
            return out
        predict = profanity_model()
        # score sentence by sentence: one offensive sentence in a long description must not be diluted
        flat = [
            (i, fld, text, a, b)
            for i, flds in enumerate(fields)
            for fld, text in ((f, blank_initialisms(t)) for f, t in flds.items())
            for a, b in sentence_spans(text)
        ]
        probs = predict([text[a:b] for _, _, text, a, b in flat]) if flat else []
        best: dict[tuple[int, str], tuple[float, str, int, int]] = {}
        for (i, fld, text, a, b), p in zip(flat, probs):
            details = out[i][1]
            details["profanity_prob"] = max(float(p), details.get("profanity_prob", 0.0))
            if p >= self.settings.profanity_threshold and p > best.get((i, fld), (-1.0,))[0]:
                best[(i, fld)] = (float(p), text, a, b)
        for (i, fld), (p, text, a, b) in best.items():
            start, end, _ = _worst_span(text[a:b], predict)
            out[i][0].append(
                finding(
                    "profanity",
                    f"offensive language (classifier p={p:.2f})",
                    fld,
                    normed[i][fld],
                    a + start,
                    a + end,
                    p,
                )
            )
        return out
