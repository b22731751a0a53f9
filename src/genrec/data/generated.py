"""AI-generated items: the item record plus its provenance (who, for whom, from what, by which model)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

#: Every generated item id starts with this, so it can never collide with a human item's id.
GENERATED_PREFIX = "gen:"

KINDS = ("edit", "create", "select")


@dataclass
class Provenance:
    """Where a generated item came from."""

    kind: str  # "edit" (repurposed from source_item_id), "create" (new) or "select" (a segment picked)
    generator: str  # e.g. "textgen", "llm:smollm2-135m-instruct", "segment-select"
    generator_version: str
    user_id: str | None = None
    instruction: str = ""
    source_item_id: str | None = None  # the human item an edit started from
    seed: int | None = None  # the seed of the sampling call that wrote it
    sample: int | None = None  # its position among the ``batch`` texts that call sampled together (None: alone)
    batch: int | None = None
    watermark: dict[str, Any] | None = None  # watermark parameters used at sampling time (key id, gamma, delta)
    created_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"provenance kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "edit" and not self.source_item_id:
            raise ValueError("an edit needs the source_item_id it was made from")


@dataclass
class GeneratedItem:
    """An item made by genrec: catalog-shaped fields, provenance, and (after checking) its fidelity report."""

    title: str
    description: str = ""
    brand: str | None = None
    categories: list[str] = field(default_factory=list)
    price: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    provenance: Provenance = field(default_factory=lambda: Provenance("create", "unknown", "0"))
    item_id: str = ""  # assigned from the content and provenance when empty
    fidelity: dict[str, Any] | None = None  # the fidelity report (genrec.fidelity), as a plain dict
    ai_generated: bool = True  # always True: shown wherever the item is displayed

    def __post_init__(self) -> None:
        if not self.item_id:
            self.item_id = GENERATED_PREFIX + self.content_hash()[:16]
        if not self.item_id.startswith(GENERATED_PREFIX):
            raise ValueError(f"generated item ids must start with {GENERATED_PREFIX!r}: {self.item_id!r}")

    def content_hash(self) -> str:
        """A stable hash of the fields and provenance (without the creation time)."""
        prov = dataclasses.asdict(self.provenance)
        prov.pop("created_at", None)
        payload = {**self.record(), "provenance": prov}
        payload.pop("item_id", None)
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def record(self) -> dict[str, Any]:
        """The catalog-shaped fields (as in ``Dataset.items``), usable by encoders and tokenizers."""
        return {
            "item_id": self.item_id,
            "title": self.title,
            "description": self.description,
            "brand": self.brand,
            "categories": list(self.categories),
            "price": self.price,
            "attributes": dict(self.attributes),
        }

    @property
    def text(self) -> str:
        """Title and description, the text the fidelity checks read."""
        return f"{self.title}\n{self.description}".strip()

    @property
    def blocked(self) -> bool:
        """True when the fidelity report blocks this item (it must never be shown)."""
        return self.fidelity is not None and self.fidelity.get("verdict") == "block"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {
            **self.record(),
            "provenance": dataclasses.asdict(self.provenance),
            "fidelity": self.fidelity,
            "ai_generated": True,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratedItem:
        """Inverse of ``to_dict``."""
        data = dict(data)
        prov = Provenance(**data.pop("provenance"))
        data.pop("ai_generated", None)
        return cls(provenance=prov, **data)
