"""Blind indexes: normalisation, truncation, and never plaintext. AS9-STO-1, AS9-STO-2."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from access.crypto import blind
from cases.models import BlindIndexEntry
from tests.factories import open_case


@pytest.mark.parametrize(
    ("field", "a", "b"),
    [
        ("family_name", "Quarnstrom", "  quarnstrom "),
        ("family_name", "QUARNSTRÖM", "quarnström"),
        ("family_name", "Ｑｕａｒｎｓｔｒｏｍ", "quarnstrom"),  # full-width forms (NFKC)
        ("given_name", "Anna  Maria", "anna maria"),
        ("given_name", "STRASSE", "straße"),  # casefold, not lower
        ("phone", "+44 (0)7700-900 555", "44077009005 55"),
        ("date_of_birth", dt.date(1990, 5, 17), "1990-05-17"),
    ],
)
def test_equal_after_normalisation(field, a, b):
    assert blind.normalise(field, a) == blind.normalise(field, b)


def test_nothing_left_is_no_value():
    assert blind.normalise("phone", "n/a") is None
    assert blind.normalise("given_name", "   ") is None
    assert blind.normalise("date_of_birth", "1990-02-30") is None


@given(st.text(max_size=60))
def test_normalisation_is_idempotent(text):
    once = blind.normalise("family_name", text)
    assert once is None or blind.normalise("family_name", once) == once


@pytest.mark.django_db
def test_digests_are_truncated_and_depend_on_the_field(settings):
    settings.HAVEN_BLIND_INDEX_BITS = 14
    key_id = "i1"
    a = blind.digest("family_name", "quarnstrom", key_id=key_id)
    assert 0 <= a < 2**14
    assert a == blind.digest("family_name", "quarnstrom", key_id=key_id)
    same_value_other_field = blind.digest("given_name", "quarnstrom", key_id=key_id)
    distinct = {blind.digest("family_name", f"name{i}", key_id=key_id) for i in range(200)}
    assert len(distinct) > 150  # spread, not constant
    assert isinstance(same_value_other_field, int)


@pytest.mark.django_db
def test_intake_writes_index_rows_only_for_given_fields(caseworker):
    case = open_case(caseworker, identity={"family_name": "Quarnstrom"})
    rows = BlindIndexEntry.objects.filter(survivor=case.survivor)
    assert list(rows.values_list("field", flat=True)) == ["family_name"]
    assert all(isinstance(r.digest, int) for r in rows)


@pytest.mark.django_db
def test_no_index_on_low_cardinality_fields(caseworker):
    """Sex or nationality alone would identify groups of survivors: never indexed."""
    open_case(caseworker, identity={"sex": "female", "nationality": "Ruritanian"})
    assert not BlindIndexEntry.objects.exists()
    assert set(blind.INDEXED_FIELDS) == {"given_name", "family_name", "date_of_birth", "phone"}
