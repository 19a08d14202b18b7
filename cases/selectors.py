"""Reads on the case domain. They start from the access policy's querysets, never from
``Case.objects``; the view that calls them has already recorded the access event."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Case as DbCase
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.http import Http404
from django.utils import timezone

from access import keystore, policy
from access.crypto import blind
from access.crypto.datakeys import key_scope
from access.models import CaseGrant, User
from cases.models import (
    DISCLOSURE_SCOPES,
    OPEN_GOAL_STATUSES,
    OPEN_SERVICE_STATUSES,
    Attachment,
    BlindIndexEntry,
    Case,
    CaseService,
    CaseTask,
    Consent,
    Encounter,
    EncounterKind,
    Identity,
    Organisation,
    PlanGoal,
    Referral,
    Revision,
    Survivor,
)


def case_list_for(*, user: User) -> QuerySet[Case]:
    """Cases ``user`` may read, with the dates a caseload view needs: those whose
    follow-up is due (overdue first) at the top, then the newest.

    The last encounter is a subquery on the (case, occurred_at) index rather than a
    ``MAX`` over a join: PostgreSQL then works it out only for the page's rows, after
    sorting and limiting, instead of grouping every readable case with every encounter
    (which spilled to disk for a supervisor of thousands of cases)."""
    today = timezone.localdate()
    last_encounter = (
        Encounter.objects.filter(case=OuterRef("pk"))
        .order_by("-occurred_at")
        .values("occurred_at")[:1]
    )
    return (
        policy.readable_cases(user)
        .select_related("survivor")
        .annotate(
            last_encounter_at=Subquery(last_encounter),
            next_follow_up=F("follow_up_on"),
            due_rank=DbCase(When(follow_up_on__lte=today, then=Value(0)), default=Value(1)),
        )
        .order_by("due_rank", F("follow_up_on").asc(nulls_last=True), "-opened_at", "pk")
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


def revisions_of(*, case: Case, subject: str, object_id: Any = None) -> QuerySet[Revision]:
    """The earlier versions of a record of ``case`` (or of every record of that kind),
    newest first, with who replaced each. The view that calls this has recorded the
    read of the history."""
    found = Revision.objects.filter(survivor_id=case.survivor_id, subject=subject)
    if object_id is not None:
        found = found.filter(object_id=object_id)
    return found.select_related("changed_by", "survivor").order_by("-changed_at", "-version")


def last_change(*, case: Case, subject: str, object_id: Any) -> Revision | None:
    """The revision that made the current version: who saved it, and when (None for a
    record never edited)."""
    return revisions_of(case=case, subject=subject, object_id=object_id).first()


def identity_for(*, case: Case) -> Identity:
    return Identity.objects.select_related("survivor").get(survivor_id=case.survivor_id)


def _blind_candidates(criteria: Mapping[str, object]) -> QuerySet[Any, Any] | None:
    """Survivor ids whose blind index matches every criterion (a superset of the true
    matches, by design), or None when a criterion cannot match anything.

    One flat query however many criteria and words: the entries matching any wanted
    (field, digest), grouped by survivor, kept where all of them matched (a survivor
    has at most one entry per field and digest). Nesting one ``IN`` per criterion
    instead made the planner chain nested loops, which took seconds on a small
    database whose statistics were stale."""
    key = keystore.active_index_key()
    wanted: set[tuple[str, int]] = set()
    for indexed, normalised in _index_terms(criteria):
        if normalised is None:
            return None
        wanted.add((indexed, key.digest(indexed, normalised)))
    if not wanted:
        return None
    match = Q()
    for indexed, digest in sorted(wanted):
        match |= Q(field=indexed, digest=digest)
    return (
        BlindIndexEntry.objects.filter(match, key_id=key.key_id)
        .values("survivor_id")
        .annotate(matched=Count("id"))
        .filter(matched=len(wanted))
        .values("survivor_id")
    )


def _index_terms(criteria: Mapping[str, object]) -> list[tuple[str, str | None]]:
    """What to look up: each exact field normalised, and for ``name`` each folded word
    in the ``name_token`` index (in any order, all of them required)."""
    terms: list[tuple[str, str | None]] = []
    for name, value in criteria.items():
        if name == NAME_SEARCH:
            found = blind.words(str(value))
            terms.extend((blind.NAME_TOKEN, word) for word in found)
            if not found:
                terms.append((blind.NAME_TOKEN, None))
        else:
            terms.append((name, blind.normalise(name, value)))
    return terms


NAME_SEARCH = "name"
"""The folded search: words of any recorded name, accents and case ignored."""


def _confirmed(cases: QuerySet[Case], criteria: Mapping[str, object]) -> list[Case]:
    """Decrypt each candidate's identity and keep the true matches: exact for the
    exact fields, every searched word among the person's folded name words for ``name``."""
    found = []
    candidates = list(cases.select_related("survivor__identity"))
    with key_scope():
        Survivor.unwrap_keys(case.survivor for case in candidates)
        for case in candidates:
            identity = case.survivor.identity
            if all(_confirms(identity, name, value) for name, value in criteria.items()):
                found.append(case)
    return found


