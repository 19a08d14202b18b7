"""Who is acting, from where: set once per request (or command) and read by the trail."""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    ip: str | None = None
    user_agent: str = ""


_current: ContextVar[RequestContext | None] = ContextVar("haven_request_context", default=None)


def current() -> RequestContext:
    ctx = _current.get()
    if ctx is None:
        # Management commands and background work: still a unique id per operation.
        ctx = RequestContext(request_id=f"cli-{uuid.uuid4().hex[:24]}", user_agent="cli")
        _current.set(ctx)
    return ctx


def bind(ctx: RequestContext) -> object:
    return _current.set(ctx)


def unbind(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
