"""HTTP load on a real server: gunicorn with 4 workers on loopback, production settings,
driven by Debian's ``wrk`` (``apt install wrk``) with 1, 4 and 16 concurrent clients.

The server is built only with the contract's commands (``migrate``, ``add_staff``,
``issue_token``) and API, so the same measurement runs against any checkout of Haven
(``--before``): that is how the figures before a change are taken, from a worktree of
the commit before it. Imports nothing of the project: gunicorn is started the way the
black-box acceptance tests start it (``tests.acceptance.server``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg  # the database driver, not the project

from tests.acceptance.server import free_port, gunicorn

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = (1, 4, 16)


def _line(label: str, value: str, target: str = "") -> None:
    print(f"{label:<58} {value:>18}  {target}", flush=True)


@dataclass
class Server:
    url: str
    env: dict[str, str]
    app_dir: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def manage(self, *args: str) -> str:
        result = subprocess.run(  # noqa: S603 (fixed arguments)
            [sys.executable, "manage.py", *args],
            cwd=self.app_dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-2000:]}")
        return result.stdout

    def call(self, method: str, path: str, user: str, body: Any = None) -> Any:
        request = urllib.request.Request(  # noqa: S310 (loopback)
            self.url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={
                "Authorization": f"Bearer {self.tokens[user]}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return json.loads(response.read() or b"null")


@contextlib.contextmanager
def serve(app_dir: Path, database_url: str, *, workers: int = 4) -> Iterator[Server]:
    """Migrate ``database_url`` with ``app_dir``'s code and serve it with gunicorn."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback, for the benchmark only
        "HAVEN_AUDIT_SEQUENCER": "thread",  # as in production: each worker sequences
        "HAVEN_LOG_LEVEL": "ERROR",
    }
    server = Server(url=f"http://127.0.0.1:{port}", env=env, app_dir=app_dir)
    server.manage("migrate", "--noinput", "-v", "0")
    log_path = Path(tempfile.mkdtemp(prefix="haven-bench-http-")) / "gunicorn.log"
    process = gunicorn(app_dir, env, port=port, workers=workers, log_path=log_path)
    try:
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)


def staff(server: Server, username: str, role: str, team: str) -> None:
    server.manage("add_staff", username, "--role", role, "--team", team)
    server.tokens[username] = server.manage("issue_token", username, "--days", "1").strip()
    version = server.call("GET", "/api/v1/confidentiality/", username)["version"]
    server.call("POST", "/api/v1/confidentiality/accept/", username, {"version": version})


@dataclass(frozen=True)
class Load:
    clients: int
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    active: float = 0.0  # database sessions running a statement, on average
    waiting: float = 0.0  # of which waiting for a lock