def _confirms(identity: Identity, name: str, value: object) -> bool:
    if name == NAME_SEARCH:
        names = [getattr(identity, source) for source in blind.NAME_SOURCES]
        return blind.name_matches(str(value), blind.name_tokens(names))
    return blind.matches(name, value, getattr(identity, name))


def case_search_for(*, user: User, criteria: Mapping[str, object]) -> list[Case]:
    """Identity search (exact fields, and the folded ``name``), only among the cases
    ``user`` may read."""
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


# A case's stage by how long it has been open (days): new, established, long-term.
STAGES = (("new", 30), ("established", 365), ("long_term", None))
DIRECT_DAYS = 30  # the window of the in-person share


@dataclass
class WorkerLoad:
    user: User
    open_cases: list[Case] = field(default_factory=list)
    overdue: int = 0
    risk: dict[str, int] = field(default_factory=lambda: {"low": 0, "medium": 0, "high": 0})
    stages: dict[str, int] = field(
        default_factory=lambda: {"new": 0, "established": 0, "long_term": 0}
    )
    limit: int = 0
    high_risk_limit: int = 0
    contacts: int = 0  # encounters they recorded in the last DIRECT_DAYS
    in_person: int = 0  # of which in person (not by phone)

    @property
    def over_limit(self) -> bool:
        return len(self.open_cases) > self.limit

    @property
    def over_high_risk(self) -> bool:
        return self.risk["high"] > self.high_risk_limit

    @property
    def in_person_share(self) -> int | None:
        """Percent of their recent contacts that were in person (None: no contacts)."""
        return round(100 * self.in_person / self.contacts) if self.contacts else None

    @property
    def headroom(self) -> tuple[int, int]:
        return (self.high_risk_limit - self.risk["high"], self.limit - len(self.open_cases))


def could_take(loads: list[WorkerLoad], count: int = 2) -> list[WorkerLoad]:
    """Who could take a case: under both limits, most room for high-risk work first,
    then most room overall (AS8-1: balance, not only numbers)."""
    room = [w for w in loads if not w.over_limit and not w.over_high_risk and w.headroom[1] > 0]
    return sorted(room, key=lambda w: (-w.headroom[0], -w.headroom[1], w.user.username))[:count]


