"""Issue 4's figure: listing a caseworker's readable cases with 100,000 cases and
300,000 grants in the database. Imported after django.setup()."""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time

from django.contrib.auth.models import Permission
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient
from tqdm import tqdm

from access.models import CaseGrant, ConfidentialityAcceptance, ConfidentialityRules, Team, User
from access.roles import Role
from access.services import token_issue
from bench.references import distinct_references
from cases import selectors
from cases.models import Case, Encounter, Survivor

RNG = random.Random(11)  # noqa: S311  (synthetic data)
TEAMS = 10
WORKERS_PER_TEAM = 100


def _line(label: str, value: str, target: str = "") -> None:
    print(f"{label:<58} {value:>18}  {target}")


def seed(cases: int, grants_per_case: int = 3, batch: int = 2000) -> list[User]:
    permission = Permission.objects.get(codename="view_case")
    teams = [Team.objects.create(name=f"Bench team {i}", slug=f"bench-{i}") for i in range(TEAMS)]
    workers = User.objects.bulk_create(
        User(username=f"bench-cw-{t.pk}-{i}", role=Role.CASEWORKER, team=t)
        for t in teams
        for i in range(WORKERS_PER_TEAM)
    )
    by_team: dict[int, list[User]] = {}
    for worker in workers:
        by_team.setdefault(worker.team_id or 0, []).append(worker)
    now = timezone.now()
    references = distinct_references()
    start = time.perf_counter()
    for offset in tqdm(range(0, cases, batch), desc="seeding cases and grants", unit="batch"):
        survivors, case_rows, grants = [], [], []
        for _ in range(min(batch, cases - offset)):
            survivor = Survivor.with_new_key(next(references))
            team = RNG.choice(teams)
            members = by_team[team.pk]
            owner = RNG.choice(members)
            case = Case(
                survivor=survivor,
                team=team,
                risk_level=RNG.choice(["low", "medium", "high"]),
                created_by=owner,
                status="open" if RNG.random() < 0.8 else "closed",
            )
            survivors.append(survivor)
            case_rows.append(case)
            holders = RNG.sample(members, grants_per_case)
            for n, holder in enumerate(holders):
                ended = RNG.random() < 0.3 and n > 0  # some grants expired or revoked
                grants.append(
                    CaseGrant(
                        content_object=case,
                        user=holder,
                        permission=permission,
                        kind="assignment" if n == 0 else "grant",
                        reason="bench",
                        expires_at=now - dt.timedelta(days=1) if ended else None,
                    )
                )
        with transaction.atomic():
            Survivor.objects.bulk_create(survivors)
            Case.objects.bulk_create_unlogged(case_rows)
            CaseGrant.objects.bulk_create(grants)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    _line(
        f"seeded {cases} cases, {cases * grants_per_case} grants, {len(workers)} workers",
        f"{time.perf_counter() - start:.1f} s",
    )
    return workers


def _with_encounters(worker: User) -> None:
    """Give the measured worker's cases a realistic timeline (the list shows the last
    encounter and the next follow-up)."""
    cases = list(selectors.case_list_for(user=worker).select_related("survivor"))
    now = timezone.now()
    rows = []
    for case in cases:
        for n in range(3):
            rows.append(
                Encounter(
                    case=case,
                    occurred_at=now - dt.timedelta(days=10 * n + 1),
                    kind="follow_up",
                    author=worker,
                    notes="bench note",
                    follow_up_date=(now + dt.timedelta(days=7 - n)).date(),
                )
            )
    Encounter.objects.bulk_create_unlogged(rows, batch_size=1000)


def listing(cases: int, queries: int) -> None:
    workers = seed(cases)
    worker = RNG.choice(workers)
    _with_encounters(worker)
    supervisor = User.objects.create(
        username="bench-supervisor", role=Role.SUPERVISOR, team_id=worker.team_id
    )
    _with_encounters(supervisor)
    total_cases, total_grants = Case.objects.count(), CaseGrant.objects.count()
    _line(f"{total_cases} cases", f"{total_grants} grants")
    _measure(worker, "one caseworker", queries)
    _measure(supervisor, "their team's supervisor", queries)


def _measure(user: User, who: str, queries: int) -> None:
    rules = ConfidentialityRules.objects.order_by("-version").first()
    if rules is not None:
        ConfidentialityAcceptance.objects.create(user=user, rules=rules)
    readable = selectors.case_list_for(user=user).count()
    page_size = 50

    def selector_page() -> float:
        start = time.perf_counter()
        query = selectors.case_list_for(user=user)
        query.count()
        list(query[:page_size])
        return time.perf_counter() - start

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_issue(user=user, days=1)}")

    def api_page() -> float:
        start = time.perf_counter()
        response = client.get("/api/v1/cases/", HTTP_HOST="localhost", secure=True)
        assert response.status_code == 200, response.status_code  # noqa: S101
        return time.perf_counter() - start

    selector_page()
    api_page()
    selector_times = [selector_page() for _ in range(queries)]
    api_times = [api_page() for _ in range(queries)]
    _line(f"{who}: {readable} readable cases", "")
    _line(
        "  selector: count + first page of 50, median",
        f"{statistics.median(selector_times) * 1e3:.2f} ms",
        "target < 50 ms",
    )
    _line(
        "  GET /api/v1/cases/ (token auth, policy, access event, JSON), median",
        f"{statistics.median(api_times) * 1e3:.2f} ms",
        "target < 50 ms",
    )
    _line(
        "  GET /api/v1/cases/, p95",
        f"{sorted(api_times)[int(len(api_times) * 0.95) - 1] * 1e3:.2f} ms",
    )
