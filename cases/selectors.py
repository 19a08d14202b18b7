"""Reads on the case domain. They start from the access policy's querysets, never from
``Case.objects``; the view that calls them has already recorded the access event."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max, OuterRef, QuerySet, Subquery
from django.http import Http404

from access import policy
from access.crypto import blind
from access.crypto.keyring import get_provider
from access.models import User
from cases.models import BlindIndexEntry, Case, Encounter, Identity


def case_list_for(*, user: User) -> QuerySet[Case]:
    """Cases ``user`` may read, newest first, with the dates a caseload view needs."""
    latest = Encounter.objects.filter(case=OuterRef("pk")).order_by("-occurred_at")
    return (
        policy.readable_cases(user)
        .select_related("survivor")
        .annotate(
            last_encounter_at=Max("encounters__occurred_at"),
            next_follow_up=Subquery(latest.values("follow_up_date")[:1]),
        )
        .order_by("-opened_at", "pk")
    )


def encounters_for(*, case: Case) -> QuerySet[Encounter]:
    # Through the related manager every encounter shares this very ``case`` instance,
    # so the survivor's data key is unwrapped once for the whole timeline.
    return case.encounters.select_related("author").order_by("-occurred_at", "-created_at")


def encounter_for(*, case: Case, encounter_id: Any) -> Encounter:
    try:
        return encounters_for(case=case).get(pk=encounter_id)
    except (Encounter.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def identity_for(*, case: Case) -> Identity:
    return Identity.objects.select_related("survivor").get(survivor_id=case.survivor_id)


def _blind_candidates(criteria: Mapping[str, object]) -> QuerySet[BlindIndexEntry] | None:
    """Survivor ids whose blind index matches every criterion (a superset of the true
    matches, by design), or None when a criterion cannot match anything."""
    key_id = get_provider().active_index_key_id()
    survivors: Any = None
    for name, value in criteria.items():
        normalised = blind.normalise(name, value)
        if normalised is None:
            return None
        hits = BlindIndexEntry.objects.filter(
            field=name, key_id=key_id, digest=blind.digest(name, normalised, key_id=key_id)
        ).values("survivor_id")
        survivors = hits if survivors is None else hits.filter(survivor_id__in=survivors)
    return survivors  # type: ignore[no-any-return]


def _confirmed(cases: QuerySet[Case], criteria: Mapping[str, object]) -> list[Case]:
    """Decrypt each candidate's identity and keep the exact matches."""
    found = []
    for case in cases.select_related("survivor__identity"):
        identity = case.survivor.identity
        if all(
            blind.matches(name, value, getattr(identity, name)) for name, value in criteria.items()
        ):
            found.append(case)
    return found


def case_search_for(*, user: User, criteria: Mapping[str, object]) -> list[Case]:
    """Exact identity search, only among the cases ``user`` may read."""
    survivors = _blind_candidates(criteria)
    if survivors is None:
        return []
    candidates = case_list_for(user=user).filter(survivor_id__in=survivors)
    return _confirmed(candidates, criteria)


# A new intake is a possible duplicate of an existing survivor when any of these sets of
# fields all match exactly.
DUPLICATE_RULES = (
    ("given_name", "family_name"),
    ("phone",),
    ("family_name", "date_of_birth"),
    ("given_name", "date_of_birth"),
)


@dataclass
class DuplicateReport:
    readable: list[Case] = field(default_factory=list)
    elsewhere: list[Case] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.readable or self.elsewhere)


def possible_duplicates(*, user: User, identity: Mapping[str, object]) -> DuplicateReport:
    """Existing survivors who may be the person being taken in, split into cases ``user``
    may open and cases they may not (of which they are told only that one exists)."""
    matched: dict[Any, Case] = {}
    for rule in DUPLICATE_RULES:
        criteria = {name: identity.get(name) for name in rule}
        if any(value in (None, "") for value in criteria.values()):
            continue
        survivors = _blind_candidates(criteria)
        if survivors is None:
            continue
        unerased = Case.objects.filter(
            survivor_id__in=survivors, survivor__shredded_at__isnull=True
        )
        for case in _confirmed(unerased, criteria):
            matched[case.pk] = case
    if not matched:
        return DuplicateReport()
    readable = set(policy.readable_cases(user).filter(pk__in=matched).values_list("pk", flat=True))
    report = DuplicateReport()
    for pk, case in matched.items():
        (report.readable if pk in readable else report.elsewhere).append(case)
    return report


@dataclass
class WorkerLoad:
    user: User
    open_cases: list[Case] = field(default_factory=list)
    overdue: int = 0
    risk: dict[str, int] = field(default_factory=lambda: {"low": 0, "medium": 0, "high": 0})
    limit: int = 0

    @property
    def over_limit(self) -> bool:
        return len(self.open_cases) > self.limit


def team_caseload(*, supervisor: User) -> list[WorkerLoad]:
    """Open cases per worker of the supervisor's team against the team's limit, with the
    risk mix and overdue follow-ups (AS8-1). References only: no case content."""
    from django.utils import timezone

    from access.models import CaseGrant

    team = supervisor.team
    if team is None:
        return []
    members = User.objects.filter(
        team=team, is_active=True, role__in=["caseworker", "clinician"]
    ).order_by("username")
    loads = {m.pk: WorkerLoad(user=m, limit=team.caseload_limit) for m in members}
    assignments = (
        CaseGrant.objects.active()
        .filter(kind="assignment", user_id__in=loads)
        .values_list("user_id", "content_object_id")
    )
    cases = {
        case.pk: case
        for case in case_list_for(user=supervisor).filter(
            status="open", pk__in=[case_id for _, case_id in assignments]
        )
    }
    today = timezone.localdate()
    for user_id, case_id in assignments:
        case = cases.get(case_id)
        if case is None:
            continue
        load = loads[user_id]
        load.open_cases.append(case)
        load.risk[case.risk_level] += 1
        follow_up = getattr(case, "next_follow_up", None)  # annotated by case_list_for
        if follow_up is not None and follow_up < today:
            load.overdue += 1
    return list(loads.values())


def consents_for(*, case: Case) -> QuerySet[Any]:
    from cases.models import Consent

    return (
        Consent.objects.filter(case=case)
        .select_related("recipient", "recorded_by")
        .order_by("-given_at")
    )


def consent_covering(*, case: Case, recipient: Any, scope: str, at: Any) -> Any:
    """The consent that allows disclosing ``case`` to ``recipient`` for ``scope`` at the
    moment ``at``, or None. Checked at that moment: a withdrawn or expired consent never
    covers anything."""
    for consent in consents_for(case=case).filter(scope=scope, recipient=recipient):
        if consent.valid_at(at):
            return consent
    return None


def organisations() -> QuerySet[Any]:
    from cases.models import Organisation

    return Organisation.objects.order_by("name")
