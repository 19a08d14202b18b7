"""Statistics without re-identification (AS9-USE-4: the DPO sees counts, never content;
AS9-TRF-1: only cases whose survivor consented to research use are counted).

Three kinds of proof: no published count is under the threshold; no suppressed count
can be worked out from the others, exactly (linear algebra, here) or by bounds with
counts never negative (linear programming in .venv-kanon); and pycanon measures the
k-anonymity of what is published."""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from access.roles import Role
from audit.models import AccessEvent
from cases.models import Case, StatisticsFacet
from cases.services import (
    case_update,
    consent_record,
    consent_withdraw,
    statistics_csv_rows,
    statistics_table,
)
from haven.suppression import suppress
from tests.factories import TeamFactory, UserFactory, open_case

ROOT = Path(__file__).resolve().parents[2]
KANON = ROOT / ".venv-kanon" / "bin" / "python"
K = 5


def kanon(release: dict) -> dict:
    """Ask .venv-kanon (pycanon, scipy) about a release; ``make install`` builds it."""
    assert KANON.exists(), "run `make install`: .venv-kanon holds pycanon for these tests"
    done = subprocess.run(
        [str(KANON), str(ROOT / "tests" / "kanon" / "check.py")],
        input=json.dumps(release),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def determined(grid: list[list[int]], hidden: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """The hidden entries that the published ones fix exactly: row-reduce the row and
    column sums over the hidden unknowns, in exact fractions."""
    unknown = sorted(hidden)
    index = {e: t for t, e in enumerate(unknown)}
    rows, cols = len(grid), len(grid[0])
    lines = [[(i, j) for j in range(cols)] for i in range(rows)]
    lines += [[(i, j) for i in range(rows)] for j in range(cols)]
    matrix = []
    for line in lines:
        coeffs = [Fraction(0)] * (len(unknown) + 1)
        for position, (i, j) in enumerate(line):
            sign = -1 if position == len(line) - 1 else 1
            if (i, j) in index:
                coeffs[index[(i, j)]] += sign
            else:
                coeffs[-1] -= sign * grid[i][j]
        matrix.append(coeffs)
    rank = 0
    for column in range(len(unknown)):
        pivot = next((r for r in range(rank, len(matrix)) if matrix[r][column] != 0), None)
        if pivot is None:
            continue
        matrix[rank], matrix[pivot] = matrix[pivot], matrix[rank]
        head = matrix[rank][column]
        matrix[rank] = [v / head for v in matrix[rank]]
        for r in range(len(matrix)):
            if r != rank and matrix[r][column] != 0:
                factor = matrix[r][column]
                matrix[r] = [a - factor * b for a, b in zip(matrix[r], matrix[rank], strict=True)]
        rank += 1
    found = set()
    for row in matrix[:rank]:
        nonzero = [c for c in range(len(unknown)) if row[c] != 0]
        if len(nonzero) == 1:
            found.add(unknown[nonzero[0]])
    return found


tables = st.integers(1, 6).flatmap(
    lambda n: st.lists(
        st.lists(st.sampled_from([0, 0, 1, 2, 3, 4, 5, 6, 9, 14, 40]), min_size=n, max_size=n),
        min_size=1,
        max_size=7,
    )
)


@settings(max_examples=300, deadline=None)
@given(cells=tables)
def test_no_small_count_is_published_and_none_hidden_can_be_recovered_from_the_totals(cells):
    """AS9-USE-4. Every entry under k is hidden, and no hidden count of people is fixed
    by the published entries (zeros, which say nobody, may be)."""
    table = suppress(cells, K)
    for i, row in enumerate(table.grid):
        for j, value in enumerate(row):
            assert value >= K or (i, j) in table.hidden
    recovered = {e for e in determined(table.grid, set(table.hidden)) if table.grid[e[0]][e[1]]}
    assert recovered == set()


def test_the_recovery_attack_itself_works_on_primary_suppression_alone():
    """The attack is real: with only the small cell hidden, the row total gives it back."""
    cells = [[3, 12, 20], [9, 8, 30]]
    grid = suppress(cells, K).grid
    assert determined(grid, {(0, 0)}) == {(0, 0)}
    assert determined(grid, set(suppress(cells, K).hidden)) == set()


def test_bounds_from_totals_and_non_negative_counts_leave_every_hidden_count_open():
    """AS9-USE-4. Linear programming over the sums, with counts never negative: each
    hidden count of people can still be at least two values."""
    rng = random.Random(7)
    grids, hidden = [], []
    for _ in range(150):
        n, m = rng.randint(1, 6), rng.randint(1, 12)
        cells = [[rng.choice([0, 0, 1, 2, 3, 4, 5, 8, 30]) for _ in range(m)] for _ in range(n)]
        table = suppress(cells, K)
        grids.append(table.grid)
        hidden.append(sorted(table.hidden))
    release = [
        {"grid": g, "hidden": [list(e) for e in h]} for g, h in zip(grids, hidden, strict=True)
    ]
    answer = kanon({"tables": release})
    for grid, entries, bounds in zip(grids, hidden, answer["bounds"], strict=True):
        for (i, j), (low, high) in zip(entries, bounds, strict=True):
            if grid[i][j] > 0:
                assert high - low >= 1, (grid, (i, j), low, high)


# --- over generated records ---------------------------------------------------------


def _month_ago(months: int) -> dt.datetime:
    now = timezone.now()
    return now - dt.timedelta(days=31 * months + 1)


@pytest.fixture
def counted_world(db):
    """Sixty cases over a year, risks and types at random; two in three consented to
    research use, the rest did not and must never be counted."""
    rng = random.Random(12)
    team = TeamFactory()
    worker = UserFactory(role=Role.CASEWORKER, team=team)
    truth: Counter[tuple[str, str]] = Counter()
    types_truth: Counter[tuple[str, str]] = Counter()
    for number in range(60):
        risk = rng.choice(["low", "medium", "high", "high"])
        types = rng.sample(["labour", "sexual", "domestic_servitude"], rng.randint(1, 2))
        case = open_case(worker, risk_level=risk, trafficking_types=types)
        opened = _month_ago(rng.choice([0, 1, 1, 2, 3, 5, 8]))
        case.opened_at = opened
        case.save(update_fields=["opened_at"])
        if number % 3:
            consent_record(
                actor=worker,
                case=case,
                scope="research",
                method="written",
                given_at=timezone.now() - dt.timedelta(minutes=5),
            )
            month = timezone.localtime(opened).strftime("%Y-%m")
            truth[(risk, month)] += 1
            for t in types:
                types_truth[(t, month)] += 1
    dpo = UserFactory(role=Role.DPO, team=None)
    return dpo, worker, truth, types_truth


def _whole(table):
    """The table as a grid with totals and its hidden entries (a window over every
    month, so the row totals are the sums of the cells shown)."""
    grid, hidden = [], set()
    for i, row in enumerate([*table.rows, table.totals]):
        line = [*row.cells, row.total]
        grid.append([c.count for c in line])
        hidden |= {(i, j) for j, c in enumerate(line) if c.suppressed}
    return grid, hidden


def _truth_grid(table, truth):
    cells = [[truth.get((r.value, m), 0) for m in table.months] for r in table.rows]
    return suppress(cells, K).grid


@pytest.mark.parametrize("by", ["risk_level", "trafficking_types"])
def test_generated_records_publish_k_anonymous_counts_of_consented_cases_only(counted_world, by):
    """AS9-TRF-1, AS9-USE-4: the counts are those of consented cases; nothing under k
    is shown; pycanon finds the published records k-anonymous; no hidden count is
    fixed by the rest."""
    dpo, _, truth, types_truth = counted_world
    since = _month_ago(9).strftime("%Y-%m")
    table = statistics_table(actor=dpo, by=by, since=since)
    expected = _truth_grid(table, truth if by == "risk_level" else types_truth)
    grid, hidden = _whole(table)
    records = []
    for i, row in enumerate(grid):
        for j, count in enumerate(row):
            if (i, j) in hidden:
                assert count is None
                continue
            assert count == expected[i][j]
            assert count >= K
            if i < len(table.rows) and j < len(table.months):
                value, month = table.rows[i].value, table.months[j]
                records += [{"value": value, "month": month}] * count
    assert records, "the generated world publishes some counts"
    assert kanon({"records": records})["k"] >= K
    recovered = determined(expected, hidden)
    assert {e for e in recovered if expected[e[0]][e[1]]} == set()


def test_a_window_changes_which_months_show_never_a_total_or_a_hidden_cell(counted_world):
    """Subtracting one window from another gives nothing: the row totals cover every
    month, and the suppression is computed once for the whole table."""
    dpo, *_ = counted_world
    wide = statistics_table(actor=dpo, by="risk_level", since=_month_ago(9).strftime("%Y-%m"))
    narrow = statistics_table(actor=dpo, by="risk_level", since=_month_ago(2).strftime("%Y-%m"))
    for a, b in zip(wide.rows, narrow.rows, strict=True):
        assert a.total == b.total
        assert a.cells[-len(b.cells) :] == b.cells
    assert wide.totals.total == narrow.totals.total


def test_the_months_line_is_the_same_in_every_table_of_cases(counted_world):
    """One table cannot give back what another hid: the cases opened each month are
    hidden alike in the tables by risk, by status and by month."""
    dpo, *_ = counted_world
    since = _month_ago(9).strftime("%Y-%m")
    lines = [
        statistics_table(actor=dpo, by=by, since=since).totals
        for by in ("risk_level", "status", "month")
    ]
    assert lines[0].cells == lines[1].cells == lines[2].cells
    assert lines[0].total == lines[1].total == lines[2].total


def test_a_withdrawn_research_consent_takes_the_case_out_of_the_counts(counted_world):
    """AS9-TRF-1: withdrawal stops the use at once; the clear-text types go with it."""
    dpo, worker, *_ = counted_world
    facet = StatisticsFacet.objects.select_related("case").first()
    case = facet.case
    consent = case.consents.get(scope="research")
    before = StatisticsFacet.objects.filter(case=case).count()
    assert before >= 1
    consent_withdraw(actor=worker, case=case, consent_id=consent.pk, reason="Asked today")
    assert StatisticsFacet.objects.filter(case=case).count() == 0


def test_changing_the_types_changes_what_is_counted(counted_world):
    dpo, worker, *_ = counted_world
    case = StatisticsFacet.objects.select_related("case").first().case
    case = Case.objects.get(pk=case.pk)
    case_update(
        actor=worker,
        case=case,
        changes={"trafficking_types": ["forced_marriage"]},
        expected_version=case.version,
    )
    assert set(
        StatisticsFacet.objects.filter(case=case).values_list("trafficking_type", flat=True)
    ) == {"forced_marriage"}


def test_expired_consents_are_not_counted_and_the_purge_run_drops_their_facets(counted_world):
    dpo, *_ = counted_world
    facet = StatisticsFacet.objects.select_related("case").first()
    for consent in facet.case.consents.filter(scope="research"):
        consent.expires_at = timezone.now() - dt.timedelta(seconds=1)
        consent.save(update_fields=["expires_at"])
    call_command("purge_expired", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert not StatisticsFacet.objects.filter(case_id=facet.case_id).exists()


def test_the_event_records_the_question_and_the_csv_marks_what_is_hidden(counted_world):
    dpo, *_ = counted_world
    table = statistics_table(actor=dpo, by="status")
    event = AccessEvent.objects.filter(actor_id=dpo.pk, action="statistics.view").last()
    assert event.detail["by"] == "status"
    lines = statistics_csv_rows(table)
    assert lines[1][-1] == "total (all months)"
    assert any("*" in line for line in lines[2:])
    assert "suppressed" in lines[-1][0]


def test_statistics_api_answers_the_dpo_and_supervisors_only(api, counted_world):
    dpo, worker, *_ = counted_world
    supervisor = UserFactory(role=Role.SUPERVISOR, team=worker.team)
    assert api(dpo).get("/api/v1/statistics/?by=kind").status_code == 200
    assert api(supervisor).get("/api/v1/statistics/").status_code == 200
    refused = api(worker).get("/api/v1/statistics/")
    assert refused.status_code == 403
    body = api(dpo).get("/api/v1/statistics/?by=trafficking_types").json()
    assert body["min_cell"] == K and body["scope"] == "research_consent"
    for row in [*body["rows"], body["totals"]]:
        for cell in [*row["cells"], row["total"]]:
            assert cell["suppressed"] == (cell["count"] is None)
            assert cell["count"] is None or cell["count"] >= K


@pytest.mark.parametrize(
    "query",
    [
        "by=name",
        "since=2026-13",
        "since=1800-01",
        "since=2026-05&until=2026-01",
        "since=x",
        "until=",
        "since=2026-01-15",
    ],
)
def test_bad_questions_get_400(api, counted_world, query):
    dpo, *_ = counted_world
    answer = api(dpo).get(f"/api/v1/statistics/?{query}")
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid"
