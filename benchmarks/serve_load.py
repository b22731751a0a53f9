"""Load on `genrec serve`: recommendations at fixed request rates, and turns of the loop under concurrent users.

``recs`` (the default): a real `genrec serve --no-loop` process per model on the Amazon Beauty
catalog (12,101 items), driven over loopback by a bounded open-loop asyncio client (httpx): requests
are sent on a fixed schedule at each rate, whatever the server's speed, and a request's latency runs
from its scheduled send time to its answer (so a slow server cannot hide queueing: no coordinated
omission). Each request is a random user's ``POST /v1/recommendations`` (k=10, history excluded)
with that user's own API key. Writes ``benchmarks/results/<dataset>/serve_load.json``.

``turns``: a `genrec serve` with the loop on the synthetic marketplace; ``--users`` users at once each
run retrieve -> edit -> create through ``POST /v1/sessions/{id}/turns`` (waiting for the answer), and
the end-to-end seconds per turn are reported by action, with the time spent queued for the pipeline.
Writes ``benchmarks/results/synthetic/serve_turns.json``.

The machine's load average before and after each run is recorded: this machine is shared.

    python -m benchmarks serve-load recs --model sasrec=DIR --model tiger=DIR --rates 50,100,200
    python -m benchmarks serve-load turns --users 10
    python -m benchmarks serve-load tables   # the markdown section (load, turns, kill -9): section()
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

from benchmarks.common import Timer, command_line, commit, machine, peak_rss_mb, write_result
from benchmarks.serve_harness import ServerProcess


def start_server(args: list[str], home: str, state: Path, threads: int) -> ServerProcess:
    """`genrec serve` with its own state database in ``state`` (so its first admin key is printed)."""
    env = {"OMP_NUM_THREADS": str(threads), "GENREC_WATERMARK_KEY": os.environ.get("GENREC_WATERMARK_KEY", "benchmark")}
    return ServerProcess(Path(home), "--db", str(state / "state.duckdb"), *args, env=env, log_dir=state)


def load_now() -> dict[str, float]:
    """The machine's 1- and 5-minute load averages and its CPU use over the last second."""
    one, five, _ = os.getloadavg()
    return {"load1": round(one, 2), "load5": round(five, 2), "cpu_percent": psutil.cpu_percent(interval=1.0)}


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50 / p95 / p99 / max in milliseconds."""
    if not values:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    a = np.asarray(values) * 1000.0
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 2),
        "p95_ms": round(float(np.percentile(a, 95)), 2),
        "p99_ms": round(float(np.percentile(a, 99)), 2),
        "max_ms": round(float(a.max()), 2),
    }


async def open_loop(url: str, keys: list[str], rate: float, seconds: float, timeout: float) -> dict[str, Any]:
    """Send ``rate`` requests per second for ``seconds`` on a fixed schedule; latency from the scheduled time."""
    total = int(rate * seconds)
    latencies: list[float] = []
    lags: list[float] = []  # how late the client itself sent each request (a starved client shows here)
    errors: dict[str, int] = {}
    cpu0 = time.process_time()
    rng = random.Random(0)
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.2

        async def one(n: int) -> None:
            scheduled = start + n / rate
            await asyncio.sleep(max(0.0, scheduled - loop.time()))
            lags.append(loop.time() - scheduled)
            key = keys[rng.randrange(len(keys))]
            try:
                r = await client.post(
                    "/v1/recommendations",
                    json={"k": 10, "exclude_history": True},
                    headers={"Authorization": f"Bearer {key}"},
                )
                ok = r.status_code == 200 and len(r.json()["items"]) == 10
                if not ok:
                    errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
            except httpx.HTTPError as err:
                errors[type(err).__name__] = errors.get(type(err).__name__, 0) + 1
                return
            latencies.append(loop.time() - scheduled)

        await asyncio.gather(*(one(n) for n in range(total)))
        elapsed = loop.time() - start
    return {
        "target_rps": rate,
        "requests": total,
        "ok": len(latencies) - sum(v for k, v in errors.items() if k.isdigit()),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "throughput_rps": round(len(latencies) / elapsed, 2),
        "seconds": round(elapsed, 2),
        **percentiles(latencies),
        "client_send_lag_p99_ms": percentiles(lags)["p99_ms"],
        "client_cpu_seconds": round(time.process_time() - cpu0, 2),
    }


async def steady_recs(url: str, keys: list[str], rate: float, done: asyncio.Event) -> dict[str, Any]:
    """Recommendation requests at ``rate`` per second until ``done`` is set (latency of each, errors)."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    tasks = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        loop = asyncio.get_running_loop()

        async def one(key: str) -> None:
            start = loop.time()
            try:
                r = await client.post("/v1/recommendations", json={"k": 10}, headers={"Authorization": f"Bearer {key}"})
                if r.status_code != 200:
                    errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
                    return
            except httpx.HTTPError as err:
                errors[type(err).__name__] = errors.get(type(err).__name__, 0) + 1
                return
            latencies.append(loop.time() - start)

        n = 0
        start = loop.time()
        while not done.is_set():
            tasks.append(asyncio.create_task(one(keys[n % len(keys)])))
            n += 1
            await asyncio.sleep(max(0.0, start + n / rate - loop.time()))
        await asyncio.gather(*tasks)
    return {
        "rate_rps": rate,
        "requests": n,
        "errors": sum(errors.values()),
        "error_kinds": errors,
        **percentiles(latencies),
    }


