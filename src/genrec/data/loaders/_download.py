"""Download a zip archive into a cache, verify it, and unpack it atomically.

Verification: when the server has ``<zip>.md5`` next to the archive, the download must match
it. Otherwise the sha256 of the first download is recorded in ``checksums.json`` in the cache
and every later download of that archive must match it. Everything is written into a temporary
directory inside the cache and moved into place with one rename, so a failure leaves nothing
half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from genrec.home import default_home

CHECKSUMS = "checksums.json"
_MD5_RE = re.compile(rb"\b[0-9a-fA-F]{32}\b")
_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download could not be fetched or unpacked."""


class ChecksumError(DownloadError):
    """A downloaded archive does not match its expected checksum."""


def default_cache_dir() -> Path:
    """Where downloads are cached: ``$GENREC_HOME/downloads`` (default ~/.cache/genrec/downloads)."""
    return default_home() / "downloads"


def fetch_archive(zip_name: str, cache_dir: Path | None, base_url: str, force: bool = False) -> Path:
    """Download ``base_url + zip_name`` into ``cache_dir`` and return the unpacked directory."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache / zip_name.removesuffix(".zip")
    if target.is_dir() and not force:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    url = base_url.rstrip("/") + "/" + zip_name
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=cache))
    try:
        archive = tmp / zip_name
        md5, sha256 = _download(url, archive)
        source = _verify(cache, zip_name, url, md5, sha256)
        root = _unpack(archive, tmp / "unpacked")
        previous = tmp / "previous"
        if target.exists():
            os.rename(target, previous)
        try:
            os.rename(root, target)
        except OSError:
            if previous.exists() and not target.exists():
                os.rename(previous, target)
            raise
        _record(cache, zip_name, {"url": url, "md5": md5, "sha256": sha256, "verified_by": source})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _open(url: str) -> Any:
    request = urllib.request.Request(url, headers={"User-Agent": "genrec"})
    return urllib.request.urlopen(request, timeout=60)


def _download(url: str, dest: Path) -> tuple[str, str]:
    """Stream ``url`` into ``dest`` with a progress bar; return its md5 and sha256."""
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    try:
        with _open(url) as response, open(dest, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=None, leave=False)
            with bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    md5.update(chunk)
                    sha256.update(chunk)
                    bar.update(len(chunk))
            if total is not None and out.tell() != total:
                raise DownloadError(f"{url}: truncated download ({out.tell()} of {total} bytes)")
    except urllib.error.HTTPError as err:
        raise DownloadError(f"{url}: HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        raise DownloadError(f"{url}: {err.reason}") from None
    return md5.hexdigest(), sha256.hexdigest()


def _published_md5(url: str) -> str | None:
    """The md5 published next to the archive, or None when the server has none (404)."""
    try:
        with _open(url + ".md5") as response:
            match = _MD5_RE.search(response.read(4096))
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise DownloadError(f"{url}.md5: HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        raise DownloadError(f"{url}.md5: {err.reason}") from None
    if match is None:
        raise DownloadError(f"{url}.md5 holds no md5 checksum")
    return match.group().decode().lower()


def _verify(cache: Path, zip_name: str, url: str, md5: str, sha256: str) -> str:
    """Check the download against the published md5 or the recorded sha256; say which was used."""
    published = _published_md5(url)
    if published is not None:
        if md5 != published:
            raise ChecksumError(f"{zip_name}: md5 {md5} does not match the published {published} ({url}.md5)")
        return "published md5"
    recorded = _checksums(cache).get(zip_name, {}).get("sha256")
    if recorded is None:
        return "first download"
    if sha256 != recorded:
        raise ChecksumError(
            f"{zip_name}: sha256 {sha256} does not match {recorded} recorded at the first download "
            f"in {cache / CHECKSUMS}; delete that entry if the archive legitimately changed"
        )
    return "recorded sha256"


def _unpack(archive: Path, dest: Path) -> Path:
    """Extract ``archive`` into ``dest``; return its single top-level folder (or ``dest``)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise DownloadError(f"{archive.name}: corrupt member {bad}")
            for name in zf.namelist():
                if name.startswith(("/", "\\")) or ".." in Path(name).parts:
                    raise DownloadError(f"{archive.name}: unsafe member path {name!r}")
            zf.extractall(dest)
    except zipfile.BadZipFile as err:
        raise DownloadError(f"{archive.name}: not a valid zip archive ({err})") from None
    entries = [p for p in dest.iterdir() if p.name != "__MACOSX"]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest


def _checksums(cache: Path) -> dict[str, dict[str, str]]:
    path = cache / CHECKSUMS
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _record(cache: Path, zip_name: str, entry: dict[str, str]) -> None:
    """Store the checksums of an archive in ``checksums.json`` (atomically replaced)."""
    data = _checksums(cache)
    data[zip_name] = entry
    fd, tmp = tempfile.mkstemp(prefix=".checksums-", dir=cache)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
    os.replace(tmp, cache / CHECKSUMS)
