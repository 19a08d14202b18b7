"""Declarations of what a page or API handler needs, so that no handler repeats the
acting user, the case lookup and the capability check by hand (and none forgets one).

    class CaseDetailApi(ApiView):
        @case_endpoint(action="case.view")
        def get(self, request, *, actor, case): ...

    @case_endpoint(action="consent.record", need=Capability.CASE_WRITE, writes=True)
    def consent_add(request, *, actor, case): ...

    @case_endpoint(action="encounter.view", on_post="encounter.update", need=...)
    def encounter_edit(request, encounter_id, *, actor, case): ...

``case_endpoint`` takes the ``reference`` from the URL, asks the policy for the case
(``case_for_read`` or, for writes, ``case_for_write``) and passes the handler ``actor``
and ``case``; ``staff_endpoint`` passes ``actor`` after an optional capability check.
Both call ``access.policy``, so the convention tests count them as the handler's access
call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest
from rest_framework.request import Request

from access import policy
from access.roles import Capability

_F = TypeVar("_F", bound=Callable[..., Any])


def _split(args: tuple[Any, ...]) -> tuple[tuple[Any, ...], Any]:
    """(positional arguments up to and including the request, the request): a page view
    is called with the request first, an API method with the view instance first."""
    if isinstance(args[0], HttpRequest | Request):
        return args[:1], args[0]
    return args[:2], args[1]


def case_endpoint(
    *,
    action: str,
    need: Capability = Capability.CASE_READ,
    writes: bool = False,
    on_post: str | None = None,
) -> Callable[[_F], _F]:
    """``writes``: the service the handler calls records the event itself (a write, or a
    read it records with more detail, such as a download), so only a refusal is
    recorded here. ``on_post``: a page whose GET reads the case (as
    ``action``) and whose POST is the write ``on_post``."""

    def decorate(handler: _F) -> _F:
        @functools.wraps(handler)
        def wrapper(*args: Any, reference: str, **kwargs: Any) -> Any:
            head, request = _split(args)
            actor = policy.acting_user(request.user)
            if on_post is not None and request.method == "POST":
                case = policy.case_for_write(actor, reference, action=on_post, need=need)
            elif writes:
                case = policy.case_for_write(actor, reference, action=action, need=need)
            else:
                case = policy.case_for_read(actor, reference, action=action, need=need)
            return handler(*head, *args[len(head) :], actor=actor, case=case, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def staff_endpoint(*, need: Capability | None = None, action: str = "") -> Callable[[_F], _F]:
    """Any active staff member (and, with ``need``, only those whose role has it; a
    refusal is recorded as denied ``action``)."""

    def decorate(handler: _F) -> _F:
        @functools.wraps(handler)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            head, request = _split(args)
            actor = policy.acting_user(request.user)
            if need is not None:
                policy.require_capability(actor, need, action=action)
            return handler(*head, *args[len(head) :], actor=actor, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def governance_endpoint(*, action: str, need: Capability) -> Callable[[_F], _F]:
    """An act of governance on a case that reads no content (the legal hold): the DPO or
    the case team's supervisor (``policy.case_for_governance``); the service records it."""

    def decorate(handler: _F) -> _F:
        @functools.wraps(handler)
        def wrapper(*args: Any, reference: str, **kwargs: Any) -> Any:
            head, request = _split(args)
            actor = policy.acting_user(request.user)
            case = policy.case_for_governance(actor, reference, action=action, need=need)
            return handler(*head, *args[len(head) :], actor=actor, case=case, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
