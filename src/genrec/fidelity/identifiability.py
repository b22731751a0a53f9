"""Identifiability: the item says it is AI-generated, carries full provenance, and keeps its watermark.

Provenance fields holding a placeholder ("n/a", "-", "N / A", "null", "unknown", invisible
characters) count as missing, and ``created_at`` must be a timestamp. Provenance that contradicts
the item is ``inconsistent_provenance``: a ``created_at`` before ``earliest_created_at`` or in the
future, or an edit that shares almost no words with the source item it names. A text that claims a
person wrote it or that no AI was involved ("100% human-written", "not AI-generated"; rules in
``rules/authorship.toml``, read on the normalised text) is flagged ``claims_human``.

When ``provenance.watermark`` records that a watermark was applied at sampling time, the detector
registered in the context for ``provenance.generator`` (a callable text -> object with ``.z``,
e.g. a ``genrec.fidelity.watermark.GreenListWatermark`` behind the generator's tokenizer) is
run. On a text long enough to tell (``watermark_min_tokens`` scored tokens) a z-score below
``watermark_block_z`` means the watermark was stripped or never applied (``watermark_missing``,
blocks); otherwise a z-score below ``watermark_z_threshold`` only warns (``watermark_weak``):
short watermarked texts often score low.
``provenance.watermark["field"]`` ("title", "description" or "text", the default) says which
text was sampled with the watermark.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from genrec.data.generated import GENERATED_PREFIX, GeneratedItem
from genrec.fidelity import _rules
from genrec.fidelity._catalog import record_text
from genrec.fidelity._norm import finding, normalized_fields
from genrec.fidelity.base import Check, CheckContext, Finding
from genrec.fidelity.policy import IdentifiabilitySettings
from genrec.textnorm import normalize

#: Provenance values that say nothing (compared after normalising and dropping everything but letters and digits).
PLACEHOLDERS = frozenset(
    {
        "",
        "na",
        "none",
        "null",
        "nil",
        "nan",
        "unknown",
        "unk",
        "tbd",
        "tba",
        "todo",
        "anonymous",
        "anon",
        "undefined",
        "void",
        "placeholder",
        "unspecified",
        "notapplicable",
        "notavailable",
        "nonegiven",
        "xxx",
        "x",
    }
)


def placeholder(value: object) -> bool:
    """True for an empty or placeholder provenance value ("n/a", "-", "N / A", "null", ...)."""
    text = normalize(str(value if value is not None else "")).text.lower()
    return re.sub(r"[^a-z0-9]", "", text) in PLACEHOLDERS


#: Generator names that say a person made the item: a generated item's provenance must name its model.
_HUMAN_GENERATOR = re.compile(
    r"(?:^|[^a-z])(?:human|person|people|manual(?:ly)?|staff|editor|writer|copywriter|"
    r"employee|owner|founder|not[\s_-]?ai|no[\s_-]?ai)(?:$|[^a-z])"
)


def human_generator(name: str) -> bool:
    """True when a provenance generator name says a person (not a model) made the item ("human", "staff-editor")."""
    return bool(_HUMAN_GENERATOR.search(normalize(name).text.lower()))


def load_rules(extra: Sequence[Any] = ()) -> list[_rules.PatternRule]:
    """The packaged authorship-claim rules plus operator files, validated."""
    return _rules.load_pattern_rules("authorship.toml", extra, ("claims_human",), label="name")


def watermarked_text(item: GeneratedItem) -> str:
    """The text the watermark was applied to, per ``provenance.watermark["field"]``."""
    fld = (item.provenance.watermark or {}).get("field", "text")
    if fld == "title":
        return item.title
    if fld == "description":
        return item.description
    return item.text


class IdentifiabilityCheck(Check):
    """Flags items not marked as AI-generated, with incomplete provenance, claiming a human author, or whose watermark is gone."""

    name = "identifiability"
    settings: IdentifiabilitySettings

    def validate(self) -> None:
        """Load the authorship-claim rules."""
        load_rules(self.settings.rules)

    def find(self, item: GeneratedItem, ctx: CheckContext) -> tuple[list[Finding], dict[str, Any]]:
        """AI flag, provenance fields and (when applied) the watermark z-score."""
        findings: list[Finding] = []
        details: dict[str, Any] = {}
        if item.ai_generated is not True:
            findings.append(Finding("not_flagged", "the item is not flagged as AI-generated", "ai_generated"))
        if not str(item.item_id).startswith(GENERATED_PREFIX):
            findings.append(
                Finding(
                    "not_flagged",
                    f"item id does not start with {GENERATED_PREFIX!r}",
                    "item_id",
                    text=str(item.item_id),
                )
            )
        prov = item.provenance
        missing = [
            name
            for name, value in (
                ("generator", prov.generator),
                ("generator_version", prov.generator_version),
                ("created_at", prov.created_at),
            )
            if placeholder(value)
        ]
        if not placeholder(prov.generator) and human_generator(str(prov.generator)):
            findings.append(
                Finding(
                    "missing_provenance",
                    f"provenance names a person as the generator ({prov.generator!r}) of an AI-generated item",
                    "provenance",
                    text=str(prov.generator),
                )
            )
        when = None if "created_at" in missing else _timestamp(prov.created_at)
        if when is None and "created_at" not in missing:
            missing.append("created_at")
        elif when is not None:
            earliest = datetime.combine(self.settings.earliest_created_at, datetime.min.time(), UTC)
            if when < earliest or when > datetime.now(UTC) + timedelta(days=1):
                findings.append(
                    Finding(
                        "inconsistent_provenance",
                        f"created_at {prov.created_at} is before {self.settings.earliest_created_at} or in the future: "
                        "not when the item was generated",
                        "provenance",
                        text=str(prov.created_at),
                    )
                )
        if prov.kind == "edit" and placeholder(prov.source_item_id):
            missing.append("source_item_id")
        wrong = self._wrong_source(item, ctx)
        if wrong:
            findings.append(Finding("inconsistent_provenance", wrong, "provenance", text=str(prov.source_item_id)))
        if missing:
            findings.append(
                Finding(
                    "missing_provenance",
                    f"provenance lacks {', '.join(missing)}",
                    "provenance",
                    text=", ".join(missing),
                )
            )
        rules = ctx.cached(
            f"identifiability.rules.{tuple(self.settings.rules)}", lambda: load_rules(self.settings.rules)
        )
        for fld, n in normalized_fields(item, ctx).items():
            for rule, start, end in _rules.find_patterns(n.text, rules):
                findings.append(finding(rule.code, rule.label, fld, n, start, end))
        if prov.watermark:
            detector = ctx.detectors.get(prov.generator)
            if detector is None:
                findings.append(
                    Finding(
                        "no_detector",
                        f"a watermark was applied but no detector is registered for generator {prov.generator!r}",
                        "provenance",
                        score=0.5,
                    )
                )
            else:
                result = detector(watermarked_text(item))
                z = float(result.z)
                scored = getattr(result, "scored", None)
                details["watermark_z"] = z
                details["watermark_tokens"] = scored
                s = self.settings
                threshold = s.watermark_z_threshold
                long_enough = scored is not None and int(scored) >= s.watermark_min_tokens
                if long_enough and (not math.isfinite(z) or z < s.watermark_block_z):
                    findings.append(
                        Finding(
                            "watermark_missing",
                            f"watermark z-score {z:.2f} over {scored} tokens is below {s.watermark_block_z:g}: "
                            "the watermark was stripped or never applied",
                            "text",
                        )
                    )
                elif not math.isfinite(z) or z < threshold:
                    gap = (
                        1.0 if not math.isfinite(z) else min(1.0, max(0.0, (threshold - z) / max(abs(threshold), 1.0)))
                    )
                    findings.append(
                        Finding(
                            "watermark_weak",
                            f"watermark z-score {z:.2f} is below {threshold:g}: weak, missing or stripped",
                            "text",
                            score=gap,
                        )
                    )
        return findings, details

    def _wrong_source(self, item: GeneratedItem, ctx: CheckContext) -> str:
        """Why an edit's named source cannot be what it was made from ("" when it can, or cannot be told)."""
        prov = item.provenance
        if prov.kind != "edit" or placeholder(prov.source_item_id):
            return ""
        source = ctx.catalog_records().get(str(prov.source_item_id))
        if source is None:
            return ""
        # a faithful edit restates its source: on every hand-written clean edit at least half the title's words
        # are in the source, while an edit credited to an unrelated item shares next to none
        theirs = _content_words(record_text(source))
        share = {
            name: len(words & theirs) / len(words)
            for name, words in (("title", _content_words(item.title)), ("text", _content_words(item.text)))
            if words
        }
        floor = self.settings.min_source_overlap
        if not share or max(share.values()) >= floor:
            return ""
        return (
            f"provenance names {prov.source_item_id!r} as the edited item, but the edit shares "
            f"{max(share.values()):.0%} of its words with it (below {floor:.0%}): the source is wrong"
        )


def _timestamp(value: object) -> datetime | None:
    """``value`` read as an ISO 8601 date or time (UTC when it names no zone), or None."""
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


_WORD = re.compile(r"[a-z]{3,}")


def _content_words(text: str) -> set[str]:
    """Lower-case words of three letters or more, a plural "s" dropped, read on the normalised text."""
    return {w.removesuffix("s") for w in _WORD.findall(normalize(text).text.lower())}