def make_keys(url: str, admin: str, users: list[str]) -> list[str]:
    """One API key per user, created through the admin API."""
    out = []
    with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {admin}"}) as c:
        for u in users:
            r = c.post("/v1/admin/keys", json={"user_id": u})
            r.raise_for_status()
            out.append(r.json()["key"])
    return out


def run_recs(args: argparse.Namespace) -> None:
    """Recommendations at each rate, for each model."""
    from benchmarks.common import load_benchmark_dataset

    wall = Timer().__enter__()
    home = os.environ.get("GENREC_HOME") or str(Path.home() / ".cache" / "genrec")
    ds = load_benchmark_dataset(args.dataset)  # cached in the store: the server reads it by name
    users = random.Random(1).sample(list(ds.users["user_id"].astype(str)), args.users)
    rates = [float(r) for r in args.rates.split(",")]
    runs = []
    for spec in args.model:
        name, _, path = spec.partition("=")
        state = Path(tempfile.mkdtemp(prefix="genrec-load-"))
        serve_args = ["--dataset", ds.name, "--no-loop", "--model-dir", path, "--threads", str(args.threads)]
        serve_args += ["--batch-max", str(args.batch_max), "--batch-wait-ms", str(args.batch_wait_ms)]
        server = start_server(serve_args, home, state, args.threads)
        try:
            with Timer() as t:
                server.wait_ready(args.ready_timeout)
            keys = make_keys(server.url, server.admin_key(), users)
            asyncio.run(open_loop(server.url, keys, 20, args.warmup, args.timeout))  # warm-up, not reported
            for rate in rates:
                before = load_now()
                cpu0 = server.cpu_seconds()
                result = asyncio.run(open_loop(server.url, keys, rate, args.seconds, args.timeout))
                result["server_cpu_seconds"] = round(server.cpu_seconds() - cpu0, 2)
                result["machine_before"], result["machine_after"] = before, load_now()
                stats = httpx.get(
                    server.url + "/v1/admin/models", headers={"Authorization": f"Bearer {server.admin_key()}"}
                ).json()["stats"]["recommendations"]
                result["server_batches"] = stats
                result["model"] = name
                runs.append(result)
                print(json.dumps(result), flush=True)
            server_rss = server.rss_mb()
        finally:
            server.stop()
            shutil.rmtree(state, ignore_errors=True)
        meta = json.loads((Path(path) / "meta.json").read_text())
        shape = {
            k: meta["config"][k] for k in ("dim", "layers", "heads", "max_length", "beam_width") if k in meta["config"]
        }
        runs.append(
            {
                "model": name,
                "ready_seconds": round(t.seconds, 2),
                "server_rss_mb": round(server_rss, 1),
                "trained_epochs": meta.get("fit_info", {}).get("epochs"),
                "architecture": shape,
            }
        )
    wall.__exit__()
    payload = {
        "benchmark": "serve_load",
        "dataset": args.dataset,
        "split": "none (serving the whole log)",
        "catalog_items": int(ds.n_items),
        "users_sampled": args.users,
        "request": {"endpoint": "POST /v1/recommendations", "k": 10, "exclude_history": True},
        "client": "open-loop asyncio + httpx over loopback, fixed schedule, latency from scheduled send time",
        "server": {"threads": args.threads, "batch_max": args.batch_max, "batch_wait_ms": args.batch_wait_ms},
        "seconds_per_rate": args.seconds,
        "runs": runs,
        "command": command_line(),
        "commit": commit(),
        "machine": machine(),
        "wall_seconds": round(wall.seconds, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = write_result(args.dataset, args.name, payload)
    print(f"wrote {out}")
    print(markdown_recs(payload))


async def user_turns(url: str, key: str, instructions: list[str], timeout: float) -> list[dict[str, Any]]:
    """One user's conversation: each instruction as a turn, waiting for its answer."""
    out = []
    async with httpx.AsyncClient(base_url=url, timeout=timeout, headers={"Authorization": f"Bearer {key}"}) as c:
        sid = (await c.post("/v1/sessions", json={"title": "load"})).json()["session_id"]
        for text in instructions:
            start = time.perf_counter()
            r = await c.post(f"/v1/sessions/{sid}/turns", json={"instruction": text, "wait_seconds": 60})
            job = r.json()
            while job.get("status") in ("queued", "running"):
                job = (await c.get(f"/v1/jobs/{job['job_id']}", params={"wait": 30})).json()
            seconds = time.perf_counter() - start
            result = job.get("result") or {}
            queued = (job["started_at"] - job["created_at"]) if job.get("started_at") else None
            out.append(
                {
                    "instruction": text,
                    "status": job.get("status"),
                    "action": result.get("action"),
                    "generated": any(e.get("generated") for e in result.get("entries", [])),
                    "seconds": seconds,
                    "queued_seconds": queued,
                    "run_seconds": (job["finished_at"] - job["started_at"]) if job.get("finished_at") else None,
                }
            )
    return out


def run_turns(args: argparse.Namespace) -> None:
    """Turns of the loop under concurrent users."""
    wall = Timer().__enter__()
    home = os.environ.get("GENREC_HOME") or str(Path.home() / ".cache" / "genrec")
    state = Path(tempfile.mkdtemp(prefix="genrec-turns-"))
    server = start_server(["--turn-workers", str(args.turn_workers), *args.serve_arg], home, state, args.threads)
    try:
        with Timer() as ready:
            server.wait_ready(args.ready_timeout)
        admin = server.admin_key()
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {admin}"}, timeout=60) as c:
            ds_users = [f"u{n:05d}" for n in range(args.users)]
            items = c.post("/v1/recommendations", json={"k": 50, "user_id": ds_users[0]}).json()["items"]
        category = next(cat[-1] for cat in (i["categories"] for i in items) if cat)
        instructions = [
            "show me something like my last purchase but from another brand",
            "rewrite this one for me",
            f"make me a new one: {category}",
        ]
        keys = make_keys(server.url, admin, ds_users)
        before = load_now()

        async def everyone() -> tuple[list[list[dict[str, Any]]], dict[str, Any]]:
            done = asyncio.Event()
            background = asyncio.create_task(steady_recs(server.url, keys, args.recs_rps, done))
            users = await asyncio.gather(*(user_turns(server.url, k, instructions, 900) for k in keys))
            done.set()
            return list(users), await background

        with Timer() as t:
            per_user, recs_meanwhile = asyncio.run(everyone())
        after = load_now()
    finally:
        server.stop()
        shutil.rmtree(state, ignore_errors=True)
    turns = [turn for user in per_user for turn in user]
    by_action: dict[str, Any] = {}
    for kind in ("retrieve", "edit", "create"):
        sel = [x for x in turns if x["instruction"] == instructions[("retrieve", "edit", "create").index(kind)]]
        by_action[kind] = {
            "turns": len(sel),
            "failed": sum(x["status"] != "done" for x in sel),
            "with_generated_item": sum(bool(x["generated"]) for x in sel),
            "end_to_end": percentiles([x["seconds"] for x in sel]),
            "queued": percentiles([x["queued_seconds"] for x in sel if x["queued_seconds"] is not None]),
            "run": percentiles([x["run_seconds"] for x in sel if x["run_seconds"] is not None]),
        }
    wall.__exit__()
    payload = {
        "benchmark": "serve_turns",
        "dataset": "synthetic",
        "split": "none (serving the whole log)",
        "users": args.users,
        "turn_workers": args.turn_workers,
        "instructions": instructions,
        "serve_args": args.serve_arg,
        "by_action": by_action,
        "recommendations_meanwhile": recs_meanwhile,
        "all_turns_seconds": round(t.seconds, 2),
        "ready_seconds": round(ready.seconds, 2),
        "machine_before": before,
        "machine_after": after,
        "turns": turns,
        "command": command_line(),
        "commit": commit(),
        "machine": machine(),
        "wall_seconds": round(wall.seconds, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = write_result("synthetic", args.name or "serve_turns", payload)
    print(f"wrote {out}")
    print(markdown_turns(payload))


def markdown_recs(payload: dict[str, Any]) -> str:
    """The recommendations load table (for BENCHMARKS.md)."""
    lines = [
        f"### Serving: recommendations under load ({payload['dataset']}, {payload['catalog_items']:,} items)",
        "",
        "| model | target req/s | throughput req/s | p50 ms | p95 ms | p99 ms | errors | mean batch | load avg (1 min) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in payload["runs"]:
        if "target_rps" not in r:
            continue
        lines.append(
            f"| {r['model']} | {r['target_rps']:.0f} | {r['throughput_rps']:.1f} | {r['p50_ms']} | {r['p95_ms']} | "
            f"{r['p99_ms']} | {r['errors']} | {r['server_batches']['mean_batch']} | "
            f"{r['machine_before']['load1']} -> {r['machine_after']['load1']} |"
        )
    models = [r for r in payload["runs"] if "ready_seconds" in r]
    if models and any("architecture" in r for r in models):
        described = "; ".join(
            f"{r['model']}: {', '.join(f'{k} {v}' for k, v in r.get('architecture', {}).items())}, trained "
            f"{r.get('trained_epochs', '?')} epochs, ready in {r['ready_seconds']:.0f} s, {r['server_rss_mb']:.0f} MiB"
            for r in models
        )
        lines += [
            "",
            f"Models ({described}): the benchmark settings' architecture, trained only for this latency run (a "
            "forward pass costs the same after 3 epochs as after 60).",
        ]
    return "\n".join(lines)


def markdown_turns(payload: dict[str, Any]) -> str:
    """The loop turn table (for BENCHMARKS.md)."""
    lines = [
        f"### Serving: one loop turn end to end, {payload['users']} users at once (synthetic)",
        "",
        "| action | turns | failed | with a generated item | p50 s | p95 s | max s | p50 queued s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, r in payload["by_action"].items():
        e2e, queued = r["end_to_end"], r["queued"]

        def sec(ms: float | None) -> str:
            return "" if ms is None else f"{ms / 1000:.2f}"

        lines.append(
            f"| {kind} | {r['turns']} | {r['failed']} | {r['with_generated_item']} | {sec(e2e['p50_ms'])} | "
            f"{sec(e2e['p95_ms'])} | {sec(e2e['max_ms'])} | {sec(queued['p50_ms'])} |"
        )
    m = payload["recommendations_meanwhile"]
    lines += [
        "",
        f"Meanwhile {m['requests']} recommendation requests ({m['rate_rps']:.0f}/s) got p50 {m['p50_ms']} ms, "
        f"p99 {m['p99_ms']} ms, {m['errors']} errors {m.get('error_kinds', '')}: the turns run on a worker pool beside "
        "them, but share the machine's two cores with them.",
    ]
    return "\n".join(lines)


def section() -> str:
    """The serving section for BENCHMARKS.md from the result files there are (load, turns, kill -9).

    A result file that does not exist yet is named with the command that writes it, never filled in.
    """
    from benchmarks.common import RESULTS
    from benchmarks.serve_kill9 import markdown as markdown_kill9

    parts = ["## Serving (`genrec serve`)"]
    for path, render, command in (
        (
            RESULTS / "amazon-beauty" / "serve_load.json",
            markdown_recs,
            "python -m benchmarks serve-load recs --model sasrec=DIR --model tiger=DIR --rates 50,100,200",
        ),
        (
            RESULTS / "synthetic" / "serve_turns.json",
            markdown_turns,
            "python -m benchmarks serve-load turns --users 10",
        ),
        (
            RESULTS / "synthetic" / "serve_kill9.json",
            markdown_kill9,
            "python -m benchmarks serve-kill9 --rounds 3 --events 400 --postgres",
        ),
    ):
        if path.exists():
            parts.append(render(json.loads(path.read_text())))
        else:
            parts.append(f"*No `{path.relative_to(RESULTS.parent.parent)}` yet: `{command}` writes it.*")
    return "\n\n".join(parts) + "\n"


def main() -> None:
    """Parse arguments and run one benchmark."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    recs = sub.add_parser("recs", help="recommendations at fixed request rates")
    recs.add_argument("--dataset", default="amazon-beauty")
    recs.add_argument("--model", action="append", required=True, help="NAME=DIR of a saved model (repeatable)")
    recs.add_argument("--rates", default="50,100,200")
    recs.add_argument("--seconds", type=float, default=30.0, help="seconds per rate")
    recs.add_argument("--warmup", type=float, default=3.0)
    recs.add_argument("--users", type=int, default=200, help="distinct users (one key each)")
    recs.add_argument("--threads", type=int, default=1, help="torch threads in the server")
    recs.add_argument("--batch-max", type=int, default=64)
    recs.add_argument("--batch-wait-ms", type=float, default=2.0)
    recs.add_argument("--timeout", type=float, default=10.0)
    recs.add_argument("--ready-timeout", type=float, default=600.0)
    recs.add_argument("--name", default="serve_load")
    turns = sub.add_parser("turns", help="loop turns under concurrent users")
    turns.add_argument("--users", type=int, default=10)
    turns.add_argument("--turn-workers", type=int, default=1)
    turns.add_argument("--threads", type=int, default=1)
    turns.add_argument("--recs-rps", type=float, default=20.0, help="recommendation requests per second meanwhile")
    turns.add_argument("--serve-arg", action="append", default=[], help="extra `genrec serve` argument")
    turns.add_argument("--ready-timeout", type=float, default=4 * 3600.0, help="a first start trains the models")
    turns.add_argument("--name", default="")
    sub.add_parser("tables", help="print the markdown section from the result files")
    args = parser.parse_args()
    if args.what == "recs":
        run_recs(args)
    elif args.what == "turns":
        run_turns(args)
    else:
        print(section())


if __name__ == "__main__":
    main()
