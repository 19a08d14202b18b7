"""AS8-2: a worker asks, with a private reason, to hand over a case that is personally
hard; the team's supervisor approves (the case moves at once, with a handover note) or
declines (nothing changes)."""

from __future__ import annotations

import pytest
from django.db import connection

from access.models import CaseGrant, GrantKind
from access.roles import Role
from access.services import grant_add
from cases.models import TransferRequest
from tests.factories import open_case
from tests.helpers import db_pk, web_client

pytestmark = pytest.mark.django_db

REASON = "MARKER-PRIVATE-REASON it reminds me of my sister"


@pytest.fixture
def others(make_staff, other_team):
    return {
        "cw2": make_staff(Role.CASEWORKER, username="cw2"),
        "sup2": make_staff(Role.SUPERVISOR, username="sup2", team=other_team),
    }


def _ask(api, user, case, reason=REASON):
    return api(user).post(
        f"/api/v1/cases/{case.reference}/transfer-requests/", {"reason": reason}, format="json"
    )


def _assigned(case) -> set[str]:
    return {
        g.user.username
        for g in CaseGrant.objects.filter(
            content_object_id=case.pk, kind=GrantKind.ASSIGNMENT, revoked_at__isnull=True
        ).select_related("user")
    }


def test_AS8_2_only_the_assigned_worker_asks_and_the_reason_is_private(
    api, caseworker, supervisor, dpo, others, last_event
):
    case = open_case(caseworker)
    made = _ask(api, caseworker, case)
    assert made.status_code == 201, made.content
    assert made.json()["reason"] == REASON and made.json()["status"] == "pending"
    assert last_event(action="transfer.request").case_reference == case.reference
    assert REASON not in str(last_event(action="transfer.request").__dict__)
    again = _ask(api, caseworker, case)
    assert (again.status_code, again.json()["code"]) == (409, "request_pending")
    # The supervisor reads the case but is not assigned to it.
    assert _ask(api, supervisor, case).json()["code"] == "not_assigned"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reason FROM cases_transferrequest WHERE id = %s",
            [db_pk(TransferRequest.objects.get())],
        )
        assert b"MARKER-PRIVATE-REASON" not in bytes(cursor.fetchone()[0])
    seen = {
        user.username: api(user).get("/api/v1/transfer-requests/").json()["results"]
        for user in (caseworker, supervisor, others["cw2"], others["sup2"], dpo)
    }
    assert [r["reason"] for r in seen["cw"]] == [REASON]
    assert [r["reason"] for r in seen["sup"]] == [REASON]
    assert seen["cw2"] == seen["sup2"] == seen["dpo"] == []


def test_AS8_2_a_declined_request_leaves_everything_as_it_was(api, caseworker, supervisor):
    case = open_case(caseworker)
    request_id = _ask(api, caseworker, case).json()["id"]
    before = _assigned(case)
    url = f"/api/v1/transfer-requests/{request_id}/decide/"
    no_note = api(supervisor).post(url, {"decision": "decline"}, format="json")
    assert no_note.status_code == 400
    declined = api(supervisor).post(
        url, {"decision": "decline", "note": "Let us talk first"}, format="json"
    )
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    assert _assigned(case) == before == {"cw"}
    twice = api(supervisor).post(url, {"decision": "approve", "to_user": "cw2"}, format="json")
    assert (twice.status_code, twice.json()["code"]) == (409, "decided")


def test_AS8_2_an_approved_request_moves_the_case_at_once_with_a_handover_note(
    api, caseworker, supervisor, others
):
    case = open_case(caseworker)
    request_id = _ask(api, caseworker, case).json()["id"]
    url = f"/api/v1/transfer-requests/{request_id}/decide/"
    unknown = api(supervisor).post(url, {"decision": "approve", "to_user": "nobody"}, format="json")
    assert unknown.status_code == 400 and _assigned(case) == {"cw"}  # nothing moved
    itself = api(supervisor).post(url, {"decision": "approve", "to_user": "cw"}, format="json")
    assert itself.status_code == 400 and _assigned(case) == {"cw"}
    approved = api(supervisor).post(
        url,
        {"decision": "approve", "to_user": "cw2", "note": "She prefers mornings; interpreter Dari"},
        format="json",
    )
    assert approved.status_code == 200, approved.content
    assert approved.json()["to_user"] == "cw2"
    assert _assigned(case) == {"cw2"}
    assert api(caseworker).get(f"/api/v1/cases/{case.reference}/").status_code in (403, 404)
    page = web_client(others["cw2"]).get(f"/cases/{case.reference}/").content.decode()
    assert "She prefers mornings; interpreter Dari" in page
    assert "MARKER-PRIVATE-REASON" not in page


def test_AS8_2_a_grant_of_their_own_keeps_the_requesters_access(
    api, caseworker, supervisor, others
):
    case = open_case(caseworker)
    grant_add(case=case, username="cw", reason="co-worker on the trial", granted_by=supervisor)
    request_id = _ask(api, caseworker, case).json()["id"]
    approved = api(supervisor).post(
        f"/api/v1/transfer-requests/{request_id}/decide/",
        {"decision": "approve", "to_user": "cw2"},
        format="json",
    )
    assert approved.status_code == 200
    assert _assigned(case) == {"cw2"}
    assert api(caseworker).get(f"/api/v1/cases/{case.reference}/").status_code == 200


def test_AS8_2_outsiders_cannot_decide(api, caseworker, others, last_event):
    case = open_case(caseworker)
    request_id = _ask(api, caseworker, case).json()["id"]
    url = f"/api/v1/transfer-requests/{request_id}/decide/"
    refused = api(others["sup2"]).post(
        url, {"decision": "approve", "to_user": "cw2"}, format="json"
    )
    assert refused.status_code == 404
    assert last_event(action="transfer.decide").outcome == "denied"
    assert (
        api(caseworker).post(url, {"decision": "decline", "note": "x"}, format="json").status_code
        == 403
    )
    assert _assigned(case) == {"cw"}


def test_AS8_2_the_pages_ask_and_decide(caseworker, supervisor, others):
    case = open_case(caseworker)
    worker = web_client(caseworker)
    assert "Ask to hand this case over" in worker.get(f"/cases/{case.reference}/").content.decode()
    empty = worker.post(f"/cases/{case.reference}/transfer/", {"reason": ""})
    assert empty.status_code == 400
    assert worker.post(f"/cases/{case.reference}/transfer/", {"reason": REASON}).status_code == 302
    boss = web_client(supervisor)
    caseload = boss.get("/team/caseload/").content.decode()
    assert REASON in caseload and "Requests to hand over a case" in caseload
    request_id = TransferRequest.objects.get().pk
    done = boss.post(
        "/team/transfers/decide/",
        {
            "request": str(request_id),
            "decision": "approve",
            "to_user": "cw2",
            "note": "Over to you",
        },
    )
    assert done.status_code == 302
    assert _assigned(case) == {"cw2"}
