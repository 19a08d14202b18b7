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


def test_digests_are_truncated_and_depend_on_the_field_and_the_key():
    root = bytes(range(32))
    a = blind.digest(root, "family_name", "quarnstrom", bits=14)
    assert 0 <= a < 2**14
    assert a == blind.digest(root, "family_name", "quarnstrom", bits=14)
    distinct = {blind.digest(root, "family_name", f"name{i}", bits=14) for i in range(200)}
    assert len(distinct) > 150  # spread, not constant
    others = [blind.digest(root, "given_name", f"name{i}", bits=14) for i in range(50)]
    same = [blind.digest(root, "family_name", f"name{i}", bits=14) for i in range(50)]
    assert others != same  # a per-field key: equal values in two fields do not line up
    other_root = [blind.digest(bytes(32), "family_name", f"name{i}", bits=14) for i in range(50)]
    assert other_root != same
    assert {blind.digest(root, "family_name", f"n{i}", bits=3) for i in range(100)} <= set(range(8))
    with pytest.raises(ValueError):
        blind.digest(root, "family_name", "x", bits=0)


@pytest.mark.parametrize(
    ("population", "bits"),
    [(1, 1), (10, 1), (30, 2), (60, 3), (1_000, 7), (100_000, 14), (10**9, 27)],
)
def test_the_recommended_truncation_leaves_a_few_others_on_each_digest(population, bits):
    """AS9-STO-1: neither unique digests (a copied database could confirm a name) nor
    hundreds of candidates per search."""
    assert blind.recommended_bits(population) == bits
    plan = blind.IndexPlan(bits=bits, population=population)
    if population >= 8:
        assert 2 <= plan.others_per_digest <= 8
        assert plan.alone < 0.15


@pytest.mark.django_db
def test_intake_writes_index_rows_only_for_given_fields(caseworker):
    case = open_case(caseworker, identity={"family_name": "Quarnstrom"})
    rows = BlindIndexEntry.objects.filter(survivor=case.survivor)
    assert sorted(rows.values_list("field", flat=True)) == ["family_name", "name_token"]
    assert all(isinstance(r.digest, int) for r in rows)


@pytest.mark.django_db
def test_no_index_on_low_cardinality_fields(caseworker):
    """Sex or nationality alone would identify groups of survivors: never indexed."""
    open_case(caseworker, identity={"sex": "female", "nationality": "Ruritanian"})
    assert not BlindIndexEntry.objects.exists()
    assert set(blind.INDEXED_FIELDS) == {"given_name", "family_name", "date_of_birth", "phone"}
