"""What the access layer refuses, in the one error family (``haven.errors``)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from haven.errors import Conflict, Forbidden, Gone, HavenError


class GrantError(HavenError):
    """A request on access (a grant, a reassignment, the rules, a preference) that
    cannot be honoured; the raise site gives its stable ``code``."""


class StaffChangeRefused(Forbidden):
    """A change to a staff account that nobody may make: on their own account."""

    code = "own_account"
    default_detail = _(
        "Nobody may change their own role, team or access. Ask another administrator."
    )


class RecordErased(Gone):
    """The survivor's data key was destroyed: answered 410 Gone, with no data."""

    default_detail = _("This record was erased.")


class RecordEnded(Gone):
    """The case was purged at the end of its retention (code ``purged``) or erased at
    the survivor's request (code ``gone``, as for any erased record): only a
    content-free tombstone is left."""

    code = "purged"
    default_detail = _("This record was deleted at the end of its retention period.")


ENDED_DETAIL = {
    "purged": "This record was deleted at the end of its retention period.",
    "erased": "This record was erased at the survivor's request.",
}


class AlreadyHasAccess(Conflict):
    """Break-glass asked for a case the user can already read."""

    code = "already_has_access"
    default_detail = _("You can already open this case.")


class BreakGlassLimit(Conflict):
    """The person has as many emergency accesses open as one may; more needs a
    supervisor's grant (``HAVEN_BREAK_GLASS_MAX_OPEN``)."""

    code = "break_glass_limit"
    default_detail = _(
        "You have as many emergency accesses open as one person may. "
        "Ask a supervisor of the case's team for access."
    )


class TrainingRequired(Forbidden):
    """An administrator made a training a condition of case access, and this person
    has not done it, or let it lapse (AS8-7)."""

    code = "training_required"
    default_detail = _(
        "Complete the training your organisation requires before working with case "
        "records; your supervisor records it on the training page."
    )


class PasskeyNotFound(HavenError):
    code = "passkey_not_found"
    status = 404
    default_detail = _("You have no such passkey.")


class InvalidPasskeyName(HavenError):
    code = "invalid_name"
    default_detail = _("Give the passkey a name of 1 to 64 characters.")


class LastRequiredPasskey(Conflict):
    """Removing one's only passkey while the sign-in policy requires one."""

    code = "last_required_passkey"
    default_detail = _(
        "Your organisation requires a passkey for your role: add another before removing this one."
    )


class LastSecondFactor(Conflict):
    """Removing one's only second factor: the next sign-in would enrol a new one with
    the password alone."""

    code = "last_second_factor"
    default_detail = _(
        "This passkey is your only second factor: add another passkey or an authenticator "
        "app before removing it."
    )


class InvalidReason(HavenError):
    code = "invalid"
    default_detail = _("Choose one of the reasons offered.")

    def __init__(self) -> None:
        super().__init__(field="reason")
