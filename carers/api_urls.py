from __future__ import annotations

from django.urls import path

from carers import api

urlpatterns = [
    path("me/wellbeing/", api.WellbeingApi.as_view(), name="wellbeing"),
    path("me/wellbeing/<uuid:entry_id>/", api.WellbeingEntryApi.as_view(), name="wellbeing-entry"),
    path("supervision/", api.SupervisionApi.as_view(), name="supervision"),
    path("support-plans/", api.SupportPlanApi.as_view(), name="support-plans"),
    path("training/", api.TrainingApi.as_view(), name="training"),
]
