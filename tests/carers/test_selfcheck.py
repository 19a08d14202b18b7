"""AS8-4: the private self-check. Its answers and scores are the staff member's alone:
no route, page, export or audit row shows them to anyone else, and the database holds
nothing readable or linkable to the person."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from access.crypto.errors import DecryptionFailed
from access.models import StaffKey
from access.roles import Role
from audit.models import AccessEvent
from carers import scale, services
from carers.models import SelfCheck
from tests.helpers import pg_dump_text, web_client

pytestmark = pytest.mark.django_db

# Answers whose scores are unlikely anywhere else: 7s and 9s.
ANSWERS = {item: (9 if item in scale.SECONDARY_TRAUMA else 7) for item in scale.ITEMS}
EXPECTED = {"secondary_trauma": 45, "burnout": 56, "total": 101}


def _record(api, user, answers=None):
    return api(user).post("/api/v1/me/wellbeing/", {"answers": answers or ANSWERS}, format="json")


def test_AS8_4_a_staff_member_records_and_reads_their_own_scores(api, caseworker):
    made = _record(api, caseworker)
    assert made.status_code == 201, made.content
    body = made.json()
    assert {k: body[k] for k in EXPECTED} == EXPECTED
    assert set(body) >= {"id", "taken_at", "secondary_trauma", "burnout", "total"}
    listed = api(caseworker).get("/api/v1/me/wellbeing/").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == body["id"]
    assert listed["results"][0]["answers"] == ANSWERS


@pytest.mark.parametrize(
    "answers",
    [
        {**ANSWERS, "a": 0},
        {**ANSWERS, "m": 11},
        {**ANSWERS, "c": True},
        {**ANSWERS, "c": "seven"},
        {**ANSWERS, "c": 7.5},
        {k: v for k, v in ANSWERS.items() if k != "e"},
        {**ANSWERS, "n": 3},
        ["a", "b"],
        None,
    ],
)
def test_AS8_4_bad_answers_are_refused_and_nothing_is_kept(api, caseworker, answers):
    response = api(caseworker).post("/api/v1/me/wellbeing/", {"answers": answers}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not SelfCheck.objects.exists()


def test_AS8_4_nobody_else_reads_or_deletes_them(api, caseworker, make_staff, supervisor, dpo):
    entry_id = _record(api, caseworker).json()["id"]
    admin = make_staff(Role.ADMIN, username="adm", is_staff=True)
    superuser = make_staff(Role.ADMIN, username="root", is_staff=True, is_superuser=True)
    for other in (supervisor, dpo, admin, superuser, make_staff(Role.CASEWORKER, username="cw2")):
        client = api(other)
        assert client.get("/api/v1/me/wellbeing/").json()["count"] == 0
        gone = client.delete(f"/api/v1/me/wellbeing/{entry_id}/")
        assert gone.status_code == 404
        for path in ("/admin/carers/selfcheck/", "/processing.json", "/api/v1/audit/events/"):
            page = web_client(other).get(path)
            text = page.content.decode(errors="replace")
            assert entry_id not in text and '"answers"' not in text
    assert SelfCheck.objects.count() == 1
    assert api(caseworker).delete(f"/api/v1/me/wellbeing/{entry_id}/").status_code == 204
    assert not SelfCheck.objects.exists()


def test_AS8_4_the_trail_records_only_that_a_self_check_happened(api, caseworker, last_event):
    _record(api, caseworker)
    event = last_event(action="wellbeing.selfcheck")
    assert (event.actor_id, event.actor_username, event.actor_role) == (None, "", "")
    assert (event.ip, event.user_agent, event.request_id, event.detail) == (None, "", "", {})
    assert timezone.localtime(event.at).time() == dt.time(0, 0)  # the day, not the moment
    assert not AccessEvent.objects.filter(actor_id=caseworker.pk, action__startswith="wellbeing")


def test_AS8_4_the_database_holds_nothing_readable_or_linkable(api, make_staff):
    # A name long enough that random ciphertext cannot hold it by chance: a short one
    # such as "cw" turns up in the blob's bytes now and then, and the test would fail
    # for no fault of the product.
    caseworker = make_staff(Role.CASEWORKER, username="selfcheck-owner-linkable-name")
    made = _record(api, caseworker).json()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM carers_selfcheck")
        (row,) = cursor.fetchall()
        columns = [c[0] for c in cursor.description]
    stored = dict(zip(columns, row, strict=True))
    assert set(stored) == {"id", "owner_tag", "wording_version", "content"}
    blob = bytes(stored["content"])
    for plain in (b'"answers"', b"taken_at", made["taken_at"][:16].encode()):
        assert plain not in blob
    name = caseworker.username
    assert str(caseworker.pk) != stored["owner_tag"] and name not in stored["owner_tag"]
    assert name not in str(stored["wording_version"]) and name.encode() not in blob
    # Without the owner's key the row does not open, even to the application.
    row_obj = SelfCheck.objects.get()
    with pytest.raises(DecryptionFailed):
        _ = row_obj.content


def test_AS8_4_a_key_moved_to_another_account_does_not_open_for_it(api, caseworker, make_staff):
    """A database administrator who gives one person's key row to another account
    gains nothing: the key is bound to the account it was made for."""
    _record(api, caseworker)
    intruder = make_staff(Role.CASEWORKER, username="intruder")
    services.staff_key(intruder)
    StaffKey.objects.filter(user=intruder).delete()
    StaffKey.objects.filter(user=caseworker).update(user=intruder)
    with pytest.raises(DecryptionFailed):
        services.selfchecks_of(actor=intruder)


def test_AS8_4_the_staff_key_is_rotated_with_the_others(api, caseworker, isolated_keyring):
    _record(api, caseworker)
    call_command("keys", "add", stdout=io.StringIO())
    call_command("keys", "rotate", stdout=io.StringIO(), stderr=io.StringIO())
    active = StaffKey.objects.get(user=caseworker).kek_id
    assert StaffKey.objects.exclude(kek_id=active).count() == 0
    assert services.selfchecks_of(actor=caseworker)[0].answers == ANSWERS


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_dump (CI runs it)")
@pytest.mark.django_db(transaction=True)
def test_AS8_4_a_pg_dump_shows_no_answers(caseworker):
    made = services.selfcheck_record(actor=caseworker, answers=ANSWERS)
    dump = pg_dump_text()
    assert '"answers"' not in dump and made.taken_at.isoformat()[:19] not in dump
    assert str(made.id) in dump  # the row is there, sealed


def test_AS8_4_the_page_shows_the_trend_and_deletes_with_confirmation(caseworker):
    client = web_client(caseworker)
    page = client.get("/account/wellbeing/").content.decode()
    assert "no cut-off" in page and "a. Feeling cut off" in page
    for answers in (ANSWERS, {**ANSWERS, "c": 1}):
        response = client.post("/account/wellbeing/", {k: str(v) for k, v in answers.items()})
        assert response.status_code == 302
    page = client.get("/account/wellbeing/").content.decode()
    assert "<polyline" in page and "Secondary trauma over time, from 45 to 37" in page
    missing = client.post("/account/wellbeing/", {k: "5" for k in "abcdefghijkl"})
    assert (
        missing.status_code == 400 and "Choose a number from 1 to 10." in missing.content.decode()
    )
    assert re.search(r'name="a" value="5"[^>]*checked', missing.content.decode())  # kept
    entry = services.selfchecks_of(actor=caseworker)[0]
    url = f"/account/wellbeing/{entry.id}/delete/"
    assert client.post(url, {}).status_code == 400  # not confirmed: nothing deleted
    assert len(services.selfchecks_of(actor=caseworker)) == 2
    assert client.post(url, {"confirm": "on"}).status_code == 302
    assert len(services.selfchecks_of(actor=caseworker)) == 1


def test_AS8_4_i_would_like_to_talk_reaches_my_supervisor_and_nobody_else(
    supervisor, make_staff, other_team
):
    # A name that a page's random tokens (CSRF, CSP nonce) cannot hold by chance.
    caseworker = make_staff(Role.CASEWORKER, username="would-like-to-talk-worker")
    other_supervisor = make_staff(Role.SUPERVISOR, username="sup2", team=other_team)
    web_client(caseworker).post("/account/wellbeing/talk/")
    mine = web_client(supervisor).get("/team/talk/").content.decode()
    assert caseworker.username in mine or caseworker.get_full_name() in mine
    assert (
        "1 of your team would like to talk"
        in web_client(supervisor).get("/").content.decode(errors="replace")
        or "would like to talk" in mine
    )
    assert (
        caseworker.username not in web_client(other_supervisor).get("/team/talk/").content.decode()
    )
    assert web_client(caseworker).get("/team/talk/").status_code == 403
    request_id = services.talk_requests_for(supervisor=supervisor)[0].pk
    web_client(supervisor).post("/team/talk/", {"request": str(request_id)})
    assert services.talk_requests_for(supervisor=supervisor) == []


def test_AS8_4_an_administrator_loads_the_organisations_wording(make_staff, caseworker, api):
    admin = make_staff(Role.ADMIN, username="adm", is_staff=True)
    form = {f"item_{i}": f"Wording of {i} — формулировка" for i in scale.ITEMS}
    form |= {"support": "Peer line: 0800 000 000", "source": "Licensed, 2026"}
    assert web_client(caseworker).post("/staff/wellbeing-wording/", form).status_code == 403
    assert web_client(admin).post("/staff/wellbeing-wording/", form).status_code == 302
    old = _record(api, caseworker).json()
    assert old["wording_version"] == 1
    page = web_client(caseworker).get("/account/wellbeing/").content.decode()
    assert "Wording of a — формулировка" in page and "Peer line: 0800 000 000" in page
    form["item_a"] = "Changed"
    web_client(admin).post("/staff/wellbeing-wording/", form)
    assert services.wording_current().version == 2
    assert services.selfchecks_of(actor=caseworker)[0].wording_version == 1
    assert json.loads(json.dumps(services.wording_of(1).items))["a"].startswith("Wording of a")


def test_AS8_4_the_dpo_sees_that_the_self_check_is_used_never_by_whom(api, caseworker, dpo):
    _record(api, caseworker)
    _record(api, caseworker)
    data = api(dpo).get("/api/v1/processing/").json()
    month = timezone.localdate().strftime("%Y-%m")
    use = {line["label"]: line["value"] for line in data["carers_use"]}
    assert use[month] == "2 self-checks"
    assert caseworker.username not in json.dumps(data)
