"""Administration screens for staff, teams, tokens and the confidentiality rules.

Nothing here shows survivor data: no case model is registered, and the site only opens
for the admin role (``is_superuser`` alone opens nothing), after the second factor.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from access.models import ApiToken, ConfidentialityRules, Team, User
from access.roles import Role
from access.services import confidentiality_publish


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


@admin.register(User, site=site)
class StaffAdmin(AdminRoleOnly):
    list_display = ("username", "role", "team", "is_active", "last_login")
    list_filter = ("role", "team", "is_active")
    search_fields = ("username",)
    fields = ("username", "first_name", "last_name", "email", "role", "team", "is_active")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.is_staff = obj.role == Role.ADMIN
        obj.is_superuser = False
        if not change:
            obj.set_unusable_password()  # the person sets one through a reset link
        super().save_model(request, obj, form, change)


@admin.register(Team, site=site)
class TeamAdmin(AdminRoleOnly):
    list_display = ("name", "slug", "caseload_limit")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(ApiToken, site=site)
class ApiTokenAdmin(AdminRoleOnly):
    list_display = ("prefix", "user", "created_at", "expires_at", "revoked_at", "last_used_at")
    fields = ("prefix", "user", "created_at", "expires_at", "revoked_at", "last_used_at")
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tokens come from `manage.py issue_token`, shown once

    @admin.action(description="Revoke the selected tokens now")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


@admin.register(ConfidentialityRules, site=site)
class ConfidentialityRulesAdmin(AdminRoleOnly):
    """Publishing a new version asks every staff member to accept again; published
    versions are never edited."""

    list_display = ("version", "published_at", "published_by")
    fields = ("text",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        published = confidentiality_publish(text=obj.text, by=request.user)  # type: ignore[arg-type]
        obj.pk, obj.version = published.pk, published.version
