from __future__ import annotations

from django.urls import path

from cases.views import disclosure, pages, team

app_name = "cases"
urlpatterns = [
    path("", pages.my_cases, name="my-cases"),
    path("cases/new/", pages.case_new, name="new"),
    path("break-glass/", team.break_glass, name="break-glass"),
    path("team/caseload/", team.caseload, name="caseload"),
    path("organisations/", disclosure.organisations, name="organisations"),
    path("cases/<str:reference>/", pages.case_detail, name="detail"),
    path("cases/<str:reference>/identity/", pages.identity_reveal, name="identity"),
    path("cases/<str:reference>/encounters/new/", pages.encounter_new, name="encounter-new"),
    path("cases/<str:reference>/grants/", team.grant_add, name="grant-add"),
    path("cases/<str:reference>/consents/", disclosure.consent_add, name="consent-add"),
    path(
        "cases/<str:reference>/consents/<uuid:consent_id>/withdraw/",
        disclosure.consent_withdraw,
        name="consent-withdraw",
    ),
    path(
        "cases/<str:reference>/consents/<uuid:consent_id>/form/",
        disclosure.consent_form,
        name="consent-form",
    ),
    path("cases/<str:reference>/referral/", disclosure.referral_wizard, name="referral"),
    path(
        "cases/<str:reference>/grants/<int:grant_id>/revoke/",
        team.grant_revoke,
        name="grant-revoke",
    ),
    path(
        "cases/<str:reference>/encounters/<uuid:encounter_id>/edit/",
        pages.encounter_edit,
        name="encounter-edit",
    ),
]
