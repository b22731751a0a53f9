"""Control characters in text from data files: stripped from what is shown, refused in ids.

A title holding ``ESC[2J`` or a C1 control would act on the terminal that prints it, and bidi
overrides would reorder what the reader sees. This leaf module finds and removes them; tabs
and newlines are ordinary text and kept.
"""

from __future__ import annotations

import re

#: C0 controls except tab and newline, DEL, C1 controls, and the bidi embedding / override / isolate marks.
CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: What an id may never hold: any C0 / C1 control (tab and newline included) or bidi mark.
ID_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def strip_controls(text: str) -> str:
    """``text`` without control characters (tabs and newlines kept)."""
    return CONTROL_RE.sub("", text) if CONTROL_RE.search(text) else text


def first_id_control(text: str) -> str | None:
    """The first character of ``text`` an id may not hold, or None."""
    match = ID_CONTROL_RE.search(text)
    return match.group(0) if match else None
