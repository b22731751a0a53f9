"""`genrec keys` and `genrec serve`'s argument errors: one line naming the problem, exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
    code, out = run("serve", "--log-level", "loud")
    assert code == 2 and "--log-level" in out
    code, out = run("keys", "list", "--db", "postgresql://nobody@127.0.0.1:1/none")
    assert code == 2 and "cannot reach PostgreSQL" in out and "Traceback" not in out


def test_keys_while_a_server_holds_the_store_say_what_to_do(tmp_path: Path) -> None:
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
        assert code == 2 and "in use by another process" in out and "admin page" in out
    finally:
        holder.kill()
        holder.wait()
