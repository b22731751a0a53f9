"""Legal: copies of human items (copyright), protected brands in created items, regulated claims.

Copies are found by word shingling against every catalog item (exact inverted index; shingles
in more than ``max_df`` items are boilerplate and ignored). The similarity of an item to a
human item is the larger of their Jaccard similarity and the share of the human item's
shingles the generated item contains, so both a full copy and a copied description under a
new title score high. An edit may reuse its source item's text, the text of items its source
is itself a near-duplicate of (listing duplicates), and (by default) the text of its source
brand's other items; nothing else. Regulated claims are found by rules
(``rules/regulated_claims.toml``) and by the learned detector (``genrec.fidelity.learned``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from genrec.data.generated import GeneratedItem
from genrec.fidelity import _rules, learned
from genrec.fidelity._catalog import GENERIC_BRANDS, BrandLexicon, brand_lexicon, items_by_brand, record_text
from genrec.fidelity._text import ShingleIndex, clean, norm
from genrec.fidelity.base import Check, CheckContext, Finding, item_fields, span_finding
from genrec.fidelity.policy import LegalSettings

_CLAIM_CODES = ("regulated_health", "regulated_medical", "regulated_financial")
_CLAIM_LABELS = {
    "regulated_health": "regulated health claim",
    "regulated_medical": "regulated medical claim",
    "regulated_financial": "regulated financial claim",
}


def load_claim_rules(extra: Sequence[Any] = ()) -> list[_rules.PatternRule]:
    """The packaged regulated-claim rules plus operator files, validated."""
    return _rules.load_pattern_rules("regulated_claims.toml", extra, _CLAIM_CODES, label="name")


class LegalCheck(Check):
    """Flags near-copies of human items, protected brands in creations and regulated claims."""

    name = "legal"
    settings: LegalSettings

    def validate(self) -> None:
        """Load the regulated-claim rules, the protected brand lists and the example bank."""
        load_claim_rules(self.settings.rules)
        for source in self.settings.brand_lists:
            _rules.read_list(source)
        if self.settings.learned:
            learned.load_bank(self.settings.learned_examples)

    def _index(self, ctx: CheckContext) -> ShingleIndex:
        s = self.settings

        def build() -> ShingleIndex:
            index = ShingleIndex(s.shingle_size)
            for item_id, r in ctx.catalog_records().items():
                index.add(item_id, record_text(r))
            index.drop_common(s.max_df)
            return index

        return ctx.cached(f"legal.index.{s.shingle_size}.{s.max_df}", build)

    def _protected(self, ctx: CheckContext) -> BrandLexicon:
        s = self.settings

        def build() -> BrandLexicon:
            listed: set[str] = set()
            for source in _rules.sources(["protected_brands.txt"], s.brand_lists):
                listed.update(norm(b) for b in _rules.read_list(source))
            brands, distinctive = set(listed), set(listed)
            if s.protected_brands == "catalog":
                lex = brand_lexicon(ctx)
                brands |= lex.brands
                distinctive |= lex.distinctive
            allowed = {norm(b) for b in s.allow_brands}
            return BrandLexicon(brands - allowed, distinctive - allowed)

        key = f"legal.protected.{s.protected_brands}.{tuple(s.brand_lists)}.{tuple(s.allow_brands)}"
        return ctx.cached(key, build)

    def _claims(self, ctx: CheckContext) -> list[_rules.PatternRule]:
        return ctx.cached(f"legal.claims.{tuple(self.settings.rules)}", lambda: load_claim_rules(self.settings.rules))

    def find_many(
        self, items: Sequence[GeneratedItem], ctx: CheckContext
    ) -> list[tuple[list[Finding], dict[str, Any]]]:
        """The rules on each item, plus the learned detector's regulated claims over all items in one batch."""
        extra, details = learned.learned_findings(
            self.name, [item_fields(i) for i in items], self.settings, _CLAIM_LABELS, ctx.encoder
        )
        out = []
        for item, more in zip(items, extra):
            findings, own = self._find_rules(item, ctx)
            out.append((learned.merge(findings, more), {**own, **details}))
        return out

    def find(self, item: GeneratedItem, ctx: CheckContext) -> tuple[list[Finding], dict[str, Any]]:
        """Near-duplicates, protected brands (creations only) and regulated claims (rules and learned)."""
        return self.find_many([item], ctx)[0]

    def _find_rules(self, item: GeneratedItem, ctx: CheckContext) -> tuple[list[Finding], dict[str, Any]]:
        """Near-duplicates, protected brands (creations only) and regulated claims by the rules."""
        findings: list[Finding] = []
        details: dict[str, Any] = {}
        findings += self._copies(item, ctx, details)
        if item.provenance.kind == "create" and self.settings.protected_brands != "off":
            findings += self._brands(item, ctx)
        rules = self._claims(ctx)
        for fld, text in item_fields(item).items():
            for rule, start, end in _rules.find_patterns(text, rules):
                findings.append(span_finding(rule.code, rule.label, fld, text, start, end))
        return findings, details

    def _copies(self, item: GeneratedItem, ctx: CheckContext, details: dict[str, Any]) -> list[Finding]:
        s = self.settings
        if ctx.catalog is None:
            return []
        exclude: set[str] = set()
        prov = item.provenance
        if prov.kind != "create" and prov.source_item_id:
            exclude.add(str(prov.source_item_id))
            source = ctx.catalog_records().get(str(prov.source_item_id))
            brand = norm(clean(source.get("brand"))) if source else ""
            if s.same_brand_exempt and brand not in GENERIC_BRANDS:
                exclude.update(items_by_brand(ctx).get(brand, []))
        title, desc = item.title or "", item.description or ""
        text = f"{title}\n{desc}"
        index = self._index(ctx)
        overlaps = index.query(text, exclude=exclude)
        if overlaps and exclude:
            # an edit may reuse text its source already shares with another item (listing duplicates)
            source_text = record_text(ctx.catalog_records().get(str(prov.source_item_id)) or {})
            twins = {
                o.key
                for o in index.query(source_text, exclude=exclude)
                if max(o.jaccard, o.doc_containment) >= s.near_duplicate_threshold
            }
            overlaps = [o for o in overlaps if o.key not in twins]
        if not overlaps:
            details["max_similarity"] = 0.0
            return []
        best = max(overlaps, key=lambda o: (max(o.jaccard, o.doc_containment), o.key))
        score = max(best.jaccard, best.doc_containment)
        details.update(
            max_similarity=round(score, 4),
            most_similar=best.key,
            jaccard=round(best.jaccard, 4),
            containment=round(best.doc_containment, 4),
        )
        if score >= s.near_duplicate_threshold:
            code = "near_duplicate"
        elif s.similar_threshold is not None and score >= s.similar_threshold:
            code = "similar"
        else:
            return []
        msg = f"copies human item {best.key} (similarity {score:.2f})"
        out = []
        for start, end in best.spans:
            for fld, offset, length in (("title", 0, len(title)), ("description", len(title) + 1, len(desc))):
                a, b = max(start, offset), min(end, offset + length)
                if a < b:
                    field_text = title if fld == "title" else desc
                    out.append(span_finding(code, msg, fld, field_text, a - offset, b - offset, score))
        return out

    def _brands(self, item: GeneratedItem, ctx: CheckContext) -> list[Finding]:
        lex = self._protected(ctx)
        out = []
        if item.brand and norm(item.brand) in lex.brands:
            out.append(
                Finding(
                    "protected_brand",
                    f"created item carries protected brand {item.brand!r}",
                    "brand",
                    0,
                    len(item.brand),
                    item.brand,
                )
            )
        for fld, text in item_fields(item).items():
            for m in lex.find(text):
                out.append(
                    span_finding(
                        "protected_brand", f"created item names protected brand {m.brand!r}", fld, text, m.start, m.end
                    )
                )
        return out
