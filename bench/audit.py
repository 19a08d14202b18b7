"""Issue 5's figures: the access trail with millions of events. Imported after
django.setup()."""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
import time
from typing import Any

from django.db import connection
from django.test import Client
from django.utils import timezone
from tqdm import tqdm

from access.models import ConfidentialityAcceptance, ConfidentialityRules, Team, User
from access.roles import Role
from audit import chain
from audit.services import event_record
from cases.models import Case, Survivor
from haven.references import new_reference
from tests.helpers import web_client

RNG = random.Random(5)  # noqa: S311  (synthetic data)
ACTIONS = [
    "case.view",
    "case.list",
    "identity.view",
    "encounter.list",
    "encounter.create",
    "case.search",
    "auth.login",
    "clinical.list",
]


def _line(label: str, value: str, target: str = "") -> None:
    print(f"{label:<58} {value:>18}  {target}")


def seed(total: int, batch: int = 50_000) -> tuple[list[str], list[str]]:
    """COPY ``total`` access events and their chain links, hashed exactly as the
    application hashes them, so verify_audit has a real chain to walk."""
    actors = [f"bench-staff-{i}" for i in range(2000)]
    references = [new_reference() for _ in range(100_000)]
    start_at = timezone.now() - dt.timedelta(days=365)
    step = dt.timedelta(days=365) / total
    prev = chain.GENESIS
    started = time.perf_counter()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for offset in tqdm(range(0, total, batch), desc="seeding access events", unit="batch"):
            count = min(batch, total - offset)
            events: list[tuple[Any, ...]] = []
            links: list[tuple[Any, ...]] = []
            for i in range(offset, offset + count):
                actor = RNG.randrange(len(actors))
                values: tuple[Any, ...] = (
                    start_at + step * i,
                    actor + 1,
                    actors[actor],
                    "caseworker",
                    RNG.choice(ACTIONS),
                    references[RNG.randrange(len(references))],
                    "allowed" if RNG.random() < 0.97 else "denied",
                    "assignment",
                    "10.0.0.1",
                    "Mozilla/5.0",
                    f"req-{i}",
                    {},
                )
                event_id = i + 1
                digest = chain.link_hash(prev, "event", event_id, values)
                events.append((event_id, *values[:-1], json.dumps(values[-1])))
                links.append((i + 1, "event", event_id, prev, digest))
                prev = digest
            with raw.copy(
                "COPY audit_accessevent (id, at, actor_id, actor_username, actor_role, action, "
                "case_reference, outcome, reason, ip, user_agent, request_id, detail) FROM STDIN"
            ) as copy:
                for event_row in events:
                    copy.write_row(event_row)
            with raw.copy(
                "COPY audit_chainlink (seq, kind, ref_id, prev_hash, hash) FROM STDIN"
            ) as copy:
                for link_row in links:
                    copy.write_row(link_row)
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('audit_accessevent', 'id'), %s)", [total]
        )
        cursor.execute("ANALYZE")
    _line(
        f"seeded {total:,} access events with their chain", f"{time.perf_counter() - started:.0f} s"
    )
    return actors, references


def _real_cases(references: list[str]) -> None:
    """The per-case report needs the case to exist (its existence is checked first)."""
    team = Team.objects.create(name="Bench audit", slug="bench-audit")
    owner = User.objects.create(username="bench-owner", role=Role.CASEWORKER, team=team)
    for reference in references:
        survivor = Survivor.with_new_key(reference)
        survivor.save()
        Case.objects.bulk_create_unlogged(
            [Case(survivor=survivor, team=team, risk_level="low", created_by=owner)]
        )


def _timed(client: Client, url: str) -> float:
    start = time.perf_counter()
    response = client.get(url, secure=True, HTTP_HOST="localhost")
    assert response.status_code == 200, (url, response.status_code)  # noqa: S101
    return time.perf_counter() - start


def measure(total: int, queries: int) -> None:
    actors, references = seed(total)
    dpo = User.objects.create(username="bench-dpo", role=Role.DPO)
    rules = ConfidentialityRules.objects.order_by("-version").first()
    if rules is not None:
        ConfidentialityAcceptance.objects.create(user=dpo, rules=rules)
    client = web_client(dpo)
    worker = User.objects.create(username="bench-reader", role=Role.CASEWORKER)

    def median_ms(urls: list[str]) -> float:
        _timed(client, urls[0])
        return statistics.median(_timed(client, u) for u in urls) * 1e3

    sample_refs = RNG.sample(references, queries)
    _real_cases(sample_refs)
    sample_actors = RNG.sample(actors, queries)
    by_case = median_ms([f"/audit/?case={r}" for r in sample_refs])
    by_actor = median_ms([f"/audit/?actor={a}" for a in sample_actors])
    report = median_ms([f"/audit/cases/{r}/" for r in sample_refs])
    _line(
        f"events page filtered by case, {total:,} events, median",
        f"{by_case:.1f} ms",
        "target < 200 ms",
    )
    _line("events page filtered by actor, median", f"{by_actor:.1f} ms", "target < 200 ms")
    _line("per-case access report, median", f"{report:.1f} ms", "target < 200 ms")

    costs = []
    for n in range(500):
        start = time.perf_counter()
        event_record(actor=worker, action="case.view", case_reference=sample_refs[n % queries])
        costs.append(time.perf_counter() - start)
    _line(
        "cost of one access event (insert + chain append), median",
        f"{statistics.median(costs) * 1e3:.2f} ms",
        "target < 2 ms",
    )

    start = time.perf_counter()
    verdict = chain.verify()
    elapsed = time.perf_counter() - start
    assert verdict.intact, verdict.describe()  # noqa: S101
    _line(
        f"verify_audit over {verdict.checked:,} entries",
        f"{verdict.checked / elapsed:,.0f}/s",
        "target >= 50,000/s",
    )
