"""The fidelity policy: which checks run, their thresholds and which findings block, read from TOML.

A policy file may be partial: whatever it leaves out keeps the default (the defaults are spelled
out in ``default_policy.toml``, which must stay equal to the model defaults here). Unknown keys,
unknown finding codes and out-of-range numbers are errors naming the key. Paths (extra lexicon
and rule files) are relative to the policy file.
"""

from __future__ import annotations

import tomllib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_POLICY = "default_policy.toml"


class PolicyError(ValueError):
    """A policy file that cannot be read or does not validate; the message names the file and key."""


#: Per-label thresholds of the learned detector, chosen on the validation sentences of
#: benchmarks/data/learned_validation.jsonl (benchmarks/tune_learned.py; see docs/fidelity.md).
LEARNED_THRESHOLDS: dict[str, dict[str, float]] = {
    "bias": {"stereotype": 0.2},
    "safety": {"unsafe": 0.15, "adult": 0.3},
    "legal": {"regulated_medical": 0.2, "regulated_health": 0.25, "regulated_financial": 0.3},
}


class CheckSettings(BaseModel):
    """Settings every check has: whether it runs, whether it may block, and which findings block."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    codes: ClassVar[tuple[str, ...]] = ()

    enabled: bool = True
    blocking: bool = Field(default=True, description="false: the check can only warn")
    block: list[str] = Field(default_factory=list, description="finding codes that block ('*' = all); others warn")
    ignore: list[str] = Field(default_factory=list, description="finding codes that are dropped")

    @field_validator("block", "ignore")
    @classmethod
    def _known_codes(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c != "*" and c not in cls.codes]
        if unknown:
            raise ValueError(f"unknown finding code(s) {unknown}; known: {', '.join(cls.codes)}")
        return value


class LearnedSettings(BaseModel):
    """The sentence-embedding detector (genrec.fidelity.learned) a check runs besides its rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    learned: bool = Field(default=True, description="also run the learned detector (rules OR learned)")
    learned_threshold: float = Field(
        default=0.2, gt=0.0, le=1.0, description="probability of the check's labels that flags a sentence"
    )
    learned_min_similarity: float = Field(
        default=0.35, ge=-1.0, le=1.0, description="cosine to the label's nearest bank example a flag also needs"
    )
    learned_thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="per-label probability thresholds (label -> threshold); labels not listed use learned_threshold",
    )
    learned_neutral_lead: float | None = Field(
        default=None,
        ge=0.0,
        le=2.0,
        description="optional veto: skip a flag when the nearest neutral example is more similar by over this (off)",
    )
    learned_examples: list[Path] = Field(default_factory=list, description="extra example-bank TOML files")

    learned_labels: ClassVar[tuple[str, ...]] = ()

    @field_validator("learned_thresholds")
    @classmethod
    def _label_thresholds(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = [k for k in value if k not in cls.learned_labels]
        if unknown:
            raise ValueError(f"unknown label(s) {unknown}; known: {', '.join(cls.learned_labels)}")
        bad = {k: v for k, v in value.items() if not 0.0 < v <= 1.0}
        if bad:
            raise ValueError(f"thresholds must be in (0, 1]: {bad}")
        return value


class BiasSettings(CheckSettings, LearnedSettings):
    """Stereotyped or demeaning statements about groups."""

    codes: ClassVar[tuple[str, ...]] = ("stereotype", "demeaning", "generalisation")
    learned_labels: ClassVar[tuple[str, ...]] = ("stereotype",)
    learned_thresholds: dict[str, float] = Field(default_factory=lambda: dict(LEARNED_THRESHOLDS["bias"]))
    block: list[str] = Field(default_factory=lambda: ["stereotype", "demeaning"])
    lexicons: list[Path] = Field(
        default_factory=list, description="extra lexicon TOML files (identity terms, patterns)"
    )


class PrivacySettings(CheckSettings):
    """Personal data in the item, and other users' names or private texts."""

    codes: ClassVar[tuple[str, ...]] = (
        "email",
        "phone",
        "payment_card",
        "ip_address",
        "postal_address",
        "person_name",
        "other_user_name",
        "other_user_text",
        "own_name",
        "own_text",
    )
    block: list[str] = Field(
        default_factory=lambda: [
            "email",
            "phone",
            "payment_card",
            "ip_address",
            "postal_address",
            "person_name",
            "other_user_name",
            "other_user_text",
        ]
    )
    shingle_size: int = Field(default=4, ge=2, le=12, description="words per shingle for private-text overlap")
    min_shared_shingles: int = Field(default=2, ge=1, description="shared shingles with one user's texts that count")
    max_user_df: int = Field(default=3, ge=1, description="shingles in more users' texts are common phrases")
    person_names: bool = Field(default=True, description="look for person names beyond the user store")
    name_lists: list[Path] = Field(default_factory=list, description="extra given-name lists (one a line)")


class SafetySettings(CheckSettings, LearnedSettings):
    """Unsafe or age-inappropriate content."""

    codes: ClassVar[tuple[str, ...]] = ("unsafe", "adult", "profanity")
    learned_labels: ClassVar[tuple[str, ...]] = ("unsafe", "adult")
    learned_thresholds: dict[str, float] = Field(default_factory=lambda: dict(LEARNED_THRESHOLDS["safety"]))
    learned_neutral_lead: float | None = Field(
        default=0.10,
        ge=0.0,
        le=2.0,
        description="skip a learned flag when the nearest neutral example is more similar by over this "
        "(chosen on dev data: ordinary imperatives read as unsafe)",
    )
    block: list[str] = Field(default_factory=lambda: ["unsafe", "adult", "profanity"])
    classifier: bool = Field(default=True, description="use the alt-profanity-check classifier")
    profanity_threshold: float = Field(default=0.9, gt=0.0, le=1.0, description="classifier probability that flags")
    rules: list[Path] = Field(default_factory=list, description="extra rule TOML files")


class AuthenticitySettings(CheckSettings):
    """Edits keep the source's facts; creations do not pose as existing products."""

    codes: ClassVar[tuple[str, ...]] = (
        "changed_brand",
        "foreign_brand",
        "unsupported_number",
        "changed_price",
        "unsupported_size",
        "unsupported_material",
        "unsupported_claim",
        "claims_real_product",
        "claims_product_line",
        "claims_brand",
        "invented_brand",
        "missing_source",
    )
    block: list[str] = Field(
        default_factory=lambda: [
            "changed_brand",
            "foreign_brand",
            "unsupported_number",
            "changed_price",
            "unsupported_size",
            "unsupported_material",
            "unsupported_claim",
            "claims_real_product",
            "claims_product_line",
            "invented_brand",
        ]
    )
    claims: list[Path] = Field(default_factory=list, description="extra claim / certification TOML files")
    claim_peers: int = Field(
        default=50, ge=1, description="a creation without categories: this many nearest catalog titles are its kind"
    )
    claim_min_share: float = Field(
        default=0.02, ge=0.0, le=1.0, description="share of a creation's kind that must make a claim it makes"
    )
    brand_lists: list[Path] = Field(default_factory=list, description="extra brand lists edits may not name")
    allow_invented_brands: bool = Field(
        default=False, description="let created items carry brand names that are in no catalog"
    )
    price_tolerance: float = Field(default=0.01, ge=0.0, description="relative price change an edit may make")
    material_keys: list[str] = Field(
        default_factory=lambda: [
            "material",
            "materials",
            "ingredient",
            "ingredients",
            "fabric",
            "scent",
            "flavour",
            "flavor",
        ],
        description="catalog attribute keys whose values count as materials/ingredients",
    )
    materials: list[Path] = Field(default_factory=list, description="extra material/ingredient lists (one a line)")
    product_line_similarity: float = Field(
        default=0.6,
        gt=0.0,
        le=1.0,
        description="share of a branded creation's title words found in one of the brand's titles",
    )
    title_similarity: float = Field(
        default=0.6, gt=0.0, le=1.0, description="title word overlap with any catalog title"
    )


class LegalSettings(CheckSettings, LearnedSettings):
    """Copies of human items, protected brands, regulated claims."""

    learned_labels: ClassVar[tuple[str, ...]] = ("regulated_medical", "regulated_health", "regulated_financial")
    learned_thresholds: dict[str, float] = Field(default_factory=lambda: dict(LEARNED_THRESHOLDS["legal"]))

    codes: ClassVar[tuple[str, ...]] = (
        "near_duplicate",
        "similar",
        "protected_brand",
        "regulated_health",
        "regulated_medical",
        "regulated_financial",
    )
    block: list[str] = Field(
        default_factory=lambda: [
            "near_duplicate",
            "protected_brand",
            "regulated_health",
            "regulated_medical",
            "regulated_financial",
        ]
    )
    shingle_size: int = Field(default=3, ge=1, le=12)
    max_df: int = Field(default=30, ge=1, description="shingles in more catalog items are boilerplate")
    near_duplicate_threshold: float = Field(default=0.8, gt=0.0, le=1.0)
    paraphrase_threshold: float = Field(
        default=0.8,
        gt=0.0,
        le=1.0,
        description="share of a human item's content words (weighted by rarity) a text may reuse",
    )
    min_content_words: int = Field(default=6, ge=1, description="fewer content words: no paraphrase test")
    similar_threshold: float | None = Field(default=None, gt=0.0, le=1.0, description="warn tier; unset = off")
    same_brand_exempt: bool = Field(default=True, description="edits may reuse text of their source brand's items")
    protected_brands: Literal["catalog", "list", "off"] = Field(
        default="catalog", description="catalog: the rules list plus every catalog brand; list: the rules list only"
    )
    brand_lists: list[Path] = Field(default_factory=list, description="extra protected brand lists (one a line)")
    allow_brands: list[str] = Field(default_factory=list, description="brands created items may name")
    rules: list[Path] = Field(default_factory=list, description="extra regulated-claim rule TOML files")

    @model_validator(mode="after")
    def _tiers(self) -> LegalSettings:
        if self.similar_threshold is not None and self.similar_threshold >= self.near_duplicate_threshold:
            raise ValueError("similar_threshold must be below near_duplicate_threshold")
        return self


class IdentifiabilitySettings(CheckSettings):
    """AI flag, provenance, and the watermark when one was applied."""

    codes: ClassVar[tuple[str, ...]] = (
        "not_flagged",
        "missing_provenance",
        "inconsistent_provenance",
        "claims_human",
        "watermark_missing",
        "watermark_weak",
        "no_detector",
    )
    block: list[str] = Field(
        default_factory=lambda: [
            "not_flagged",
            "missing_provenance",
            "inconsistent_provenance",
            "claims_human",
            "watermark_missing",
        ]
    )
    earliest_created_at: date = Field(
        default=date(2020, 1, 1),
        description="a created_at before this date (or over a day in the future) is not when the item was generated",
    )
    min_source_overlap: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="an edit whose title and text share less than this share of words with its named source names the wrong source",
    )
    watermark_z_threshold: float = Field(default=4.0, description="detector z-score below this warns")
    watermark_block_z: float = Field(
        default=2.0, description="z-score below this on a long enough text: the watermark is gone (blocks)"
    )
    watermark_min_tokens: int = Field(
        default=40, ge=1, description="scored tokens a text needs before a missing watermark blocks"
    )
    rules: list[Path] = Field(default_factory=list, description="extra authorship-claim rule TOML files")


