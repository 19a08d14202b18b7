from __future__ import annotations

from django.urls import path

from carers import views

app_name = "carers"

urlpatterns = [
    path("account/wellbeing/", views.wellbeing, name="wellbeing"),
    path(
        "account/wellbeing/<uuid:entry_id>/delete/",
        views.wellbeing_delete,
        name="wellbeing-delete",
    ),
    path("account/wellbeing/talk/", views.talk, name="talk"),
    path("team/talk/", views.team_talk, name="team-talk"),
    path("supervision/", views.supervision_page, name="supervision"),
    path("support-plans/", views.support_plans, name="support-plans"),
    path("training/", views.training_page, name="training"),
    path("staff/wellbeing-wording/", views.wording, name="wording"),
]
