"""A character-level grammar for the JSON of a flat pydantic schema, for constrained decoding.

The object's keys come in the schema's order (``{"a": ..., "b": ...}``); the first is always
written, and with ``optional`` (the default) any later one may be left out, so a model can answer
as compactly as worked examples show (``{"action": "retrieve", "price_max": 30}``); otherwise
every key is written. Keys and punctuation are fixed text, and each value follows its field's type:

* a choice among fixed values (an enum, ``Literal``, or ``choices`` given for a field): one of them;
* a boolean: ``true`` or ``false``;
* a number or null: up to ``max_number`` digits with one optional point, or ``null``;
* a string (or null): a JSON string of at most ``max_chars`` plain characters (no quotes,
  backslashes or control characters), or ``null`` when the field may be null;
* a list of strings: at most ``max_items`` such strings.

``GrammarState.accepts(text)`` says whether ``text`` can continue the output, ``advance`` feeds it,
and ``forced()`` returns the fixed text that must come next (fed to the model in one step). A
decoder that only ever picks accepted tokens always ends with JSON that parses and validates
(when the choices are valid values of the schema).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

_PLAIN_EXCLUDED = set('"\\') | {chr(c) for c in range(32)}
_DIGITS = set("0123456789")


@dataclass(frozen=True)
class Segment:
    """One piece of the object: fixed text (``lit``) or a value of a kind."""

    kind: str  # "lit", "choice", "number", "string", "list"
    text: str = ""  # the fixed text of a "lit"
    options: tuple[str, ...] = ()  # the JSON texts a "choice" may take
    nullable: bool = False


@dataclass
class Grammar:
    """The fields (name and value segment) of a schema's JSON object and the value limits."""

    fields: list[tuple[str, Segment]]
    optional: bool = True
    max_chars: int = 60
    max_items: int = 3
    max_number: int = 7

    def start(self) -> GrammarState:
        """A state at the start of the object."""
        return GrammarState(self)

    def key_text(self, index: int) -> str:
        """The fixed text before field ``index``'s value."""
        return ("{" if index == 0 else ", ") + json.dumps(self.fields[index][0]) + ": "


def schema_grammar(
    schema: type[BaseModel],
    choices: dict[str, list[Any]] | None = None,
    max_chars: int = 60,
    max_items: int = 3,
    optional: bool = True,
) -> Grammar:
    """The grammar of ``schema``'s JSON object; ``choices`` fixes the values a field may take."""
    choices = choices or {}
    props = schema.model_json_schema().get("properties", {})
    if not props:
        raise ValueError(f"schema_grammar: {schema.__name__} has no fields")
    fields: list[tuple[str, Segment]] = []
    for name, prop in props.items():
        variants = prop.get("anyOf", [prop])
        kinds = {v.get("type") for v in variants}
        nullable = "null" in kinds
        enum = choices.get(name) or next((v["enum"] for v in variants if "enum" in v), None)
        if enum is not None:
            seg = Segment("choice", options=tuple(json.dumps(v) for v in enum) + (("null",) if nullable else ()))
        elif kinds & {"boolean"}:
            seg = Segment("choice", options=("true", "false"))
        elif kinds & {"number", "integer"}:
            seg = Segment("number", nullable=nullable)
        elif kinds & {"array"}:
            seg = Segment("list")
        elif kinds & {"string"}:
            seg = Segment("string", nullable=nullable)
        else:
            raise ValueError(f"schema_grammar: field {name!r} has an unsupported type {sorted(k for k in kinds if k)}")
        fields.append((name, seg))
    return Grammar(fields, optional=optional, max_chars=max_chars, max_items=max_items)


