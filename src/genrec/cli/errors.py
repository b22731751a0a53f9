"""One error handler for every command: known failures become one line ``error: ...`` and exit 2.

Bad input, a locked or unwritable store, a full disk, missing files and out-of-range settings
are the user's to fix, so they get one line saying what is wrong (and what to do) instead of a
traceback. Anything else is a bug in genrec and still raises. ``GENREC_DEBUG=1`` shows the
traceback of the known failures too.
"""

from __future__ import annotations

import errno
import os
import re
from typing import Any

import duckdb
import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from genrec.cli.render import literal
from genrec.data.connection import store_error
from genrec.data.errors import DataFormatError, StoreError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
_stderr = Console(stderr=True)


def print_error(message: str) -> None:
    """Print ``error: message`` on stderr, the message as literal text on one line."""
    _stderr.print(Text.assemble(("error: ", "bold red"), literal(message)), soft_wrap=True)


def describe(err: BaseException) -> str | None:
    """The one-line message for a known failure, or None for anything else (a bug: let it raise)."""
    if isinstance(err, (DataFormatError, StoreError)):
        return str(err)
    if isinstance(err, duckdb.Error):
        return str(store_error(err, "the store", "use"))
    if isinstance(err, MemoryError):
        detail = f" ({err})" if str(err) else ""
        return f"not enough memory for this request{detail}: ask for less (e.g. smaller cut-offs or k)"
    if isinstance(err, KeyError):
        return str(err.args[0]) if err.args else "unknown key"
    if isinstance(err, OSError):
        return _os_message(err)
    if isinstance(err, ValueError):
        return _one_line(str(err))
    return None


def _os_message(err: OSError) -> str:
    name = err.filename if err.filename is not None else ""
    if err.errno is None or not err.strerror:
        return _one_line(str(err))
    where = f": {name}" if name else ""
    if err.errno == errno.ENOSPC or err.errno == errno.EDQUOT or err.errno == errno.EFBIG:
        return f"the disk is full{where} ({err.strerror}): free some space and run again"
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{err.strerror}{where}: choose a writable place (--out, --store or GENREC_HOME)"
    if err.errno == errno.EISDIR:
        return f"{name} is a folder; a file is needed here"
    if err.errno == errno.ENOTDIR:
        return f"{name}: part of that path is a file, not a folder"
    if err.errno == errno.ENOENT:
        return f"{name}: no such file or directory"
    return f"{err.strerror}{where}"


def _one_line(text: str) -> str:
    text = re.sub(r"\s*For further information visit \S+", "", text)
    return " ".join(text.split())


class GuardedGroup(TyperGroup):
    """The ``genrec`` command group: runs a command and turns its known failures into one line and exit 2."""

    def invoke(self, ctx: Any) -> Any:
        """Run the command; known failures print ``error: ...`` and exit 2 (Ctrl-C: exit 130)."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            print_error("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as err:
            # typer's / click's own exits and usage errors are theirs to report.
            if type(err).__module__.split(".")[0] in ("typer", "click"):
                raise
            message = describe(err)
            if message is None or os.environ.get("GENREC_DEBUG"):
                raise
            print_error(message)
            raise typer.Exit(EXIT_USAGE) from None
