"""Reading the rule data files: the packaged ones under ``rules/`` and operator-supplied extras."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any


class RulesError(ValueError):
    """A rules or lexicon file that cannot be read or is malformed; the message names the file and key."""


def _read(source: str | Path) -> tuple[str, str]:
    if isinstance(source, Path):
        try:
            return source.read_text(encoding="utf-8"), str(source)
        except OSError as exc:
            raise RulesError(f"rules file {source}: cannot be read ({exc.strerror or exc})") from None
    return resources.files("genrec.fidelity").joinpath("rules", source).read_text(encoding="utf-8"), f"rules/{source}"


def read_toml(source: str | Path) -> tuple[dict[str, Any], str]:
    """A packaged rules file by name (str) or an operator file (Path), parsed, with its display name."""
    text, name = _read(source)
    try:
        return tomllib.loads(text), name
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"rules file {name} is not valid TOML: {exc}") from None


def read_list(source: str | Path) -> list[str]:
    """A one-entry-a-line list ('#' starts a comment), stripped, empty lines skipped."""
    text, _ = _read(source)
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def string_list(data: dict[str, Any], key: str, where: str) -> list[str]:
    """``data[key]`` as a list of strings (missing = empty), or a RulesError naming ``where.key``."""
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RulesError(f"{where}.{key}: expected a list of strings")
    return value


def compile_pattern(pattern: str, where: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    """Compile a rule's regex, or a RulesError naming where it came from."""
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise RulesError(f"{where}: bad regular expression {pattern!r}: {exc}") from None


def alternation(phrases: Iterable[str]) -> str:
    """A regex alternation of literal phrases, longest first, spaces matching any whitespace."""
    unique = sorted({p.strip() for p in phrases if p.strip()}, key=lambda p: (-len(p), p))
    return "(?:" + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in unique) + ")" if unique else "(?!)"


def sources(packaged: Sequence[str], extra: Iterable[str | Path]) -> list[str | Path]:
    """Packaged rule names followed by operator files."""
    return [*packaged, *extra]


@dataclass(frozen=True)
class PatternRule:
    """One compiled pattern of a rules file, with its finding code and a label for the reason."""

    code: str
    label: str
    pattern: re.Pattern[str]


def load_pattern_rules(packaged: str, extra: Iterable[Path], codes: Sequence[str], label: str) -> list[PatternRule]:
    """Rules from ``[[rules]]`` tables (code, ``label``, patterns) of a packaged file and operator files."""
    rules: list[PatternRule] = []
    for source in sources([packaged], extra):
        data, name = read_toml(source)
        entries = data.get("rules", [])
        if not isinstance(entries, list):
            raise RulesError(f"{name}: 'rules' must be an array of tables ([[rules]])")
        for i, entry in enumerate(entries):
            where = f"{name}: rules[{i}]"
            code = entry.get("code")
            if code not in codes:
                raise RulesError(f"{where}.code: expected one of {tuple(codes)}, got {code!r}")
            text = str(entry.get(label, code))
            for p in string_list(entry, "patterns", where):
                rules.append(PatternRule(code, text, compile_pattern(p, f"{where}.patterns")))
    return rules


def find_patterns(text: str, rules: Sequence[PatternRule]) -> list[tuple[PatternRule, int, int]]:
    """(rule, start, end) of every rule match in ``text``; a match inside a longer one of the same code is dropped."""
    hits = sorted(
        ((r, m.start(), m.end()) for r in rules for m in r.pattern.finditer(text) if m.end() > m.start()),
        key=lambda h: (h[1], -h[2]),
    )
    out: list[tuple[PatternRule, int, int]] = []
    for h in hits:
        if not any(o[0].code == h[0].code and o[1] <= h[1] and h[2] <= o[2] for o in out):
            out.append(h)
    return out
