"""The shapes every fidelity check shares: verdicts, findings, results, the report, the context and the Check ABC."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

import pandas as pd

from genrec.data.generated import GeneratedItem

Verdict = Literal["pass", "warn", "block"]
VERDICTS: tuple[str, ...] = ("pass", "warn", "block")  # in order of severity
#: Item fields the checks read, in the order findings refer to them.
TEXT_FIELDS: tuple[str, ...] = ("title", "description")


def worst(verdicts: Iterable[str]) -> Verdict:
    """The most severe of ``verdicts`` ("pass" when there are none)."""
    rank = max((VERDICTS.index(v) for v in verdicts), default=0)
    return VERDICTS[rank]  # type: ignore[return-value]


def item_fields(item: GeneratedItem) -> dict[str, str]:
    """The free-text fields of an item by name (missing ones as "")."""
    return {"title": item.title or "", "description": item.description or ""}


@dataclass
class Finding:
    """One problem a check found: what, where (field and character offsets) and how sure."""

    code: str  # the rule that fired, e.g. "email"; the policy decides whether it blocks
    message: str
    field: str = "text"  # the item field the span refers to ("title", "description", "brand", "price", ...)
    start: int | None = None  # character offsets into that field, end exclusive
    end: int | None = None
    text: str = ""  # the matched text
    score: float = 1.0  # strength in [0, 1]
    severity: Verdict = "warn"  # set by the check from the policy

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return asdict(self)


def span_finding(code: str, message: str, fld: str, text: str, start: int, end: int, score: float = 1.0) -> Finding:
    """A finding pointing at ``text[start:end]`` of field ``fld``."""
    return Finding(code, message, fld, start, end, text[start:end], score)


@dataclass
class CheckResult:
    """What one check said about one item."""

    check: str
    verdict: Verdict
    score: float  # the strongest finding's score, 0 when nothing was found
    findings: list[Finding] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # check-specific numbers (similarities, z, ...)
    seconds: float = 0.0

    @property
    def reasons(self) -> list[str]:
        """Human-readable lines, one per finding."""
        out = []
        for f in self.findings:
            where = f" [{f.field} {f.start}:{f.end} {f.text!r}]" if f.start is not None else ""
            out.append(f"{self.check}.{f.code} ({f.severity}): {f.message}{where}")
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {
            "verdict": self.verdict,
            "score": round(float(self.score), 6),
            "findings": [f.to_dict() for f in self.findings],
            "reasons": self.reasons,
            "details": self.details,
            "seconds": round(self.seconds, 6),
        }


@dataclass
class FidelityReport:
    """The checker's verdict on one item: the worst check verdict, and every check's result."""

    item_id: str
    verdict: Verdict
    checks: dict[str, CheckResult]
    policy: str

    @property
    def blocked_by(self) -> list[str]:
        """Names of the checks that blocked the item."""
        return [n for n, r in self.checks.items() if r.verdict == "block"]

    @property
    def warned_by(self) -> list[str]:
        """Names of the checks that warned."""
        return [n for n, r in self.checks.items() if r.verdict == "warn"]

    @property
    def reasons(self) -> list[str]:
        """Every finding of every check as a readable line."""
        return [line for r in self.checks.values() for line in r.reasons]

    def to_dict(self) -> dict[str, Any]:
        """The plain dict stored in ``GeneratedItem.fidelity``."""
        return {
            "item_id": self.item_id,
            "verdict": self.verdict,
            "blocked_by": self.blocked_by,
            "warned_by": self.warned_by,
            "policy": self.policy,
            "checks": {name: r.to_dict() for name, r in self.checks.items()},
        }


@dataclass
class PrivateStore:
    """Users' private data: display names and private texts (reviews, messages), by user id."""

    names: Mapping[str, Sequence[str]] = field(default_factory=dict)
    texts: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def users(self) -> set[str]:
        """Every user id with some private data."""
        return set(self.names) | set(self.texts)


#: A watermark detector: text -> an object with a float ``.z`` (e.g. genrec.fidelity.watermark.WatermarkScore).
Detector = Callable[[str], Any]


@dataclass
class CheckContext:
    """What the checks compare an item with: the catalog, users' private data, logs and detectors.

    Build it once per catalog and reuse it: derived indexes (shingle indexes, brand lexicons)
    are built on first use and cached here. The requesting user is ``user_id`` when set,
    otherwise the item's ``provenance.user_id``.
    """

    catalog: pd.DataFrame | None = None  # human items, columns as Dataset.items
    private: PrivateStore = field(default_factory=PrivateStore)
    user_id: str | None = None
    detectors: Mapping[str, Detector] = field(default_factory=dict)  # generator name -> detector
    suspicious_users: frozenset[str] = frozenset()  # from genrec.fidelity.shilling
    suspicious_items: frozenset[str] = frozenset()
    encoder: Any = None  # a loaded sentence encoder the learned detector reuses instead of loading its own
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def requester(self, item: GeneratedItem) -> str | None:
        """The user the item was made for."""
        return self.user_id if self.user_id is not None else item.provenance.user_id

    def cached(self, key: str, build: Callable[[], Any]) -> Any:
        """``build()`` once per context and key; later calls return the same object."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def catalog_records(self) -> dict[str, dict[str, Any]]:
        """Catalog rows by item id (cached)."""

        def build() -> dict[str, dict[str, Any]]:
            if self.catalog is None:
                return {}
            missing = {"item_id", "title"} - set(self.catalog.columns)
            if missing:
                raise ValueError(f"context catalog lacks column(s) {sorted(missing)}")
            return {str(r["item_id"]): r for r in self.catalog.to_dict("records")}

        return self.cached("catalog_records", build)


class Check(ABC):
    """One fidelity check: finds problems in an item; the policy turns findings into a verdict."""

    name: ClassVar[str]

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def validate(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Read the check's rule files now, so a broken operator file fails at start-up (default: none)."""

    @abstractmethod
    def find(self, item: GeneratedItem, ctx: CheckContext) -> tuple[list[Finding], dict[str, Any]]:
        """The findings on ``item`` and check-specific details."""

    def find_many(
        self, items: Sequence[GeneratedItem], ctx: CheckContext
    ) -> list[tuple[list[Finding], dict[str, Any]]]:
        """``find`` on many items; checks with batched models override this."""
        return [self.find(item, ctx) for item in items]

    def judge(self, findings: list[Finding], details: dict[str, Any], seconds: float = 0.0) -> CheckResult:
        """Apply the policy: drop ignored codes, mark blocking ones, take the worst."""
        s = self.settings
        kept = [f for f in findings if f.code not in s.ignore]
        for f in kept:
            blocks = s.blocking and ("*" in s.block or f.code in s.block)
            f.severity = "block" if blocks else "warn"
        verdict = worst(f.severity for f in kept)
        score = max((f.score for f in kept), default=0.0)
        return CheckResult(self.name, verdict, score, kept, details, seconds)

    def run(self, item: GeneratedItem, ctx: CheckContext) -> CheckResult:
        """Check one item."""
        return self.run_many([item], ctx)[0]

    def run_many(self, items: Sequence[GeneratedItem], ctx: CheckContext) -> list[CheckResult]:
        """Check many items (the time of the batch is shared out evenly)."""
        start = time.perf_counter()
        found = self.find_many(items, ctx)
        each = (time.perf_counter() - start) / max(1, len(items))
        return [self.judge(f, d, each) for f, d in found]
