"""Shared by the audit tests: a realistic trail, sequenced into the log."""

from __future__ import annotations

import pytest

from access import ledger
from audit import verification
from audit.models import LogLeaf, PendingLeaf
from cases.services import encounter_update
from tests.factories import MARKERS, add_encounter, open_case


@pytest.fixture
def trail(caseworker, api):
    """A realistic trail: intake, reads, an edit (change-log entries), more reads, all
    sequenced into the log."""
    case = open_case(caseworker)
    encounter = add_encounter(caseworker, case)
    client = api(caseworker)
    client.get(f"/api/v1/cases/{case.reference}/")
    client.get(f"/api/v1/cases/{case.reference}/identity/")
    encounter_update(
        actor=caseworker,
        case=case,
        encounter_id=encounter.pk,
        expected_version=1,
        changes={"notes": "edited " + MARKERS["notes"]},
    )
    client.get(f"/api/v1/cases/{case.reference}/encounters/")
    ledger.sequence_now()
    assert LogLeaf.objects.filter(kind="change").exists()
    assert LogLeaf.objects.count() >= 10
    assert not PendingLeaf.objects.exists()
    return case


@pytest.fixture(params=["blocks of 16384", "blocks of 4"])
def log_blocks(request, monkeypatch):
    """The check reads the log in blocks of 2**14 leaves; with blocks of 4 a small
    trail spans several, so the nodes above a block, the frontier of block roots and
    heads that end inside a block are checked too."""
    if request.param == "blocks of 4":
        monkeypatch.setattr(verification, "LEVELS", 2)
        monkeypatch.setattr(verification, "BLOCK", 4)
    return request.param
