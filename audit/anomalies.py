"""Anomaly rules over the access trail, for the DPO's queue (AS9-USE-4).

Break-glass is flagged when it happens. The rules below read the events written since
the last scan (incrementally, so the queue stays fast on millions of events):

- out of hours: a read of case content outside working hours;
- outside assignment: the first read of a case through a supervisor's grant, per
  person and case (an assignment, and a supervisor reading their own team's case, are
  the normal relations);
- repeated denials: five or more refusals for one person within an hour;
- unusual volume: more distinct cases read in a day than 3 × the person's own daily
  average over the previous 30 days (and at least 20);
- exports: every referral export;
- decryption failures: every ciphertext that did not open (moved or altered in the
  database: someone with database access, or damage).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from audit.models import AccessEvent, Anomaly, AnomalyScan
from audit.services import event_record

READ_ACTIONS = (
    "case.view",
    "identity.view",
    "encounter.list",
    "encounter.view",
    "clinical.list",
    "clinical.view",
)
DENIALS_PER_HOUR = 5
VOLUME_FACTOR = 3
VOLUME_FLOOR = 20


def _flag(kind: str, event: AccessEvent) -> None:
    Anomaly.objects.create(
        kind=kind,
        at=event.at,
        actor_id=event.actor_id,
        actor_username=event.actor_username,
        case_reference=event.case_reference,
        event=event,
    )


def _out_of_hours(event: AccessEvent) -> bool:
    start, end = settings.HAVEN_WORKING_HOURS
    hour = timezone.localtime(event.at).hour
    return not start <= hour < end


@transaction.atomic
def scan(batch: int = 20_000) -> int:
    """Apply the rules to events not yet scanned. Returns how many anomalies it raised."""
    state, _ = AnomalyScan.objects.select_for_update().get_or_create(pk=1)
    new = list(AccessEvent.objects.filter(pk__gt=state.last_event_id).order_by("id")[:batch])
    if not new:
        return 0
    raised = 0
    denials: dict[tuple[int, dt.datetime], int] = defaultdict(int)
    reads_today: dict[tuple[int, dt.date], set[str]] = defaultdict(set)
    for event in new:
        if event.action == "crypto.decrypt_failed":
            _flag(Anomaly.Kind.DECRYPTION_FAILURE, event)
            raised += 1
        is_read = event.outcome == "allowed" and event.action in READ_ACTIONS
        if is_read and _out_of_hours(event):
            _flag(Anomaly.Kind.OUT_OF_HOURS, event)
            raised += 1
        if is_read and event.reason == "grant" and event.actor_id is not None:
            seen_before = AccessEvent.objects.filter(
                actor_id=event.actor_id,
                case_reference=event.case_reference,
                outcome="allowed",
                reason="grant",
                pk__lt=event.pk,
            ).exists()
            if not seen_before:
                _flag(Anomaly.Kind.OUTSIDE_ASSIGNMENT, event)
                raised += 1
        if event.outcome == "denied" and event.actor_id is not None:
            hour = event.at.replace(minute=0, second=0, microsecond=0)
            denials[(event.actor_id, hour)] += 1
            if denials[(event.actor_id, hour)] == DENIALS_PER_HOUR:
                already = Anomaly.objects.filter(
                    kind=Anomaly.Kind.REPEATED_DENIALS,
                    actor_id=event.actor_id,
                    at__gte=hour,
                    at__lt=hour + dt.timedelta(hours=1),
                ).exists()
                if not already:
                    _flag(Anomaly.Kind.REPEATED_DENIALS, event)
                    raised += 1
        if event.action.startswith("referral.export") and event.outcome == "allowed":
            _flag(Anomaly.Kind.EXPORT, event)
            raised += 1
        if is_read and event.actor_id is not None:
            reads_today[(event.actor_id, timezone.localtime(event.at).date())].add(
                event.case_reference
            )
    for (actor_id, day), cases in reads_today.items():
        if len(cases) < VOLUME_FLOOR:
            continue
        if _unusual(actor_id, day, len(cases)):
            last = [e for e in new if e.actor_id == actor_id][-1]
            _flag(Anomaly.Kind.UNUSUAL_VOLUME, last)
            raised += 1
    state.last_event_id = new[-1].pk
    state.save(update_fields=["last_event_id"])
    return raised


def _unusual(actor_id: int, day: dt.date, count: int) -> bool:
    tz = timezone.get_current_timezone()
    day_start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    if Anomaly.objects.filter(
        kind=Anomaly.Kind.UNUSUAL_VOLUME,
        actor_id=actor_id,
        at__gte=day_start,
        at__lt=day_start + dt.timedelta(days=1),
    ).exists():
        return False
    history = (
        (
            AccessEvent.objects.filter(
                actor_id=actor_id,
                outcome="allowed",
                action__in=READ_ACTIONS,
                at__gte=day_start - dt.timedelta(days=30),
                at__lt=day_start,
            )
            .values("case_reference")
            .aggregate(n=Count("case_reference", distinct=True))["n"]
        )
        or 0
    )
    usual = history / 30
    return count > max(VOLUME_FLOOR, VOLUME_FACTOR * usual)


@transaction.atomic
def review(*, anomaly: Anomaly, reviewer: object, note: str) -> Anomaly:
    """Mark an anomaly reviewed, with a note; the review is itself an access event."""
    if anomaly.reviewed_at is not None:
        return anomaly
    anomaly.reviewed_at = timezone.now()
    anomaly.reviewed_by_id = getattr(reviewer, "pk", None)
    anomaly.review_note = note
    anomaly.full_clean()
    anomaly.save(update_fields=["reviewed_at", "reviewed_by_id", "review_note"])
    event_record(
        actor=reviewer,
        action="anomaly.review",
        case_reference=anomaly.case_reference,
        detail={"anomaly_id": anomaly.pk},
    )
    return anomaly
