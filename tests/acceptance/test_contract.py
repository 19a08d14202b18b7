"""The contract of ../shared/ARCHITECTURE.md, driven over HTTP against a real server,
for every role, by a client that knows nothing but the contract. AS9-STO-1, AS9-STO-3,
AS9-STO-4, AS9-STO-6, AS9-TRF-1, AS9-TRF-3, AS9-TRF-4, AS9-USE-1, AS9-USE-4."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.acceptance.http import Client

Make = Callable[[str | None], Client]
NAME = "Quarnstrom-Acceptance"
IDENTITY = {
    "given_name": "Zelphira",
    "family_name": NAME,
    "date_of_birth": "1991-04-12",
    "phone": "+44 7700 900777",
    "email": "zelphira@example.org",
    "address": "MARKER-ADDRESS 1 High Street",
    "nationality": "Ruritanian",
    "languages": ["ar", "en"],
    "aliases": ["Zee"],
}


def _when(hours_ago: float = 1) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)).isoformat()


def _paginated(answer) -> list:
    assert answer.status == 200, answer.body[:300]
    body = answer.json
    assert set(body) == {"count", "next", "previous", "results"}, body
    return body["results"]


def _every_page(client: Client, path: str) -> list:
    rows, url = [], path
    while url:
        answer = client.get(url)
        rows += _paginated(answer)
        url = answer.json["next"]
    return rows


def test_everything_under_api_answers_json_with_a_stable_code(as_user: Make):
    anonymous = as_user(None)
    for path, status, code in (
        ("/api/v1/cases/", 401, "not_authenticated"),
        ("/api/v1/nowhere/", 404, "not_found"),
        ("/api/v1/cases/HV-0000-0000/encounters/not-a-uuid/", 404, "not_found"),
    ):
        answer = anonymous.get(path)
        assert (answer.status, answer.json["code"]) == (status, code), answer.body
        assert answer.content_type.startswith("application/json")
    wrong_method = as_user("cw").request("PUT", "/api/v1/cases/", {})
    assert wrong_method.status in (403, 405)  # rules not accepted yet, or not allowed
    assert wrong_method.content_type.startswith("application/json")


def test_nothing_before_the_rules_are_accepted_through_the_api(as_user: Make):
    client = as_user("cw-south")
    refused = client.get("/api/v1/cases/")
    assert refused.status == 403 and refused.json["code"] == "confidentiality_not_accepted"
    me = client.get("/api/v1/me/").json
    assert me["username"] == "cw-south" and me["role"] == "caseworker" and me["team"] == "south"
    assert me["confidentiality"]["accepted"] is False
    rules = client.get("/api/v1/confidentiality/").json
    stale = client.post("/api/v1/confidentiality/accept/", {"version": rules["version"] + 1})
    assert stale.status == 409 and stale.json["code"] == "stale_rules"
    ok = client.post("/api/v1/confidentiality/accept/", {"version": rules["version"]})
    assert ok.status == 200 and ok.json["accepted"] is True
    assert client.get("/api/v1/cases/").status == 200
    assert client.patch("/api/v1/me/", {"language": "fr"}).json["language"] == "fr"


@pytest.fixture(scope="module")
def journey(accepted: Make) -> dict:
    """One case through the contract: intake, identity, encounters, consent."""
    sup, cw = accepted("sup"), accepted("cw")
    org = sup.post("/api/v1/organisations/", {"name": "Riverside Clinic", "slug": "riverside"})
    assert org.status == 201, org.body
    intake = cw.post(
        "/api/v1/cases/",
        {
            "identity": IDENTITY,
            "summary": "MARKER-SUMMARY needs housing and a GP",
            "risk_level": "high",
            "trafficking_types": ["labour", "domestic_servitude"],
        },
    )
    assert intake.status == 201, intake.body
    created = intake.json
    text = intake.body.decode()
    assert not any(str(v) in text for v in (NAME, IDENTITY["phone"], "MARKER-ADDRESS"))
    return {"reference": created["reference"], "created": created}


def test_intake_list_search_and_identity(journey: dict, accepted: Make):
    ref = journey["reference"]
    cw = accepted("cw")
    listed = _paginated(cw.get("/api/v1/cases/"))
    assert ref in {row["reference"] for row in listed}
    assert NAME not in cw.get("/api/v1/cases/").body.decode()
    found = _paginated(cw.get(f"/api/v1/cases/search/?family_name={NAME.lower()}"))
    assert [row["reference"] for row in found] == [ref]
    case = cw.get(f"/api/v1/cases/{ref}/")
    assert case.status == 200 and NAME not in case.body.decode()
    assert case.json["risk_level"] == "high"
    identity = cw.get(f"/api/v1/cases/{ref}/identity/")
    assert identity.status == 200 and identity.json["family_name"] == NAME
    fixed = cw.patch(f"/api/v1/cases/{ref}/identity/", {"nationality": "Freedonian"})
    assert fixed.status == 200 and fixed.json["nationality"] == "Freedonian"


def test_encounters_with_versions_and_clinical_only_for_clinicians(journey: dict, accepted: Make):
    ref = journey["reference"]
    cw, sup, clin = accepted("cw"), accepted("sup"), accepted("clin")
    made = cw.post(
        f"/api/v1/cases/{ref}/encounters/",
        {
            "occurred_at": _when(),
            "kind": "follow_up",
            "notes": "Talked about housing",
            "location": "Drop-in centre",
            "interpreter_used": True,
            "services_provided": ["shelter"],
            "follow_up_date": (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=7)).isoformat(),
        },
    )
    assert made.status == 201, made.body
    encounter = made.json
    assert encounter["version"] == 1 and "clinical" not in encounter
    url = f"/api/v1/cases/{ref}/encounters/{encounter['id']}/"
    edited = cw.patch(url, {"notes": "Talked about housing and work", "version": 1})
    assert edited.status == 200 and edited.json["version"] == 2
    stale = cw.patch(url, {"notes": "an edit made from an old screen", "version": 1})
    assert stale.status == 409 and stale.json["current_version"] == 2
    assert cw.get(url).json["notes"] == "Talked about housing and work"
    assert clin.get(f"/api/v1/cases/{ref}/").status == 404  # not on the case yet
    grant = sup.post(
        f"/api/v1/cases/{ref}/grants/",
        {"user": "clin", "reason": "Medical follow-up", "expires_at": _when(-48)},
    )
    assert grant.status == 201, grant.body
    clinical = clin.post(
        f"/api/v1/cases/{ref}/encounters/",
        {
            "occurred_at": _when(0.5),
            "kind": "medical",
            "notes": "Seen in clinic",
            "clinical": {
                "conditions": [
                    {"display": "Asthma", "code": "195967001", "system": "http://snomed.info/sct"}
                ],
                "medications": [{"display": "Salbutamol"}],
                "allergies": [{"display": "Penicillin"}],
            },
        },
    )
    assert clinical.status == 201 and clinical.json["clinical"]["conditions"], clinical.body
    by_clinician = _paginated(clin.get(f"/api/v1/cases/{ref}/encounters/"))
    assert any(row.get("clinical") for row in by_clinician)
    by_caseworker = _paginated(cw.get(f"/api/v1/cases/{ref}/encounters/"))
    assert len(by_caseworker) == 2 and all("clinical" not in row for row in by_caseworker)
    refused = cw.post(
        f"/api/v1/cases/{ref}/encounters/",
        {"occurred_at": _when(), "kind": "medical", "clinical": {"conditions": []}},
    )
    assert refused.status == 403


def test_consent_referral_download_once_and_withdrawal(journey: dict, accepted: Make):
    ref = journey["reference"]
    cw, clin = accepted("cw"), accepted("clin")
    clin_on_case = clin.get(f"/api/v1/cases/{ref}/").status == 200
    if not clin_on_case:
        accepted("sup").post(
            f"/api/v1/cases/{ref}/grants/", {"user": "clin", "reason": "Medical follow-up"}
        )
    purpose = "Medical follow-up after discharge"
    export = {
        "recipient": "riverside",
        "purpose": purpose,
        "sections": ["summary", "encounters", "clinical"],
        "include_identity": False,
        "format": "fhir",
    }
    refused = clin.post(f"/api/v1/cases/{ref}/referrals/", export)
    assert refused.status == 403 and refused.json["code"] == "consent_required"
    consent = cw.post(
        f"/api/v1/cases/{ref}/consents/",
        {
            "scope": "referral",
            "recipient": "riverside",
            "purpose": purpose,
            "method": "written",
            "given_at": _when(2),
            "expires_at": _when(-24 * 30),
        },
    )
    assert consent.status == 201, consent.body
    created = clin.post(f"/api/v1/cases/{ref}/referrals/", {**export, "purpose": purpose.upper()})
    assert created.status == 201, created.body
    body = created.json
    assert {"id", "download_url", "sha256"} <= set(body) and "passphrase" not in body
    package = clin.get(body["download_url"])
    assert package.status == 200 and package.content_type.startswith("application/fhir+json")
    assert hashlib.sha256(package.body).hexdigest() == body["sha256"]
    assert package.json["resourceType"] == "Bundle"
    assert NAME not in package.body.decode()  # identity was not chosen
    again = clin.get(body["download_url"])
    assert again.status == 410 and again.content_type.startswith("application/json")
    pdf = clin.post(f"/api/v1/cases/{ref}/referrals/", {**export, "format": "pdf"}).json
    assert len(pdf["passphrase"]) >= 20
    letter = clin.get(pdf["download_url"])
    assert letter.status == 200 and letter.content_type == "application/pdf"
    assert letter.body.startswith(b"%PDF") and b"/Encrypt" in letter.body
    other = clin.post(f"/api/v1/cases/{ref}/referrals/", {**export, "purpose": "Housing"})
    assert other.status == 403 and other.json["code"] == "consent_required"
    withdrawn = cw.post(
        f"/api/v1/cases/{ref}/consents/{consent.json['id']}/withdraw/", {"reason": "asked"}
    )
    assert withdrawn.status == 200 and withdrawn.json["active"] is False
    after = clin.post(f"/api/v1/cases/{ref}/referrals/", export)
    assert after.status == 403 and after.json["code"] == "consent_required"


def test_grants_revoke_at_once_and_break_glass_is_time_limited(journey: dict, accepted: Make):
    ref = journey["reference"]
    sup, cw2 = accepted("sup"), accepted("cw2")
    assert cw2.get(f"/api/v1/cases/{ref}/").status == 404
    grant = sup.post(f"/api/v1/cases/{ref}/grants/", {"user": "cw2", "reason": "Cover"})
    assert grant.status == 201 and cw2.get(f"/api/v1/cases/{ref}/").status == 200
    listed = _paginated(sup.get(f"/api/v1/cases/{ref}/grants/"))
    assert any(row["user"] == "cw2" and row["active"] for row in listed)
    assert sup.delete(f"/api/v1/cases/{ref}/grants/{grant.json['id']}/").status == 204
    assert cw2.get(f"/api/v1/cases/{ref}/").status == 404
    short = cw2.post(f"/api/v1/cases/{ref}/break-glass/", {"reason": "short"})
    assert short.status == 400
    glass = cw2.post(
        f"/api/v1/cases/{ref}/break-glass/", {"reason": "Police called about immediate danger"}
    )
    assert glass.status == 201 and glass.json["expires_at"]
    assert cw2.get(f"/api/v1/cases/{ref}/").status == 200


@pytest.mark.parametrize(
    ("user", "expected"),
    [("cw-south", 404), ("sup-south", 404), ("dpo", 404), ("adm", 404)],
)
def test_outsiders_and_roles_without_case_access_see_nothing(
    journey: dict, accepted: Make, user: str, expected: int
):
    ref = journey["reference"]
    client = accepted(user)
    for path in ("", "identity/", "encounters/", "consents/"):
        assert client.get(f"/api/v1/cases/{ref}/{path}").status in (expected, 403)
    assert ref not in client.get("/api/v1/cases/").body.decode()


def test_the_dpo_reviews_access_without_content(journey: dict, accepted: Make, haven):
    ref = journey["reference"]
    dpo, sup, cw = accepted("dpo"), accepted("sup"), accepted("cw")
    report = _every_page(dpo, f"/api/v1/cases/{ref}/access-report/")
    actions = {row["action"] for row in report}
    assert {"case.create", "identity.view", "encounter.create"} <= actions
    assert sup.get(f"/api/v1/cases/{ref}/access-report/").status == 200
    assert cw.get(f"/api/v1/cases/{ref}/access-report/").status == 403
    events = _paginated(dpo.get(f"/api/v1/audit/events/?case={ref}&outcome=denied"))
    assert events and all(row["outcome"] == "denied" for row in events)
    assert all(isinstance(row["leaf_index"], int) for row in events)
    everything = dpo.get(f"/api/v1/audit/events/?case={ref}").body.decode()
    assert NAME not in everything and "MARKER" not in everything
    searches = _paginated(dpo.get("/api/v1/audit/events/?action=case.search"))
    assert searches and NAME.lower() not in str(searches)
    # The answer is the newest scheduled check's, at once; the DPO asks for a fresh one
    # and sees it when the job has run it: a worker's background thread, as in
    # production, or the operator's audit_sequencer service, whichever comes first.
    before = dpo.get("/api/v1/audit/verify/")
    assert before.status == 200
    asked = dpo.post("/api/v1/audit/verify/", {})
    assert asked.status == 202 and asked.json["requested"] is True
    haven.manage("audit_sequencer", "--once")
    verdict = _fresh_check(dpo, after=before.json.get("checked_at"))
    assert verdict["intact"] is True and verdict["checked"] > 0 and verdict["stale"] is False
    assert cw.get("/api/v1/audit/events/").status == 403


def _fresh_check(dpo: Client, *, after: str | None, seconds: float = 60) -> dict:
    """The newest result once the requested check has run: no request waiting, and a
    full check newer than ``after`` (a requested check is always full; a scheduled
    incremental one that ends meanwhile is not it). The check may be running in a
    worker's thread while the operator's command, finding it busy, steps aside; so this
    waits for it. Each poll is a read the log records, which wakes that worker's thread."""
    deadline = time.monotonic() + seconds
    since = dt.datetime.fromisoformat(after) if after else None
    while True:
        verdict = dpo.get("/api/v1/audit/verify/").json
        at = verdict.get("checked_at")
        newer = at is not None and (since is None or dt.datetime.fromisoformat(at) > since)
        if not verdict["requested"] and newer and verdict["kind"] == "full":
            return verdict
        assert time.monotonic() < deadline, f"the requested check did not run: {verdict}"
        time.sleep(0.5)


