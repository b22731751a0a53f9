"""Reliability benchmark: malformed inputs per loader, kill -9 during convert, concurrent processes, a full disk.

``python -m benchmarks reliability`` writes ``benchmarks/results/reliability/reliability.json`` and
``reliability.md`` (the markdown table; ``markdown(payload)`` rebuilds it). Every number is counted
from real runs: loads through the API and ``genrec data convert``, and real ``python -m genrec.cli.main``
processes killed with SIGKILL, run side by side, or limited by RLIMIT_FSIZE as a full disk.

Inputs, reported apart: two development sets the loaders were fixed against, the hand-written
samples of ``benchmarks/fuzz_inputs.py`` (the tests fuzz them with hypothesis) and slices from
the start of real files under the shared datasets folder (LastFM, Beauty, ML-100k, ML-1M); and a
held-out set, slices from further into the same files mutated with a seed, neither of which was
looked at before the final run.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from benchmarks.common import DATA_ROOT, RESULTS, Timer, command_line, commit, machine, peak_rss_mb, write_result
from benchmarks.fuzz_inputs import SAMPLES, check_case, content_hash, random_mutations, seed_store, write_case

DEV_SEED = 0  # hand-written samples, while fixing the loaders
REAL_DEV_SEED = 20261207  # real slices from the start of each file, while fixing the loaders
HELDOUT_SEED = 5150421  # real slices from further in, used only for the final run
HELDOUT_START = 2000  # first line (or row) of the held-out slices


# ---- held-out samples: slices of real files ------------------------------------------------
def _lines(path: Path, start: int, lines: int) -> str:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return "".join(line for n, line in zip(range(start + lines), fh) if n >= start)


def real_samples(
    root: Path = DATA_ROOT, start: int = 0
) -> dict[str, dict[str, tuple[dict[str, str | bytes], dict[str, Any]]]]:
    """Loader samples cut from the shared datasets from line ``start`` on (empty where a file is missing)."""
    out: dict[str, dict[str, tuple[dict[str, str | bytes], dict[str, Any]]]] = {}
    lastfm = root / "lastfm-s3rec/s3rec/LastFM.txt"
    beauty = root / "amazon-beauty-2014/s3rec/Beauty.txt"
    items = root / "amazon-beauty-2014/derived/Beauty_items.jsonl"
    ml100k = root / "movielens-100k"
    ml1m = root / "movielens-1m/aura-spark"
    if lastfm.exists():
        out.setdefault("sequence", {})["lastfm"] = ({"seq.txt": _lines(lastfm, start // 20, 60)}, {})
    if beauty.exists() and items.exists():
        seq = _lines(beauty, start, 40)
        used = {tok for line in seq.splitlines() for tok in line.split()[1:]}
        texts = "".join(line for line in open(items, encoding="utf-8") if str(json.loads(line)["item_id"]) in used)
        out.setdefault("sequence", {})["beauty"] = (
            {"seq.txt": seq, "items.jsonl": texts},
            {"item_texts": "items.jsonl"},
        )
        meta = [json.loads(line) for line in texts.splitlines()]
        reviews = []
        for n, line in enumerate(seq.splitlines()):
            user, *bought = line.split()
            for k, item in enumerate(bought):
                asin = next((m["asin"] for m in meta if str(m["item_id"]) == item), f"X{item}")
                reviews.append(
                    json.dumps(
                        {
                            "reviewerID": f"A{user}",
                            "asin": asin,
                            "overall": 1 + (n + k) % 5,
                            "unixReviewTime": 1_300_000_000 + 86400 * k + n,
                        }
                    )
                )
        out.setdefault("amazon", {})["beauty"] = (
            {"reviews.json": "\n".join(reviews) + "\n", "meta.json": "".join(json.dumps(m) + "\n" for m in meta)},
            {"kcore": 0, "meta_path": "meta.json"},
        )
        table = io.StringIO()
        writer = csv.writer(table, lineterminator="\n")
        writer.writerow(["user_id", "history_item_title", "item_title", "history_item_id", "item_id"])
        titles = {str(m["item_id"]): m.get("title", "") for m in meta}
        for line in seq.splitlines():
            user, *bought = line.split()
            history, target = bought[:-1][-10:], bought[-1]
            writer.writerow(
                [user, str([titles.get(i, "") for i in history]), titles.get(target, ""), str(history), target]
            )
        out.setdefault("minionerec", {})["beauty"] = ({"train.csv": table.getvalue()}, {})
    if (ml100k / "u.data").exists():
        out.setdefault("movielens", {})["ml-100k"] = (
            {
                "ml-100k/u.data": _lines(ml100k / "u.data", start * 10, 300),
                "ml-100k/u.item": (ml100k / "u.item").read_bytes(),
                "ml-100k/u.user": (ml100k / "u.user").read_bytes(),
            },
            {},
        )
    if (ml1m / "movies.dat").exists():
        ratings = pq.read_table(ml1m / "ratings.parquet").slice(start * 100, 300).to_pandas()
        out.setdefault("movielens", {})["ml-1m"] = (
            {
                "ml-1m/ratings.dat": "".join(
                    f"{u}::{i}::{1 + n % 5}::{978300000 + n}\n"
                    for n, (u, i) in enumerate(ratings.itertuples(index=False))
                ),
                "ml-1m/movies.dat": (ml1m / "movies.dat").read_bytes(),
                "ml-1m/users.dat": (ml1m / "users.dat").read_bytes(),
            },
            {},
        )
        buffer = io.BytesIO()
        ratings.to_parquet(buffer)
        out.setdefault("table", {})["ml-1m-parquet"] = (
            {"ratings.parquet": buffer.getvalue()},
            {"user": "userID", "item": "movieID"},
        )
        tsv = "user\titem\tts\n" + "".join(
            f"{u}\t{i}\t{978300000 + n}\n" for n, (u, i) in enumerate(ratings.itertuples(index=False))
        )
        out["table"]["ml-1m-tsv"] = ({"ratings.tsv": tsv}, {"user": "user", "item": "item", "timestamp": "ts"})
    return out


# ---- 1. malformed inputs per loader ----------------------------------------------------------
def fuzz_loaders(
    samples: dict[str, dict[str, tuple[dict[str, str | bytes], dict[str, Any]]]], per_loader: int, seed: int, work: Path
) -> dict[str, dict[str, Any]]:
    """Mutate ``per_loader`` cases per loader and count what the API and the CLI did with them."""
    rng = random.Random(seed)
    store = work / "fuzz.duckdb"
    seed_store(store)
    results: dict[str, dict[str, Any]] = {}
    saved = dict(SAMPLES)
    SAMPLES.clear()
    SAMPLES.update(samples)
    try:
        for kind in sorted(samples):
            counts: Counter[str] = Counter()
            failures: list[dict[str, Any]] = []
            for variant in sorted(samples[kind]):  # the unmutated samples must load, or the fuzzing proves little
                with tempfile.TemporaryDirectory(dir=work) as tmp:
                    source, options, victim = write_case(Path(tmp), kind, variant, 0, [])
                    outcome = check_case(kind, source, options, victim, store)
                if not (outcome.api == "loaded" and outcome.cli == "stored" and outcome.ok):
                    raise SystemExit(f"the {kind} sample {variant!r} does not load: {outcome}")
                counts["valid_samples"] += 1
            with Timer() as timer:
                for _ in range(per_loader):
                    variant = rng.choice(sorted(samples[kind]))
                    target = rng.randrange(3)
                    mutations = random_mutations(rng)
                    with tempfile.TemporaryDirectory(dir=work) as tmp:
                        source, options, victim = write_case(Path(tmp), kind, variant, target, mutations)
                        outcome = check_case(kind, source, options, victim, store)
                    counts["inputs"] += 1
                    counts[f"api_{outcome.api}"] += 1
                    counts[f"cli_{outcome.cli}"] += 1
                    counts["store_changed_on_failure"] += not outcome.store_unchanged
                    counts["loaded_with_flaws"] += bool(outcome.flaws)
                    if not outcome.ok and len(failures) < 5:
                        failures.append(
                            {"variant": variant, "mutations": repr(mutations)[:500], "outcome": repr(outcome)[:1500]}
                        )
            results[kind] = {**dict(counts), "failures": failures, "seconds": round(timer.seconds, 1)}
            print(f"  {kind}: {dict(counts)}", flush=True)
    finally:
        SAMPLES.clear()
        SAMPLES.update(saved)
    return results


# ---- processes -------------------------------------------------------------------------------
def _cli(home: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    environ = {**os.environ, "GENREC_HOME": str(home), "OMP_NUM_THREADS": "1", **env}
    return subprocess.Popen(
        [sys.executable, "-m", "genrec.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    )


def _classify(code: int, err: str) -> str:
    if "Traceback" in err:
        return "traceback"
    if code == 0:
        return "ok"
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    return "clear_error" if code == 2 and len(lines) == 1 else f"other_exit_{code}"


def _sequences_file(path: Path, source: Path | None, users: int, seed: int) -> Path:
    """A copy of a real sequence file, or a generated one of ``users`` lines."""
    if source is not None and source.exists():
        path.write_bytes(source.read_bytes())
        return path
    rng = random.Random(seed)
    with open(path, "w") as fh:
        for u in range(users):
            fh.write(f"u{u} " + " ".join(f"i{rng.randrange(users)}" for _ in range(20)) + "\n")
    return path


def kill_during_convert(points: int, seed: int, work: Path) -> dict[str, Any]:
    """SIGKILL ``genrec data convert`` at random moments; check every stored dataset after each kill."""
    from genrec.data import Dataset, Store

    home = work / "kill-home"
    home.mkdir(parents=True, exist_ok=True)
    store = Store(home / "genrec.duckdb")
    store.save_dataset(Dataset.from_sequences("keep", {f"u{i}": ["a", "b", str(i)] for i in range(100)}))
    big = _sequences_file(work / "big.txt", DATA_ROOT / "movielens-1m/derived/ml-1m_sequences.txt", 60_000, seed)
    half = work / "half.txt"
    half.write_text("".join(big.read_text().splitlines(keepends=True)[::2]))
    start = time.monotonic()
    proc = _cli(home, "data", "convert", "sequence", str(big), "--name", "reference")
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"reference convert failed: {err}")
    duration = time.monotonic() - start
    proc = _cli(home, "data", "convert", "sequence", str(half), "--name", "target")
    if proc.communicate()[0] is None or proc.returncode != 0:
        raise SystemExit("initial convert failed")
    hashes = {name: content_hash(store.load_dataset(name)) for name in ("keep", "reference", "target")}
    new_hash = hashes["reference"]
    rng = random.Random(seed)
    outcomes: Counter[str] = Counter()
    checks = losses = 0
    kill_times = []
    for n in range(points):
        name = "target" if n % 2 == 0 else f"fresh{n}"  # replace a stored dataset, or add a new one
        delay = rng.uniform(0.05, 1.1) * duration
        kill_times.append(round(delay, 2))
        proc = _cli(home, "data", "convert", "sequence", str(big), "--name", name, "--force")
        time.sleep(delay)
        finished_before_kill = proc.poll() is not None
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        outcomes["finished_before_kill" if finished_before_kill else "killed"] += 1
        stored = {row["name"] for row in store.list_datasets()}
        for keep in ("keep", "reference"):
            checks += 1
            losses += keep not in stored or content_hash(store.load_dataset(keep)) != hashes[keep]
        checks += 1
        if name == "target":
            now = content_hash(store.load_dataset("target")) if "target" in stored else None
            losses += now not in (hashes["target"], new_hash)
            outcomes["target_replaced_whole" if now == new_hash else "target_kept_old"] += now in (
                hashes["target"],
                new_hash,
            )
            if now == new_hash:  # put the old one back for the next replacement
                _cli(home, "data", "convert", "sequence", str(half), "--name", "target").communicate()
        else:
            if name in stored:
                losses += content_hash(store.load_dataset(name)) != new_hash
                outcomes["new_dataset_stored_whole"] += 1
                store.delete_dataset(name)
            else:
                outcomes["new_dataset_absent"] += 1
    return {
        "kill_points": points,
        "convert_seconds": round(duration, 1),
        "kill_after_seconds": kill_times,
        "dataset_checks": checks,
        "datasets_lost_or_changed": losses,
        "outcomes": dict(outcomes),
        "source": "ml-1m_sequences.txt"
        if (DATA_ROOT / "movielens-1m/derived/ml-1m_sequences.txt").exists()
        else "generated",
    }


def concurrent_runs(rounds: int, work: Path) -> dict[str, Any]:
    """Rounds of readers and writers started together on a fresh home; one lock-holder round per kind."""
    seqs = _sequences_file(work / "lastfm.txt", DATA_ROOT / "lastfm-s3rec/s3rec/LastFM.txt", 1000, 1)
    small = ["--opt", "n_users=300", "--opt", "n_items=150"]
    commands = [
        ["data", "stats", "synthetic", *small, "--json"],
        ["data", "stats", "synthetic", *small, "--json"],
        ["data", "stats", "synthetic", *small, "--json"],
        ["data", "convert", "sequence", str(seqs), "--name", "lastfm"],
        ["data", "stats", f"sequence:{seqs}", "--json"],
        ["data", "list"],
    ]
    outcomes: Counter[str] = Counter()
    processes = 0
    for r in range(rounds):
        home = work / f"concurrent-{r}"
        procs = [_cli(home, *cmd) for cmd in commands]
        for proc in procs:
            _, err = proc.communicate(timeout=900)
            outcomes[_classify(proc.returncode, err)] += 1
            processes += 1
    # a foreign process holds the write lock: readers wait for it (default timeout) ...
    waited: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for timeout, hold, tally in (("30", "4", waited), ("1", "60", refused)):
        home = work / f"locked-{timeout}"
        _cli(home, "data", "convert", "sequence", str(seqs), "--name", "lastfm").communicate()
        holder = subprocess.Popen(
            [sys.executable, "-c", _HOLD, str(home / "genrec.duckdb"), hold], stdout=subprocess.PIPE, text=True
        )
        assert holder.stdout is not None
        holder.stdout.readline()
        procs = [_cli(home, "data", "stats", "lastfm", "--json", GENREC_LOCK_TIMEOUT=timeout) for _ in range(3)]
        for proc in procs:
            _, err = proc.communicate(timeout=900)
            kind = _classify(proc.returncode, err)
            if kind == "clear_error" and f"process {holder.pid}" not in err:
                kind = "error_without_holder"
            tally[kind] += 1
        holder.kill()
        holder.wait()
    return {
        "rounds": rounds,
        "processes": processes,
        "commands_per_round": [" ".join(c[:3]) for c in commands],
        "outcomes": dict(outcomes),
        "lock_held_4s_readers_waited": dict(waited),
        "lock_held_60s_timeout_1s": dict(refused),
    }


_HOLD = "import duckdb, sys, time\ncon = duckdb.connect(sys.argv[1])\nprint('locked', flush=True)\ntime.sleep(float(sys.argv[2]))\n"


def full_disk(work: Path) -> dict[str, Any]:
    """Convert with the file size limited (EFBIG, as on a full disk) at several limits; check the store."""
    from genrec.data import Dataset, Store

    big = _sequences_file(work / "big.txt", DATA_ROOT / "movielens-1m/derived/ml-1m_sequences.txt", 60_000, 3)
    # How much the store grows by this save, measured once without a limit; the limits cut it short.
    probe = work / "disk-probe"
    seed_store(probe / "genrec.duckdb")
    empty = (probe / "genrec.duckdb").stat().st_size
    _cli(probe, "data", "convert", "sequence", str(big), "--name", "new").communicate()
    growth = (probe / "genrec.duckdb").stat().st_size - empty
    outcomes: Counter[str] = Counter()
    losses = 0
    limits = tuple(int(growth * share) for share in (0.02, 0.1, 0.3, 0.6, 0.9))
    for extra in limits:
        home = work / f"disk-{extra}"
        store = Store(home / "genrec.duckdb")
        store.save_dataset(Dataset.from_sequences("keep", {f"u{i}": ["a", "b", str(i)] for i in range(100)}))
        before = content_hash(store.load_dataset("keep"))
        limit = store.path.stat().st_size + extra

        def cap(limit: int = limit) -> None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        env = {**os.environ, "GENREC_HOME": str(home), "OMP_NUM_THREADS": "1"}
        proc = subprocess.run(
            [sys.executable, "-m", "genrec.cli.main", "data", "convert", "sequence", str(big), "--name", "new"],
            preexec_fn=cap,
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )
        kind = _classify(proc.returncode, proc.stderr)
        if kind == "clear_error" and "disk is full" not in proc.stderr:
            kind = "error_not_naming_the_disk"
        outcomes[kind] += 1
        names = {row["name"] for row in store.list_datasets()}
        losses += "keep" not in names or content_hash(store.load_dataset("keep")) != before
        if proc.returncode != 0:
            losses += "new" in names  # a failed save must leave nothing behind
    return {
        "store_growth_bytes": growth,
        "limits_bytes_over_store": list(limits),
        "outcomes": dict(outcomes),
        "datasets_lost_or_half_written": losses,
    }


# ---- report ------------------------------------------------------------------------------------
def markdown(payload: dict[str, Any]) -> str:
    """The reliability section: inputs per loader, kill -9 points, concurrent runs, full disk."""
    from benchmarks.serve_kill9 import reliability_row  # measured there: kill -9 of chat / serve

    lines = [
        "### Reliability",
        "",
        f"Measured by `{payload['command']}` at commit `{payload['commit'][:12]}` "
        f"({payload['wall_seconds']:.0f} s, peak {payload['peak_rss_mb']:.0f} MiB). Every input is loaded through "
        "the API and through `genrec data convert`; an input passes when it loads clean data or fails with one "
        "line naming the file (exit 2), with no traceback and the store unchanged.",
        "",
        "| loader | set | inputs | loaded | clear errors | errors without the file | tracebacks | store changed |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    labels = {
        "development": "hand-written (dev)",
        "real_development": "real files, start (dev)",
        "held_out": "real files, further in (held-out)",
    }
    for set_name, label in labels.items():
        for kind, row in sorted(payload["loaders"][set_name].items()):
            lines.append(
                f"| {kind} | {label} | {row['inputs']} | {row.get('api_loaded', 0)} | "
                f"{row.get('cli_clean_error', 0)} | {row.get('cli_unnamed_error', 0) + row.get('api_unnamed_error', 0)} | "
                f"{row.get('cli_traceback', 0) + row.get('api_traceback', 0)} | {row.get('store_changed_on_failure', 0)} |"
            )
    kill = payload["kill_convert"]
    conc = payload["concurrent"]
    disk = payload["full_disk"]
    lines += [
        "",
        "| scenario | tried | outcome | lost / changed | tracebacks |",
        "|---|---:|---|---:|---:|",
        f"| kill -9 during `data convert` ({kill['source']}, {kill['convert_seconds']} s) | {kill['kill_points']} points | "
        f"{_pairs(kill['outcomes'])}; {kill['dataset_checks']} dataset checks | {kill['datasets_lost_or_changed']} | 0 |",
        f"| concurrent CLI processes ({conc['rounds']} rounds of {len(conc['commands_per_round'])}) | {conc['processes']} | "
        f"{_pairs(conc['outcomes'])} | 0 | {conc['outcomes'].get('traceback', 0)} |",
        f"| a process holds the store 4 s: readers wait | {sum(conc['lock_held_4s_readers_waited'].values())} | "
        f"{_pairs(conc['lock_held_4s_readers_waited'])} | 0 | {conc['lock_held_4s_readers_waited'].get('traceback', 0)} |",
        f"| a process holds the store 60 s, GENREC_LOCK_TIMEOUT=1: one line naming its PID | "
        f"{sum(conc['lock_held_60s_timeout_1s'].values())} | {_pairs(conc['lock_held_60s_timeout_1s'])} | 0 | "
        f"{conc['lock_held_60s_timeout_1s'].get('traceback', 0)} |",
        f"| full disk during a save (RLIMIT_FSIZE at 2-90% of the save's size) | {sum(disk['outcomes'].values())} | "
        f"{_pairs(disk['outcomes'])} | "
        f"{disk['datasets_lost_or_half_written']} | {disk['outcomes'].get('traceback', 0)} |",
    ]
    lines.append(
        reliability_row() or "| kill -9 of `genrec chat` / `genrec serve` | (no serve_kill9 result yet) | | | |"
    )
    return "\n".join(lines) + "\n"


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(counts.items())) or "none"


def main() -> None:
    """Run every part and write the result file and the markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-loader", type=int, default=150, help="malformed inputs per loader and set")
    parser.add_argument("--kill-points", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=8, help="rounds of concurrent processes")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # repeated-interaction warnings of fuzzed inputs
    with tempfile.TemporaryDirectory() as tmp, Timer() as timer:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        print("fuzzing the development samples ...", flush=True)
        dev = fuzz_loaders(dict(SAMPLES), args.per_loader, DEV_SEED, work)
        real = real_samples()
        if not real:
            raise SystemExit(f"no shared datasets under {DATA_ROOT}: set GENREC_SHARED_DATASETS")
        print("fuzzing slices from the start of real files (development) ...", flush=True)
        real_dev = fuzz_loaders(real, args.per_loader, REAL_DEV_SEED, work)
        print("fuzzing slices from further into real files (held-out) ...", flush=True)
        held = fuzz_loaders(real_samples(start=HELDOUT_START), args.per_loader, HELDOUT_SEED, work)
        print("kill -9 during convert ...", flush=True)
        kill = kill_during_convert(args.kill_points, HELDOUT_SEED, work)
        print(f"  {kill}", flush=True)
        print("concurrent processes ...", flush=True)
        conc = concurrent_runs(args.rounds, work)
        print(f"  {conc}", flush=True)
        print("full disk ...", flush=True)
        disk = full_disk(work)
        print(f"  {disk}", flush=True)
    payload = {
        "dataset": "reliability",
        "split": "n/a (malformed copies of hand-written samples = development; of real-file slices = held-out)",
        "commit": commit(),
        "machine": machine(),
        "command": command_line(),
        "wall_seconds": timer.seconds,
        "peak_rss_mb": peak_rss_mb(),
        "seeds": {"development": DEV_SEED, "real_development": REAL_DEV_SEED, "held_out": HELDOUT_SEED},
        "held_out_start_line": HELDOUT_START,
        "loaders": {"development": dev, "real_development": real_dev, "held_out": held},
        "kill_convert": kill,
        "concurrent": conc,
        "full_disk": disk,
        "chat_serve_kill": None,  # measured by benchmarks/serve_kill9.py (its row in the table comes from that file)
    }
    path = write_result("reliability", "reliability", payload)
    table = markdown(payload)
    (RESULTS / "reliability" / "reliability.md").write_text(table)
    print(table)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
