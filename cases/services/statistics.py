"""Statistics without re-identification (AS9-USE-2 in spirit; AS9-END for after care).

Scope: only cases whose survivor gave a ``research`` consent that is in force now
(consent scopes are the purposes a survivor agreed to; counting for donors and
reports is research use, not care), not erased. Counts are of cases, never of
encounters: a month with five encounters of one person is one case, not five.

Shape: one row per value of the chosen dimension, one column per month (the month a
case opened; for ``kind``, the month of the encounter), each row's total and each
month's total. Every entry under ``HAVEN_STATS_MIN_CELL`` is suppressed, and more are
suppressed so that none can be worked out from the others (``haven.suppression``).

Against subtraction of one window from another: the suppression is computed once on
the whole table (every month from the first case to this one), the window only
chooses which months are shown, and each row's total is over all months. So no two
answers publish two different totals whose difference is a hidden cell.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from access.models import User
from audit.services import event_record
from cases.errors import DomainError
from cases.models import (
    Case,
    CaseStatus,
    Consent,
    ConsentScope,
    Encounter,
    EncounterKind,
    RiskLevel,
    StatisticsFacet,
    TraffickingType,
)
from haven.suppression import Suppressed, suppress

DIMENSIONS: dict[str, Any] = {
    "risk_level": RiskLevel,
    "trafficking_types": TraffickingType,
    "status": CaseStatus,
    "kind": EncounterKind,
    "month": None,
}
CASE_TABLES = ("risk_level", "status", "month")
MAX_MONTHS = 120
SCOPE = "research_consent"


@dataclass(frozen=True)
class Cell:
    count: int | None

    @property
    def suppressed(self) -> bool:
        return self.count is None


@dataclass(frozen=True)
class Row:
    value: str
    label: str
    cells: list[Cell]
    total: Cell


@dataclass(frozen=True)
class Table:
    by: str
    since: dt.date
    until: dt.date
    months: list[str]
    rows: list[Row]
    totals: Row
    min_cell: int
    as_of: dt.datetime
    scope: str = SCOPE


# --- which cases may be counted -----------------------------------------------------


def _research_consent(now: dt.datetime) -> Exists:
    return Exists(
        Consent.objects.filter(
            case=OuterRef("pk"),
            scope=ConsentScope.RESEARCH,
            withdrawn_at__isnull=True,
            given_at__lte=now,
        ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    )


def countable_cases(now: dt.datetime | None = None) -> models.QuerySet[Case]:
    now = now or timezone.now()
    return Case.objects.filter(_research_consent(now), survivor__shredded_at__isnull=True)


def statistics_facet_sync(case: Case) -> None:
    """Keep the case's trafficking types in the clear for counting while, and only
    while, a research consent is in force (called where either changes)."""
    counted = countable_cases().filter(pk=case.pk).exists()
    wanted = set(case.trafficking_types or []) if counted else set()
    held = set(
        StatisticsFacet.objects.filter(case_id=case.pk).values_list("trafficking_type", flat=True)
    )
    if held - wanted:
        StatisticsFacet.objects.filter(case_id=case.pk, trafficking_type__in=held - wanted).delete()
    StatisticsFacet.objects.bulk_create(
        [StatisticsFacet(case_id=case.pk, trafficking_type=t) for t in sorted(wanted - held)]
    )


def statistics_facets_prune() -> int:
    """Drop the facets of cases whose research consent ended (expired since the last
    change); run with ``purge_expired``."""
    stale = StatisticsFacet.objects.exclude(case__in=countable_cases().values("pk"))
    deleted, _ = stale.delete()
    return deleted


# --- the table ----------------------------------------------------------------------


MONTH = re.compile(r"\d{4}-\d{2}", re.ASCII)


def _month(value: str, field: str) -> dt.date:
    """A month written YYYY-MM, from 1990 to 2100."""
    if not MONTH.fullmatch(value) or not 1 <= int(value[5:]) <= 12:
        raise DomainError(_("Give a month as YYYY-MM."), field=field)
    month = dt.date(int(value[:4]), int(value[5:]), 1)
    if not 1990 <= month.year <= 2100:
        raise DomainError(_("Give a month from 1990 to 2100."), field=field)
    return month


def _add_months(month: dt.date, count: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    found = []
    while first <= last:
        found.append(first)
        first = _add_months(first, 1)
    return found


def window(since: str | None, until: str | None) -> tuple[dt.date, dt.date]:
    """The months asked for; by default (None) the last twelve, this one included."""
    this_month = timezone.localdate().replace(day=1)
    end = _month(until, "until") if until is not None else this_month
    start = _month(since, "since") if since is not None else _add_months(end, -11)
    if start > end:
        raise DomainError(_("The start comes after the end."), field="since")
    if len(_months(start, end)) > MAX_MONTHS:
        raise DomainError(f"Ask for {MAX_MONTHS} months at most.", field="since")
    return start, end


def _counts(by: str, now: dt.datetime) -> dict[tuple[str, dt.date], int]:
    cases = countable_cases(now)
    if by == "trafficking_types":
        query: Any = (
            StatisticsFacet.objects.filter(case__in=cases.values("pk"))
            .annotate(month=TruncMonth("case__opened_at"))
            .values_list("trafficking_type", "month")
            .annotate(n=Count("case_id", distinct=True))
        )
    elif by == "kind":
        query = (
            Encounter.objects.filter(case__in=cases.values("pk"))
            .annotate(month=TruncMonth("occurred_at"))
            .values_list("kind", "month")
            .annotate(n=Count("case_id", distinct=True))
        )
    elif by == "month":
        query = (
            cases.annotate(month=TruncMonth("opened_at"))
            .values_list("month")
            .annotate(n=Count("id"))
            .values_list(models.Value("cases"), "month", "n")
        )
    else:
        query = (
            cases.annotate(month=TruncMonth("opened_at"))
            .values_list(by, "month")
            .annotate(n=Count("id"))
        )
    counts: dict[tuple[str, dt.date], int] = {}
    for value, month, n in query.order_by():
        day = month.date() if isinstance(month, dt.datetime) else month
        key = (str(value), day.replace(day=1))
        counts[key] = counts.get(key, 0) + n
    return counts


def _cell(grid: Suppressed, i: int, j: int) -> Cell:
    return Cell(grid.shown(i, j))


def statistics_table(
    *, actor: User, by: str = "risk_level", since: str | None = None, until: str | None = None
) -> Table:
    """The counts by ``by`` and month, suppressed; recorded as a read (the endpoint
    asked the policy for the statistics capability)."""
    if by not in DIMENSIONS:
        raise DomainError("Count by one of: " + ", ".join(DIMENSIONS) + ".", field="by")
    start, end = window(since, until)
    now = timezone.now()
    counts = _counts(by, now)
    choices = DIMENSIONS[by]
    values = [("cases", gettext_lazy("Cases"))] if choices is None else list(choices.choices)
    this_month = timezone.localdate(now).replace(day=1)
    first = min((month for _, month in counts), default=this_month)
    canonical = _months(first, max(this_month, max((m for _, m in counts), default=first)))
    cells = [[counts.get((value, month), 0) for month in canonical] for value, _ in values]
    n = len(values)
    k = settings.HAVEN_STATS_MIN_CELL
    fixed: list[tuple[int, int]] = []
    hide: list[tuple[int, int]] = []
    if by in CASE_TABLES:
        # The cases opened each month, and in all, are the same line in every table of
        # cases: it is hidden where the table by month hides it and nowhere else, so
        # one table cannot give back what another hid.
        by_month = cells if by == "month" else [[sum(col) for col in zip(*cells, strict=True)]]
        month_line = suppress(by_month, k)
        for j in range(len(canonical) + 1):
            (hide if (0, j) in month_line.hidden else fixed).append((n, j))
    grid = suppress(cells, k, fixed=fixed, hide=hide)
    shown = _months(start, end)
    column = {month: j for j, month in enumerate(canonical)}

    def line(i: int, value: str, label: Any) -> Row:
        row_cells = [_cell(grid, i, column[m]) if m in column else Cell(None) for m in shown]
        return Row(value, str(label), row_cells, _cell(grid, i, len(canonical)))

    rows = [line(i, value, label) for i, (value, label) in enumerate(values)]
    event_record(
        actor=actor,
        action="statistics.view",
        detail={"by": by, "since": start.isoformat()[:7], "until": end.isoformat()[:7]},
    )
    return Table(
        by=by,
        since=start,
        until=end,
        months=[m.isoformat()[:7] for m in shown],
        rows=rows,
        totals=line(n, "total", "Total"),
        min_cell=settings.HAVEN_STATS_MIN_CELL,
        as_of=now,
    )


def statistics_csv_rows(table: Table) -> list[list[str]]:
    """The table for donors, one line per row; ``*`` marks a suppressed count."""

    def text(cell: Cell) -> str:
        return "*" if cell.count is None else str(cell.count)

    lines = [["by", table.by, "months", f"{table.months[0]} to {table.months[-1]}"]]
    # Column keys stay the same in every language (programs read them); the words a
    # reader reads are in the reader's language.
    lines.append(["value", "label", *table.months, _("total (all months)")])
    for row in [*table.rows, table.totals]:
        lines.append([row.value, row.label, *(text(c) for c in row.cells), text(row.total)])
    lines.append([])
    lines.append(
        [
            _(
                "* suppressed: under %(threshold)s, or hidden so that no hidden count can be "
                "worked out from the totals. Counts are of cases whose survivor consented to "
                "research use; a row's total covers every month, not only those shown."
            )
            % {"threshold": table.min_cell}
        ]
    )
    return lines
