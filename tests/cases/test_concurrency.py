"""Invariant 8 under real concurrency: two edits of the same version at the same
moment, on PostgreSQL (row locks). Exactly one wins; the other is told, nothing lost."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from access.services import grant_assign
from cases.errors import StaleVersion
from cases.models import Encounter, Revision
from cases.services import encounter_update
from tests.factories import add_encounter, open_case


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_edits_of_one_version_never_lose_data(caseworker, make_staff):
    """AS9-END-4: the winning correction keeps the replaced version as history."""
    if connection.vendor != "postgresql":
        pytest.skip("needs row locks: runs on PostgreSQL in CI")
    case = open_case(caseworker)
    other = make_staff(username="other")
    grant_assign(case=case, user=other, granted_by=caseworker)
    encounter = add_encounter(caseworker, case)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def edit(actor, text):
        try:
            barrier.wait()
            encounter_update(
                actor=actor,
                case=case,
                encounter_id=encounter.pk,
                expected_version=1,
                changes={"notes": text},
            )
            outcomes[text] = "saved"
        except StaleVersion:
            outcomes[text] = "stale"
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=edit, args=(u, t)) for u, t in ((caseworker, "A"), (other, "B"))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes.values()) == ["saved", "stale"]
    winner = next(text for text, result in outcomes.items() if result == "saved")
    stored = Encounter.objects.select_related("case__survivor").get(pk=encounter.pk)
    assert (stored.notes, stored.version) == (winner, 2)
    assert Revision.objects.filter(object_id=encounter.pk).count() == 1
