"""Domain errors with stable codes; the API and the pages turn them into 4xx answers."""

from __future__ import annotations


class DomainError(Exception):
    code = "invalid"
    status = 400

    def __init__(self, detail: str, *, status: int | None = None, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        if status is not None:
            self.status = status
            self.code = {404: "not_found", 409: "conflict"}.get(status, self.code)


class StaleVersion(DomainError):
    code = "stale_version"
    status = 409


class NoTeam(DomainError):
    code = "no_team"
    status = 400


class ConsentRequired(DomainError):
    code = "consent_required"
    status = 403


class PackageGone(DomainError):
    code = "gone"
    status = 410
