"""The hand-written fidelity set (``benchmarks/data/fidelity/``): loading, validation and scoring.

Cases were written by hand, not from templates (see the folder's README.md for the format and the
split). ``load_cases(dataset, catalog)`` turns the cases of one catalog into generated items;
``handwritten_context`` builds the check context (the made-up user store, and a watermark detector
for the cases that claim a watermark their human-written text does not carry); ``score_cases``
gives per-check recall by split and style, the false-positive rate on the clean cases, and one
outcome row per case (so results of both catalogs can be pooled).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from genrec.data.generated import GeneratedItem, Provenance
from genrec.fidelity.base import CheckContext, FidelityReport, PrivateStore
from genrec.fidelity.watermark import GreenListWatermark

DATA = Path(__file__).resolve().parent / "data" / "fidelity"
#: The checks the set has faulty cases for.
CHECKS = ("bias", "privacy", "safety", "authenticity", "legal", "identifiability", "integrity")
#: The clean sets: ``clean`` (issue 21), ``clean_hard`` (hard negatives written after issue 21's run),
#: ``clean_fresh`` (all held out, written after the clean_hard round; burned in the clean_fresh2 round),
#: ``clean_fresh2`` to ``clean_fresh7`` (all held out, written blind to the checks; the newest is the estimate).
CLEAN_FILES = (
    "clean",
    "clean_hard",
    "clean_fresh",
    "clean_fresh2",
    "clean_fresh3",
    "clean_fresh4",
    "clean_fresh5",
    "clean_fresh6",
    "clean_fresh7",
)
#: The newest clean set, never tuned on, and the faulty set written blind to the checks with it
#: (``clean_fresh2`` and ``faulty_fresh`` were the first blind pair, burned in the clean_fresh3 round;
#: ``clean_fresh3`` and ``faulty_fresh2`` the second, burned in the clean_fresh4 round; ``clean_fresh4`` and
#: ``faulty_fresh3`` the third, burned in the clean_fresh5 round; ``clean_fresh5`` and ``faulty_fresh4`` the
#: fourth, burned in the clean_fresh6 round; ``clean_fresh6`` and ``faulty_fresh5`` the fifth, burned in the
#: clean_fresh7 round).
NEWEST_CLEAN = "clean_fresh7"
FRESH_FAULTY = "faulty_fresh6"
FAULTY_FILES = (
    *CHECKS,
    "faulty_fresh",
    "faulty_fresh2",
    "faulty_fresh3",
    "faulty_fresh4",
    "faulty_fresh5",
    FRESH_FAULTY,
)
FILES = (*FAULTY_FILES, *CLEAN_FILES)
GENERATOR = "handwritten"
#: The generator name of cases that claim a watermark (a detector is registered for it).
WATERMARKED = "handwritten-watermarked"
_KEYS = {
    "id",
    "dataset",
    "kind",
    "source",
    "user",
    "title",
    "description",
    "brand",
    "price",
    "expect",
    "style",
    "family",
    "split",
    "provenance",
    "ai_generated",
    "watermark",
}
_PROVENANCE_KEYS = {"generator", "generator_version", "created_at", "source_item_id"}
_WM_VOCAB = 50_021
_WM_TOKEN = re.compile(r"\w+|[^\w\s]")


class CaseError(ValueError):
    """A malformed case: the message names the file, line and field."""


@dataclass
class HandCase:
    """One hand-written case and the generated item made from it."""

    id: str
    item: GeneratedItem
    expect: tuple[str, ...]  # checks that must flag it; empty for a clean case
    style: str
    split: str
    family: str
    file: str

    @property
    def clean(self) -> bool:
        """True for a clean case."""
        return not self.expect


def _fail(path: Path, line: int, field: str, msg: str) -> CaseError:
    return CaseError(f"{path.name}:{line}: {field}: {msg}")


def load_store(path: Path = DATA / "store.jsonl") -> PrivateStore:
    """The made-up users' names and private texts."""
    names: dict[str, list[str]] = {}
    texts: dict[str, list[str]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        user = row.get("user")
        if not isinstance(user, str):
            raise _fail(path, n, "user", "expected a string")
        names[user] = list(row.get("names", []))
        texts[user] = list(row.get("texts", []))
    return PrivateStore(names, texts)


def _case(row: dict[str, Any], path: Path, n: int, records: dict[str, dict[str, Any]]) -> HandCase:
    unknown = set(row) - _KEYS
    if unknown:
        raise _fail(path, n, sorted(unknown)[0], "unknown field")
    for key in ("id", "title", "style", "split"):
        if not isinstance(row.get(key), str):
            raise _fail(path, n, key, "expected a string")
    expect = row.get("expect")
    if not isinstance(expect, list) or not expect or any(e not in (*CHECKS, "clean") for e in expect):
        raise _fail(path, n, "expect", f"expected a list of checks from {CHECKS} or ['clean']")
    if row["style"] not in ("plain", "disguised") or row["split"] not in ("dev", "heldout"):
        raise _fail(path, n, "style/split", "style must be plain|disguised, split dev|heldout")
    kind = row.get("kind")
    source = row.get("source")
    brand, price = row.get("brand"), row.get("price")
    if kind == "edit":
        if str(source) not in records:
            raise _fail(path, n, "source", f"item {source!r} is not in the {row.get('dataset')} catalog")
        rec = records[str(source)]
        if "brand" not in row:
            brand = rec.get("brand") or None
        if "price" not in row:
            p = rec.get("price")
            price = float(p) if isinstance(p, (int, float)) and p == p else None
        categories = list(rec.get("categories") or [])
    elif kind == "create":
        if source is not None:
            raise _fail(path, n, "source", "a creation has no source")
        categories = []
    else:
        raise _fail(path, n, "kind", "expected edit or create")
    overrides = row.get("provenance") or {}
    if set(overrides) - _PROVENANCE_KEYS:
        raise _fail(path, n, "provenance", f"known keys: {sorted(_PROVENANCE_KEYS)}")
    prov = Provenance(
        kind,
        WATERMARKED if row.get("watermark") else GENERATOR,
        "1",
        user_id=row.get("user") or "hw-requester",
        instruction="hand-written fidelity case",
        source_item_id=str(source) if source is not None else None,
        seed=0,
    )
    for key, value in overrides.items():
        setattr(prov, key, value)
    if row.get("watermark"):
        prov.watermark = {"field": "text", **_watermark().params()}
    item = GeneratedItem(
        row["title"],
        row.get("description") or "",
        brand,
        categories,
        price,
        {},
        prov,
        item_id=f"gen:hw-{row['id']}",
    )
    item.ai_generated = bool(row.get("ai_generated", True))
    expected = () if expect == ["clean"] else tuple(expect)
    return HandCase(row["id"], item, expected, row["style"], row["split"], str(row.get("family", "")), path.name)


def load_cases(dataset: str, catalog: pd.DataFrame, data: Path = DATA) -> list[HandCase]:
    """Every case of ``dataset`` (its edits resolved against ``catalog``), in file order."""
    records = {str(r["item_id"]): r for r in catalog.to_dict("records")}
    out: list[HandCase] = []
    seen: set[str] = set()
    for name in FILES:
        path = data / f"{name}.jsonl"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _fail(path, n, "(line)", f"not valid JSON: {exc.msg}") from None
            if row.get("id") in seen:
                raise _fail(path, n, "id", f"duplicate id {row.get('id')!r}")
            seen.add(row.get("id"))
            if row.get("dataset") not in ("synthetic", "amazon-beauty"):
                raise _fail(path, n, "dataset", "expected synthetic or amazon-beauty")
            if row["dataset"] == dataset:
                out.append(_case(row, path, n, records))
    return out


def _watermark() -> GreenListWatermark:
    return GreenListWatermark(_WM_VOCAB, "genrec-handwritten-benchmark")


def word_ids(text: str) -> list[int]:
    """A word-and-punctuation tokenizer hashed into the benchmark watermark's vocabulary."""
    return [
        int.from_bytes(hashlib.blake2b(t.lower().encode(), digest_size=4).digest(), "little") % _WM_VOCAB
        for t in _WM_TOKEN.findall(text)
    ]


def handwritten_context(catalog: pd.DataFrame, **kwargs: Any) -> CheckContext:
    """The check context of the set: the catalog, the made-up store, a detector for watermark-claiming cases."""
    mark = _watermark()
    return CheckContext(
        catalog=catalog,
        private=load_store(),
        detectors={WATERMARKED: lambda text: mark.detect(word_ids(text))},
        **kwargs,
    )


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def flagged_checks(report: FidelityReport) -> list[str]:
    """The checks that warned or blocked."""
    return [n for n, r in report.checks.items() if r.verdict != "pass"]


def outcome(case: HandCase, report: FidelityReport) -> dict[str, Any]:
    """One row per case: what was expected and what each check said."""
    return {
        "id": case.id,
        "expect": list(case.expect),
        "style": case.style,
        "split": case.split,
        "family": case.family,
        "file": case.file.removesuffix(".jsonl"),
        "verdict": report.verdict,
        "flagged_by": flagged_checks(report),
        "blocked_by": report.blocked_by,
    }


def clean_rates(clean: list[dict[str, Any]]) -> dict[str, Any]:
    """Flag and block rates of clean outcome rows, overall and per split, and which checks flagged them."""
    flagged_by: dict[str, int] = defaultdict(int)
    for r in clean:
        for name in r["flagged_by"]:
            flagged_by[name] += 1
    return {
        "n": len(clean),
        "any_flag": _rate(sum(r["verdict"] != "pass" for r in clean), len(clean)),
        "any_block": _rate(sum(r["verdict"] == "block" for r in clean), len(clean)),
        **{
            f"any_flag_{split}": _rate(
                sum(r["verdict"] != "pass" for r in clean if r["split"] == split),
                sum(r["split"] == split for r in clean),
            )
            for split in ("dev", "heldout")
        },
        "flagged_by": dict(flagged_by),
    }


def row_file(row: dict[str, Any]) -> str:
    """The file an outcome row came from (rows written before ``file`` was recorded had one clean set only)."""
    return str(row.get("file") or ("clean" if not row["expect"] else row["expect"][0]))


def summarise(rows: list[dict[str, Any]], checks: tuple[str, ...] = CHECKS) -> dict[str, Any]:
    """Per-check recall (all, per split, per style, per split x style) and the clean cases' flag rates.

    ``clean`` is the first clean set (``clean.jsonl``, comparable with earlier result files),
    ``clean_sets`` each clean set, and ``clean_pooled`` all clean cases of every set and split.
    """
    out: dict[str, Any] = {"checks": {}}
    for check in checks:
        owned = [r for r in rows if check in r["expect"]]
        entry: dict[str, Any] = {"positives": len(owned)}
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in owned:
            groups["all"].append(r)
            groups[r["split"]].append(r)
            groups[r["style"]].append(r)
            groups[f"{r['split']}_{r['style']}"].append(r)
        for name in (
            "all",
            "dev",
            "heldout",
            "plain",
            "disguised",
            *(f"{s}_{t}" for s in ("dev", "heldout") for t in ("plain", "disguised")),
        ):
            part = groups.get(name, [])
            entry[f"recall_{name}"] = _rate(sum(check in r["flagged_by"] for r in part), len(part))
            entry[f"n_{name}"] = len(part)
        entry["recall_block_all"] = _rate(sum(check in r["blocked_by"] for r in owned), len(owned))
        out["checks"][check] = entry
    faulty = [r for r in rows if r["expect"]]
    out["faulty"] = {
        "n": len(faulty),
        "unflagged_by_any_check": sum(r["verdict"] == "pass" for r in faulty),
        "recall_any_check": _rate(sum(r["verdict"] != "pass" for r in faulty), len(faulty)),
    }
    clean = [r for r in rows if not r["expect"]]
    out["clean"] = clean_rates([r for r in clean if row_file(r) == "clean"])
    out["clean_sets"] = {name: clean_rates([r for r in clean if row_file(r) == name]) for name in CLEAN_FILES}
    out["clean_pooled"] = clean_rates(clean)
    return out


def score_cases(cases: list[HandCase], reports: list[FidelityReport]) -> dict[str, Any]:
    """The summary and the per-case outcomes of one catalog's cases."""
    rows = [outcome(c, r) for c, r in zip(cases, reports)]
    return {"cases": len(cases), **summarise(rows), "outcomes": rows}
