from __future__ import annotations

from django.urls import path

import haven.converters  # noqa: F401  (registers <id:...>)
from cases.views import aftercare, care, disclosure, lifecycle, pages, team

app_name = "cases"
urlpatterns = [
    path("today/", care.my_day, name="today"),
    path("cases/", pages.my_cases, name="my-cases"),
    path("cases/new/", pages.case_new, name="new"),
    path("break-glass/", team.break_glass, name="break-glass"),
    path("team/caseload/", team.caseload, name="caseload"),
    path("organisations/", disclosure.organisations, name="organisations"),
    path("requests/", aftercare.requests, name="requests"),
    path("requests/<uuid:request_id>/", aftercare.request_detail, name="request"),
    path(
        "requests/<uuid:request_id>/download/",
        aftercare.request_download,
        name="request-download",
    ),
    path("statistics/", aftercare.statistics, name="statistics"),
    path("statistics.csv", aftercare.statistics_csv, name="statistics-csv"),
    path("processing/", aftercare.processing, name="processing"),
    path("cases/<str:reference>/transfer/", aftercare.transfer_new, name="transfer-new"),
    path("team/transfers/decide/", aftercare.transfer_decide, name="transfer-decide"),
    path("processing.csv", aftercare.processing_csv, name="processing-csv"),
    path("processing.json", aftercare.processing_json, name="processing-json"),
    path("cases/<str:reference>/legal-hold/", aftercare.legal_hold, name="legal-hold"),
    path("cases/<str:reference>/requests/new/", aftercare.request_new, name="request-new"),
    path("cases/<str:reference>/", pages.case_detail, name="detail"),
    path("cases/<str:reference>/identity/", pages.identity_reveal, name="identity"),
    path("cases/<str:reference>/identity/edit/", lifecycle.identity_edit, name="identity-edit"),
    path("cases/<str:reference>/edit/", lifecycle.case_edit, name="edit"),
    path("cases/<str:reference>/close/", lifecycle.case_close, name="close"),
    path("cases/<str:reference>/reopen/", lifecycle.case_reopen, name="reopen"),
    path("cases/<str:reference>/history/", lifecycle.case_history, name="history"),
    path("cases/<str:reference>/print/", lifecycle.case_print, name="print"),
    path("cases/<str:reference>/plan/", care.plan, name="plan"),
    path("cases/<str:reference>/plan/<uuid:goal_id>/", care.goal_edit, name="goal"),
    path("cases/<str:reference>/services/", care.service_list, name="services"),
    path("cases/<str:reference>/services/<uuid:service_id>/", care.service_edit, name="service"),
    path(
        "cases/<str:reference>/referrals/<uuid:referral_id>/status/",
        care.referral_status,
        name="referral-status",
    ),
    path("cases/<str:reference>/tasks/", care.task_list, name="tasks"),
    path("cases/<str:reference>/tasks/<uuid:task_id>/", care.task_edit, name="task"),
    path("cases/<str:reference>/attachments/", care.attachments, name="attachments"),
    path(
        "cases/<str:reference>/attachments/<uuid:attachment_id>/",
        care.attachment_download,
        name="attachment",
    ),
    path(
        "referrals/<uuid:referral_id>/download/",
        disclosure.referral_download,
        name="referral-download",
    ),
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
        "cases/<str:reference>/grants/<id:grant_id>/revoke/",
        team.grant_revoke,
        name="grant-revoke",
    ),
    path(
        "cases/<str:reference>/encounters/<uuid:encounter_id>/edit/",
        pages.encounter_edit,
        name="encounter-edit",
    ),
]
