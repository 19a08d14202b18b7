"""Haven benchmarks: ``python -m bench [overhead|cipher|search|rotate|listing|audit|referral|
today|purge|statistics|subject|reads|peers|hsm|http|all] [options]``.

Runs against a scratch PostgreSQL database (``--database-url``, default
``postgres://postgres@127.0.0.1:5432/haven_bench``), which it drops and re-creates, with
a throwaway keyring. Prints one line per figure; docs/performance.md records a run.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

from bench import load  # imports nothing of Django: safe before django.setup()

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/haven_bench"


def _prepare_environment(database_url: str) -> Path:
    keydir = Path(tempfile.mkdtemp(prefix="haven-bench-"))
    keyring = keydir / "keyring.json"
    keyring.write_text(
        json.dumps(
            {
                "active": "k1",
                "keys": {"k1": base64.b64encode(secrets.token_bytes(32)).decode()},
            }
        )
    )
    keyring.chmod(0o600)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url,
            "HAVEN_KEYRING_FILE": str(keyring),
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
            "DJANGO_ALLOWED_HOSTS": "localhost",
            "HAVEN_DEMO": "0",
            "HAVEN_AUDIT_SEQUENCER": "off",  # the benchmarks sequence when they measure it
            "DJANGO_DEBUG": "0",
            # Sized for the 100k-survivor search benchmark (about six per digest).
            "HAVEN_BLIND_INDEX_BITS": "14",
        }
    )
    return keyring


def _recreate_database(database_url: str) -> None:
    import psycopg

    parts = urlparse(database_url)
    name = parts.path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise SystemExit("bench database name must be alphanumeric")
    admin = parts._replace(path="/postgres").geturl()
    if "django.db" in sys.modules:  # drop our own connection to it first
        from django.db import connections

        connections.close_all()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "which",
        nargs="*",
        help="any of: overhead cipher search rotate listing audit referral today purge "
        "statistics subject reads peers hsm http (default: all)",
    )
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--encounters", type=int, default=10_000)
    parser.add_argument("--survivors", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--cases", type=int, default=100_000, help="for listing")
    parser.add_argument("--events", type=int, default=5_000_000, help="for audit")
    parser.add_argument(
        "--proof-leaves",
        type=int,
        default=10_000_000,
        help="for audit: grow the log to this size for the proof figures",
    )
    parser.add_argument(
        "--before",
        type=Path,
        help="for reads: a checkout of the commit before the change, measured the same way",
    )
    parser.add_argument("--rows", type=int, default=10_000, help="for peers and hsm")
    parser.add_argument(
        "--rounds", type=int, default=5, help="for peers and hsm: medians over rounds"
    )
    parser.add_argument(
        "--scale", type=int, default=100_000, help="for peers: survivors of the memory figure"
    )
    parser.add_argument("--seconds", type=int, default=15, help="for reads: per client count")
    args = parser.parse_args(argv)
    everything = {
        "overhead",
        "cipher",
        "search",
        "rotate",
        "listing",
        "audit",
        "referral",
        "today",
        "purge",
        "statistics",
        "subject",
        "reads",
        "peers",
        "hsm",
        "http",
    }
    which = everything if not args.which or "all" in args.which else set(args.which)
    if which - everything:
        parser.error(f"unknown benchmark: {', '.join(sorted(which - everything))}")

    _prepare_environment(args.database_url)
    _recreate_database(args.database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)  # pages render with the manifest
    from bench import encryption

    print(f"# Haven benchmarks  {time.strftime('%Y-%m-%d %H:%M')}  python {sys.version.split()[0]}")
    if "peers" in which:
        from bench import peers

        peers.measure(args.rows, 2_000, args.rounds, args.scale)
        _recreate_database(args.database_url)
        call_command("migrate", verbosity=0)
    if "hsm" in which:
        from bench import hsm

        hsm.measure(args.rows, 2_000, args.rounds)
    if "cipher" in which:
        encryption.cipher()
    if "overhead" in which:
        encryption.overhead(args.encounters)
    if "search" in which or "rotate" in which:
        encryption.seed_survivors(args.survivors)
    if "search" in which:
        encryption.search(args.queries)
    if "rotate" in which:
        encryption.rotate(args.survivors)
    if "listing" in which:
        if "search" in which or "rotate" in which:
            _recreate_database(args.database_url)  # a fresh database of its own
            call_command("migrate", verbosity=0)
        from bench import listing

        listing.listing(args.cases, args.queries)
    if "today" in which:
        if which & {"search", "rotate", "listing"}:
            _recreate_database(args.database_url)
            call_command("migrate", verbosity=0)
        from bench import today

        today.measure(args.cases, args.queries)
    if "referral" in which:
        from bench import referral

        referral.measure()
    if which & {"purge", "statistics", "subject"}:
        from bench import aftercare

        for name in ("subject", "statistics", "purge"):
            if name not in which:
                continue
            _recreate_database(args.database_url)
            call_command("migrate", verbosity=0)
            if name == "subject":
                aftercare.package()
            elif name == "statistics":
                aftercare.statistics_speed(args.cases, min(args.queries, 20))
            else:
                aftercare.purge(args.cases)
    if "audit" in which:
        _recreate_database(args.database_url)
        call_command("migrate", verbosity=0)
        from bench import audit

        audit.measure(args.events, min(args.queries, 20), proof_leaves=args.proof_leaves)
    if "reads" in which:

        def fresh() -> None:
            _recreate_database(args.database_url)

        load.writes(args.database_url, before=args.before, seconds=args.seconds, fresh=fresh)
        load.reads(args.database_url, before=args.before, seconds=args.seconds, fresh=fresh)
    if "http" in which:
        _recreate_database(args.database_url)
        load.http(args.database_url, seconds=args.seconds)


if __name__ == "__main__":
    main()
