"""`genrec keys` and `genrec serve`'s argument errors: one line naming the problem, exit code 2."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from tests.serve.support import ServerProcess
from typer.testing import CliRunner

from genrec.cli.main import app
from genrec.data.accounts import AccountStore


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.output


def test_keys_are_created_once_listed_without_secrets_and_revoked(tmp_path: Path) -> None:
    db = str(tmp_path / "state.duckdb")
    code, out = run("keys", "create", "--user", "u00042", "--db", db)
    assert code == 0, out
    key = next(line for line in out.splitlines() if line.startswith("grk_"))
    principal = AccountStore(db).verify_key(key)
    assert principal is not None and principal.user_id == "u00042" and not principal.is_admin
    code, out = run("keys", "create", "--user", "ops", "--admin", "--db", db)
    assert code == 0 and "admin" in out
    code, listing = run("keys", "list", "--db", db)
    assert code == 0 and "u00042" in listing and "ops" in listing and key.split("_", 2)[2] not in listing
    code, out = run("keys", "revoke", principal.key_id, "--db", db)
    assert code == 0 and AccountStore(db).verify_key(key) is None
    code, out = run("keys", "revoke", principal.key_id, "--db", db)
    assert code == 2 and "no active key" in out


def test_bad_arguments_get_one_line_and_exit_code_2(tmp_path: Path) -> None:
    db = str(tmp_path / "state.duckdb")
    code, out = run("keys", "create", "--user", "bad user", "--db", db)
    assert code == 2 and "invalid user id" in out and "Traceback" not in out
    code, out = run("serve", "--workers", "2", "--db", db)
    assert code == 2 and "PostgreSQL" in out
    code, out = run("serve", "--port", "70000")
    assert code == 2 and "--port" in out
    code, out = run("serve", "--max-body-bytes", "10")
    assert code == 2 and "--max-body-bytes" in out
    code, out = run("serve", "--log-level", "loud")
    assert code == 2 and "--log-level" in out
    code, out = run("serve", "--set", "recommender.nope=1")
    assert code == 2 and "--set" in out and "nope" in out and "Traceback" not in out
    code, out = run("keys", "list", "--db", "postgresql://nobody@127.0.0.1:1/none")
    assert code == 2 and "cannot reach PostgreSQL" in out and "Traceback" not in out


def test_keys_while_a_server_holds_the_store_say_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENREC_LOCK_TIMEOUT", "1")
    db = tmp_path / "state.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,time; c=duckdb.connect({str(db)!r}); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        code, out = run("keys", "create", "--user", "u1", "--db", str(db))
        assert code == 2 and f"locked by process {holder.pid}" in out and "admin page" in out, out
        assert len([line for line in out.splitlines() if line.startswith("error:")]) == 1
    finally:
        holder.kill()
        holder.wait()


def test_keys_against_a_running_server_name_it(server: ServerProcess, serve_home: Path) -> None:
    """The running server holds its DuckDB file: another process waits GENREC_LOCK_TIMEOUT, then one line names it."""
    env = {**os.environ, "GENREC_HOME": str(serve_home), "GENREC_LOCK_TIMEOUT": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "genrec.cli.main", "keys", "list", "--db", str(serve_home / "state-main.duckdb")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"process {server.proc.pid}" in errors[0] and "genrec serve" in errors[0] and "admin page" in errors[0]


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE stands in for a full disk")
def test_serve_on_a_full_disk_or_a_foreign_file_is_one_line_before_it_listens(tmp_path: Path) -> None:
    import resource
    import signal

    def small_disk() -> None:  # writes beyond 1000 bytes fail with EFBIG, as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))

    foreign = tmp_path / "notes.txt"
    foreign.write_text("not a database\n")
    env = {**os.environ, "GENREC_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    for db, limit, expected in (
        (tmp_path / "state.duckdb", small_disk, "disk is full"),
        (foreign, None, "not a DuckDB"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "genrec.cli.main", "serve", "--no-loop", "--port", "0", "--db", str(db)],
            preexec_fn=limit,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert proc.returncode == 2 and len(errors) == 1 and expected in errors[0], proc.stderr
        assert "Traceback" not in proc.stderr
    assert foreign.read_text() == "not a database\n"


def serve_fails(tmp_path: Path, *args: str) -> str:
    """Run `genrec serve` (its own process, store and home): it must stop before listening, exit 2, one error line."""
    env = {**os.environ, "GENREC_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "genrec.cli.main", "serve", "--no-loop", "--db", str(tmp_path / "state.duckdb")]
    proc = subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, timeout=120)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2 and len(errors) == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "listening on" not in proc.stderr, proc.stderr[-3000:]
    return errors[0]


def test_serve_on_a_taken_port_or_a_bad_host_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        error = serve_fails(tmp_path, "--port", str(port))
    assert f"--port {port}" in error and "in use" in error
    assert "--host 'not a host'" in serve_fails(tmp_path, "--host", "not a host", "--port", "0")


def test_serve_with_a_bad_dataset_or_model_is_one_line_before_it_listens(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"1 2 3\n2 \xff\xfe 4\n")
    not_a_model = tmp_path / "empty-folder"
    not_a_model.mkdir()
    cases = [
        (["--dataset", "nosuch"], "--dataset nosuch: unknown dataset"),
        (["--dataset", f"sequence:{bad}"], f"{bad}, line 2"),
        (["--dataset", f"sequence:{tmp_path / 'missing.txt'}"], "missing.txt"),
        (["--recommender", "nosuch"], "--recommender: unknown model 'nosuch'"),
        (["--model-dir", "/nonexistent"], "--model-dir /nonexistent: no such folder"),
        (["--model-dir", str(not_a_model)], "no meta.json"),
    ]
    for args, expected in cases:
        error = serve_fails(tmp_path, "--port", "0", *args)
        assert expected in error, (args, error)


def test_serve_with_a_damaged_model_or_one_of_another_catalog_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "seq.txt"
    data.write_text("".join(f"{u} {' '.join(str(1 + (u * 7 + j) % 12) for j in range(5))}\n" for u in range(1, 20)))
    env = {**os.environ, "GENREC_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    model = tmp_path / "pop"
    fit = [sys.executable, "-m", "genrec.cli.main", "fit", "popularity", "--data", f"sequence:{data}"]
    subprocess.run([*fit, "--out", str(model)], check=True, capture_output=True, env=env, timeout=300)
    error = serve_fails(
        tmp_path, "--port", "0", "--model-dir", str(model), "--opt", "n_users=30", "--opt", "n_items=20"
    )
    assert "trained on another catalog" in error
    (model / "state.npz").write_bytes(b"PK\x03\x04 truncated")
    error = serve_fails(tmp_path, "--port", "0", "--model-dir", str(model), "--dataset", f"sequence:{data}")
    assert f"--model-dir {model}: {model / 'state.npz'}: not a readable saved model state" in error
