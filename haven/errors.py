"""The one error family. Everything Haven refuses on purpose is a ``HavenError``: a
stable ``code`` (for programs), an HTTP ``status``, and a ``detail`` for people that
never repeats what was submitted. The API turns one into JSON (``haven.api``), the web
into a page or a message (``haven.web``); no view translates errors by hand.

Each layer derives its own: ``access.crypto.errors`` (keys and ciphertext), ``access``
(grants, staff, break-glass), ``audit`` (the append-only trail), ``cases.errors`` (the
domain).
"""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class HavenError(Exception):
    code: str = "invalid"
    status: int = 400
    # Lazy: class defaults are put in the reader's language when the answer is written.
    default_detail: str | Promise = _("The request could not be carried out.")

    def __init__(
        self,
        detail: str | Promise | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        **extra: Any,
    ) -> None:
        self.detail: str | Promise = detail or self.default_detail
        super().__init__(str(self.detail))
        # Instance values shadow the class defaults when a raise site is more precise.
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.extra = extra

    @property
    def public_detail(self) -> str:
        """What people are told. For a server-side failure (5xx) the raise site's words
        are for the log only; the answer says the generic thing."""
        return str(self.default_detail if self.status >= 500 else self.detail)

    def as_dict(self) -> dict[str, Any]:
        """The JSON body of the error: ``code``, ``detail`` and any extra fields (such
        as ``current_version``); never the input."""
        return {"code": self.code, "detail": self.public_detail, **self.extra}


class NotFound(HavenError):
    code = "not_found"
    status = 404
    default_detail = _("There is nothing here that you can open.")


class Forbidden(HavenError):
    code = "permission_denied"
    status = 403
    default_detail = _("Your role does not allow this. The attempt was recorded.")


class Conflict(HavenError):
    code = "conflict"
    status = 409
    default_detail = _("This conflicts with what is stored now.")


class Gone(HavenError):
    code = "gone"
    status = 410
    default_detail = _("This is no longer available.")


class ServerRefusal(HavenError):
    """An invariant the code itself broke (a bulk write on an audited model, a change
    to an audit row): a bug, answered 500 and logged, never carried out."""

    code = "server_error"
    status = 500
    default_detail = _("The error was logged. Please try again.")
