"""Administration screens for staff, teams, tokens and the confidentiality rules.

Nothing here shows survivor data: no case model is registered, and the site only opens
for the admin role (``is_superuser`` alone opens nothing), after the second factor.

Every write goes through a service that records a chained event (``staff.*``,
``team.*``, ``token.revoke``, ``confidentiality.publish``); nothing is deleted. Django's
own admin log is not written: it is not chained, and the trail is the record.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from access.errors import StaffChangeRefused
from access.models import ApiToken, ConfidentialityRules, Team, User
from access.roles import Role
from access.services import (
    PROFILE_FIELDS,
    confidentiality_publish,
    staff_save,
    team_save,
    token_revoke,
)
from haven.i18n import native_name


def _is_admin(request: HttpRequest) -> bool:
    user = request.user
    if not (user.is_authenticated and user.is_active and getattr(user, "role", "") == Role.ADMIN):
        return False
    return not settings.HAVEN_REQUIRE_2FA or bool(getattr(user, "is_verified", lambda: False)())


class HavenAdminSite(admin.AdminSite):
    site_header = "Haven administration"
    site_title = "Haven administration"
    index_title = "Staff, teams and rules"

    def has_permission(self, request: HttpRequest) -> bool:
        return _is_admin(request)


site = HavenAdminSite(name="haven-admin")


class AdminRoleOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_admin(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_admin(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _is_admin(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_admin(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deactivate instead: history must keep pointing at real accounts

    # The services record every change in the chained trail; the admin's own log
    # (unchained, a second and weaker copy) is not written.
    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        return None


class StaffForm(forms.ModelForm):  # type: ignore[type-arg]
    """The staff form refuses, before anything is saved, what the service would refuse:
    changing one's own role, team or access."""

    acting_user: User | None = None

    class Meta:
        model = User
        fields = ("username", "first_name", "last_name", "email", "role", "team", "is_active")

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        actor, account = self.acting_user, self.instance
        if actor is not None and account.pk is not None and account.pk == actor.pk:
            stored = User.objects.get(pk=account.pk)
            for name in ("role", "team", "is_active"):
                if name in cleaned and cleaned[name] != getattr(stored, name):
                    self.add_error(name, "Nobody may change their own role, team or access.")
        return cleaned


@admin.register(User, site=site)
class StaffAdmin(AdminRoleOnly):
    form = StaffForm
    list_display = ("username", "role", "team", "is_active", "last_login")
    list_filter = ("role", "team", "is_active")
    search_fields = ("username",)
    fields = ("username", "first_name", "last_name", "email", "role", "team", "is_active")

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        return type("StaffFormFor", (form,), {"acting_user": request.user})

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("username",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        try:
            saved, _ = staff_save(
                actor=request.user,  # type: ignore[arg-type]
                username=obj.username,
                role=data["role"],
                team=data.get("team"),
                is_active=data.get("is_active", True),
                profile={name: data.get(name) or "" for name in PROFILE_FIELDS},
            )
        except StaffChangeRefused as exc:  # the form refuses this first; never saved
            messages.error(request, str(exc.detail))
            return
        obj.pk = saved.pk


@admin.register(Team, site=site)
class TeamAdmin(AdminRoleOnly):
    list_display = ("name", "slug", "caseload_limit", "high_risk_limit")
    prepopulated_fields = {"slug": ("name",)}

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("slug",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        saved = team_save(
            actor=request.user,  # type: ignore[arg-type]
            slug=obj.slug,
            name=form.cleaned_data["name"],
            caseload_limit=form.cleaned_data["caseload_limit"],
            high_risk_limit=form.cleaned_data.get("high_risk_limit"),
        )
        obj.pk = saved.pk


@admin.register(ApiToken, site=site)
class ApiTokenAdmin(AdminRoleOnly):
    list_display = ("prefix", "user", "created_at", "expires_at", "revoked_at", "last_used_at")
    fields = ("prefix", "user", "created_at", "expires_at", "revoked_at", "last_used_at")
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tokens come from `manage.py issue_token`, shown once

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # nothing to edit; revocation is the action below

    @admin.action(description="Revoke the selected tokens now", permissions=["view"])
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        for token_id in queryset.filter(revoked_at__isnull=True).values_list("pk", flat=True):
            token_revoke(actor=request.user, token_id=token_id)  # type: ignore[arg-type]


@admin.register(ConfidentialityRules, site=site)
class ConfidentialityRulesAdmin(AdminRoleOnly):
    """Publishing a new version asks every staff member to accept again; published
    versions are never edited."""

    list_display = ("version", "language", "published_at", "published_by")
    fields = ("text",)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        """The text in the default language, and one box per other offered language."""
        base = super().get_form(request, obj, change=change, **kwargs)
        extra = {
            f"text_{code}": forms.CharField(
                label=gettext_lazy("Text in %(language)s") % {"language": native_name(code)},
                required=False,
                max_length=50_000,
                widget=forms.Textarea,
            )
            for code in settings.HAVEN_LANGUAGES
            if code != settings.LANGUAGE_CODE
        }
        return type("RulesForm", (base,), extra)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:  # a published version, shown read-only
            return ["version", "language", "text", "translations"]
        others = [f"text_{c}" for c in settings.HAVEN_LANGUAGES if c != settings.LANGUAGE_CODE]
        return ["text", *others]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        translations = {
            code: form.cleaned_data.get(f"text_{code}", "")
            for code in settings.HAVEN_LANGUAGES
            if code != settings.LANGUAGE_CODE
        }
        published = confidentiality_publish(
            text=obj.text,
            by=request.user,  # type: ignore[arg-type]
            translations=translations,
        )
        obj.pk, obj.version = published.pk, published.version
