"""Issue 5's and 15's figures: the audit log with millions of events (sequencing,
proofs, verification, the DPO's pages). Imported after django.setup()."""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
from typing import Any

from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient
from tqdm import tqdm

from access import ledger
from access.models import ConfidentialityAcceptance, ConfidentialityRules, Team, User
from access.roles import Role
from access.services import token_issue
from audit import log, partitions
from audit.models import AnomalyScan
from audit.services import event_record
from bench.references import distinct_references
from cases.models import Case, Survivor
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


ACTORS = [f"bench-staff-{i}" for i in range(2000)]


def seed(total: int, references: list[str], batch: int = 50_000) -> None:
    """COPY ``total`` access events and their queue rows, after any already there, then
    let the sequencer put them into the log (timed: that is the sequencing throughput)."""
    actors = ACTORS
    start_at = timezone.now() - dt.timedelta(days=365)
    step = dt.timedelta(days=365) / total
    started = time.perf_counter()
    partitions.ensure(since=start_at.date())  # the year's months, as they were made
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM audit_accessevent")
        first = cursor.fetchone()[0]
        raw = cursor.cursor
        for offset in tqdm(range(0, total, batch), desc="seeding access events", unit="batch"):
            count = min(batch, total - offset)
            events: list[tuple[Any, ...]] = []
            for i in range(first + offset, first + offset + count):
                actor = RNG.randrange(len(actors))
                events.append(
                    (
                        i + 1,
                        start_at + step * (i - first),
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
                        "{}",
                    )
                )
            with raw.copy(
                "COPY audit_accessevent (id, at, actor_id, actor_username, actor_role, action, "
                "case_reference, outcome, reason, ip, user_agent, request_id, detail) FROM STDIN"
            ) as copy:
                for event_row in events:
                    copy.write_row(event_row)
            with raw.copy("COPY audit_pendingleaf (kind, ref_id) FROM STDIN") as copy:
                for event_row in events:
                    copy.write_row(("event", event_row[0]))
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('audit_accessevent', 'id'), %s)",
            [first + total],
        )
        cursor.execute("ANALYZE")
    _line(f"seeded {total:,} access events", f"{time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    with tqdm(total=total, desc="sequencing", unit="leaf") as bar:
        result = ledger.sequence_now(progress=bar.update)
    elapsed = time.perf_counter() - started
    _line(
        f"sequencing {result.added:,} leaves (leaf hashes, nodes, signed heads)",
        f"{result.added / elapsed:,.0f}/s",
        "target >= 20,000/s",
    )
    with connection.cursor() as cursor:
        # What autovacuum does after such a burst (it is off on the CI machine's
        # PostgreSQL): the emptied queue is vacuumed, so that its millions of dead rows
        # are neither scanned nor kept, and the statistics are fresh.
        cursor.execute("VACUUM ANALYZE audit_pendingleaf")
        cursor.execute("ANALYZE")
    # The anomaly rules run on a schedule (audit_scan) and would have read these events
    # as they came; the pages measured below would otherwise scan the synthetic year.
    AnomalyScan.objects.update_or_create(pk=1, defaults={"last_event_id": first + total})


def proofs(samples: int = 200) -> None:
    """Inclusion and consistency proofs at the log's full size, from the database."""
    size = log.tree_size()
    inclusion, consistency = [], []
    for _ in range(samples):
        leaf = RNG.randrange(size)
        start = time.perf_counter()
        log.inclusion_proof(leaf, size)
        inclusion.append(time.perf_counter() - start)
        first = RNG.randrange(1, size)
        start = time.perf_counter()
        log.consistency_proof(first, size)
        consistency.append(time.perf_counter() - start)
    _line(
        f"inclusion proof at {size:,} leaves, median (p99)",
        f"{statistics.median(inclusion) * 1e3:.2f} ms "
        f"({statistics.quantiles(inclusion, n=100)[98] * 1e3:.2f})",
        "target < 10 ms",
    )
    _line(
        f"consistency proof at {size:,} leaves, median (p99)",
        f"{statistics.median(consistency) * 1e3:.2f} ms "
        f"({statistics.quantiles(consistency, n=100)[98] * 1e3:.2f})",
        "target < 10 ms",
    )


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


def measure(total: int, queries: int, *, proof_leaves: int) -> None:
    draw = distinct_references()
    references = [next(draw) for _ in range(100_000)]
    actors = ACTORS
    seed(total, references)
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
    desk = median_ms(["/audit/"] * queries)
    _line(
        "events page unfiltered with the 30-day chart (rollup), median",
        f"{desk:.1f} ms",
        "target < 50 ms",
    )
    token = APIClient()
    token.credentials(HTTP_AUTHORIZATION=f"Bearer {token_issue(user=dpo, days=1)}")
    listed = []
    for url in ["/api/v1/audit/events/"] * (queries + 1):
        start = time.perf_counter()
        answer = token.get(url, secure=True, HTTP_HOST="localhost")
        listed.append(time.perf_counter() - start)
        assert answer.status_code == 200 and answer.json()["count"] >= total  # noqa: S101
    _line(
        "GET /api/v1/audit/events/ unfiltered, exact count (rollup), median",
        f"{statistics.median(listed[1:]) * 1e3:.1f} ms",
        "target < 50 ms",
    )
    # One month half a year back: the query reads that month's partition only.
    month = (timezone.now() - dt.timedelta(days=182)).date().replace(day=1)
    until = partitions.next_month(month) - dt.timedelta(days=1)
    old = []
    for _ in range(queries + 1):
        start = time.perf_counter()
        answer = token.get(
            f"/api/v1/audit/events/?since={month}&until={until}",
            secure=True,
            HTTP_HOST="localhost",
        )
        old.append(time.perf_counter() - start)
        assert answer.status_code == 200, answer.content  # noqa: S101
    _line(
        f"GET /api/v1/audit/events/ of one month ({month:%Y-%m}, partition), median",
        f"{statistics.median(old[1:]) * 1e3:.1f} ms",
        f"{answer.json()['count']:,} events that month",
    )

    costs = []
    for n in range(2000):
        with transaction.atomic():  # as in a request: the event is written in its transaction
            start = time.perf_counter()
            event_record(actor=worker, action="case.view", case_reference=sample_refs[n % queries])
            costs.append(time.perf_counter() - start)
    _line(
        "cost of one access event in a request (insert + queue), median",
        f"{statistics.median(costs) * 1e3:.3f} ms",
        "target < 0.5 ms",
    )
    start = time.perf_counter()
    verdict = ledger.verify()
    elapsed = time.perf_counter() - start
    assert verdict.intact, verdict.describe()  # noqa: S101
    _line(
        f"verify_audit over {verdict.checked:,} leaves (tree, nodes, every signed head)",
        f"{verdict.checked / elapsed:,.0f}/s",
        "target >= 100,000/s",
    )
    proofs()
    if proof_leaves > log.tree_size():
        seed(proof_leaves - log.tree_size(), references)  # the log grows by as much again
        proofs()
