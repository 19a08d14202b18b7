"""Issue 11's figure: My day (what is due over the cases a user reads) with 100,000
cases in the database, each with a plan goal, a service and some open tasks, and a
follow-up date on most. Measured for a caseworker (their own cases) and for a
supervisor (their whole team, a tenth of the database). Imported after django.setup()."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable

from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient
from tqdm import tqdm

from access.models import ConfidentialityAcceptance, ConfidentialityRules, User
from access.roles import Role
from access.services import token_issue
from bench.listing import RNG, seed
from cases import selectors
from cases.models import Case, CaseService, CaseTask, PlanGoal


def _line(label: str, value: str, target: str = "") -> None:
    print(f"{label:<58} {value:>18}  {target}")


def _care_work(batch: int = 2000) -> int:
    """A goal, a service and (for a third of the cases) an open task per case, due
    between a month ago and two months ahead; follow-ups on four cases in five."""
    today = timezone.localdate()

    def day() -> dt.date:
        return today + dt.timedelta(days=RNG.randint(-30, 60))

    ids = list(Case.objects.values_list("pk", "created_by_id"))
    made = 0
    for offset in tqdm(range(0, len(ids), batch), desc="seeding care work", unit="batch"):
        chunk = ids[offset : offset + batch]
        cases = Case.objects.select_related("survivor").in_bulk([pk for pk, _ in chunk])
        goals, services, tasks = [], [], []
        for pk, author in chunk:
            case = cases[pk]
            goals.append(
                PlanGoal(
                    case=case,
                    goal="bench goal",
                    agreed_on=today,
                    review_on=day(),
                    created_by_id=author,
                )
            )
            services.append(
                CaseService(
                    case=case,
                    type="medical",
                    status=RNG.choice(["needed", "referred", "provided"]),
                    due_on=day(),
                    created_by_id=author,
                )
            )
            if RNG.random() < 0.33:
                tasks.append(
                    CaseTask(case=case, title="bench task", due_on=day(), created_by_id=author)
                )
        with transaction.atomic():
            PlanGoal.objects.bulk_create_unlogged(goals)
            CaseService.objects.bulk_create_unlogged(services)
            CaseTask.objects.bulk_create_unlogged(tasks)
        made += len(goals) + len(services) + len(tasks)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cases_case SET follow_up_on = CURRENT_DATE + (random() * 90 - 30)::int "
            "WHERE random() < 0.8"
        )
        cursor.execute("ANALYZE")
    return made


def _median_ms(times: list[float]) -> str:
    return f"{statistics.median(times) * 1e3:.1f} ms"


def _p95_ms(times: list[float]) -> str:
    return f"{sorted(times)[max(int(len(times) * 0.95) - 1, 0)] * 1e3:.1f} ms"


def _measure(label: str, user: User, queries: int) -> None:
    rules = ConfidentialityRules.objects.order_by("-version").first()
    if rules is not None:
        ConfidentialityAcceptance.objects.get_or_create(user=user, rules=rules)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_issue(user=user, days=1)}")

    def timed(call: Callable[[], object]) -> float:
        start = time.perf_counter()
        call()
        return time.perf_counter() - start

    def api(params: dict[str, str]) -> None:
        response = client.get("/api/v1/tasks/", params, HTTP_HOST="localhost", secure=True)
        assert response.status_code == 200, response.status_code  # noqa: S101

    items = selectors.due_for(user=user)
    today = selectors.due_for(user=user, when="today")
    readable = selectors.case_list_for(user=user).count()
    _line(f"{label}: {readable} readable cases", f"{len(items)} items due", f"({len(today)} today)")
    calls: list[tuple[str, Callable[[], object]]] = [
        ("  selector due_for (overdue + week), median", lambda: selectors.due_for(user=user)),
        (
            "  selector due_for sorted by risk, median",
            lambda: selectors.due_for(user=user, sort="risk"),
        ),
        ("  GET /api/v1/tasks/ first page of 50, median", lambda: api({})),
        ("  GET /api/v1/tasks/?when=today, median", lambda: api({"when": "today"})),
    ]
    for name, call in calls:
        call()
        times = [timed(call) for _ in range(queries)]
        _line(name, _median_ms(times), f"p95 {_p95_ms(times)}")


def measure(cases: int, queries: int) -> None:
    workers = seed(cases)
    start = time.perf_counter()
    made = _care_work()
    _line(f"seeded {made} goals, services and tasks", f"{time.perf_counter() - start:.1f} s")
    worker = RNG.choice(workers)
    team = worker.team
    supervisor = User.objects.create(username="bench-supervisor", role=Role.SUPERVISOR, team=team)
    _measure("caseworker", worker, queries)
    _measure("supervisor (whole team)", supervisor, max(queries // 5, 3))
