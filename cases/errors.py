"""Domain errors with stable codes; the API and the pages turn them into 4xx answers."""

from __future__ import annotations


class DomainError(Exception):
    code = "invalid"
    status = 400

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class StaleVersion(DomainError):
    code = "stale_version"
    status = 409


class NoTeam(DomainError):
    code = "no_team"
    status = 400
