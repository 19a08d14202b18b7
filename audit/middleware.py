from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from audit import context

_UA_MAX = 300


class RequestContextMiddleware:
    """Gives every request an id (also sent back as ``X-Request-ID``) and records where
    it came from, for the access events written while it is handled.

    Also marks every response ``Cache-Control: no-store``: pages and API answers may
    hold survivor data and must never sit in a browser, proxy or shared-screen cache.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = uuid.uuid4().hex
        token = context.bind(
            context.RequestContext(
                request_id=request_id,
                ip=request.META.get("REMOTE_ADDR") or None,
                user_agent=request.META.get("HTTP_USER_AGENT", "")[:_UA_MAX],
            )
        )
        try:
            response = self.get_response(request)
        finally:
            context.unbind(token)
        response["X-Request-ID"] = request_id
        if not request.path.startswith("/static/"):
            response["Cache-Control"] = "no-store"
        return response
