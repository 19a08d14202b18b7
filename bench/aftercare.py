"""Issue 12's figures: ``purge_expired`` over 100,000 closed cases past retention, the
statistics at 100,000 cases, and a survivor's access package for a case with 200
encounters and 5,000 access events. Imported after django.setup()."""

from __future__ import annotations

import datetime as dt
import resource
import statistics
import time
import tracemalloc

from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from access.models import User
from access.roles import Role
from audit.services import event_record
from bench.listing import RNG, seed
from cases.models import Case, Consent, Encounter, StatisticsFacet, TraffickingType
from cases.services import case_open, purge_expired, statistics_table
from cases.subject_access import Holdings


def _line(label: str, value: str, target: str = "") -> None:
    print(f"{label:<58} {value:>18}  {target}")


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _encounters(batch: int = 2000) -> int:
    """One encounter per case (sealed under the case's key), so that a purge deletes
    content rows and not only the case."""
    ids = list(Case.objects.values_list("pk", "created_by_id"))
    now = timezone.now()
    made = 0
    for offset in tqdm(range(0, len(ids), batch), desc="seeding encounters", unit="batch"):
        chunk = ids[offset : offset + batch]
        cases = Case.objects.select_related("survivor").in_bulk([pk for pk, _ in chunk])
        rows = [
            Encounter(
                case=cases[pk],
                occurred_at=now - dt.timedelta(days=RNG.randint(1, 700)),
                kind=RNG.choice(["intake", "follow_up", "medical", "counselling", "phone"]),
                author_id=author,
                notes="bench note",
            )
            for pk, author in chunk
        ]
        Encounter.objects.bulk_create_unlogged(rows)
        made += len(rows)
    return made


def purge(cases: int, batch: int = 1000) -> None:
    seed(cases)
    _encounters()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cases_case SET status = 'closed', closed_at = now() - interval '7 years', "
            "retention_until = CURRENT_DATE - 1"
        )
        cursor.execute("ANALYZE")
    due = Case.objects.count()
    rss_before = _rss_mib()
    # The heap is traced over the first tenth only: tracemalloc slows every allocation
    # several times, so the rate is timed over the rest without it.
    traced = max(batch, due // 10)
    tracemalloc.start()
    with tqdm(total=due, desc="purging", unit="case") as bar:
        first = purge_expired(
            batch=batch, limit=traced, progress=lambda done, _files: bar.update(done - bar.n)
        )
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        start = time.perf_counter()
        rest = purge_expired(
            batch=batch,
            progress=lambda done, _files: bar.update(first.survivors + done - bar.n),
        )
        elapsed = time.perf_counter() - start
    _line(
        f"purge_expired, {rest.survivors:,} closed cases, batches of {batch}",
        f"{rest.survivors / elapsed:,.0f} cases/s",
        "target >= 1,000/s",
    )
    _line(
        f"  Python heap peak over the first {first.survivors:,} (tracemalloc)",
        f"{peak / 2**20:.1f} MiB",
        "flat: one batch at a time",
    )
    _line("  process peak RSS before / after", f"{rss_before:.0f} / {_rss_mib():.0f} MiB")
    assert not Case.objects.exists()  # noqa: S101  (the run ended everything)


def _statistics_world(cases: int) -> None:
    seed(cases)
    _encounters()
    now = timezone.now()
    recorder = User.objects.filter(role=Role.CASEWORKER).first()
    ids = list(Case.objects.values_list("pk", flat=True))
    types = TraffickingType.values
    for offset in tqdm(range(0, len(ids), 5000), desc="consents and facets", unit="batch"):
        chunk = [pk for pk in ids[offset : offset + 5000] if RNG.random() < 0.6]
        by_pk = Case.objects.select_related("survivor").in_bulk(chunk)
        with transaction.atomic():
            Consent.objects.bulk_create_unlogged(
                [
                    Consent(
                        case=by_pk[pk],
                        scope="research",
                        method="written",
                        recorded_by=recorder,
                        given_at=now - dt.timedelta(days=1),
                    )
                    for pk in chunk
                ]
            )
            StatisticsFacet.objects.bulk_create(
                [
                    StatisticsFacet(case_id=pk, trafficking_type=t)
                    for pk in chunk
                    for t in RNG.sample(types, RNG.randint(1, 2))
                ]
            )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cases_case SET opened_at = now() - (random() * 720) * interval '1 day'"
        )
        cursor.execute("ANALYZE")


def statistics_speed(cases: int, queries: int) -> None:
    _statistics_world(cases)
    dpo = User.objects.create(username="bench-stats-dpo", role=Role.DPO)
    for by in ("risk_level", "trafficking_types", "status", "kind", "month"):
        statistics_table(actor=dpo, by=by)
        times = []
        for _ in range(queries):
            start = time.perf_counter()
            statistics_table(actor=dpo, by=by, since="2025-01")
            times.append(time.perf_counter() - start)
        _line(
            f"statistics by {by}, {cases:,} cases, median",
            f"{statistics.median(times) * 1e3:.1f} ms",
            "target < 200 ms",
        )


def package(encounters: int = 200, events: int = 5000) -> None:
    seed(10, grants_per_case=1)
    author = User.objects.filter(role=Role.CASEWORKER).first()
    assert author is not None  # noqa: S101
    case = case_open(
        actor=author,
        identity={
            "given_name": "Мария",
            "family_name": "Nguyễn",
            "script_names": ["玛丽亚", "มาเรีย", "ماريا"],
            "languages": ["ru"],
        },
        declined=[],
        risk_level="high",
        trafficking_types=["labour"],
        summary="Bench case for the survivor's copy.",
    )
    now = timezone.now()
    Encounter.objects.bulk_create_unlogged(
        [
            Encounter(
                case=case,
                occurred_at=now - dt.timedelta(days=n),
                kind="follow_up",
                author=author,
                notes=f"Encounter {n}: Мария 玛丽亚 มาเรีย ماريا Nguyễn Thị Lan. " * 4,
            )
            for n in range(encounters)
        ]
    )
    for n in tqdm(range(events), desc="access events", unit="event"):
        event_record(actor=author, action="case.view", case_reference=case.reference)
        if n % 7 == 0:
            event_record(actor=author, action="encounter.list", case_reference=case.reference)
    for fmt in ("pdf", "json"):
        times = []
        size = 0
        for _ in range(3):
            start = time.perf_counter()
            holdings = Holdings.gather(Case.objects.select_related("survivor").get(pk=case.pk))
            content = (
                holdings.as_pdf("bench passphrase words", "bench")
                if fmt == "pdf"
                else holdings.as_json()
            )
            times.append(time.perf_counter() - start)
            size = len(content)
        _line(
            f"access package ({fmt}), {encounters} encounters, {events:,}+ events, median",
            f"{statistics.median(times):.2f} s ({size / 1024:.0f} KiB)",
            "target < 3 s",
        )
