"""What an edit changed against its source item: a word-level diff of title and description."""

from __future__ import annotations

import difflib
import re
from typing import Any

_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")


def word_diff(before: str, after: str) -> list[dict[str, str]]:
    """Runs of ``keep`` / ``del`` / ``add`` text that turn ``before`` into ``after`` (whitespace kept)."""
    a, b = _TOKENS.findall(before or ""), _TOKENS.findall(after or "")
    out: list[dict[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            _push(out, "keep", "".join(a[i1:i2]))
            continue
        if op in ("delete", "replace"):
            _push(out, "del", "".join(a[i1:i2]))
        if op in ("insert", "replace"):
            _push(out, "add", "".join(b[j1:j2]))
    return out


def item_changes(source: dict[str, Any], edited: dict[str, Any]) -> dict[str, Any]:
    """Per field (title, description), the diff and whether it changed."""
    out: dict[str, Any] = {}
    for name in ("title", "description"):
        before, after = str(source.get(name) or ""), str(edited.get(name) or "")
        out[name] = {"changed": before != after, "diff": word_diff(before, after)}
    return out


def _push(out: list[dict[str, str]], op: str, text: str) -> None:
    if not text:
        return
    if out and out[-1]["op"] == op:
        out[-1]["text"] += text
    else:
        out.append({"op": op, "text": text})
