"""The single write path of the access trail."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.utils import timezone

from audit import context, log
from audit.models import AccessEvent, Outcome

_ACTION = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")
_REASON = re.compile(r"^[a-z_]{0,64}$")
_NAME = re.compile(r"^[a-z0-9_.-]{0,64}$")  # field names, key ids: never free text
_DETAIL_VALUE_TYPES = (int, bool)


def _check_detail(detail: dict[str, Any]) -> dict[str, Any]:
    """Details are counts, flags and field *names*; never free text from a request.

    Enforced here so that a careless caller cannot put a search value in the trail.
    """
    for key, value in detail.items():
        if isinstance(value, list):
            ok = all(isinstance(v, str) and _NAME.match(v) for v in value)
        elif isinstance(value, str):
            ok = bool(_NAME.match(value))
        else:
            ok = isinstance(value, _DETAIL_VALUE_TYPES)
        if not ok or not _REASON.fullmatch(key):
            raise ValueError(f"access event detail {key!r} is not a count, flag or name")
    return detail


def reason_code(text: str, default: str) -> str:
    """``text`` if it is a reason code an event takes (lower case letters and
    underscores), else ``default``: for codes that come from a library."""
    return text if text and _REASON.fullmatch(text) else default


def event_record(
    *,
    actor: Any,
    action: str,
    outcome: Outcome = Outcome.ALLOWED,
    case_reference: str = "",
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> AccessEvent:
    """Write one access event now, in the caller's transaction.

    It raises if the event cannot be written; callers let that propagate, so a read
    whose event is missing fails instead of happening unrecorded.
    """
    return log.append_event(
        _event(
            actor=actor,
            action=action,
            outcome=outcome,
            case_reference=case_reference,
            reason=reason,
            detail=detail,
        )
    )


def events_record(
    *, actor: Any, action: str, cases: Sequence[tuple[str, dict[str, Any]]]
) -> list[AccessEvent]:
    """Write one event per ``(case_reference, detail)`` now, in the caller's transaction,
    appended to the chain together: the same events as ``event_record`` one by one, for
    work on many records at once (a purge batch)."""
    return log.append_events(
        [
            _event(actor=actor, action=action, case_reference=reference, detail=detail)
            for reference, detail in cases
        ]
    )


def _event(
    *,
    actor: Any,
    action: str,
    outcome: Outcome = Outcome.ALLOWED,
    case_reference: str = "",
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> AccessEvent:
    if not _ACTION.fullmatch(action):
        raise ValueError(f"bad action name {action!r}")
    if not _REASON.fullmatch(reason):
        raise ValueError("reasons are server-set codes")
    ctx = context.current()
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    return AccessEvent(
        actor_id=actor.pk if authenticated else None,
        actor_username=actor.get_username() if authenticated else "",
        actor_role=getattr(actor, "role", "") if authenticated else "",
        action=action,
        outcome=outcome,
        case_reference=case_reference,
        reason=reason,
        ip=ctx.ip,
        user_agent=ctx.user_agent,
        request_id=ctx.request_id,
        detail=_check_detail(detail or {}),
    )


def event_record_unlinked(action: str) -> AccessEvent:
    """Record that something happened, and on which day, without anything that could
    tie it to a person: no actor, no address, browser or request id, and the time cut
    to the start of the day. For what a staff member does for themselves alone (the
    well-being self-check): the trail shows that the feature is used, never by whom."""
    if not _ACTION.fullmatch(action):
        raise ValueError(f"bad action name {action!r}")
    day = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return log.append_event(
        AccessEvent(
            at=day,
            actor_id=None,
            actor_username="",
            actor_role="",
            action=action,
            outcome=Outcome.ALLOWED,
            case_reference="",
            reason="",
            ip=None,
            user_agent="",
            request_id="",
            detail={},
        )
    )
