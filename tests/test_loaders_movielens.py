"""MovieLens: the three layouts, zip input, malformed files and the loopback download."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from genrec.data.dataset import EVENT_CODE
from genrec.data.errors import DataFormatError
from genrec.data.loaders import ChecksumError, DownloadError, download_movielens, load_movielens

U_DATA = "1\t10\t5\t881250949\n1\t20\t3\t881250950\n2\t10\t4\t881250000\n"
U_ITEM = (
    "10|Toy Story (1995)|01-Jan-1995||http://imdb/1|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
    "20|GoldenEye (1995)|01-Jan-1995||http://imdb/2|0|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0\n"
)
U_USER = "1|24|M|technician|85711\n2|53|F|other|94043\n"
RATINGS_DAT = "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n"
MOVIES_DAT = "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
USERS_DAT = "1::F::1::10::48067\n2::M::56::16::70072\n"
RATINGS_CSV = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.5,964981247\n7,1,0.5,1100000000\n"
MOVIES_CSV = 'movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n3,"Grumpier Old Men, The (1995)",(no genres listed)\n'
LINKS_CSV = "movieId,imdbId,tmdbId\n1,0114709,862\n3,0113228,15602\n"


def make_release(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write a release folder of ``files`` and return it."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content.encode("latin-1") if isinstance(content, str) else content
        (root / name).write_bytes(data)
    return root


def make_zip(path: Path, folder: str, files: dict[str, str]) -> Path:
    """Zip ``files`` under ``folder/`` like the official archives."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in files.items():
            zf.writestr(f"{folder}/{name}", content.encode("latin-1"))
    return path


ML100K = {"u.data": U_DATA, "u.item": U_ITEM, "u.user": U_USER}
ML1M = {"ratings.dat": RATINGS_DAT, "movies.dat": MOVIES_DAT, "users.dat": USERS_DAT}
ML25M = {"ratings.csv": RATINGS_CSV, "movies.csv": MOVIES_CSV, "links.csv": LINKS_CSV}


def test_ml100k_directory(tmp_path: Path) -> None:
    ds = load_movielens(make_release(tmp_path / "ml-100k", ML100K))
    assert ds.name == "ml-100k"
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (2, 2, 3)
    assert ds.has_timestamps
    assert set(ds.interactions.event) == {EVENT_CODE["rating"]}
    first = ds.sequences()[ds.user_index("1")]
    assert list(ds.item_external(first)) == ["10", "20"]
    assert ds.interactions.value.tolist() == [5.0, 3.0, 4.0]
    assert ds.interactions.timestamp.tolist() == [881250949, 881250950, 881250000]
    toy = ds.items.iloc[ds.item_index("10")]
    assert toy["categories"] == ["Animation", "Children's", "Comedy"]
    assert toy["attributes"] == {"year": 1995, "release_date": "01-Jan-1995", "imdb_url": "http://imdb/1"}
    assert ds.users.iloc[ds.user_index("2")]["attributes"] == {
        "age": 53,
        "gender": "F",
        "occupation": "other",
        "zip": "94043",
    }


def test_ml1m_zip_latin1(tmp_path: Path) -> None:
    files = dict(ML1M, **{"movies.dat": MOVIES_DAT + "5::Caf\xe9 (1999)::Drama\n"})
    archive = make_zip(tmp_path / "ml-1m.zip", "ml-1m", files)
    ds = load_movielens(archive)
    assert ds.name == "ml-1m"
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (2, 2, 3)
    assert list(ds.item_external(ds.sequences()[ds.user_index("1")])) == ["1193", "661"]
    assert ds.users.iloc[ds.user_index("1")]["attributes"] == {
        "gender": "F",
        "age": 1,
        "occupation": 10,
        "zip": "48067",
    }
    assert ds.items.iloc[ds.item_index("661")]["categories"] == ["Animation", "Children's", "Musical"]


def test_ml100k_zip_with_explicit_variant(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "ml-100k.zip", "ml-100k", ML100K)
    assert load_movielens(archive, variant="100k").n_interactions == 3
    with pytest.raises(DataFormatError, match="missing ratings.dat"):
        load_movielens(archive, variant="ml-1m")
    with pytest.raises(ValueError, match="unknown MovieLens variant"):
        load_movielens(archive, variant="ml-2k")


