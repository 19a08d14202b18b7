"""Domain errors with stable codes, in the one error family (``haven.errors``)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from haven.errors import Conflict, Gone, HavenError

_CODE_FOR_STATUS = {404: "not_found", 409: "conflict"}


class DomainError(HavenError):
    """A rule of the case domain refused the request. ``field`` (when given) names the
    input that caused it, for forms to show the message at that field."""

    def __init__(
        self, detail: str, *, status: int | None = None, code: str | None = None, **extra: Any
    ) -> None:
        if code is None and status is not None:
            code = _CODE_FOR_STATUS.get(status)
        super().__init__(detail, code=code, status=status, **extra)


class StaleVersion(Conflict):
    code = "stale_version"
    default_detail = _("The record changed since you read it.")


class NoTeam(DomainError):
    code = "no_team"


class ConsentRequired(DomainError):
    code = "consent_required"
    status = 403


class PackageGone(Gone):
    default_detail = _("This package was already downloaded or has expired.")


class ExportInvalid(DomainError):
    code = "export_invalid"
    status = 422


class CaseClosed(Conflict):
    code = "case_closed"
    default_detail = _("This case is closed. Reopen it, with a reason, to record more.")


class RecordingPaused(Conflict):
    """The survivor withdrew their consent to storing their information: nothing new is
    recorded except care-critical notes, a new consent, and closing the case."""

    code = "storage_consent_withdrawn"
    default_detail = _(
        "The person withdrew their consent to storing their information. Until they give it "
        "again, only care-critical notes can be recorded."
    )
