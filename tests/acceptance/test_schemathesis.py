"""schemathesis over the live OpenAPI schema, every check on: what the schema promises
is what the server does (statuses, media types, bodies, refusals of invalid input,
acceptance of valid input, authentication), with real records to aim at."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.acceptance.http import Client

Make = Callable[[str | None], Client]

# Rules that JSON Schema cannot state, for which the server answers 400 to input the
# schema allows. Each operation names its own; nothing else may be refused.
SEMANTIC_RULES = {
    "POST /api/v1/cases/": "a birth date is not in the future nor before 1900; a field "
    "is not both given and declined",
    "PATCH /api/v1/cases/{reference}/identity/": "as for intake",
    "POST /api/v1/cases/{reference}/encounters/": "an encounter is not more than a day "
    "ahead nor before 1990; a follow-up falls within a year back and three ahead; a "
    "code comes with its system",
    "PATCH /api/v1/cases/{reference}/encounters/{encounter_id}/": "as for recording",
    "POST /api/v1/cases/{reference}/consents/": "the recipient is in the directory; "
    "consent is not given in the future and ends after it starts; a referral or legal "
    "consent names its recipient and purpose; a scanned form is a PDF, PNG or JPEG",
    "POST /api/v1/cases/{reference}/grants/": "the user is an active staff member with "
    "a case role; the end is in the future and within a year",
    "POST /api/v1/cases/{reference}/referrals/": "the recipient is in the directory",
    "GET /api/v1/cases/search/": "at least one field is given",
    "PATCH /api/v1/cases/{reference}/": "at least one field besides the version",
    "POST /api/v1/cases/{reference}/plan/": "a goal is agreed on a day from 1990 to "
    "tomorrow, reviewed after that within three years",
    "PATCH /api/v1/cases/{reference}/plan/{goal_id}/": "as for adding",
    "POST /api/v1/cases/{reference}/services/": "the provider is in the directory; a due "
    "date within a year back and three ahead",
    "PATCH /api/v1/cases/{reference}/services/{service_id}/": "as for recording",
    "POST /api/v1/cases/{reference}/tasks/": "the assignee is an active member of the "
    "case's team; a due date within a year back and three ahead",
    "PATCH /api/v1/cases/{reference}/tasks/{task_id}/": "as for adding",
    "POST /api/v1/cases/{reference}/attachments/": "the file is a PDF, JPEG or PNG by its "
    "content, a readable image of a sane size; a photo needs a consent to photographs",
    "POST /api/v1/cases/{reference}/close/": "every point of a checklist given is true",
    "POST /api/v1/me/drafts/": "the path is a page of this site",
    "GET /api/v1/audit/events/": "a case reference ends with its check symbol",
    "GET /api/v1/statistics/": "a month from 1990-01 to 2100-12, the first not after the "
    "last, at most 120 months",
    "DELETE /api/v1/cases/{reference}/legal-hold/": "a reason in the JSON body, which "
    "OpenAPI 3.0 cannot describe on DELETE (POST .../legal-hold/release/ is its twin)",
    "POST /api/v1/supervision/": "the staff are caseworkers or clinicians of the "
    "supervisor's team; an individual session has one person, a group two or more; held "
    "on a day from 2000 to today",
    "POST /api/v1/transfer-requests/{request_id}/decide/": "approval names a caseworker "
    "or clinician of the team other than the requester; a decline gives a note",
    "POST /api/v1/support-plans/": "something was agreed (one field at least); the review "
    "date falls within the next year",
    "POST /api/v1/training/": "the training is one the person's role needs; completed on "
    "a day from 2000 to today",
}
# State rather than data: a package downloads once, then answers 410 Gone.
STATE_RULES = {
    "GET /api/v1/referrals/{referral_id}/download/": ["410"],
    "GET /api/v1/requests/{request_id}/download/": ["410"],
}
DEFAULT_ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]


def _world(accepted: Make) -> dict[str, str]:
    """Real records for the path parameters, made through the API as a supervisor."""
    sup = accepted("sup")
    sup.post("/api/v1/organisations/", {"name": "Schema Clinic", "slug": "schema-clinic"})
    case = sup.post("/api/v1/cases/", {"summary": "Made for the schema checks"}).json
    ref = case["reference"]
    when = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    encounter = sup.post(
        f"/api/v1/cases/{ref}/encounters/", {"occurred_at": when, "kind": "phone"}
    ).json
    consent = sup.post(
        f"/api/v1/cases/{ref}/consents/",
        {
            "scope": "referral",
            "recipient": "schema-clinic",
            "purpose": "Schema checks",
            "method": "verbal",
            "given_at": when,
        },
    ).json
    grant = sup.post(f"/api/v1/cases/{ref}/grants/", {"user": "cw2", "reason": "Cover"}).json
    referral = sup.post(
        f"/api/v1/cases/{ref}/referrals/",
        {
            "recipient": "schema-clinic",
            "purpose": "Schema checks",
            "sections": ["summary"],
            "format": "fhir",
        },
    ).json
    today = dt.datetime.now(dt.UTC).date().isoformat()
    goal = sup.post(f"/api/v1/cases/{ref}/plan/", {"goal": "A home", "agreed_on": today}).json
    service = sup.post(f"/api/v1/cases/{ref}/services/", {"type": "shelter"}).json
    task = sup.post(f"/api/v1/cases/{ref}/tasks/", {"title": "Call", "due_on": today}).json
    request = sup.post(
        f"/api/v1/cases/{ref}/requests/",
        {"kind": "access", "reason": "The person asked for a copy", "format": "json"},
    ).json
    return {
        "reference": ref,
        "goal_id": goal["id"],
        "service_id": service["id"],
        "task_id": task["id"],
        "encounter_id": encounter["id"],
        "consent_id": consent["id"],
        "grant_id": str(grant["id"]),
        "referral_id": referral["id"],
        "request_id": request["id"],
    }


def _config(url: str, token: str, parameters: dict[str, str]) -> str:
    lines = [
        f'base-url = "{url}"',
        "generation.max-examples = 25",
        "generation.deterministic = true",
        'generation.database = "none"',
        "[headers]",
        f'Authorization = "Bearer {token}"',
        "[checks]",
        "enabled = true",
        "[parameters]",
        *(f'{name} = "{value}"' for name, value in parameters.items()),
    ]
    for operation, rule in SEMANTIC_RULES.items():
        lines += [
            "[[operations]]",
            f'include-name = "{operation}"',
            f"# {rule}",
            "checks.positive_data_acceptance.expected-statuses = "
            + json.dumps([*DEFAULT_ACCEPTED, "400"]),
        ]
    for operation, statuses in STATE_RULES.items():
        lines += [
            "[[operations]]",
            f'include-name = "{operation}"',
            "checks.positive_data_acceptance.expected-statuses = "
            + json.dumps([*DEFAULT_ACCEPTED, *statuses]),
        ]
    return "\n".join(lines) + "\n"


def test_the_live_schema_holds_under_schemathesis_with_every_check(
    haven, accepted: Make, tmp_path: Path
):
    accepted("dpo")  # so that the audit endpoints are reached with a second run below
    parameters = _world(accepted)
    # One process a user, both at once, each with one worker: schemathesis's worker
    # threads would share CPython 3.11's AST parser, which Hypothesis calls to describe
    # its strategies, and that parser is not safe across threads (CPython gh-106905:
    # "SystemError: AST constructor recursion depth mismatch" now and then).
    st = shutil.which("st") or str(Path(sys.executable).with_name("st"))
    runs = {}
    for user in ("sup", "dpo"):
        config = tmp_path / f"schemathesis-{user}.toml"
        config.write_text(_config(haven.url, haven.tokens[user], parameters))
        out, err = tmp_path / f"{user}.out", tmp_path / f"{user}.err"
        # The child gets its own copies of the files; ours close once it has started.
        with out.open("w") as stdout, err.open("w") as stderr:
            process = subprocess.Popen(  # noqa: S603 (fixed arguments)
                [
                    st,
                    "--config-file",
                    str(config),
                    "--no-color",
                    "run",
                    f"{haven.url}/api/schema/",
                    "--checks",
                    "all",
                    "--phases",
                    "examples,coverage,fuzzing",
                    "--workers",
                    "1",
                    "--output-truncate",
                    "false",
                ],
                stdout=stdout,
                stderr=stderr,
                env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
                cwd=tmp_path,
            )
        runs[user] = (process, out, err)
    deadline = time.monotonic() + 900
    try:
        for process, _, _ in runs.values():
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:  # a run past the deadline is stopped, not left running after the test
        for process, _, _ in runs.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    failures = []
    for user, (process, out, err) in runs.items():
        if process.returncode != 0:
            report = out.read_text()
            found = [at for at in (report.find("FAILURES"), report.find("ERRORS")) if at >= 0]
            start = min(found) if found else max(0, len(report) - 20000)
            failures.append(
                f"--- as {user} (exit {process.returncode}) ---\n"
                f"{report[start:][:20000]}\n{err.read_text()[-2000:]}"
            )
    assert not failures, "\n".join(failures)
