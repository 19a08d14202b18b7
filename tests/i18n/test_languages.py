"""Each staff member works in their own language; survivors and recipients get their
letters and copies in theirs when it is offered. Error codes never change with the
language; the words do."""

from __future__ import annotations

import datetime as dt

from django.test import Client
from django.utils import timezone, translation

from access.models import ConfidentialityAcceptance, User
from access.services import confidentiality_accept, confidentiality_publish, grant_assign
from audit.models import AccessEvent
from carers import services as carers_services
from carers.models import SelfCheck
from cases.services import consent_record, organisation_add, referral_export
from haven.i18n import first_offered
from tests.factories import open_case
from tests.helpers import web_client


def test_api_error_codes_stay_and_details_follow_the_staff_members_language(api, caseworker):
    """The same refusal in English and in French: one code, two languages."""
    client = api(caseworker)
    english = client.get("/api/v1/cases/HV-0000-0000/")
    caseworker.language = "fr"
    caseworker.save(update_fields=["language"])
    french = client.get("/api/v1/cases/HV-0000-0000/")
    assert english.status_code == french.status_code == 404
    assert english.json()["code"] == french.json()["code"] == "not_found"
    assert english.json()["detail"] != french.json()["detail"]
    with translation.override("fr"):
        assert french.json()["detail"] == translation.gettext(english.json()["detail"])
    assert french["Content-Language"] == "fr"


