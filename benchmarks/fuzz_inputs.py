"""Malformed inputs for every loader: valid sample files, byte-level mutations, and the check of one load.

Used by the hypothesis fuzz tests (tests/test_fuzz_loaders.py draws the mutations) and by
``benchmarks/reliability.py`` (draws many more with a seeded ``random.Random``). A case is a set
of files for one loader, one of which is mutated; ``check_case`` loads it through the API and
through ``genrec data convert`` and classifies what happened.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import shutil
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from genrec.cli.main import app
from genrec.data import DataFormatError, Store
from genrec.data.loaders import load
from genrec.textsafe import CONTROL_RE, ID_CONTROL_RE

# ---- valid samples -------------------------------------------------------------------------
_ITEMS_JSONL = "\n".join(
    json.dumps(r)
    for r in (
        {"item_id": "i1", "title": "Rose Serum", "brand": "Acme", "categories": ["Beauty", "Skin"], "price": 12.5},
        {"item_id": "i2", "title": "Lip Balm", "brand": "Bee", "categories": [["Beauty", "Lips"]], "price": "$3.99"},
        {"item_id": "i3", "title": "Hand Cream", "description": ["soft", "rich"], "rank": 5},
    )
)
_REVIEWS = "\n".join(
    json.dumps(
        {
            "reviewerID": f"u{u}",
            "asin": f"a{(u + k) % 4}",
            "overall": 1 + (u + k) % 5,
            "unixReviewTime": 1000 + 10 * k + u,
        }
    )
    for u in range(4)
    for k in range(3)
)
_META_2014 = "\n".join(
    str(
        {
            "asin": f"a{i}",
            "title": f"Item {i}",
            "price": 1.5 * i,
            "categories": [["Beauty", f"C{i}"]],
            "salesRank": {"Beauty": i},
        }
    )
    for i in range(4)
)
_MINI_CSV = (
    "user_id,history_item_title,item_title,history_item_id,item_id\n"
    "u1,\"['Rose Serum', 'Lip Balm']\",Hand Cream,\"['1', '2']\",3\n"
    "u2,\"['Lip Balm']\",Rose Serum,\"['2']\",1\n"
    "u1,\"['Rose Serum', 'Lip Balm', 'Hand Cream']\",Soap,\"['1', '2', '3']\",4\n"
)
_ITEM_JSON = json.dumps({"1": {"title": "Rose Serum", "description": "A serum"}, "4": {"title": "Soap"}}, indent=1)
_TABLE_CSV = "user,item,ts,kind,stars\nu1,i1,100,view,\nu1,i2,200,purchase,4.5\nu2,i1,300,view,3\n"
_TABLE_TSV = "user\titem\tts\nu1\ti1\t2021-01-02T00:00:00\nu2\ti2\t2021-01-03T10:00:00+02:00\n"
_TABLE_ITEMS = "item,title,categories,price\ni1,Rose Serum,Beauty|Skin,12.5\ni2,Lip Balm,\"['Beauty', 'Lips']\",3\n"
_TABLE_JSONL = "\n".join(
    json.dumps({"user": u, "item": i, "ts": t}) for u, i, t in (("u1", "i1", 100), ("u1", "i2", 200), ("u2", 7, 50))
)

#: kind -> variant -> (files, options); files map a file name to its valid content.
SAMPLES: dict[str, dict[str, tuple[dict[str, str | bytes], dict[str, Any]]]] = {
    "sequence": {
        "plain": ({"seq.txt": "u1 i1 i2 i3\nu2 i2 i3\nu3 i3 i1 i2 i1\n"}, {}),
        "side-files": (
            {
                "seq.txt": "u1 i1 i2 i3\nu2 i2 i3\n",
                "items.jsonl": _ITEMS_JSONL + "\n",
                "attrs.json": json.dumps({"i1": [1, 2], "i2": [3], "i9": []}),
            },
            {"item_texts": "items.jsonl", "item_attributes": "attrs.json"},
        ),
    },
    "amazon": {
        "reviews": ({"reviews.json": _REVIEWS + "\n"}, {"kcore": 0}),
        "meta-2014": (
            {"reviews.json": _REVIEWS + "\n", "meta.json": _META_2014 + "\n"},
            {"kcore": 2, "meta_path": "meta.json"},
        ),
    },
    "minionerec": {
        "csv": ({"train.csv": _MINI_CSV}, {}),
        "item-json": ({"train.csv": _MINI_CSV, "items.json": _ITEM_JSON}, {"item_json": "items.json"}),
    },
    "table": {
        "csv": (
            {"log.csv": _TABLE_CSV},
            {"user": "user", "item": "item", "timestamp": "ts", "event": "kind", "value": "stars"},
        ),
        "items": (
            {"log.csv": _TABLE_CSV, "items.csv": _TABLE_ITEMS},
            {"user": "user", "item": "item", "timestamp": "ts", "items_path": "items.csv"},
        ),
        "jsonl": ({"log.jsonl": _TABLE_JSONL + "\n"}, {"user": "user", "item": "item", "timestamp": "ts"}),
        "tsv-dates": ({"log.tsv": _TABLE_TSV}, {"user": "user", "item": "item", "timestamp": "ts"}),
    },
    "movielens": {
        "ml-1m": (
            {
                "ml-1m/ratings.dat": "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n",
                "ml-1m/movies.dat": "1193::One Flew (1975)::Drama\n661::James (1996)::Animation|Musical\n",
                "ml-1m/users.dat": "1::F::1::10::48067\n2::M::56::16::70072\n",
            },
            {},
        ),
        "ml-latest": (
            {
                "ml-latest/ratings.csv": "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.5,964981247\n7,1,0.5,1100000000\n",
                "ml-latest/movies.csv": 'movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n3,"Old Men, The (1995)",(no genres listed)\n',
            },
            {},
        ),
        "ml-100k": (
            {
                "ml-100k/u.data": "1\t10\t5\t881250949\n1\t20\t3\t881250950\n2\t10\t4\t881250000\n",
                "ml-100k/u.user": "1|24|M|technician|85711\n2|53|F|other|94043\n",
            },
            {},
        ),
    },
}


def _table_parquet() -> bytes:
    frame = pd.DataFrame({"user": ["u1", "u1", "u2"], "item": ["i1", "i2", "i1"], "ts": [1, 2, 3]})
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


SAMPLES["table"]["parquet"] = ({"log.parquet": _table_parquet()}, {"user": "user", "item": "item", "timestamp": "ts"})

#: Payloads that broke loaders before (or might): controls, BOMs, bad UTF-8, huge numbers, structure.
NASTY: tuple[str | bytes, ...] = (
    "\x00",
    "\x1b[2J",
    "\x1b]0;x\x07",
    "\ufeff",
    b"\xff\xfe",
    b"\xc3",
    "\u202e",
    "99999999999999999999",
    "-99999999999999999999",
    "1e400",
    "1e30",
    "NaN",
    "inf",
    "9" * 5000,
    "[",
    "]",
    "{",
    "}",
    '"',
    "'",
    ",",
    "::",
    "|",
    "\t",
    "\n",
    "\r\n",
    "\n\n",
    " ",
    "[/red]",
    "²",
    '{"a": 1}',
    "[[[[[[[[[[",
    "[" * 3000,
    "true",
    "null",
    "None",
    "x" * 200_000,
)


@dataclass(frozen=True)
class Mutation:
    """One edit of a file's bytes: replace a field value (token), insert / replace / delete bytes,
    duplicate a line, truncate, swap lines."""

    op: str
    position: float  # 0..1, where in the file
    payload: str | bytes = ""
    span: int = 1


OPS = ("token", "token", "token", "insert", "replace", "delete", "duplicate_line", "truncate", "swap_lines")
#: A field value: what lies between separators (spaces, commas, colons, bars, quotes, brackets).
_TOKEN_RE = re.compile(rb"[^\s,:|\"'\[\]{}]+")


def random_mutations(rng: random.Random, count: int | None = None) -> list[Mutation]:
    """1-4 random mutations (for the benchmark; the tests draw them with hypothesis)."""
    count = count if count is not None else rng.randint(1, 4)
    out = []
    for _ in range(count):
        payload: str | bytes = rng.choice(NASTY) if rng.random() < 0.7 else _random_text(rng)
        out.append(Mutation(rng.choice(OPS), rng.random(), payload, rng.randint(1, 40)))
    return out


def _random_text(rng: random.Random) -> str:
    alphabet = "ab01 ,:;|[]{}'\"\\\t\n-.e\x00\x1b\u00e9\u202e"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))


def mutate(data: bytes, mutations: list[Mutation]) -> bytes:
    """Apply ``mutations`` in order."""
    for m in mutations:
        payload = m.payload.encode("utf-8") if isinstance(m.payload, str) else m.payload
        pos = int(m.position * len(data))
        if m.op == "token":  # replace one field value (an id, a time, a title word) by the payload
            tokens = list(_TOKEN_RE.finditer(data))
            if tokens:
                t = tokens[min(int(m.position * len(tokens)), len(tokens) - 1)]
                data = data[: t.start()] + payload + data[t.end() :]
        elif m.op == "insert":
            data = data[:pos] + payload + data[pos:]
        elif m.op == "replace":
            data = data[:pos] + payload + data[pos + m.span :]
        elif m.op == "delete":
            data = data[:pos] + data[pos + m.span :]
        elif m.op == "truncate":
            data = data[:pos]
        else:
            lines = data.split(b"\n")
            i = min(int(m.position * len(lines)), len(lines) - 1)
            if m.op == "duplicate_line":
                lines.insert(i, lines[i])
            else:
                j = (i + m.span) % len(lines)
                lines[i], lines[j] = lines[j], lines[i]
            data = b"\n".join(lines)
    return data


# ---- one case ------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What loading one malformed case did, through the API and through the CLI."""

    api: str  # "loaded" | "clean_error" | "unnamed_error" | "traceback"
    cli: str  # "stored" | "clean_error" | "unnamed_error" | "traceback"
    store_unchanged: bool
    detail: str = ""
    flaws: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No traceback, every error names the file, the store unchanged on failure, loaded data is clean."""
        return (
            self.api in ("loaded", "clean_error")
            and self.cli in ("stored", "clean_error")
            and self.store_unchanged
            and not self.flaws
        )


def write_case(
    root: Path, kind: str, variant: str, target: int, mutations: list[Mutation]
) -> tuple[Path, dict[str, Any], Path]:
    """Write the sample files of ``kind``/``variant`` under ``root`` with file number ``target`` mutated.

    Returns the loader's path argument, its options (side-file paths made absolute) and the mutated file.
    """
    files, options = SAMPLES[kind][variant]
    names = sorted(files)
    victim = names[target % len(names)]
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        content = files[name]
        data = content.encode("utf-8") if isinstance(content, str) else content
        path.write_bytes(mutate(data, mutations) if name == victim else data)
    opts = {k: str(root / v) if isinstance(v, str) and (root / v).exists() else v for k, v in options.items()}
    main = next(n for n in names if n not in options.values())
    source = (root / main).parent if kind == "movielens" else root / main
    return source, opts, root / victim


def check_case(kind: str, source: Path, options: dict[str, Any], victim: Path, store_path: Path) -> Outcome:
    """Load a case through the API and through ``genrec data convert`` and classify both."""
    names = {victim.name, source.name, str(victim.parent)}
    api, detail, flaws = _check_api(kind, source, options, names)
    before = _snapshot(store_path)
    args = ["data", "convert", kind, str(source), "--name", "fuzzed", "--store", str(store_path)]
    for key, value in options.items():
        args += ["--opt", f"{key}={value}"]
    result = CliRunner().invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        cli = "traceback"
        detail = detail or "".join(traceback.format_exception(result.exception))[-2000:]
    elif result.exit_code == 0:
        cli = "stored"
    else:
        lines = [line for line in result.output.splitlines() if line.startswith("error:")]
        named = len(lines) == 1 and any(n in lines[0] for n in names)
        cli = "clean_error" if result.exit_code == 2 and named else "unnamed_error"
        detail = detail or result.output[-500:]
    after = _snapshot(store_path)
    unchanged = cli == "stored" or after == before
    if cli == "stored":
        Store(store_path).delete_dataset("fuzzed")
    return Outcome(api, cli, unchanged, detail, flaws)


def _check_api(kind: str, source: Path, options: dict[str, Any], names: set[str]) -> tuple[str, str, list[str]]:
    try:
        ds = load(kind, source, **options)
    except DataFormatError as err:
        return ("clean_error" if any(n in str(err) for n in names) else "unnamed_error"), str(err), []
    except Exception as err:  # anything else is a failure of the loader
        return "traceback", "".join(traceback.format_exception(err))[-2000:], []
    flaws = []
    if ds.n_interactions == 0:
        flaws.append("empty dataset")
    for column, frame in (("item_id", ds.items), ("user_id", ds.users)):
        if frame[column].str.contains(ID_CONTROL_RE).any():
            flaws.append(f"control character in {column}")
    if ds.items["title"].str.contains(CONTROL_RE).any():
        flaws.append("control character in a title")
    if ds.interactions.timestamp.dtype != np.int64:
        flaws.append("timestamps not int64")
    if len(ds.interactions) and ds.interactions.timestamp.min() == np.iinfo(np.int64).min:
        flaws.append("a timestamp overflowed to INT64_MIN")
    if not np.isfinite(ds.items["price"].to_numpy(dtype=np.float64)[~np.isnan(ds.items["price"])]).all():
        flaws.append("an infinite price")
    return "loaded", "", flaws


def _snapshot(store_path: Path) -> dict[str, str]:
    """Name -> content hash of every stored dataset (computed here, not by the code under test)."""
    if not store_path.exists():
        return {}
    store = Store(store_path)
    return {row["name"]: content_hash(store.load_dataset(row["name"])) for row in store.list_datasets()}


def content_hash(ds: Any) -> str:
    """sha256 over a dataset's item and user ids, titles and interaction arrays."""
    digest = hashlib.sha256()
    for column in (ds.items["item_id"], ds.items["title"], ds.users["user_id"]):
        digest.update("\0".join(map(str, column)).encode("utf-8", "surrogatepass") + b"\1")
    inter = ds.interactions
    for array in (inter.user, inter.item, inter.timestamp, inter.event, inter.value):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def seed_store(store_path: Path) -> None:
    """A store holding one dataset ('keep') that no failed load may change."""
    from genrec.data import Dataset

    if store_path.exists():
        store_path.unlink()
    Store(store_path).save_dataset(Dataset.from_sequences("keep", {f"u{i}": ["a", "b", str(i)] for i in range(20)}))


def fresh_dir(path: Path) -> Path:
    """An empty directory at ``path``."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