class LockWatch:
    """Samples ``pg_stat_activity`` every 20 ms while a load runs: how many of the
    server's sessions are active, and how many of those wait for a lock (a row lock
    every request takes shows here as sessions queued behind it)."""

    QUERY = (
        "SELECT count(*) FILTER (WHERE state = 'active'), "
        "count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock') "
        "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.samples: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while not self._stop.wait(0.02):
                row = conn.execute(self.QUERY).fetchone()
                if row is not None:
                    self.samples.append((int(row[0]), int(row[1])))

    def __enter__(self) -> LockWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def means(self) -> tuple[float, float]:
        if not self.samples:
            return 0.0, 0.0
        n = len(self.samples)
        return sum(a for a, _ in self.samples) / n, sum(w for _, w in self.samples) / n


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(url: str, token: str, clients: int, seconds: int, script: Path | None = None) -> Load:
    """One ``wrk`` run: ``clients`` connections, each sending its next request when the
    last is answered (a closed loop, as users at their desks). A Lua ``script`` chooses
    each request (``requests_script``)."""
    binary = shutil.which("wrk")
    if binary is None:
        raise SystemExit("the HTTP benchmarks need wrk: apt install wrk")
    extra = [] if script is None else ["-s", str(script)]
    result = subprocess.run(  # noqa: S603 (fixed arguments)
        [
            binary,
            f"-t{min(clients, 4)}",
            f"-c{clients}",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"Authorization: Bearer {token}",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    out = result.stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return Load(clients, rps, _ms(latency["50"]), _ms(latency["99"]), requests, errors)


def concurrent_reads(
    database_url: str, *, app_dir: Path = ROOT, seconds: int = 15, encounters: int = 25
) -> list[Load]:
    """``GET /api/v1/cases/{reference}/encounters/`` (each request reads survivor data and
    so writes an access event) at 1, 4 and 16 clients."""
    with serve(app_dir, database_url) as server:
        staff(server, "bench-reader", "caseworker", "bench")
        reference = case_with_encounters(server, "bench-reader", 0, encounters)
        path = f"/api/v1/cases/{reference}/encounters/"
        token = server.tokens["bench-reader"]
        wrk(server.url + path, token, 4, 3)  # warm every worker
        results = []
        for clients in CLIENTS:
            with LockWatch(database_url) as watch:
                load = wrk(server.url + path, token, clients, seconds)
            active, waiting = watch.means()
            load = dataclasses.replace(load, active=active, waiting=waiting)
            results.append(load)
            _line(
                f"  {clients:>2} clients: req/s, p50, p99 ({load.requests:,} requests)",
                f"{load.rps:,.0f}/s {load.p50_ms:.1f} {load.p99_ms:.1f} ms",
                f"{load.errors} errors; {waiting:.2f} of {active:.2f} active sessions "
                "wait for a lock",
            )
        return results


def requests_script(requests: list[tuple[str, str, Any]]) -> Path:
    """A wrk Lua script sending ``requests`` (method, path, JSON body or None) in turn,
    each connection's thread from its own place in the list."""
    rows = []
    for method, path, body in requests:
        payload = "nil" if body is None else _lua_string(json.dumps(body))
        rows.append(f"  {{{_lua_string(method)}, {_lua_string(path)}, {payload}}},")
    script = "\n".join(
        [
            "local requests = {",
            *rows,
            "}",
            "local json = {['Content-Type'] = 'application/json'}",
            "local i = 0",
            "setup = function(thread) thread:set('offset', math.random(#requests)) end",
            # wrk.format takes the given headers instead of wrk.headers (the -H ones):
            # a POST's headers are the -H ones and its content type.
            "init = function()",
            "  i = tonumber(offset) or 0",
            "  for name, value in pairs(wrk.headers) do json[name] = value end",
            "end",
            "request = function()",
            "  i = i + 1",
            "  local r = requests[(i % #requests) + 1]",
            "  return wrk.format(r[1], r[2], r[3] and json or nil, r[3])",
            "end",
            "",
        ]
    )
    target = Path(tempfile.mkdtemp(prefix="haven-wrk-")) / "requests.lua"
    target.write_text(script)
    return target


def _lua_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def encounter_body(number: int) -> dict[str, Any]:
    return {
        "occurred_at": f"2026-01-{1 + number % 28:02d}T10:00:00Z",
        "kind": "follow_up",
        "notes": f"benchmark encounter {number} " + "x" * 200,
        "location": "office",
    }


ENCOUNTER = encounter_body(0)


def case_with_encounters(server: Server, user: str, number: int, encounters: int) -> str:
    """A case opened through the API with ``encounters`` encounters; its reference."""
    case = server.call(
        "POST",
        "/api/v1/cases/",
        user,
        {
            "summary": f"benchmark case {number}",
            "risk_level": "low",
            "trafficking_types": ["labour"],
        },
    )
    reference: str = case["reference"]
    for n in range(encounters):
        server.call("POST", f"/api/v1/cases/{reference}/encounters/", user, encounter_body(n))
    return reference


def http(database_url: str, *, seconds: int, cases: int = 20, encounters: int = 10) -> None:
    """Req/s, p50 and p99 of the caseworker's everyday requests on a real server
    (gunicorn, 4 workers, production settings, the audit sequencer running) at 1, 4 and
    16 clients: case list, case detail, encounter list, encounter create and a mix.
    Each scenario spreads its requests over ``cases`` cases, as a team does."""
    with serve(ROOT, database_url) as server:
        staff(server, "bench-http", "caseworker", "bench")
        references = [
            case_with_encounters(server, "bench-http", number, encounters)
            for number in range(cases)
        ]
        lists = [("GET", "/api/v1/cases/", None)]
        details = [("GET", f"/api/v1/cases/{r}/", None) for r in references]
        timelines = [("GET", f"/api/v1/cases/{r}/encounters/", None) for r in references]
        creates = [("POST", f"/api/v1/cases/{r}/encounters/", ENCOUNTER) for r in references]
        # A working day: mostly reading, one write in ten.
        mix = [
            *lists * 5,
            *details[:10],
            *timelines[:10],
            *creates[:3],
        ]
        scenarios: dict[str, list[tuple[str, str, Any]]] = {
            "case list": lists,
            "case detail": details,
            "encounter list": timelines,
            "encounter create": creates,
            "mix (list, detail, timeline; 1 write in 10)": mix,
        }
        token = server.tokens["bench-http"]
        wrk(server.url + "/", token, 4, 3, requests_script(timelines))  # warm every worker
        for name, requests in scenarios.items():
            script = requests_script(requests)
            _line(f"HTTP {name}", "req/s p50 p99 ms")
            for clients in CLIENTS:
                load = wrk(server.url + "/", token, clients, seconds, script)
                _line(
                    f"  {clients:>2} clients ({load.requests:,} requests)",
                    f"{load.rps:,.0f}/s {load.p50_ms:.1f} {load.p99_ms:.1f}",
                    f"{load.errors} errors",
                )


# Run in a checkout's own directory, so that it measures that checkout's code: append
# access events, each in its own transaction as a request does, for a fixed time.
_APPEND_WORKER = """
import json, os, statistics, sys, time
import django
django.setup()
from django.db import transaction
from access.models import User
from audit.services import event_record
user = User.objects.get(username="bench-writer")
seconds = float(sys.argv[1])
for _ in range(20):
    with transaction.atomic():
        event_record(actor=user, action="case.view", case_reference="HV-BNCH-0001")
latencies = []
start = time.perf_counter()
while time.perf_counter() - start < seconds:
    began = time.perf_counter()
    with transaction.atomic():
        event_record(actor=user, action="case.view", case_reference="HV-BNCH-0001")
    latencies.append(time.perf_counter() - began)
print(json.dumps(latencies))
"""


def appends(database_url: str, *, app_dir: Path, writers: int, seconds: float) -> Load:
    """``writers`` processes appending access events at once, for ``seconds``."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "HAVEN_AUDIT_SEQUENCER": "off",  # the queue grows; sequencing is measured apart
    }
    processes = [
        subprocess.Popen(  # noqa: S603 (fixed arguments)
            [sys.executable, "-c", _APPEND_WORKER, str(seconds)],
            cwd=app_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(writers)
    ]
    latencies: list[float] = []
    for process in processes:
        out, err = process.communicate(timeout=seconds + 120)
        if process.returncode != 0:
            raise RuntimeError(f"append worker failed:\n{err[-2000:]}")
        latencies += json.loads(out)
    latencies.sort()
    return Load(
        clients=writers,
        rps=len(latencies) / seconds,
        p50_ms=latencies[len(latencies) // 2] * 1e3,
        p99_ms=latencies[int(len(latencies) * 0.99)] * 1e3,
        requests=len(latencies),
        errors=0,
    )


def writes(
    database_url: str, *, before: Path | None, seconds: float, fresh: Callable[[], None]
) -> None:
    """Access events appended by 1, 4 and 16 processes at once, before and after: the
    figure the issue quotes (appends flat at about 600/s under the chain-head lock)."""
    runs = [("after (this checkout)", ROOT)]
    if before is not None:
        runs.insert(0, (f"before ({before})", before))
    for label, app_dir in runs:
        fresh()
        server = Server(url="", env={**os.environ, "DATABASE_URL": database_url}, app_dir=app_dir)
        server.manage("migrate", "--noinput", "-v", "0")
        server.manage("add_staff", "bench-writer", "--role", "caseworker", "--team", "bench")
        _line(f"access events appended by concurrent writers, {label}", "")
        for writers in CLIENTS:
            load = appends(database_url, app_dir=app_dir, writers=writers, seconds=seconds)
            _line(
                f"  {writers:>2} writers: appends/s, p50, p99",
                f"{load.rps:,.0f}/s {load.p50_ms:.2f} {load.p99_ms:.2f} ms",
            )


def reads(
    database_url: str, *, before: Path | None, seconds: int, fresh: Callable[[], None]
) -> None:
    """The concurrent-reads figure of issue 15, after (this checkout) and, given a
    checkout of the commit before, before; each on a fresh database."""
    runs = [("after (this checkout)", ROOT)]
    if before is not None:
        runs.insert(0, (f"before ({before})", before))
    for label, app_dir in runs:
        fresh()
        _line(f"encounter list under load, {label}", "")
        results = concurrent_reads(database_url, app_dir=app_dir, seconds=seconds)
        single, many = results[0], results[-1]
        _line(
            "  p99 at 16 clients / p99 at 1 client",
            f"{many.p99_ms / single.p99_ms:.2f}x",
            "target < 3x",
        )
        _line("  req/s at 16 clients / at 1 client", f"{many.rps / single.rps:.2f}x")