def _verifier(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m audit_verify`` run from a directory that holds nothing else, as an
    auditor would run it with only the script and ``cryptography``."""
    alone = tmp_path / "verifier"
    if not alone.exists():
        shutil.copytree(
            Path(__file__).resolve().parents[2] / "audit_verify",
            alone / "audit_verify",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    return subprocess.run(
        [sys.executable, "-E", "-m", "audit_verify", *args],
        cwd=alone,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_outsider_proves_the_log_with_the_public_key_only(
    journey: dict, accepted: Make, haven, tmp_path: Path
):
    """AS9-USE-2: signed tree heads and proofs from the API, checked offline by the
    stand-alone verifier with the public key the DPO kept (Audit log proofs)."""
    ref = journey["reference"]
    dpo, cw = accepted("dpo"), accepted("cw")
    key = haven.manage("audit_public_key").strip()
    earlier = dpo.get("/api/v1/audit/tree-head/").json
    assert set(earlier) == {"size", "root_hash", "timestamp", "key_id", "signature"}
    assert earlier["size"] > 0 and len(earlier["root_hash"]) == 64
    assert earlier["key_id"] == hashlib.sha256(__import__("base64").b64decode(key)).hexdigest()[:16]
    cw.get(f"/api/v1/cases/{ref}/")
    later = dpo.get("/api/v1/audit/tree-head/").json
    assert later["size"] > earlier["size"]
    consistency = dpo.get(
        f"/api/v1/audit/proof/consistency/?first={earlier['size']}&second={later['size']}"
    ).json
    assert consistency["first"] == earlier["size"] and consistency["second"] == later["size"]
    event = _paginated(dpo.get(f"/api/v1/audit/events/?case={ref}&action=case.view"))[0]
    inclusion = dpo.get(
        f"/api/v1/audit/proof/inclusion/?leaf={event['leaf_index']}&size={later['size']}"
    ).json
    assert inclusion["leaf_index"] == event["leaf_index"]
    for name, body in {
        "earlier.json": earlier,
        "later.json": later,
        "consistency.json": consistency,
        "inclusion.json": inclusion,
    }.items():
        (tmp_path / name).write_text(json.dumps(body))
    (tmp_path / "leaf.bin").write_bytes(__import__("base64").b64decode(inclusion["leaf"]))
    files = {name: str(tmp_path / name) for name in ("earlier.json", "later.json")}
    ok = _verifier(
        tmp_path,
        "--key",
        key,
        "--head",
        files["later.json"],
        "--earlier",
        files["earlier.json"],
        "--consistency",
        str(tmp_path / "consistency.json"),
        "--inclusion",
        str(tmp_path / "inclusion.json"),
        "--leaf",
        str(tmp_path / "leaf.bin"),
    )
    assert ok.returncode == 0, ok.stderr
    assert f"extends the log of size {earlier['size']}" in ok.stdout
    assert f"leaf {event['leaf_index']} is in the log" in ok.stdout
    # a head whose root was changed, or a proof for other sizes, is refused
    (tmp_path / "forged.json").write_text(json.dumps(later | {"root_hash": "0" * 64}))
    bad = _verifier(tmp_path, "--key", key, "--head", str(tmp_path / "forged.json"))
    assert bad.returncode == 1 and "not signed" in bad.stderr
    # the same proofs by size: a head of a size no run stopped at is signed on demand
    middle = dpo.get(f"/api/v1/audit/tree-head/?size={earlier['size'] - 1}").json
    assert middle["size"] == earlier["size"] - 1
    for path, status, code in (
        ("tree-head/?size=-1", 400, "invalid"),
        (f"tree-head/?size={later['size'] + 10**6}", 404, "beyond_log"),
        (f"proof/consistency/?first=1&second={later['size'] + 10**6}", 404, "beyond_log"),
        ("proof/inclusion/?leaf=5&size=5", 404, "out_of_range"),
        ("proof/inclusion/?leaf=x&size=5", 400, "invalid"),
        ("proof/consistency/?first=0&second=5", 400, "min_value"),
        ("proof/consistency/?first=6&second=5", 404, "out_of_range"),
        ("proof/consistency/?first=1&second=2&extra=1", 400, "unknown_field"),
    ):
        answer = dpo.get(f"/api/v1/audit/{path}")
        assert answer.status == status, (path, answer.status)
        assert code in json.dumps(answer.json), (path, answer.json)
    for path in (
        "tree-head/",
        "proof/inclusion/?leaf=0&size=1",
        "proof/consistency/?first=1&second=1",
    ):
        assert cw.get(f"/api/v1/audit/{path}").status == 403


def test_bad_input_gets_a_stable_4xx_and_changes_nothing(journey: dict, accepted: Make):
    cw = accepted("cw")
    before = cw.get("/api/v1/cases/").json["count"]
    for raw, code in (
        (b'{"summary": "unterminated', "parse_error"),
        (b"[" * 5000 + b"]" * 5000, "parse_error"),
        (b'{"summary": "a\\u0000b"}', "invalid"),
        (b'{"identity": {"date_of_birth": "1990-02-30"}}', "invalid"),
        (b'{"risk_level": "extreme"}', "invalid"),
        (b'{"sumary": "typo"}', "invalid"),
    ):
        answer = cw.request("POST", "/api/v1/cases/", raw=raw)
        assert (answer.status, answer.json["code"]) == (400, code), (raw[:40], answer.body)
    assert cw.get("/api/v1/cases/").json["count"] == before


def test_the_self_check_is_the_staff_members_own(accepted: Make):
    """AS8-4 over HTTP: a staff member records and reads their own self-checks; the
    supervisor, the DPO and the administrator reach none of them, by any id."""
    cw = accepted("cw")
    answers = {item: 4 for item in "abcdefghijklm"} | {"c": 10, "e": 10}
    made = cw.post("/api/v1/me/wellbeing/", {"answers": answers})
    assert made.status == 201, made.body
    entry = made.json
    assert (entry["secondary_trauma"], entry["burnout"], entry["total"]) == (32, 32, 64)
    assert set(entry) >= {"id", "taken_at", "secondary_trauma", "burnout", "total"}
    mine = _every_page(cw, "/api/v1/me/wellbeing/")
    assert entry["id"] in {e["id"] for e in mine}
    for other in ("sup", "dpo", "adm"):
        client = accepted(other)
        assert entry["id"] not in {e["id"] for e in _every_page(client, "/api/v1/me/wellbeing/")}
        assert client.delete(f"/api/v1/me/wellbeing/{entry['id']}/").status == 404
    bad = cw.post("/api/v1/me/wellbeing/", {"answers": {**answers, "a": 11}})
    assert bad.status == 400 and bad.json["code"] == "invalid"
    assert cw.delete(f"/api/v1/me/wellbeing/{entry['id']}/").status == 204
    assert cw.delete(f"/api/v1/me/wellbeing/{entry['id']}/").status == 404
