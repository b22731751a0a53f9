"""The hand-written instruction sets (benchmarks/data/instructions/*.jsonl): loading and checking.

Each line is one request a person wrote for a catalog (``synthetic`` or ``beauty``), with the
user's context (``history``: item ids, oldest first, passed as clicks as ``genrec chat`` does;
``likes``; ``shown``: the item last shown; ``rejections``), the expected action, the edit target,
the expected constraints (each a ``field``, a ``value`` and its ``use``: ``hard`` for a filter,
``soft`` for a boost; the use follows from the field and is checked), the kind of request the
loop must decline (``other_users_data``, ``copy``, ``personal_data``) and the split: ``dev``
(rules may be tuned on it) or ``heldout`` (never tuned on). The split was fixed when the set was
written, before any instructor ran on it: in each family of a catalog, every third case.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.instruction_set import InstructionCase
from genrec.data.dataset import Dataset
from genrec.generation.intent import HARD_FIELDS, PRICE_ORDERS, Constraints, Feedback, Turn
from genrec.generation.vocabulary import CatalogVocabulary, normalise

FOLDER = Path(__file__).resolve().parent / "data" / "instructions"
CATALOGS = {"synthetic": "synthetic.jsonl", "beauty": "beauty.jsonl"}
DECLINES = ("other_users_data", "copy", "personal_data")
ACTIONS = ("retrieve", "edit", "create", "clarify")
SPLITS = ("dev", "heldout")
_LISTS = ("categories", "exclude_categories", "brands", "exclude_brands", "style_words", "exclude_words")
_ITEMS = ("like_items", "unlike_items")


class HandwrittenError(ValueError):
    """A line of a hand-written set that does not parse or names something the catalog lacks."""


@dataclass
class HandwrittenCase(InstructionCase):
    """An ``InstructionCase`` with its id and the kind of request the loop must decline."""

    case_id: str = ""
    declined: str | None = None


def case_file(catalog: str) -> Path:
    """The JSONL file of a catalog's hand-written set."""
    if catalog not in CATALOGS:
        raise ValueError(f"unknown catalog {catalog!r}; known: {', '.join(CATALOGS)}")
    return FOLDER / CATALOGS[catalog]


def load_cases(
    catalog: str, split: str = "all", vocabulary: CatalogVocabulary | None = None, path: Path | None = None
) -> list[HandwrittenCase]:
    """The cases of ``catalog`` (``split``: "all", "dev" or "heldout"), checked against ``vocabulary`` if given."""
    if split not in ("all", *SPLITS):
        raise ValueError(f"split must be 'all', 'dev' or 'heldout', got {split!r}")
    path = path or case_file(catalog)
    cases = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            case = parse_case(json.loads(line), vocabulary)
        except (ValueError, KeyError, TypeError) as exc:
            raise HandwrittenError(f"{path}:{number}: {exc}") from None
        if split == "all" or (split == "heldout") == case.held_out:
            cases.append(case)
    return cases


def parse_case(row: dict[str, Any], vocab: CatalogVocabulary | None = None) -> HandwrittenCase:
    """One JSON record as a case; raises ValueError naming the field that is wrong."""
    for key in ("id", "catalog", "split", "family", "instruction", "action", "constraints"):
        if key not in row:
            raise ValueError(f"missing field {key!r}")
    if row["split"] not in SPLITS:
        raise ValueError(f"split {row['split']!r} is not one of {SPLITS}")
    if row["action"] not in ACTIONS:
        raise ValueError(f"action {row['action']!r} is not one of {ACTIONS}")
    declined = row.get("declined")
    if declined is not None and declined not in DECLINES:
        raise ValueError(f"declined {declined!r} is not one of {DECLINES}")
    ctx = row.get("context") or {}
    unknown = set(ctx) - {"history", "likes", "dislikes", "shown", "rejections"}
    if unknown:
        raise ValueError(f"unknown context keys {sorted(unknown)}")
    items = [*ctx.get("history", []), *ctx.get("likes", []), *ctx.get("dislikes", [])]
    items += [ctx["shown"]] if ctx.get("shown") else []
    items += [row["target_item"]] if row.get("target_item") else []
    constraints = _constraints(row["constraints"])
    items += constraints.like_items + constraints.unlike_items
    if vocab is not None:
        _check(constraints, items, vocab)
    history = [str(i) for i in ctx.get("history", [])]
    feedback = Feedback(
        likes=[str(i) for i in ctx.get("likes", [])],
        dislikes=[str(i) for i in ctx.get("dislikes", [])],
        clicks=history[-5:],
        rejections=int(ctx.get("rejections", 0)),
    )
    dialogue = [Turn("system", f"Showing [{ctx['shown']}]")] if ctx.get("shown") else []
    return HandwrittenCase(
        instruction=str(row["instruction"]),
        feedback=feedback,
        action=row["action"],
        constraints=constraints,
        target_item=row.get("target_item"),
        family=str(row["family"]),
        template="",
        held_out=row["split"] == "heldout",
        dialogue=dialogue,
        case_id=str(row["id"]),
        declined=declined,
    )


def _constraints(entries: list[dict[str, Any]]) -> Constraints:
    c = Constraints()
    for entry in entries:
        field, value, use = entry["field"], entry["value"], entry["use"]
        base = field.split(".", 1)[0]
        want = "hard" if base in HARD_FIELDS else "soft"
        if use != want:
            raise ValueError(f"constraint {field}={value!r} is labelled {use!r}, but {base} is a {want} constraint")
        if base in ("price_min", "price_max"):
            setattr(c, base, float(value))
        elif base == "price_order":
            if value not in PRICE_ORDERS:
                raise ValueError(f"price_order {value!r} is not one of {PRICE_ORDERS}")
            c.price_order = value
        elif base in ("attributes", "exclude_attributes"):
            name = field.partition(".")[2]
            if not name:
                raise ValueError(f"constraint field {field!r} needs an attribute name ({base}.NAME)")
            getattr(c, base).setdefault(name, []).append(str(value))
        elif base in _LISTS or base in _ITEMS:
            getattr(c, base).append(str(value))
        else:
            raise ValueError(f"unknown constraint field {field!r}")
    return c


def _check(c: Constraints, items: list[str], vocab: CatalogVocabulary) -> None:
    for item in items:
        if str(item) not in vocab:
            raise ValueError(f"item {item!r} is not in the catalog")
    for value in c.categories + c.exclude_categories:
        if value not in vocab.category_counts:
            raise ValueError(f"category {value!r} is not a catalog category")
    for value in c.brands + c.exclude_brands:
        if value not in vocab.brand_counts:
            raise ValueError(f"brand {value!r} is not a catalog brand")
    for field in ("attributes", "exclude_attributes"):
        for name, values in getattr(c, field).items():
            known = {normalise(v) for v in vocab.attribute_counts.get(name, {})}
            for v in values:
                if normalise(v) not in known:
                    raise ValueError(f"{field}.{name}={v!r} is not a value of the catalog's {name!r} attribute")


def load_catalog(catalog: str) -> Dataset:
    """The dataset a hand-written set is written for: the default synthetic data or Amazon Beauty."""
    from benchmarks.instruction_set import load_dataset

    return load_dataset("synthetic" if catalog == "synthetic" else "amazon-beauty")


__all__ = ["DECLINES", "HandwrittenCase", "HandwrittenError", "case_file", "load_cases", "load_catalog", "parse_case"]