def test_patch_me_sets_the_language_and_refuses_one_not_offered(api, caseworker, last_event):
    client = api(caseworker)
    assert client.patch("/api/v1/me/", {"language": "ar"}, format="json").status_code == 200
    assert User.objects.get(pk=caseworker.pk).language == "ar"
    assert last_event(action="staff.language").detail == {"language": "ar"}
    refused = client.patch("/api/v1/me/", {"language": "xx"}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "invalid"
    assert User.objects.get(pk=caseworker.pk).language == "ar"


def test_pages_follow_the_browser_before_sign_in_and_the_person_after(db):
    anonymous = Client(HTTP_ACCEPT_LANGUAGE="ar,en;q=0.5")
    page = anonymous.get("/login/").content.decode()
    assert '<html lang="ar" dir="rtl">' in page
    assert "تسجيل الدخول" in page
    assert (
        '<html lang="es" dir="ltr">'
        in Client(HTTP_ACCEPT_LANGUAGE="es-MX").get("/login/").content.decode()
    )


def test_the_language_control_keeps_the_choice_and_returns_to_the_page(caseworker, last_event):
    client = web_client(caseworker)
    response = client.post("/language/", {"language": "ru", "next": "/cases/"})
    assert response.status_code == 302 and response["Location"] == "/cases/"
    assert User.objects.get(pk=caseworker.pk).language == "ru"
    assert last_event(action="staff.language").detail == {"language": "ru"}
    page = client.get("/cases/").content.decode()
    assert '<html lang="ru" dir="ltr">' in page and "Мои дела" in page
    # An address elsewhere is never followed; an unknown language changes nothing.
    away = client.post("/language/", {"language": "xx", "next": "https://evil.example/"})
    assert away["Location"] == "/" and User.objects.get(pk=caseworker.pk).language == "ru"


def test_before_sign_in_the_control_sets_a_cookie_only(
    db,
):  # the sign-in page reads the sign-in policy
    client = Client()
    response = client.post("/language/", {"language": "fr", "next": "/login/"})
    assert response.cookies["django_language"].value == "fr"
    assert "Se connecter" in client.get("/login/").content.decode()


def test_every_page_shows_the_organisations_time_zone(caseworker, settings):
    settings.TIME_ZONE = "Asia/Bangkok"
    page = web_client(caseworker).get("/cases/").content.decode()
    assert "Asia/Bangkok" in page


def test_dates_are_written_the_readers_way(caseworker):
    case = open_case(caseworker)
    caseworker.language = "fr"
    caseworker.save(update_fields=["language"])
    page = web_client(caseworker).get(f"/cases/{case.reference}/").content.decode()
    opened = timezone.localtime(case.opened_at).date()
    assert opened.strftime("%d/%m/%Y") in page  # French short dates: day/month/year


def test_confidentiality_rules_per_language_and_the_language_accepted_is_kept(
    admin_user, caseworker, make_staff
):
    """AS9-STO-6: each reader is shown the version in their language when it is
    published in it, and the acceptance records both the version and that language."""
    russian = make_staff(language="ru")
    rules = confidentiality_publish(
        text="Keep every record confidential.",
        by=admin_user,
        translations={"fr": "Gardez chaque dossier confidentiel.", "ar": "حافظ على سرية كل ملف."},
    )
    caseworker.language = "fr"
    caseworker.save(update_fields=["language"])
    page = web_client(caseworker).get("/account/confidentiality/").content.decode()
    assert "Gardez chaque dossier confidentiel." in page
    assert "Keep every record confidential." not in page
    confidentiality_accept(user=caseworker, version=rules.version)
    accepted = ConfidentialityAcceptance.objects.get(user=caseworker, rules=rules)
    assert accepted.language == "fr"
    assert rules.text_in("ru") == ("Keep every record confidential.", "en")
    confidentiality_accept(user=russian, version=rules.version)
    assert ConfidentialityAcceptance.objects.get(user=russian, rules=rules).language == "en"
    event = AccessEvent.objects.filter(action="confidentiality.accept").order_by("-id").first()
    assert event is not None and event.detail == {"version": rules.version, "language": "en"}


def test_the_self_check_wording_per_language_and_the_language_answered_is_sealed(
    admin_user, caseworker
):
    """AS8-4: the organisation's wording is published per language and versioned; the
    language shown is kept inside the sealed row, never in clear."""
    items = {item: f"Élément {item}" for item in "abcdefghijklm"}
    loaded = carers_services.wording_load(
        actor=admin_user, items=items, support="Appelez Marie.", source="", language="fr"
    )
    assert loaded.language == "fr" and loaded.items["a"] == "Élément a"
    english = carers_services.wording_current("en")
    assert english.version == loaded.version and english.language == "en"
    with translation.override("en"):
        assert english.items["a"] == "Feeling cut off from other people"
    caseworker.language = "fr"
    caseworker.save(update_fields=["language"])
    entry = carers_services.selfcheck_record(actor=caseworker, answers=dict.fromkeys(items, 5))
    assert (entry.wording_version, entry.wording_language) == (loaded.version, "fr")
    row = SelfCheck.objects.values().get(pk=entry.id)
    assert "fr" not in {str(v) for k, v in row.items() if k != "content"}
    assert carers_services.selfchecks_of(actor=caseworker)[0].wording_language == "fr"


def test_the_recipient_language_is_found_by_code_or_by_name():
    assert first_offered(["Tigrinya", "français"]) == "fr"
    assert first_offered(["ar-SY"]) == "ar"
    assert first_offered(["Русский"]) == "ru"
    assert first_offered(["Khmer"]) == "en"


def test_the_referral_letter_is_written_in_the_recipients_language(
    caseworker, clinician, supervisor
):
    organisation_add(actor=supervisor, name="Clinique du Port", slug="port", languages=["fr"])
    case = open_case(caseworker, summary="Besoin d'un suivi.")
    consent_record(
        actor=caseworker,
        case=case,
        scope="referral",
        recipient_slug="port",
        purpose="Soins",
        method="written",
        given_at=timezone.now() - dt.timedelta(hours=1),
    )
    grant_assign(case=case, user=clinician, granted_by=caseworker)
    referral, _ = referral_export(
        actor=clinician,
        case=case,
        recipient_slug="port",
        purpose="Soins",
        sections=["summary"],
        include_identity=False,
        fmt="pdf",
        preview_only=True,
    )
    lines = "\n".join(referral.preview_lines)
    assert "Orientation vers Clinique du Port" in lines
    assert "RÉSUMÉ DE L'ACCOMPAGNEMENT" in lines
    assert "Referral to" not in lines
