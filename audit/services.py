"""The single write path of the access trail."""

from __future__ import annotations

import re
from typing import Any

from audit import chain, context
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
        if not ok or not _REASON.match(key):
            raise ValueError(f"access event detail {key!r} is not a count, flag or name")
    return detail


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
    if not _ACTION.match(action):
        raise ValueError(f"bad action name {action!r}")
    if not _REASON.match(reason):
        raise ValueError("reasons are server-set codes")
    ctx = context.current()
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    event = AccessEvent(
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
    return chain.append_event(event)
