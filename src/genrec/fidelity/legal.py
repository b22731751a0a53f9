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
from genrec.fidelity._catalog import GENERIC_BRANDS, BrandLexicon, brand_lexicon, items_by_brand_family
from genrec.fidelity._copies import CopyIndex
from genrec.fidelity._norm import finding, normalized_fields, normalizer, to_original
from genrec.fidelity._text import clean, norm
from genrec.fidelity.base import Check, CheckContext, Finding, item_fields, span_finding
from genrec.fidelity.policy import LegalSettings
from genrec.textnorm import Normalized

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

    def _index(self, ctx: CheckContext) -> CopyIndex:
        s = self.settings

        def build() -> CopyIndex:
            nz = normalizer(ctx)
            docs = (
                (
                    item_id,
                    nz.normalize(clean(r.get("title"))).text,
                    nz.normalize(clean(r.get("description"))).text,
                    "" if norm(clean(r.get("brand"))) in GENERIC_BRANDS else nz.normalize(clean(r.get("brand"))).text,
                )
                for item_id, r in ctx.catalog_records().items()
            )
            return CopyIndex(docs, s.shingle_size, s.max_df)

        return ctx.cached(f"legal.copies.{s.shingle_size}.{s.max_df}", build)

    def copied_items(self, text: str, ctx: CheckContext, exclude: set[str] | frozenset[str] = frozenset()) -> set[str]:
        """Human items ``text`` copies or lightly paraphrases, by the policy's thresholds (``exclude`` left out)."""
        s = self.settings
        n = normalizer(ctx).normalize(text).text
        hits, _, _ = self._index(ctx).best(
            n, set(exclude), s.near_duplicate_threshold, s.paraphrase_threshold, s.min_content_words
        )
        return {h.item_id for h in hits}

    def _protected(self, ctx: CheckContext) -> BrandLexicon:
        s = self.settings

        def build() -> BrandLexicon:
            listed: set[str] = set()
            for source in _rules.sources(["protected_brands.txt"], s.brand_lists):
                listed.update(norm(b) for b in _rules.read_list(source))
            brands = set(listed)
            if s.protected_brands == "catalog":
                brands |= brand_lexicon(ctx).brands
            allowed = {norm(b) for b in s.allow_brands}
            if ctx.catalog is None:
                return BrandLexicon(brands - allowed)
            catalog = brand_lexicon(ctx)  # the catalog says which brand words are everyday words and phrases
            return BrandLexicon(
                brands - allowed, common_words=catalog.ambiguous, lines=catalog.lines, phrases=catalog.phrases
            )

        key = f"legal.protected.{s.protected_brands}.{tuple(s.brand_lists)}.{tuple(s.allow_brands)}"
        return ctx.cached(key, build)

    def _claims(self, ctx: CheckContext) -> list[_rules.PatternRule]:
        return ctx.cached(f"legal.claims.{tuple(self.settings.rules)}", lambda: load_claim_rules(self.settings.rules))

    def find_many(
        self, items: Sequence[GeneratedItem], ctx: CheckContext
    ) -> list[tuple[list[Finding], dict[str, Any]]]:
        """The rules on each item, plus the learned detector's regulated claims over all items in one batch."""
        normed = [normalized_fields(item, ctx) for item in items]
        texts = [{fld: n.text for fld, n in nf.items()} for nf in normed]
        extra, details = learned.learned_findings(self.name, texts, self.settings, _CLAIM_LABELS, ctx.encoder)
        out = []
        for item, nf, more in zip(items, normed, extra):
            findings, own = self._find_rules(item, ctx)
            out.append((learned.merge(findings, [to_original(f, nf) for f in more]), {**own, **details}))
        return out

    def find(self, item: GeneratedItem, ctx: CheckContext) -> tuple[list[Finding], dict[str, Any]]:
        """Near-duplicates, protected brands (creations only) and regulated claims (rules and learned)."""
        return self.find_many([item], ctx)[0]

    def _find_rules(self, item: GeneratedItem, ctx: CheckContext) -> tuple[list[Finding], dict[str, Any]]:
        """Near-duplicates, protected brands (creations only) and regulated claims by the rules."""
        findings: list[Finding] = []
        details: dict[str, Any] = {}
        normed = normalized_fields(item, ctx)
        findings += self._copies(item, normed, ctx, details)
        if item.provenance.kind == "create" and self.settings.protected_brands != "off":
            findings += self._brands(item, ctx)
        rules = self._claims(ctx)
        for fld, n in normed.items():
            for rule, start, end in _rules.find_patterns(n.text, rules):
                findings.append(finding(rule.code, rule.label, fld, n, start, end))
        return findings, details

    def _copies(
        self, item: GeneratedItem, normed: dict[str, Normalized], ctx: CheckContext, details: dict[str, Any]
    ) -> list[Finding]:
        s = self.settings
        if ctx.catalog is None:
            return []
        exclude: set[str] = set()
        prov = item.provenance
        index = self._index(ctx)
        source = None
        if prov.kind != "create" and prov.source_item_id:
            exclude.add(str(prov.source_item_id))
            source = ctx.catalog_records().get(str(prov.source_item_id))
            brand = norm(clean(source.get("brand"))) if source else ""
            if s.same_brand_exempt and brand not in GENERIC_BRANDS:
                # the brand however its items spell it: "Tarte" and "Tarte Cosmetics" list one product line
                exclude.update(items_by_brand_family(ctx).get(brand_lexicon(ctx).family(brand), []))
        title, desc = normed["title"], normed["description"]
        text = f"{title.text}\n{desc.text}"
        thresholds = (s.near_duplicate_threshold, s.paraphrase_threshold, s.min_content_words)
        hits, top_shingles, top_words = index.best(text, exclude, *thresholds)
        details.update(max_similarity=round(top_shingles, 4), max_word_overlap=round(top_words, 4))
        if hits and source is not None:
            # an edit may reuse text its source already shares with another item (listing duplicates)
            nz = normalizer(ctx)
            source_text = f"{nz.normalize(clean(source.get('title'))).text}\n{nz.normalize(clean(source.get('description'))).text}"
            hits = [
                h
                for h in hits
                if not index.pair(source_text, h.item_id, *thresholds)
                and not (h.how == "words" and index.explained(text, h.item_id, source_text, s.paraphrase_threshold))
            ]
        if not hits:
            if s.similar_threshold is None or top_shingles < s.similar_threshold:
                return []
            similar, _, _ = index.best(text, exclude, s.similar_threshold, 2.0, s.min_content_words)
            if not similar:
                return []
            hit = similar[0]
            code, msg = "similar", f"resembles human item {hit.item_id} (similarity {hit.score:.2f})"
        else:
            hit = hits[0]
            code = "near_duplicate"
            what = "copies" if hit.how == "shingles" else "paraphrases"
            measure = "shingle overlap" if hit.how == "shingles" else "of its rare words repeated"
            msg = f"{what} human item {hit.item_id} ({hit.score:.2f} {measure})"
        details["most_similar"] = hit.item_id
        out = []
        offset = len(title.text) + 1
        for start, end in index.spans(hit, text):
            for fld, n, base in (("title", title, 0), ("description", desc, offset)):
                a, b = max(start, base), min(end, base + len(n.text))
                if a < b:
                    out.append(finding(code, msg, fld, n, a - base, b - base, hit.score))
        return out

    def _brands(self, item: GeneratedItem, ctx: CheckContext) -> list[Finding]:
        lex = self._protected(ctx)
        out = []
        if item.brand and lex.find(item.brand, title=True):
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
            for m in lex.find(text, title=fld == "title"):
                out.append(
                    span_finding(
                        "protected_brand", f"created item names protected brand {m.brand!r}", fld, text, m.start, m.end
                    )
                )
        return out