class IntegritySettings(CheckSettings):
    """Text addressed to a model or reviewer, role markers, markup and hidden text."""

    codes: ClassVar[tuple[str, ...]] = ("injection", "role_marker", "markup", "hidden_text")
    block: list[str] = Field(default_factory=lambda: ["injection", "role_marker", "markup", "hidden_text"])
    rules: list[Path] = Field(default_factory=list, description="extra integrity rule TOML files")


class ShillingSettings(CheckSettings):
    """Items made for, or edited from, accounts and items of a shilling group."""

    codes: ClassVar[tuple[str, ...]] = ("suspicious_user", "pushed_item")
    block: list[str] = Field(default_factory=list)
    max_history: int = Field(default=5, ge=1, description="accounts with at most this many interactions are 'new'")
    window_seconds: int = Field(default=86400, ge=1, description="accounts created this close together form a burst")
    min_accounts: int = Field(default=8, ge=2, description="smallest burst that counts")
    alpha: float = Field(default=1e-6, gt=0.0, lt=1.0, description="Poisson tail probability that flags a burst")


class ChecksSettings(BaseModel):
    """Settings of every check, by check name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bias: BiasSettings = Field(default_factory=BiasSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    safety: SafetySettings = Field(default_factory=SafetySettings)
    authenticity: AuthenticitySettings = Field(default_factory=AuthenticitySettings)
    legal: LegalSettings = Field(default_factory=LegalSettings)
    identifiability: IdentifiabilitySettings = Field(default_factory=IdentifiabilitySettings)
    shilling: ShillingSettings = Field(default_factory=ShillingSettings)
    integrity: IntegritySettings = Field(default_factory=IntegritySettings)


class Policy(BaseModel):
    """A whole policy: its name, what a crashing check gives, and every check's settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "default"
    on_error: Literal["warn", "block"] = Field(default="block", description="verdict when a check raises")
    checks: ChecksSettings = Field(default_factory=ChecksSettings)

    def settings(self, check: str) -> CheckSettings:
        """The settings of one check by name."""
        if check not in ChecksSettings.model_fields:
            raise KeyError(f"unknown check {check!r}; known: {', '.join(ChecksSettings.model_fields)}")
        return getattr(self.checks, check)

    def enabled(self) -> list[str]:
        """Names of the checks that run, in declaration order."""
        return [n for n in ChecksSettings.model_fields if self.settings(n).enabled]

    def replace(self, check: str, **changes: Any) -> Policy:
        """A copy with some settings of one check changed (validated)."""
        data = self.model_dump()
        data["checks"][check].update(changes)
        return Policy.model_validate(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>", base_dir: Path | None = None) -> Policy:
        """Validate a parsed policy; errors name ``source`` and the offending key.

        Relative file paths resolve against ``base_dir`` (default: the working directory).
        """
        try:
            policy = cls.model_validate(data)
        except ValidationError as exc:
            raise PolicyError(_describe(exc, source)) from None
        return policy._resolve(base_dir or Path.cwd(), source)

    def _resolve(self, base_dir: Path, source: str) -> Policy:
        """Make extra file paths absolute (relative to ``base_dir``) and check that they exist."""
        data = self.model_dump()
        for name, check in data["checks"].items():
            for key, value in check.items():
                if isinstance(value, list) and value and all(isinstance(v, Path) for v in value):
                    check[key] = [p if p.is_absolute() else (base_dir / p) for p in value]
                    missing = [str(p) for p in check[key] if not p.is_file()]
                    if missing:
                        raise PolicyError(f"policy {source}: checks.{name}.{key}: no such file {', '.join(missing)}")
        return Policy.model_validate(data)


def _describe(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{key}: {msg}")
    return f"policy {source}: " + "; ".join(lines)


def load_policy(path: str | Path | None = None) -> Policy:
    """Read a policy TOML file (the packaged default when ``path`` is None)."""
    if path is None:
        text = resources.files("genrec.fidelity").joinpath(DEFAULT_POLICY).read_text(encoding="utf-8")
        return Policy.from_dict(_parse(text, DEFAULT_POLICY), DEFAULT_POLICY)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"policy file {path}: cannot be read ({exc.strerror or exc})") from None
    return Policy.from_dict(_parse(text, str(path)), f"file {path}", path.resolve().parent)


def _parse(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy file {source} is not valid TOML: {exc}") from None
