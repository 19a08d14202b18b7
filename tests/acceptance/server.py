"""A Haven server started the way an operator would start one, for tests that know only
the contract (../shared/ARCHITECTURE.md) and talk HTTP.

Nothing here imports the project: the server is built with the commands of the contract
(``migrate``, ``add_staff``, ``issue_token``) run as subprocesses, on a fresh database
(PostgreSQL when ``DATABASE_URL`` points at one, else SQLite), with a keyring written in
the contract's minimal form, and served by gunicorn on a free port with production
settings.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "acceptance-passphrase-2026"

# username -> (role, team): one per role, and the relations the journeys need.
STAFF = {
    "cw": ("caseworker", "north"),
    "cw2": ("caseworker", "north"),
    "clin": ("clinician", "north"),
    "sup": ("supervisor", "north"),
    "sup-south": ("supervisor", "south"),
    "cw-south": ("caseworker", "south"),
    "dpo": ("dpo", None),
    "adm": ("admin", None),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _database(name: str, workdir: Path) -> tuple[str, Any]:
    """A fresh database URL and a function that drops it."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        path = workdir / "acceptance.sqlite3"
        return f"sqlite:///{path}", lambda: None
    import psycopg  # the database driver, not the project

    parts = urllib.parse.urlsplit(url)
    admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}")), drop


def gunicorn(
    cwd: Path, env: dict[str, str], *, port: int, workers: int, log_path: Path
) -> subprocess.Popen[bytes]:
    """gunicorn serving the checkout at ``cwd`` on 127.0.0.1:``port``, once it answers
    (its output in ``log_path``)."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603  (fixed arguments)
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--timeout",
                "120",
            ],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/schema/", timeout=5):  # noqa: S310
                return process
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    process.terminate()
    raise RuntimeError("gunicorn did not start:\n" + log_path.read_text()[-4000:])


@dataclass
class Server:
    url: str
    env: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    def manage(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout


def start(workdir: Path) -> tuple[Server, Any]:
    keyring = workdir / "keyring.json"
    keyring.write_text(
        json.dumps(
            {"active": "k1", "keys": {"k1": base64.b64encode(secrets.token_bytes(32)).decode()}}
        )
    )
    keyring.chmod(0o600)
    database_url, drop = _database(f"haven_acceptance_{os.getpid()}", workdir)
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "HAVEN_KEYRING_FILE": str(keyring),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback, for the test only
        "HAVEN_DEMO": "0",
        "DJANGO_DEBUG": "0",
        "HAVEN_LANGUAGES": "en,fr",
        # as in production: each worker sequences the log and runs the scheduled
        # check in its background thread (the default; docs/deployment.md)
        "HAVEN_AUDIT_SEQUENCER": "thread",
    }
    server = Server(url=f"http://127.0.0.1:{port}", env=env)
    server.manage("migrate", "--noinput", "-v", "0")
    for username, (role, team) in STAFF.items():
        args = ["add_staff", username, "--role", role, "--password-stdin"]
        if team:
            args += ["--team", team]
        server.manage(*args, stdin=PASSWORD + "\n")
        server.tokens[username] = server.manage("issue_token", username, "--days", "1").strip()
    server.log = workdir / "gunicorn.log"
    server.process = gunicorn(ROOT, env, port=port, workers=2, log_path=server.log)

    def stop() -> None:
        assert server.process is not None
        server.process.terminate()
        server.process.wait(timeout=30)
        drop()

    return server, stop


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="haven-acceptance-"))
