"""A client generated from the live schema with openapi-python-client drives a case
from intake to referral without a single edit: the schema describes what the server
really sends (paginated lists, optional clinical block, media types)."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import ModuleType

import pytest


def _generate(url: str, workdir: Path) -> ModuleType:
    schema = workdir / "schema.json"
    request = urllib.request.Request(f"{url}/api/schema/?format=json")  # noqa: S310
    request.add_header("Accept", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        schema.write_bytes(response.read())
    config = workdir / "client.yaml"
    config.write_text("package_name_override: haven_client\npost_hooks: []\n")
    tool = shutil.which("openapi-python-client") or str(
        Path(sys.executable).with_name("openapi-python-client")
    )
    result = subprocess.run(
        [
            tool,
            "generate",
            "--path",
            str(schema),
            "--config",
            str(config),
            "--meta",
            "none",
            "--output-path",
            str(workdir / "haven_client"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout, result.stdout  # nothing skipped or guessed
    sys.path.insert(0, str(workdir))
    return importlib.import_module("haven_client")


@pytest.fixture(scope="module")
def client_package(haven, tmp_path_factory):
    package = _generate(haven.url, tmp_path_factory.mktemp("generated"))
    yield package
    for name in [n for n in sys.modules if n == "haven_client" or n.startswith("haven_client.")]:
        del sys.modules[name]


def test_a_generated_client_drives_intake_to_referral_unedited(haven, client_package):
    api = importlib.import_module("haven_client.api.v1")
    models = importlib.import_module("haven_client.models")
    run = {
        name: importlib.import_module(f"haven_client.api.v1.{name}")
        for name in (
            "confidentiality_retrieve",
            "confidentiality_accept",
            "organisations_create",
            "cases_create",
            "cases_list",
            "encounters_create",
            "encounters_list",
            "encounters_update",
            "consents_create",
            "referrals_create",
            "referrals_download",
            "me_retrieve",
        )
    }
    assert api is not None
    auth = client_package.AuthenticatedClient
    sup = auth(base_url=haven.url, token=haven.tokens["sup"], raise_on_unexpected_status=True)
    clin = auth(base_url=haven.url, token=haven.tokens["clin"], raise_on_unexpected_status=True)

    for client in (sup, clin):
        rules = run["confidentiality_retrieve"].sync(client=client)
        run["confidentiality_accept"].sync(
            client=client, body=models.AcceptInputRequest(version=rules.version)
        )
        assert run["me_retrieve"].sync(client=client).confidentiality.accepted is True

    run["organisations_create"].sync_detailed(
        client=sup, body=models.OrganisationInputRequest(name="Client Clinic", slug="client-clinic")
    )
    created = run["cases_create"].sync(
        client=sup,
        body=models.CaseCreateInputRequest(
            identity=models.IdentityInputRequest(given_name="Nadia", family_name="Client-Test"),
            summary="Opened by a generated client",
            risk_level=models.RiskLevelEnum.MEDIUM,
            trafficking_types=[models.TraffickingTypesEnum.LABOUR],
        ),
    )
    reference = created.reference
    page = run["cases_list"].sync(client=sup)
    assert reference in {row.reference for row in page.results} and page.count >= 1

    when = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    encounter = run["encounters_create"].sync(
        reference=reference,
        client=sup,
        body=models.EncounterInputRequest(occurred_at=when, kind=models.KindEnum.FOLLOW_UP),
    )
    assert encounter.version == 1
    updated = run["encounters_update"].sync(
        reference=reference,
        encounter_id=encounter.id,
        client=sup,
        body=models.PatchedEncounterPatchInputRequest(notes="Edited by the client", version=1),
    )
    assert updated.version == 2 and updated.notes == "Edited by the client"
    timeline = run["encounters_list"].sync(reference=reference, client=sup)
    assert timeline.count == 1  # parsed although a supervisor gets no clinical block

    run["consents_create"].sync(
        reference=reference,
        client=sup,
        body=models.ConsentInputRequest(
            scope=models.ConsentInputScopeEnum.REFERRAL,
            recipient="client-clinic",
            purpose="Continuing care",
            method=models.MethodEnum.WRITTEN,
            given_at=when,
        ),
    )
    referral = run["referrals_create"].sync(
        reference=reference,
        client=sup,
        body=models.ReferralInputRequest(
            recipient="client-clinic",
            purpose="continuing care",
            sections=[models.SectionsEnum.SUMMARY],
            format_=models.FormatEnum.FHIR,
        ),
    )
    assert len(referral.sha256) == 64
    download = run["referrals_download"].sync_detailed(referral_id=referral.id, client=sup)
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/fhir+json")
    package = download.parsed.payload.read()
    assert hashlib.sha256(package).hexdigest() == referral.sha256
    again = run["referrals_download"].sync_detailed(referral_id=referral.id, client=sup)
    assert again.status_code == 410
