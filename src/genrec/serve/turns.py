"""One turn of the generative loop for one user of the service, and the record it leaves.

The conversation is rebuilt from the store (``generation.memory.replay``: the user's feedback from
every session, this session's turns), so a turn answers the same whichever process runs it and
after any restart. Generated items the user owns that this process has not admitted yet (made by
another server process, or before a reload) are admitted first. The record lists what was shown:
generated entries flagged, with their fidelity verdicts, reasons, provenance and, for an edit, the
changes against the source; blocked drafts only as a count (they are never shown; the audit log
keeps them).
"""

from __future__ import annotations

import math
from typing import Any

from genrec.data.events import EventStore
from genrec.data.generated import GeneratedItem
from genrec.data.generated_store import flagged_checks
from genrec.generation.memory import replay
from genrec.generation.pipeline import GenerativePipeline, Response, Session
from genrec.serve.catalog import CatalogIndex
from genrec.serve.diff import item_changes
from genrec.serve.engine import Snapshot


def run_turn(snapshot: Snapshot, events: EventStore, user_id: str, session_id: str, instruction: str) -> dict[str, Any]:
    """Answer ``instruction`` in ``session_id`` and store the turn (committed before returning)."""
    pipeline = snapshot.pipeline
    if pipeline is None:
        raise RuntimeError("the generative loop is not loaded (the server runs with --no-loop)")
    with snapshot.turn_lock:
        admit_owned(pipeline, user_id)
        session = Session(user_id, snapshot.catalog.history(user_id))
        replay(session, events.feedback(user_id), snapshot.catalog.index, session_id, events.turns(session_id))
        response = pipeline.respond(session, instruction)
        record = turn_record(pipeline, snapshot.catalog, session, response)
    record["turn"] = events.add_turn(session_id, user_id, instruction, record)
    record["session_id"] = session_id
    return record


def admit_owned(pipeline: GenerativePipeline, user_id: str) -> int:
    """Admit the user's stored passing items this pipeline does not know yet; returns how many."""
    added = 0
    for item in pipeline.store.items(pipeline.dataset.name, user_id):
        if item.item_id not in pipeline.generated:
            pipeline._admit(item)  # the pipeline's own admission (as at construction)
            added += 1
    return added


def turn_record(
    pipeline: GenerativePipeline, catalog: CatalogIndex, session: Session, response: Response
) -> dict[str, Any]:
    """The JSON record of a turn (what the API returns and the store keeps)."""
    entries = []
    for rank, e in enumerate(response.entries, 1):
        entry: dict[str, Any] = {
            "rank": rank,
            "item_id": e.item_id,
            "title": e.title,
            "brand": e.brand,
            "price": e.price,
            "score": None if e.score is None or not math.isfinite(e.score) else float(e.score),
            "generated": bool(e.generated),
        }
        if e.generated:
            entry.update(generated_view(pipeline, catalog, _generated(pipeline, e.item_id)))
        elif e.item_id in catalog.index:
            entry["why"] = catalog.why(session.history, catalog.index[e.item_id])
        entries.append(entry)
    return {
        "action": response.intent.action,
        "reason": response.intent.reason,
        "constraints": response.intent.constraints.model_dump(exclude_defaults=True),
        "message": response.message,
        "entries": entries,
        "blocked_count": len(response.blocked),
    }


def generated_view(pipeline: GenerativePipeline | None, catalog: CatalogIndex, item: GeneratedItem) -> dict[str, Any]:
    """A generated item as the user may see it: flag, verdict, reasons, provenance, and an edit's changes."""
    report = item.fidelity or {}
    prov = item.provenance
    view: dict[str, Any] = {
        "generated": True,
        "kind": prov.kind,
        "title": item.title,
        "description": item.description,
        "brand": item.brand,
        "price": item.price,
        "categories": list(item.categories),
        "verdict": str(report.get("verdict", "unchecked")),
        "reasons": reasons(report),
        "checks": {
            name: str(check.get("verdict"))
            for name, check in (report.get("checks") or {}).items()
            if isinstance(check, dict)
        },
        "flagged_checks": flagged_checks(report),
        "provenance": {
            "generator": prov.generator,
            "generator_version": prov.generator_version,
            "instruction": prov.instruction,
            "source_item_id": prov.source_item_id,
            "created_at": prov.created_at,
            "watermarked": prov.watermark is not None,
        },
    }
    source = prov.source_item_id
    if source is not None and source in catalog.index:
        record = catalog.record(catalog.index[source])
        record["description"] = catalog.descriptions[catalog.index[source]]
        view["source"] = {"item_id": source, "title": record["title"], "brand": record["brand"]}
        view["changes"] = item_changes(record, item.record())
    return view


def reasons(report: dict[str, Any]) -> list[str]:
    """Readable reasons of a report: its own, else those of every check that did not pass."""
    if report.get("reasons"):
        return [str(r) for r in report["reasons"]]
    return [
        str(r)
        for check in (report.get("checks") or {}).values()
        if isinstance(check, dict) and check.get("verdict") != "pass"
        for r in check.get("reasons", [])
    ]


def _generated(pipeline: GenerativePipeline, item_id: str) -> GeneratedItem:
    return pipeline.generated.get(item_id) or pipeline.store.get(item_id)