def team_caseload(*, supervisor: User) -> list[WorkerLoad]:
    """Open cases per worker of the supervisor's team against the team's limit, with the
    risk mix and overdue follow-ups (AS8-1). References only: no case content."""
    team = supervisor.team
    if team is None:
        return []
    members = User.objects.filter(
        team=team, is_active=True, role__in=["caseworker", "clinician"]
    ).order_by("username")
    loads = {
        m.pk: WorkerLoad(user=m, limit=team.caseload_limit, high_risk_limit=team.high_risk_limit)
        for m in members
    }
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
        open_days = (today - timezone.localdate(case.opened_at)).days
        stage = next(name for name, upto in STAGES if upto is None or open_days < upto)
        load.stages[stage] += 1
    since = timezone.now() - dt.timedelta(days=DIRECT_DAYS)
    for author_id, kind, count in (
        Encounter.objects.filter(author_id__in=loads, occurred_at__gte=since)
        .values_list("author_id", "kind")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        loads[author_id].contacts += count
        if kind != EncounterKind.PHONE:
            loads[author_id].in_person += count
    return list(loads.values())


def consents_for(*, case: Case) -> QuerySet[Consent]:
    return (
        Consent.objects.filter(case=case)
        .select_related("recipient", "recorded_by")
        .order_by("-given_at")
    )


def consent_covering(*, case: Case, recipient: Any, scope: str, purpose: str, at: Any) -> Any:
    """The consent that allows disclosing ``case`` to ``recipient`` for ``purpose``
    (a disclosure of kind ``scope``) at the moment ``at``, or None. Checked at that
    moment: a withdrawn or expired consent never covers anything."""
    for consent in consents_for(case=case).filter(scope=scope, recipient=recipient):
        if consent.valid_at(at) and consent.covers_purpose(purpose):
            return consent
    return None


def disclosure_consents(*, case: Case, at: Any) -> list[Any]:
    """The referral and legal consents active at ``at``: what the referral wizard can
    send under, with each consent's recipient and purpose in its own words."""
    return [
        consent
        for consent in consents_for(case=case).filter(scope__in=DISCLOSURE_SCOPES)
        if consent.valid_at(at)
    ]


def organisations() -> QuerySet[Organisation]:
    return Organisation.objects.order_by("name")


def consent_in_force(*, case: Case, scope: str) -> Consent | None:
    """A consent of ``scope`` in force now (the newest), or None."""
    now = timezone.now()
    for consent in consents_for(case=case).filter(scope=scope, withdrawn_at__isnull=True):
        if consent.valid_at(now):
            return consent
    return None


# --- the care work on one case ------------------------------------------------------


def goals_for(*, case: Case) -> QuerySet[PlanGoal]:
    return case.goals.select_related("created_by").order_by("agreed_on", "created_at")


def services_for(*, case: Case) -> QuerySet[CaseService]:
    return case.services.select_related("provider", "created_by").order_by("created_at")


def tasks_for(*, case: Case) -> QuerySet[CaseTask]:
    return case.tasks.select_related("assigned_to", "created_by").order_by(
        F("done_at").asc(nulls_first=True), "due_on", "created_at"
    )


def attachments_for(*, case: Case) -> QuerySet[Attachment]:
    return case.attachments.select_related("created_by").order_by("-created_at")


def referrals_for(*, case: Case) -> QuerySet[Referral]:
    return case.referrals.select_related("recipient", "exported_by", "service").order_by(
        "-exported_at"
    )


def unassigned_cases(*, supervisor: User) -> QuerySet[Case]:
    """Open cases of the supervisor's team that nobody is assigned to: a supervisor chose
    to leave them so, or the last assignment ended. They stay on the caseload page."""
    assigned = CaseGrant.objects.active().filter(kind="assignment").values("content_object_id")
    if supervisor.team_id is None:
        return Case.objects.none()
    return (
        policy.readable_cases(supervisor)
        .filter(team_id=supervisor.team_id, status="open")
        .exclude(pk__in=assigned)
        .select_related("survivor")
        .order_by("opened_at")
    )


# --- what is due ("My day", and GET /api/v1/tasks/) --------------------------------

WHEN = ("overdue", "today", "week")
RISK_ORDER = {"high": 0, "medium": 1, "low": 2}


@dataclass
class DueItem:
    """One thing due on a case the reader may open. ``title`` is the task's or goal's
    own words, or a label; own words are decrypted only when shown, so a long list
    costs decryption only for the page that is read."""

    kind: str  # follow_up | task | service | plan_review | consent_review
    case: Case
    due_on: Any
    label: str
    record_id: Any = None
    assigned_to: User | None = None
    record: Any = None
    title_field: str | None = None

    @property
    def title(self) -> str:
        if self.record is not None and self.title_field is not None:
            return str(getattr(self.record, self.title_field) or "")
        return self.label

    @property
    def reference(self) -> str:
        return self.case.reference

    @property
    def risk_level(self) -> str:
        return self.case.risk_level

    @property
    def overdue(self) -> bool:
        return bool(self.due_on < timezone.localdate())


def _window(when: str | None) -> tuple[Any, Any]:
    """(first day, last day) of a window; None for "no limit"."""
    today = timezone.localdate()
    if when == "overdue":
        return None, today - dt.timedelta(days=1)
    if when == "today":
        return today, today
    if when == "week":
        return today, today + dt.timedelta(days=6)
    return None, today + dt.timedelta(days=6)  # everything up to a week ahead, overdue too


def due_for(
    *, user: User, when: str | None = None, sort: str = "due", mine: bool = False
) -> list[DueItem]:
    """Follow-ups, open tasks, open services and plan reviews due in the window, and
    cases whose storage consent was withdrawn (to review), over the open cases ``user``
    may read; ``mine`` keeps the cases assigned to them and the tasks given to them.
    Sorted by due date, or by risk (high first) then date. The caller records the list."""
    first, last = _window(when)
    readable_open = policy.readable_cases(user).filter(status="open")
    cases = readable_open
    if mine:
        own = CaseGrant.objects.active().filter(user=user, kind="assignment")
        cases = readable_open.filter(pk__in=own.values("content_object_id"))

    def dated(query: Any, field: str) -> Any:
        query = query.filter(**{f"{field}__lte": last})
        return query.filter(**{f"{field}__gte": first}) if first is not None else query

    items: list[DueItem] = []
    for case in dated(cases, "follow_up_on").select_related("survivor"):
        items.append(DueItem("follow_up", case, case.follow_up_on, "Follow-up"))
    open_cases = cases.values("pk")
    task_scope = Q(case__in=open_cases)
    if mine:  # and what was given to them on any case they read
        task_scope |= Q(case__in=readable_open.values("pk"), assigned_to=user)
    tasks = dated(CaseTask.objects.filter(task_scope, done_at__isnull=True), "due_on")
    for task in tasks.select_related("case__survivor", "assigned_to"):
        items.append(
            DueItem(
                "task", task.case, task.due_on, "Task", task.pk, task.assigned_to, task, "title"
            )
        )
    services = dated(
        CaseService.objects.filter(case__in=open_cases, status__in=OPEN_SERVICE_STATUSES),
        "due_on",
    )
    for service in services.select_related("case__survivor", "provider"):
        label = service.get_type_display()
        if service.provider is not None:
            label = f"{label} · {service.provider.name}"
        items.append(DueItem("service", service.case, service.due_on, label, service.pk))
    goals = dated(
        PlanGoal.objects.filter(case__in=open_cases, status__in=OPEN_GOAL_STATUSES), "review_on"
    )
    for goal in goals.select_related("case__survivor"):
        items.append(
            DueItem("plan_review", goal.case, goal.review_on, "Goal", goal.pk, None, goal, "goal")
        )
    for case in cases.filter(storage_withdrawn_at__isnull=False).select_related("survivor"):
        day = timezone.localdate(case.storage_withdrawn_at)
        if (first is None or day >= first) and day <= last:
            items.append(DueItem("consent_review", case, day, "Consent to storage withdrawn"))
    if sort == "risk":
        items.sort(key=lambda i: (RISK_ORDER.get(i.risk_level, 3), i.due_on, i.reference))
    else:
        items.sort(key=lambda i: (i.due_on, RISK_ORDER.get(i.risk_level, 3), i.reference))
    return items


def team_members(
    *, team_id: Any, roles: tuple[str, ...] = ("caseworker", "clinician", "supervisor")
) -> QuerySet[User]:
    """The active members of a team who work on cases (for assigning and handing over)."""
    return User.objects.filter(team_id=team_id, is_active=True, role__in=roles).order_by("username")


def case_again(case: Case) -> Case:
    """The case as stored now (after a write refused as stale, to show beside the form)."""
    return Case.objects.select_related("survivor", "team").get(pk=case.pk)


def one_of(records: QuerySet[Any], record_id: Any) -> Any:
    """The record of this case with ``record_id``, or a 404 (never another case's)."""
    try:
        found = records.filter(pk=record_id).first()
    except (ValueError, TypeError, ValidationError):
        found = None
    if found is None:
        raise Http404
    return found
