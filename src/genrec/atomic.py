"""Atomic replacement of a directory: readers see the old one or the new one, never half of it.

``atomic_directory`` only ever replaces what ``check_replaceable`` allows: nothing, an empty
folder, or a folder holding the marker file genrec writes (a saved model's ``meta.json``).
Anything else (a file, a folder of someone's documents) is refused unless forced. A folder that
is or holds the current directory, the user's home or ``/`` (or another protected path the
caller names: genrec's home, the store file) is refused even when forced.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


class TargetExistsError(FileExistsError):
    """The output path holds something genrec did not write; it is left alone."""


class ProtectedPathError(TargetExistsError):
    """The output path is or holds something that must never be replaced (genrec's home, the store, ``/``...)."""


def check_replaceable(
    path: str | Path, marker: str | None = None, force: bool = False, protected: Iterable[tuple[str, Path]] = ()
) -> None:
    """Raise unless ``path`` may be replaced by a new directory, and its parent can be written.

    Replaceable: a missing path, an empty directory, or a directory that holds ``marker``
    (``marker=None`` accepts any directory). With ``force`` anything is, except a path that is or
    holds a protected one (``protected_paths`` plus the caller's ``(what, path)`` pairs). Raises
    ``TargetExistsError`` for something else and ``PermissionError`` for an unwritable parent.
    """
    path = Path(path)
    check_not_protected(path, protected)
    if not force and (path.exists() or path.is_symlink()):
        if not path.is_dir():
            raise TargetExistsError(f"{path} is an existing file: choose another output path, or pass --force")
        if marker is not None and not (path / marker).exists() and any(path.iterdir()):
            raise TargetExistsError(
                f"{path} is a folder that holds other files (no {marker}): "
                "choose another output path, or pass --force to replace it"
            )
    parent = _existing_ancestor(path.parent)
    if not parent.is_dir():
        raise NotADirectoryError(f"cannot write {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {path}: no permission to write in {parent}")
    try:  # os.access says yes to root everywhere; /proc, read-only mounts and the like only show on a write
        os.rmdir(tempfile.mkdtemp(prefix=".genrec-probe.", dir=parent))
    except OSError as err:
        raise PermissionError(f"cannot write {path}: {parent} does not take new files ({err.strerror})") from None


def protected_paths() -> list[tuple[str, Path]]:
    """What no output directory may be or hold: the current directory, the user's home, ``/``."""
    return [
        ("the root directory", Path("/")),
        ("your home directory", Path(os.path.expanduser("~"))),
        ("the current directory", Path.cwd()),
    ]


def check_not_protected(path: str | Path, extra: Iterable[tuple[str, Path]] = ()) -> None:
    """Raise ``ProtectedPathError`` if ``path`` is, or is a folder holding, a protected path."""
    target = Path(path).expanduser().resolve()
    for what, protected in [*protected_paths(), *extra]:
        inside = Path(protected).expanduser().resolve()
        if target == inside or target in inside.parents:
            holds = "is" if target == inside else f"holds {inside}, which is"
            raise ProtectedPathError(
                f"{path} {holds} {what}: refusing to replace it (even with --force); choose another output path"
            )


@contextmanager
def atomic_directory(
    path: str | Path, marker: str | None = None, force: bool = False, protected: Iterable[tuple[str, Path]] = ()
) -> Iterator[Path]:
    """Yield a temporary sibling directory to fill; on success it replaces ``path`` by rename.

    ``marker``, ``force`` and ``protected`` are checked by ``check_replaceable`` before anything is written.
    """
    path = Path(path)
    protected = list(protected)
    check_replaceable(path, marker, force, protected)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    except OSError as err:  # name the user's path, not the temporary one
        raise PermissionError(f"cannot write {path}: {err.strerror}") from None
    try:
        yield tmp
        check_replaceable(path, marker, force, protected)  # it may have appeared while we wrote
        old: Path | None = None
        if path.exists() or path.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent)) / "old"
            path.rename(old)
        try:
            tmp.rename(path)
        except BaseException:
            if old is not None:
                old.rename(path)
            raise
        if old is not None:
            shutil.rmtree(old.parent, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _existing_ancestor(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
