"""Identifiability: the item says it is AI-generated, carries full provenance, and keeps its watermark.

When ``provenance.watermark`` records that a watermark was applied at sampling time, the detector
registered in the context for ``provenance.generator`` (a callable text -> object with ``.z``,
e.g. a ``genrec.fidelity.watermark.GreenListWatermark`` behind the generator's tokenizer) is
run; a z-score below the policy threshold means the watermark is missing or was stripped.
``provenance.watermark["field"]`` ("title", "description" or "text", the default) says which
text was sampled with the watermark.
"""

from __future__ import annotations

import math
from typing import Any

from genrec.data.generated import GENERATED_PREFIX, GeneratedItem
from genrec.fidelity.base import Check, CheckContext, Finding
from genrec.fidelity.policy import IdentifiabilitySettings

_UNKNOWN = {"", "unknown", "none"}


def watermarked_text(item: GeneratedItem) -> str:
    """The text the watermark was applied to, per ``provenance.watermark["field"]``."""
    fld = (item.provenance.watermark or {}).get("field", "text")
    if fld == "title":
        return item.title
    if fld == "description":
        return item.description
    return item.text


class IdentifiabilityCheck(Check):
    """Flags items not marked as AI-generated, with incomplete provenance, or whose watermark is gone."""

    name = "identifiability"
    settings: IdentifiabilitySettings

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
            if str(value or "").strip().lower() in _UNKNOWN
        ]
        if prov.kind == "edit" and not prov.source_item_id:
            missing.append("source_item_id")
        if missing:
            findings.append(
                Finding(
                    "missing_provenance",
                    f"provenance lacks {', '.join(missing)}",
                    "provenance",
                    text=", ".join(missing),
                )
            )
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
                z = float(detector(watermarked_text(item)).z)
                details["watermark_z"] = z
                threshold = self.settings.watermark_z_threshold
                if not math.isfinite(z) or z < threshold:
                    gap = (
                        1.0 if not math.isfinite(z) else min(1.0, max(0.0, (threshold - z) / max(abs(threshold), 1.0)))
                    )
                    findings.append(
                        Finding(
                            "watermark_weak",
                            f"watermark z-score {z:.2f} is below {threshold:g}: missing or stripped",
                            "text",
                            score=gap,
                        )
                    )
        return findings, details