@dataclass
class GrammarState:
    """Where the output is in the grammar; ``copy`` before trying text that may be rejected."""

    grammar: Grammar
    index: int = 0  # the field whose key or value is being written
    phase: str = "key"  # "key" (fixed text before a value), "value", "next" (another key or the end), "done"
    pos: int = 0  # characters of the current key text written
    typed: str = ""  # the current choice / number / null literal so far
    sub: str = "start"  # inside a value: "start", "str", "null", "num", "open", "after_item", ...
    chars: int = 0  # characters of the current string
    items: int = 0  # strings of the current list
    text: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """True once the object is closed."""
        return self.phase == "done"

    def copy(self) -> GrammarState:
        """An independent copy (the text so far is shared, not copied)."""
        return GrammarState(
            self.grammar, self.index, self.phase, self.pos, self.typed, self.sub, self.chars, self.items, self.text
        )

    def output(self) -> str:
        """The text written so far."""
        return "".join(self.text)

    def _segment(self) -> Segment:
        g = self.grammar
        if self.phase == "key":
            return Segment("lit", text=g.key_text(self.index))
        if self.phase == "value":
            return g.fields[self.index][1]
        later = range(self.index + 1, len(g.fields))
        if not g.optional:
            later = range(self.index + 1, min(self.index + 2, len(g.fields)))
        keys = tuple(g.key_text(i) for i in later)
        return Segment("choice", options=keys if keys and not g.optional else (*keys, "}"))

    def forced(self) -> str:
        """The fixed text that must come next ("" when the model has a choice)."""
        if self.done:
            return ""
        s = self._segment()
        if s.kind == "lit":
            return s.text[self.pos :]
        if s.kind == "choice":
            left = [o[len(self.typed) :] for o in s.options if o.startswith(self.typed)]
            return left[0] if len(left) == 1 else ""
        return ""

    def accepts(self, text: str) -> bool:
        """True when ``text`` can continue the output."""
        if not text:
            return False
        probe = self.copy()
        return all(probe._feed(ch) for ch in text)

    def advance(self, text: str) -> None:
        """Feed ``text`` (which must be accepted)."""
        for ch in text:
            if not self._feed(ch):
                raise ValueError(f"text {text!r} does not fit the grammar at {self.output()[-40:]!r}")
        self.text = [*self.text, text]

    # ---- one character -------------------------------------------------------------------
    def _next(self, chosen: str = "") -> None:
        """The current piece is complete: on to the value, to the choice of the next key, or to a
        chosen key (``chosen``: the key text or "}" picked in the "next" phase)."""
        if self.phase == "key":
            self.phase = "value"
        elif self.phase == "value":
            self.phase = "next"
        elif chosen == "}":
            self.phase = "done"
        else:
            self.index = next(i for i in range(len(self.grammar.fields)) if self.grammar.key_text(i) == chosen)
            self.phase = "value"
        self.pos, self.typed, self.sub, self.chars, self.items = 0, "", "start", 0, 0

    def _feed(self, ch: str) -> bool:
        if self.done:
            return False
        s = self._segment()
        if s.kind == "lit":
            if ch != s.text[self.pos]:
                return False
            self.pos += 1
            if self.pos == len(s.text):
                self._next()
            return True
        if s.kind == "choice":
            typed = self.typed + ch
            if not any(o.startswith(typed) for o in s.options):
                return False
            self.typed = typed
            if typed in s.options and not any(o != typed and o.startswith(typed) for o in s.options):
                self._next(typed)
            return True
        if s.kind == "number":
            return self._number(ch, s)
        if s.kind == "string":
            return self._string(ch, s.nullable)
        return self._list(ch)

    def _number(self, ch: str, s: Segment) -> bool:
        if self.sub == "start":
            if ch in _DIGITS:
                self.sub, self.typed = "num", ch
                return True
            if s.nullable and ch == "n":
                self.sub, self.typed = "null", ch
                return True
            return False
        if self.sub == "null":
            return self._null(ch)
        if (ch in _DIGITS or (ch == "." and "." not in self.typed)) and len(self.typed) < self.grammar.max_number:
            self.typed += ch
            return True
        if self.typed.endswith("."):
            return False
        self._next()  # the number ends here: the character belongs to what follows
        return self._feed(ch)

    def _null(self, ch: str) -> bool:
        typed = self.typed + ch
        if not "null".startswith(typed):
            return False
        self.typed = typed
        if typed == "null":
            self._next()
        return True

    def _string(self, ch: str, nullable: bool) -> bool:
        if self.sub == "start":
            if ch == '"':
                self.sub = "str"
                return True
            if nullable and ch == "n":
                self.sub, self.typed = "null", ch
                return True
            return False
        if self.sub == "null":
            return self._null(ch)
        if ch == '"':
            if self.chars == 0:
                return False  # an empty string says nothing: null instead
            self._next()
            return True
        if ch in _PLAIN_EXCLUDED or self.chars >= self.grammar.max_chars:
            return False
        self.chars += 1
        return True

    def _list(self, ch: str) -> bool:
        if self.sub == "start":
            if ch != "[":
                return False
            self.sub = "open"
            return True
        if self.sub in ("open", "after_comma", "after_space"):
            if ch == " " and self.sub == "after_comma":
                self.sub = "after_space"
                return True
            if ch == "]" and self.sub == "open":
                self._next()
                return True
            if ch == '"':
                self.sub, self.chars = "str", 0
                return True
            return False
        if self.sub == "str":
            if ch == '"':
                if self.chars == 0:
                    return False
                self.items += 1
                self.sub = "after_item"
                return True
            if ch in _PLAIN_EXCLUDED or self.chars >= self.grammar.max_chars:
                return False
            self.chars += 1
            return True
        # after an item: another one, or the end
        if ch == "]":
            self._next()
            return True
        if ch == "," and self.items < self.grammar.max_items:
            self.sub = "after_comma"
            return True
        return False


__all__ = ["Grammar", "GrammarState", "Segment", "schema_grammar"]
