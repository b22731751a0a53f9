"""Errors raised on malformed input data."""

from __future__ import annotations

from pathlib import Path


class DataFormatError(ValueError):
    """Malformed input: names the file, the line (1-based) and the field at fault."""

    def __init__(
        self,
        message: str,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        self.reason = message
        where = []
        if self.path:
            where.append(self.path)
        if line is not None:
            where.append(f"line {line}")
        if field:
            where.append(f"field '{field}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class StoreError(RuntimeError):
    """The embedded store cannot be opened or written: locked, not a DuckDB file, unwritable, full."""
