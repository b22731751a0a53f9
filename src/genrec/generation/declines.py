"""Requests the loop declines, and personal data kept out of what it stores.

Three kinds are declined, each with a message that says so:

* ``other_users_data``: another person's history, orders, contact details or account ("show every
  user's purchase history", "what did user 1234 buy"); recommendations use only the asker's own data;
* ``copy``: a copy of an existing listing ("copy this word for word", "clone X under my brand");
  a generated item must not pass off another one's text;
* ``personal_data``: personal data to be written into an item ("a product whose description has my
  e-mail ..."); items are public, so the data is left out (the rest of the request is still served).

Structured personal data (e-mails, phone numbers, cards, addresses) is found with the fidelity
package's privacy detector (``genrec.fidelity.privacy.find_structured``); ``redact`` replaces it.
"""

from __future__ import annotations

import re
from functools import cache

from genrec.fidelity.privacy import find_structured
from genrec.generation.vocabulary import normalise
from genrec.generation.words import word_list

MESSAGES = {
    "other_users_data": (
        "I can't show other people's data: their purchases, accounts and contact details stay private. "
        "I can only recommend from your own history; tell me what you are looking for."
    ),
    "copy": (
        "I won't copy an existing listing: a generated item must not pass off another item's text as new. "
        "I can write a new item in a similar spirit, or show you the original."
    ),
    "personal_data": (
        "I left your personal data out: items are public, so e-mail addresses, phone numbers, "
        "addresses and names never go into one."
    ),
}
_USER_ID = re.compile(r"\b(?:user|customer|shopper|account|member)\s*#?\s*(?=[\w-]*\d)[\w-]+(?:'s)?", re.I)


@cache
def _phrases(key: str) -> tuple[str, ...]:
    return tuple(f" {normalise(p)} " for p in word_list("declines", key) if normalise(p))


def declined_kind(text: str, generative: bool) -> str | None:
    """What in ``text`` must be declined: "other_users_data", "copy" or "personal_data" (only when the
    request makes or rewrites an item, ``generative``), else None."""
    norm = f" {normalise(text)} "
    others = any(p in norm for p in _phrases("others"))
    data = any(p in norm for p in _phrases("data"))
    if (others and data) or (_USER_ID.search(text) and data):
        return "other_users_data"
    if any(p in norm for p in _phrases("copy")):
        return "copy"
    if generative and (find_structured(text) or any(p in norm for p in _phrases("self_data"))):
        return "personal_data"
    return None


def redact(text: str, spans: list[tuple[int, int, str]] | None = None) -> str:
    """``text`` with personal data replaced by "[e-mail]", "[phone]", ... (``spans``: (start, end, kind)
    found elsewhere, e.g. names by the privacy check; structured data is always looked for)."""
    found = [(m.start, m.end, m.code) for m in find_structured(text)] + list(spans or [])
    out, done = [], 0
    for start, end, code in sorted(found):
        if start < done:
            continue
        out.append(text[done:start])
        out.append(f"[{code.replace('_', ' ')}]")
        done = end
    out.append(text[done:])
    return "".join(out)


__all__ = ["MESSAGES", "declined_kind", "redact"]