def test_ml25m_csv(tmp_path: Path) -> None:
    ds = load_movielens(make_release(tmp_path / "ml-25m", ML25M), name="ml25")
    assert ds.name == "ml25"
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (2, 2, 3)
    grumpy = ds.items.iloc[ds.item_index("3")]
    assert grumpy["title"] == "Grumpier Old Men, The (1995)" and grumpy["categories"] == []
    assert grumpy["attributes"] == {"year": 1995, "imdb_id": "0113228", "tmdb_id": "15602"}
    assert np.allclose(sorted(ds.interactions.value), [0.5, 4.0, 4.5])
    assert load_movielens(make_release(tmp_path / "ml-latest-small", ML25M)).name == "ml-latest-small"
    assert load_movielens(make_release(tmp_path / "ratings", {"ratings.csv": RATINGS_CSV})).name == "ml-25m"


def test_not_movielens(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="not a MovieLens release"):
        load_movielens(make_release(tmp_path / "x", {"readme.txt": "hi"}))


@pytest.mark.parametrize(
    ("files", "bad_file", "line", "field", "match"),
    [
        ({"ratings.dat": RATINGS_DAT + "3::1193::4::9783x\n"}, "ratings.dat", 4, "timestamp", "not an integer"),
        ({"ratings.dat": "1::1193::5::978300760\n1::661::3\n"}, "ratings.dat", 2, None, "expected 4 fields"),
        ({"ratings.dat": "1::1193::five::978300760\n"}, "ratings.dat", 1, "rating", "not a number"),
        ({"ratings.dat": "1::1193::5::978300760\n\n2::661::3::978300760\n"}, "ratings.dat", 2, None, "expected 4"),
        ({"movies.dat": MOVIES_DAT + "12::No genres\n"}, "movies.dat", 3, "Title", "MovieID::Title::Genres"),
        ({"movies.dat": MOVIES_DAT + "661::Again (1990)::Drama\n"}, "movies.dat", 3, "movie id", "duplicate"),
        ({"users.dat": USERS_DAT + "3::M::old::16::70072\n"}, "users.dat", 3, "age", "not an integer"),
    ],
)
def test_bad_ml1m_files(tmp_path: Path, files: dict, bad_file: str, line: int, field: str | None, match: str) -> None:
    root = make_release(tmp_path / "ml-1m", dict(ML1M, **files))
    with pytest.raises(DataFormatError, match=match) as err:
        load_movielens(root)
    assert (err.value.path, err.value.line, err.value.field) == (str(root / bad_file), line, field)


@pytest.mark.parametrize(
    ("files", "bad_file", "line", "field", "match"),
    [
        ({"ratings.csv": "userId,movieId,timestamp\n1,1,964982703\n"}, "ratings.csv", 1, "rating", "missing column"),
        ({"ratings.csv": RATINGS_CSV + "8,1,good,964982703\n"}, "ratings.csv", 5, "rating", "not a number"),
        ({"ratings.csv": RATINGS_CSV + "8,1,4.0\n"}, "ratings.csv", 5, None, "expected 4 fields"),
        ({"movies.csv": MOVIES_CSV + "x,Bad,Drama\n"}, "movies.csv", 4, "movieId", "not an integer"),
    ],
)
def test_bad_csv_release(tmp_path: Path, files: dict, bad_file: str, line: int, field: str | None, match: str) -> None:
    root = make_release(tmp_path / "ml-25m", dict(ML25M, **files))
    with pytest.raises(DataFormatError, match=match) as err:
        load_movielens(root)
    assert (err.value.path, err.value.line, err.value.field) == (str(root / bad_file), line, field)


