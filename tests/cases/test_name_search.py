"""Search that finds people: the folded name-word index next to the exact one, under the
same blind-index rules (truncated digests, decrypt to confirm, only readable cases, no
values in events). "Nguyen Thi" finds "Nguyễn Thị"; names in several scripts.
AS9-STO-1, AS9-STO-3, AS9-USE-1."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import example, given
from hypothesis import strategies as st

from access.crypto import blind
from audit.models import AccessEvent
from cases.models import BlindIndexEntry
from cases.services import identity_rectify, survivor_shred
from tests.factories import open_case
from tests.helpers import web_client

# Every test runs with each key provider: the keyring file and a PKCS#11 token.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("key_provider")]

URL = "/api/v1/cases/search/"
VIETNAMESE = {"given_name": "Thị Hoa", "family_name": "Nguyễn", "aliases": ["Hoa Béo"]}


def _refs(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["reference"] for row in response.json()["results"]]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Nguyen Thi", "Nguyễn Thị"),  # Vietnamese, precomposed
        ("nguyen", "Nguye\u0302\u0303n"),  # Vietnamese, decomposed marks
        ("Елкин", "Ёлкин"),  # Cyrillic yo
        ("محمد", "مُحَمَّد"),  # Arabic short vowels
        ("lukasz", "Łukasz"),  # a letter with its mark inside
        ("STRASSE", "Straße"),
        ("ＡＮＮＡ", "Anna"),  # full-width
    ],
)
def test_folding_ignores_case_and_optional_marks(typed, stored):
    assert blind.words(typed) == blind.words(stored)


def test_folding_keeps_the_marks_that_are_letters():
    """Thai vowel signs are letters: dropping them would merge different names."""
    assert blind.words("สมชาย") != blind.words("สมชาย".replace("\u0e32", ""))
    assert blind.words("สมชาย ใจดี") == ["สมชาย", "ใจดี"]
    assert blind.words("阮氏花") == ["阮氏花"]


@example("0\u2028\U0001cf30")  # a mark after a line separator: found by hypothesis
@given(st.text(max_size=40))
def test_folding_is_idempotent(text):
    assert blind.words(" ".join(blind.words(text))) == blind.words(text)


def test_a_name_without_accents_finds_the_person_in_any_order(api, caseworker, last_event):
    wanted = open_case(caseworker, identity=VIETNAMESE)
    open_case(caseworker, identity={"given_name": "Thi", "family_name": "Tran"})
    client = api(caseworker)
    assert _refs(client.get(URL, {"name": "Nguyen Thi"})) == [wanted.reference]
    assert _refs(client.get(URL, {"name": "hoa NGUYEN"})) == [wanted.reference]
    assert _refs(client.get(URL, {"name": "beo"})) == [wanted.reference]  # an alias
    assert sorted(_refs(client.get(URL, {"name": "thi"}))) == sorted(
        [wanted.reference, *_refs(client.get(URL, {"name": "tran"}))]
    )
    assert _refs(client.get(URL, {"name": "Nguyen Van"})) == []  # every word must match
    event = last_event(action="case.search")
    assert event.detail == {"results": 0, "fields": ["name"]}


def test_names_in_other_scripts_are_found(api, caseworker):
    case = open_case(
        caseworker,
        identity={**VIETNAMESE, "script_names": ["阮氏花", "Нгуен Тхи Хоа"]},
    )
    client = api(caseworker)
    assert _refs(client.post(URL, {"name": "阮氏花"}, format="json")) == [case.reference]
    assert _refs(client.post(URL, {"name": "нгуен хоа"}, format="json")) == [case.reference]


def test_name_combines_with_the_exact_fields(api, caseworker):
    case = open_case(caseworker, identity={**VIETNAMESE, "phone": "+44 7700 900123"})
    client = api(caseworker)
    assert _refs(client.get(URL, {"name": "nguyen", "phone": "447700900123"})) == [case.reference]
    assert _refs(client.get(URL, {"name": "nguyen", "phone": "447700900999"})) == []


def test_only_readable_cases_are_searched(api, caseworker, make_staff):
    """AS9-STO-3."""
    open_case(make_staff(username="elsewhere"), identity=VIETNAMESE)
    assert _refs(api(caseworker).get(URL, {"name": "nguyen thi"})) == []


def test_collisions_are_rechecked_by_decrypting(api, caseworker, monkeypatch):
    """Truncation gives different words the same digest on purpose."""
    monkeypatch.setattr(blind, "digest", lambda root, field, value, *, bits: 3)
    wanted = open_case(caseworker, identity=VIETNAMESE)
    open_case(caseworker, identity={"given_name": "Quang", "family_name": "Pham"})
    assert _refs(api(caseworker).get(URL, {"name": "nguyen"})) == [wanted.reference]


def test_the_index_holds_truncated_digests_one_per_distinct_word(caseworker):
    """AS9-STO-1: never a word, only a truncated HMAC; a repeated word is one row."""
    case = open_case(caseworker, identity={"given_name": "Anna Anna", "family_name": "Nguyễn"})
    rows = BlindIndexEntry.objects.filter(survivor=case.survivor, field=blind.NAME_TOKEN)
    assert 1 <= rows.count() <= 2
    text = str(list(rows.values()))
    assert "anna" not in text.lower() and "nguy" not in text.lower()
    assert all(0 <= row.digest < 2**31 for row in rows)


def test_a_correction_reindexes_the_words(api, caseworker):
    case = open_case(caseworker, identity=VIETNAMESE)
    identity_rectify(actor=caseworker, case=case, changes={"family_name": "Trần", "aliases": None})
    client = api(caseworker)
    assert _refs(client.get(URL, {"name": "nguyen"})) == []
    assert _refs(client.get(URL, {"name": "tran hoa"})) == [case.reference]


def test_shredding_removes_the_words(caseworker):
    case = open_case(caseworker, identity=VIETNAMESE)
    survivor_shred(case=case, actor=caseworker)
    assert not BlindIndexEntry.objects.filter(survivor=case.survivor).exists()


@pytest.mark.parametrize("name", ["   ", "-- ,", "x" * 201, "a\x00b"])
def test_a_name_with_no_words_or_bad_text_is_refused(api, caseworker, name):
    response = api(caseworker).post(URL, {"name": name}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_the_web_search_box_takes_a_name(caseworker):
    case = open_case(caseworker, identity=VIETNAMESE)
    client = web_client(caseworker)
    response = client.post("/cases/", {"name": "nguyen thi"})
    assert response.status_code == 200
    assert case.reference in response.content.decode()
    assert AccessEvent.objects.filter(action="case.search").latest("id").detail["fields"] == [
        "name"
    ]


def test_a_search_of_many_criteria_is_one_flat_index_query(api, caseworker, supervisor):
    """Every criterion and word is looked up in one query over the blind index, grouped
    by survivor: never one nested ``IN`` per criterion, which made PostgreSQL chain
    nested loops and took seconds on a small database (found by schemathesis)."""
    wanted = open_case(caseworker, identity={**VIETNAMESE, "phone": "+44 7700 900123"})
    open_case(caseworker, identity={**VIETNAMESE, "phone": "+44 7700 900999"})
    words = "Nguyen Thi Hoa"
    query = {"name": words, "family_name": "Nguyễn", "phone": "+44 7700 900123"}
    with CaptureQueriesContext(connection) as queries:
        found = _refs(api(supervisor).get(URL, query))
    assert found == [wanted.reference]
    searched = [q["sql"] for q in queries if "cases_blindindexentry" in q["sql"]]
    assert searched and all(q.count("cases_blindindexentry") == 1 for q in searched)
    assert all("HAVING" in q for q in searched)
