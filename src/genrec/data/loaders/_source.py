"""A dataset source that is either a directory or a .zip archive, addressed by file name."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import BinaryIO


class Source:
    """Files of a directory (searched recursively) or of a zip archive, looked up by base name."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: no such file or directory")
        self._zip: zipfile.ZipFile | None = None
        if self.path.is_file():
            if not zipfile.is_zipfile(self.path):
                raise ValueError(f"{self.path}: expected a directory or a .zip archive")
            self._zip = zipfile.ZipFile(self.path)
            names = [n for n in self._zip.namelist() if not n.endswith("/")]
        else:
            names = [str(p.relative_to(self.path)) for p in self.path.rglob("*") if p.is_file()]
        # Shallowest match wins, so a stray copy deeper down does not shadow the real file.
        self._files: dict[str, str] = {}
        for name in sorted(names, key=lambda n: (n.count("/"), n)):
            base = name.rsplit("/", 1)[-1]
            if "__MACOSX" not in name:
                self._files.setdefault(base, name)

    def find(self, filename: str) -> str | None:
        """The member name of ``filename`` (a base name), or None when absent."""
        return self._files.get(filename)

    def open(self, member: str) -> BinaryIO:
        """Open a member for reading bytes."""
        if self._zip is not None:
            return self._zip.open(member)  # type: ignore[return-value]
        return open(self.path / member, "rb")

    def read_bytes(self, member: str) -> bytes:
        """The whole content of a member."""
        with self.open(member) as fh:
            return fh.read()

    def label(self, member: str) -> str:
        """How a member is named in error messages."""
        if self._zip is not None:
            return f"{self.path}!{member}"
        return str(self.path / member)

    def files(self) -> list[Path]:
        """The source files on disk (the archive itself, or every file of the directory)."""
        if self._zip is not None:
            return [self.path]
        return sorted(self.path / n for n in self._files.values())

    def close(self) -> None:
        """Release the archive handle."""
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