def test_bad_ml100k_in_zip(tmp_path: Path) -> None:
    bad_item = U_ITEM.replace("|0|1|1|0|", "|0|1|x|0|", 1)
    archive = make_zip(tmp_path / "ml-100k.zip", "ml-100k", dict(ML100K, **{"u.item": bad_item}))
    with pytest.raises(DataFormatError) as err:
        load_movielens(archive)
    assert err.value.path == f"{archive}!ml-100k/u.item"
    assert (err.value.line, err.value.field) == (2, "Adventure")
    archive = make_zip(tmp_path / "b.zip", "ml-100k", dict(ML100K, **{"u.data": U_DATA + "3\t10\t4\n"}))
    with pytest.raises(DataFormatError) as err:
        load_movielens(archive)
    assert (err.value.path, err.value.line) == (f"{archive}!ml-100k/u.data", 4)


# ---- download over a loopback HTTP server -----------------------------------------------
class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        super().do_GET()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Serve ``tmp_path/www`` on 127.0.0.1; yield (base url, served folder)."""
    www = tmp_path / "www"
    www.mkdir()
    _Handler.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", www
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if p.name.startswith("."))


def test_download_verified_by_published_md5(tmp_path: Path, server: tuple[str, Path]) -> None:
    url, www = server
    archive = make_zip(www / "ml-100k.zip", "ml-100k", ML100K)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    (www / "ml-100k.zip.md5").write_text(f"MD5 (ml-100k.zip) = {md5}\n")
    cache = tmp_path / "cache"
    folder = download_movielens("ml-100k", cache_dir=cache, base_url=url)
    assert folder == cache / "ml-100k" and (folder / "u.data").exists()
    assert load_movielens(folder).n_interactions == 3
    record = json.loads((cache / "checksums.json").read_text())["ml-100k.zip"]
    assert record["md5"] == md5 and record["verified_by"] == "published md5"
    assert _leftovers(cache) == []
    seen = len(_Handler.requests)
    assert download_movielens("100k", cache_dir=cache, base_url=url) == folder
    assert len(_Handler.requests) == seen  # served from the cache, no request


def test_download_md5_mismatch_leaves_nothing(tmp_path: Path, server: tuple[str, Path]) -> None:
    url, www = server
    make_zip(www / "ml-100k.zip", "ml-100k", ML100K)
    (www / "ml-100k.zip.md5").write_text("0123456789abcdef0123456789abcdef  ml-100k.zip\n")
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError, match="does not match the published"):
        download_movielens("ml-100k", cache_dir=cache, base_url=url)
    assert list(cache.iterdir()) == []


def test_download_records_sha256_then_verifies(tmp_path: Path, server: tuple[str, Path]) -> None:
    url, www = server
    archive = make_zip(www / "ml-1m.zip", "ml-1m", ML1M)
    cache = tmp_path / "cache"
    folder = download_movielens("ml-1m", cache_dir=cache, base_url=url)
    record = json.loads((cache / "checksums.json").read_text())["ml-1m.zip"]
    assert record["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert record["verified_by"] == "first download"
    # The same archive again verifies against the recorded hash.
    download_movielens("ml-1m", cache_dir=cache, base_url=url, force=True)
    assert json.loads((cache / "checksums.json").read_text())["ml-1m.zip"]["verified_by"] == "recorded sha256"
    # A changed archive is refused and the cached copy stays as it was.
    make_zip(www / "ml-1m.zip", "ml-1m", dict(ML1M, **{"ratings.dat": RATINGS_DAT + "3::1193::1::978300000\n"}))
    with pytest.raises(ChecksumError, match="recorded at the first download"):
        download_movielens("ml-1m", cache_dir=cache, base_url=url, force=True)
    assert load_movielens(folder).n_interactions == 3
    assert _leftovers(cache) == []


def test_download_errors(tmp_path: Path, server: tuple[str, Path]) -> None:
    url, www = server
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_movielens("ml-25m", cache_dir=cache, base_url=url)
    (www / "ml-latest-small.zip").write_bytes(b"not a zip at all")
    with pytest.raises(DownloadError, match="not a valid zip"):
        download_movielens("latest-small", cache_dir=cache, base_url=url)
    assert not (cache / "ml-latest-small").exists() and _leftovers(cache) == []
    with pytest.raises(ValueError, match="unknown MovieLens variant"):
        download_movielens("ml-3k", cache_dir=cache, base_url=url)
